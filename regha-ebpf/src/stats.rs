//! Per-CPU counters: no atomics needed, the agent sums the CPUs.

use regha_common::{Counters, Reason};

use crate::{
    maps::{BACKEND_SIGNALS, BACKEND_STATS, REASONS, SERVICE_STATS},
    steer::{Choice, Signal},
};

#[inline(always)]
fn add(c: *mut Counters, bytes: u64, new_flow: bool) {
    // SAFETY: `c` came from `get_ptr_mut` on a per-CPU array: non-null,
    // aligned, this CPU's copy of the slot. XDP runs with preemption off, so
    // nothing else on this CPU touches it until we return, and other CPUs
    // have copies of their own.
    unsafe {
        (*c).packets += 1;
        (*c).bytes += bytes;
        if new_flow {
            (*c).new_flows += 1;
        }
    }
}

/// Counts a forwarded packet; returns this CPU's count of packets to its
/// backend (which paces the flow cache's checks, `main.rs`).
#[inline(always)]
pub fn count_forward(choice: &Choice, bytes: u64) -> u64 {
    if let Some(c) = SERVICE_STATS.get_ptr_mut(choice.service_id) {
        add(c, bytes, choice.new_flow);
    }
    let mut packets = 0;
    if let Some(c) = BACKEND_STATS.get_ptr_mut(choice.backend_id) {
        add(c, bytes, choice.new_flow);
        // SAFETY: as in `add`: this CPU's copy, nobody else writes it.
        packets = unsafe { (*c).packets };
    }
    if choice.signal != Signal::None
        && let Some(s) = BACKEND_SIGNALS.get_ptr_mut(choice.backend_id)
    {
        // SAFETY: as in `add`: this CPU's copy of the slot.
        unsafe {
            match choice.signal {
                Signal::Syn => (*s).syns += 1,
                Signal::SynRetransmit => (*s).syn_retransmits += 1,
                Signal::Completion => (*s).completions += 1,
                Signal::None => {}
            }
        }
    }
    packets
}

#[inline(always)]
pub fn count_reason(reason: Reason) {
    if let Some(c) = REASONS.get_ptr_mut(reason as u32) {
        // SAFETY: as above, this CPU's slot.
        unsafe { *c += 1 };
    }
}
