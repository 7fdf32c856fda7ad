//! Every map the program uses, with what it holds. All are BTF maps
//! (`#[btf_map]`) so `bpftool map dump` prints the named fields of the
//! `regha-common` types. Sizes set here are defaults the agent may change at
//! load time (`EbpfLoader::map_max_entries`).
//!
//! Arrays are looked up inline by the JIT (a bounds check and an add); hash
//! maps cost a hash and a bucket walk each. The established-flow path
//! therefore touches one hash map (`FLOWS`) and arrays only.

use aya_ebpf::{
    btf_maps::{Array, ArrayOfMaps, HashMap, LruHashMap, PerCpuArray},
    macros::btf_map,
};
use regha_common::{
    BPF_F_MMAPABLE, Backend, Counters, DEFAULT_FLOW_TABLE_SIZE, FlowKey, FlowValue, MAX_BACKENDS,
    MAX_SERVICES, REASON_COUNT, RING_MAP_FLAGS, SERVICE_PORT_WORDS, ServiceKey, ServiceValue,
};

/// `VIP:port/proto` -> service (id, ring size, hash mode, seed, generation).
/// A hash map so that an update replaces the whole value at once (readers
/// never see half of one).
#[btf_map]
pub static SERVICES: HashMap<ServiceKey, ServiceValue, { MAX_SERVICES as usize * 2 }> =
    HashMap::new();

/// One bit per L4 port: set when some service listens on it. Packets to any
/// other port leave with one inline array lookup instead of hash lookups.
/// Written by the agent with atomic stores through the mmap.
#[btf_map]
pub static SERVICE_PORTS: Array<u64, { SERVICE_PORT_WORDS as usize }, { BPF_F_MMAPABLE as usize }> =
    Array::new();

/// Service id -> its current generation (0: no service). A flow-table hit is
/// trusted only when the flow's recorded generation is still current, so a
/// removed or re-created service never inherits old flows.
#[btf_map]
pub static SERVICE_GENS: Array<u32, { MAX_SERVICES as usize }, { BPF_F_MMAPABLE as usize }> =
    Array::new();

/// Service id -> that service's Maglev table (an inner array of backend ids).
/// The agent builds a new inner map and swaps the outer slot in one update:
/// a packet sees the old table or the new one, never a half-written one.
/// The template's size is irrelevant: `BPF_F_INNER_MAP` lets inner maps of
/// any size (each service's prime) share the outer map; `BPF_F_MMAPABLE`
/// lets the agent fill a new table with one copy.
#[btf_map]
pub static RINGS: ArrayOfMaps<
    Array<u32, 1, { RING_MAP_FLAGS as usize }>,
    { MAX_SERVICES as usize },
> = ArrayOfMaps::new();

/// Backend id -> MAC, state, address. An array (inline lookup); the hot
/// first word is written atomically through the mmap (see `Backend`).
#[btf_map]
pub static BACKENDS: Array<Backend, { MAX_BACKENDS as usize }, { BPF_F_MMAPABLE as usize }> =
    Array::new();

/// Connection 5-tuple -> backend id (and service incarnation): consulted
/// first, so a flow stays on its backend when the ring changes. The common
/// LRU (with its per-CPU local lists) measured cheaper per insert than
/// `BPF_F_NO_COMMON_LRU` on these machines (~300 vs ~350 ns a new flow).
#[btf_map]
pub static FLOWS: LruHashMap<FlowKey, FlowValue, { DEFAULT_FLOW_TABLE_SIZE as usize }> =
    LruHashMap::new();

/// Service id -> forwarded packets, bytes, new flows (per CPU).
#[btf_map]
pub static SERVICE_STATS: PerCpuArray<Counters, { MAX_SERVICES as usize }> = PerCpuArray::new();

/// Backend id -> forwarded packets, bytes, new flows (per CPU).
#[btf_map]
pub static BACKEND_STATS: PerCpuArray<Counters, { MAX_BACKENDS as usize }> = PerCpuArray::new();

/// `regha_common::Reason` -> packets not forwarded for that reason (per CPU).
#[btf_map]
pub static REASONS: PerCpuArray<u64, { REASON_COUNT as usize }> = PerCpuArray::new();
