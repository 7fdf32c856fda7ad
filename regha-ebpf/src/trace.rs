//! The opt-in packet trace (`regha-agent trace --client ADDR`): the
//! decision for each packet from one client, logged through aya-log.
//!
//! Off unless the agent loads the program with `TRACE_ON` set. Both
//! globals live in `.rodata`, which the kernel freezes before the program
//! is verified: with `TRACE_ON` 0 the verifier knows the branch is never
//! taken and removes the trace code, so the production program pays a
//! constant load and a jump for it, and the log ring buffer is never
//! touched.

use aya_ebpf::{Global, programs::XdpContext};
use aya_log_ebpf::info;
use regha_common::Reason;

use crate::{
    parse::Packet,
    steer::{Choice, Signal},
};

// SAFETY (no_mangle, both): the agent overrides them by these exact names
// (`EbpfLoader::override_global`); no other symbol of the object has them.
/// Non-zero: trace the packets of `TRACE_CLIENT`.
#[unsafe(no_mangle)]
static TRACE_ON: Global<u8> = Global::new(0);
/// The traced client's address, in word form (`hash::addr_words`).
#[unsafe(no_mangle)]
static TRACE_CLIENT: Global<[u32; 4]> = Global::new([0; 4]);

/// Logs the decision for `pkt` if its source is the traced client.
#[inline(always)]
pub fn decision(ctx: &XdpContext, pkt: &Packet, chosen: &Result<Choice, Reason>) {
    if TRACE_ON.load() == 0 {
        return;
    }
    let c = TRACE_CLIENT.load();
    if pkt.src[0] != c[0] || pkt.src[1] != c[1] || pkt.src[2] != c[2] || pkt.src[3] != c[3] {
        return;
    }
    match chosen {
        Ok(choice) => {
            // What picked the backend, in the order `steer::choose` tries.
            let via: u8 = if choice.cached.is_some() {
                1 // the flow cache's copy
            } else if choice.signal == Signal::Completion || choice.signal == Signal::SynRetransmit
            {
                2 // the pending handshake
            } else if choice.new_flow {
                3 // the ring
            } else {
                4 // the flow table
            };
            info!(
                ctx,
                "trace sport={} dport={} proto={} syn={} -> backend={} service={} gen={} via={}",
                pkt.sport,
                pkt.dport,
                pkt.proto,
                pkt.syn as u8,
                choice.backend_id,
                choice.service_id,
                choice.service_gen,
                via
            )
        }
        Err(reason) => info!(
            ctx,
            "trace sport={} dport={} proto={} syn={} -> not forwarded reason={}",
            pkt.sport,
            pkt.dport,
            pkt.proto,
            pkt.syn as u8,
            *reason as u32
        ),
    }
}
