//! Reference programs for `cargo xtask bench`: what regha's per-packet cost
//! is compared with.
//! - `bench_pass`: returns `XDP_PASS`, nothing else (the cost of the run itself).
//! - `bench_floor`: swaps the two MACs and returns `XDP_TX`, the least an L2
//!   forwarder can do (the brief's floor).
#![no_std]
#![no_main]

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

#[xdp]
pub fn bench_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn bench_floor(ctx: XdpContext) -> u32 {
    let start = ctx.data();
    if start + 14 > ctx.data_end() {
        return xdp_action::XDP_PASS;
    }
    let eth = start as *mut [u8; 12];
    // SAFETY: the 12 MAC bytes were bounds-checked above.
    unsafe {
        let macs = *eth;
        let mut swapped = [0u8; 12];
        swapped[..6].copy_from_slice(&macs[6..]);
        swapped[6..].copy_from_slice(&macs[..6]);
        *eth = swapped;
    }
    xdp_action::XDP_TX
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
