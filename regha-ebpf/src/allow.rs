//! Per-service source allow-lists (`services[].allow`).
//!
//! Checked only where a flow is chosen: a SYN, a packet that no flow state
//! holds (UDP, a flow seen mid-way), a fragment; and a flow recorded under
//! an earlier generation of its service (a reload narrowed the list since:
//! `ServiceAllow`). Established packets of a flow recorded under the current
//! generation never get here, nor do packets of services without a list
//! (`SERVICE_F_ALLOW` unset). One lookup in the `ALLOW` trie: cost grows with
//! the trie's depth (the prefix lengths present), not its size.

use aya_ebpf::maps::lpm_trie::Key;
use regha_common::{
    ALLOW_ID_BITS, AllowData, GENERATION_RETIRED, Reason, SERVICE_F_ALLOW, ServiceAllow,
};

use crate::{
    maps::{ALLOW, SERVICE_ALLOW, SERVICE_DENIED},
    parse::Packet,
};

/// Whether service `service_id`, with `flags` (`SERVICE_F_*`), takes a new
/// flow from `pkt`'s source.
#[inline(always)]
pub fn admits(service_id: u32, flags: u32, pkt: &Packet) -> bool {
    if flags & SERVICE_F_ALLOW == 0 {
        return true;
    }
    // SAFETY: `[u32; 4]` and `[u8; 16]` have the same size and no invalid
    // values; the words are the address's memory image (network order), as
    // `store_addr_words` writes them into the other maps' keys.
    let addr = unsafe { core::mem::transmute::<[u32; 4], [u8; 16]>(pkt.src) };
    let key = Key::new(ALLOW_ID_BITS + 128, AllowData::new(service_id, addr));
    ALLOW.get(&key).is_some()
}

/// Counts a denied packet of service `service_id`; the reason to return.
#[inline(always)]
pub fn deny(service_id: u32) -> Reason {
    if let Some(c) = SERVICE_DENIED.get_ptr_mut(service_id) {
        // SAFETY: `get_ptr_mut` on a per-CPU array: non-null, aligned, this
        // CPU's copy of the slot; XDP runs with preemption off, so nothing
        // else on this CPU touches it until we return.
        unsafe { *c += 1 };
    }
    Reason::Denied
}

/// Checks `service_id`'s list for a new flow from `pkt`: `Err(Denied)`,
/// counted, when its source is not listed.
#[inline(always)]
pub fn check(service_id: u32, flags: u32, pkt: &Packet) -> Result<(), Reason> {
    if admits(service_id, flags, pkt) {
        Ok(())
    } else {
        Err(deny(service_id))
    }
}

/// A flow of `service_id` recorded under generation `recorded`, which is
/// not the `current` one: whether it is of the service's current
/// incarnation (only its allow-list changed since), and if so whether its
/// source still passes the list. `None`: an earlier incarnation's flow, to
/// be chosen anew; `Some(Err)`: denied (counted); `Some(Ok)`: keep it.
#[inline(always)]
pub fn recheck(
    service_id: u32,
    recorded: u32,
    current: u32,
    pkt: &Packet,
) -> Option<Result<(), Reason>> {
    if current & GENERATION_RETIRED != 0 {
        return None;
    }
    let a: ServiceAllow = *SERVICE_ALLOW.get(service_id)?;
    // Generations count up from `since_gen` while the incarnation lasts
    // (`regha-agent`'s `next_generation`).
    if a.since_gen == 0 || recorded < a.since_gen || recorded >= current {
        return None;
    }
    Some(check(service_id, a.flags, pkt))
}
