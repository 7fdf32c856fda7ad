//! Every map the program uses, with what it holds. All are BTF maps
//! (`#[btf_map]`) so `bpftool map dump` prints the named fields of the
//! `regha-common` types. Sizes set here are defaults the agent may change at
//! load time (`EbpfLoader::map_max_entries`).

use aya_ebpf::{
    btf_maps::{Array, ArrayOfMaps, HashMap, LruHashMap, PerCpuArray},
    macros::btf_map,
};
use regha_common::{
    BPF_F_NO_COMMON_LRU, Backend, Counters, DEFAULT_FLOW_TABLE_SIZE, FlowKey, FlowValue,
    MAX_BACKENDS, MAX_SERVICES, REASON_COUNT, RING_MAP_FLAGS, ServiceKey, ServiceValue,
};

/// `VIP:port/proto` -> service (id, ring size, hash mode, seed). A hash map so
/// that an update replaces the whole value at once (readers never see half).
#[btf_map]
pub static SERVICES: HashMap<ServiceKey, ServiceValue, { MAX_SERVICES as usize * 2 }> =
    HashMap::new();

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

/// Backend id -> MAC, address, state. A hash map rather than an array so an
/// update (new MAC, new state) replaces the value atomically.
#[btf_map]
pub static BACKENDS: HashMap<u32, Backend, { MAX_BACKENDS as usize }> = HashMap::new();

/// Connection 5-tuple -> backend id: consulted first, so a flow stays on its
/// backend when the ring changes. The common LRU (with its per-CPU local
/// lists) measured cheaper per insert than `BPF_F_NO_COMMON_LRU` here.
#[btf_map]
pub static FLOWS: LruHashMap<FlowKey, FlowValue, { DEFAULT_FLOW_TABLE_SIZE as usize }, 0> =
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
