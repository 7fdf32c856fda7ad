//! regha's XDP program.
//!
//! For each packet: parse (`parse.rs`), find its service and backend
//! (`steer.rs`, with the flow state of `flows.rs`), rewrite the MACs for
//! direct server return and `XDP_TX`; count everything (`stats.rs`). Anything that is not for a configured
//! `VIP:port/proto` leaves untouched with `XDP_PASS`; malformed packets are
//! passed (the stack drops them as it would without us), never transmitted.
#![no_std]
#![no_main]

mod allow;
mod flows;
mod maps;
mod parse;
mod stats;
mod steer;
mod trace;

use aya_ebpf::{Global, bindings::xdp_action, macros::xdp, programs::XdpContext};
use regha_common::{FLOW_REFRESH_EVERY, Reason};

/// The MAC of the interface the program is attached to: the source of every
/// frame we transmit. Set by the agent at load time.
// SAFETY (no_mangle): the agent finds the global by this exact symbol name
// (`EbpfLoader::override_global("IFACE_MAC", ..)`); no other symbol of the
// object is called that.
#[unsafe(no_mangle)]
static IFACE_MAC: Global<[u8; 6]> = Global::new([0; 6]);

#[xdp]
pub fn regha(ctx: XdpContext) -> u32 {
    match try_regha(&ctx) {
        Ok(action) => action,
        Err(reason) => {
            stats::count_reason(reason);
            match reason {
                Reason::NoBackend | Reason::Denied => xdp_action::XDP_DROP,
                _ => xdp_action::XDP_PASS,
            }
        }
    }
}

#[inline(always)]
fn try_regha(ctx: &XdpContext) -> Result<u32, Reason> {
    let pkt = parse::parse(ctx)?;
    let eth = parse::eth_mut(ctx)?;
    let ours = IFACE_MAC.load();
    // SAFETY: `eth_mut` got the pointer from `ptr_at`, which checked that
    // the 14 Ethernet bytes lie inside the packet (the verifier checks the
    // same comparison); `EthHdr` is byte-aligned, and no other reference to
    // the header is alive (the parser's are gone).
    let to_us = mac_eq(unsafe { &(*eth).dst }, &ours);
    let chosen = steer::choose(&pkt, to_us);
    trace::decision(ctx, &pkt, &chosen);
    let choice = chosen?;

    // SAFETY: as above; XDP may write the packet it was given (the frame
    // belongs to this invocation until it returns).
    unsafe {
        (*eth).dst = choice.mac;
        (*eth).src = ours;
    }
    let bytes = (ctx.data_end() - ctx.data()) as u64;
    let packets = stats::count_forward(&choice, bytes);
    // Now and then a cached flow is also looked up in the flow table, so
    // that the LRU sees it in use and the copy follows the table.
    if let Some(c) = choice.cached
        && packets & (FLOW_REFRESH_EVERY - 1) == 0
    {
        flows::refresh(&flows::Tuple::of(&pkt), &c.value, c.flags);
    }
    Ok(xdp_action::XDP_TX)
}

/// Byte-wise: `==` on arrays may become a `bcmp` call, which BPF has not.
#[inline(always)]
fn mac_eq(a: &[u8; 6], b: &[u8; 6]) -> bool {
    a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5]
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path; this is never called.
    loop {}
}

// SAFETY (link_section, no_mangle): the kernel reads the licence from the
// `license` section by this symbol; a static byte string with nothing else
// placed there.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
