//! Reference programs for `cargo xtask bench`: what regha's per-packet cost
//! is compared with.
//! - `bench_pass`: returns `XDP_PASS`, nothing else (the cost of the run itself).
//! - `bench_floor`: swaps the two MACs and returns `XDP_TX`, the least an L2
//!   forwarder can do (the brief's floor).
//! - `bench_lru_insert`: the floor plus one insert of a fresh key into an LRU
//!   hash map shaped like regha's flow table: the least any new flow costs
//!   with a kernel LRU flow table.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::{BPF_ANY, xdp_action},
    btf_maps::{LruHashMap, PerCpuArray},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use regha_common::{DEFAULT_FLOW_TABLE_SIZE, FlowKey, FlowValue};

#[btf_map]
static BENCH_FLOWS: LruHashMap<FlowKey, FlowValue, { DEFAULT_FLOW_TABLE_SIZE as usize }> =
    LruHashMap::new();

#[btf_map]
static BENCH_SEQ: PerCpuArray<u32, 1> = PerCpuArray::new();

#[xdp]
pub fn bench_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn bench_floor(ctx: XdpContext) -> u32 {
    swap_macs(&ctx)
}

#[inline(always)]
fn swap_macs(ctx: &XdpContext) -> u32 {
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

#[xdp]
pub fn bench_lru_insert(ctx: XdpContext) -> u32 {
    let Some(seq) = BENCH_SEQ.get_ptr_mut(0) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: the map returned a valid pointer to this CPU's slot of a
    // per-CPU array: nothing else reads or writes it while this runs.
    let n = unsafe {
        *seq = (*seq).wrapping_add(1);
        *seq
    };
    let mut key = FlowKey {
        sport: n as u16,
        dport: (n >> 16) as u16,
        proto: 6,
        family: 4,
        ..FlowKey::default()
    };
    key.src[0] = 192;
    let _ = BENCH_FLOWS.insert(key, FlowValue::default(), BPF_ANY as u64);
    swap_macs(&ctx)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

// SAFETY (link_section, no_mangle): the kernel reads the licence from the
// `license` section by this symbol; a static byte string with nothing else
// placed there.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
