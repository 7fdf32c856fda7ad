//! regha's XDP program.
//!
//! For each packet: parse (`parse.rs`), find its service and backend
//! (`steer.rs`), rewrite the MACs for direct server return and `XDP_TX`;
//! count everything (`stats.rs`). Anything that is not for a configured
//! `VIP:port/proto` leaves untouched with `XDP_PASS`; malformed packets are
//! passed (the stack drops them as it would without us), never transmitted.
#![no_std]
#![no_main]

mod maps;
mod parse;
mod stats;
mod steer;

use aya_ebpf::{Global, bindings::xdp_action, macros::xdp, programs::XdpContext};
use regha_common::Reason;

/// The MAC of the interface the program is attached to: the source of every
/// frame we transmit. Set by the agent at load time.
#[unsafe(no_mangle)]
static IFACE_MAC: Global<[u8; 6]> = Global::new([0; 6]);

#[xdp]
pub fn regha(ctx: XdpContext) -> u32 {
    match try_regha(&ctx) {
        Ok(action) => action,
        Err(reason) => {
            stats::count_reason(reason);
            match reason {
                Reason::NoBackend => xdp_action::XDP_DROP,
                _ => xdp_action::XDP_PASS,
            }
        }
    }
}

#[inline(always)]
fn try_regha(ctx: &XdpContext) -> Result<u32, Reason> {
    let pkt = parse::parse(ctx)?;
    let choice = steer::choose(&pkt)?;

    let eth = parse::eth_mut(ctx)?;
    // SAFETY: `eth_mut` checked the 14 bytes are inside the packet.
    unsafe {
        (*eth).dst = choice.mac;
        (*eth).src = IFACE_MAC.load();
    }
    let bytes = (ctx.data_end() - ctx.data()) as u64;
    stats::count_forward(&choice, bytes);
    Ok(xdp_action::XDP_TX)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path; this is never called.
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
