//! Every map the program uses, with what it holds. All are BTF maps
//! (`#[btf_map]`) so `bpftool map dump` prints the named fields of the
//! `regha-common` types. Sizes set here are defaults the agent may change at
//! load time (`EbpfLoader::map_max_entries`).
//!
//! Arrays are looked up inline by the JIT (a bounds check and an add); hash
//! maps cost a call, a hash and a bucket walk each (about 50 ns on this
//! project's machines, whose kernels pay for every return from a call).
//! The established-flow path therefore touches arrays only: it finds its
//! flow in `FLOW_CACHE`, and `FLOWS` behind it only on a miss.

use aya_ebpf::{
    btf_maps::{Array, ArrayOfMaps, HashMap, LpmTrie, LruHashMap, PerCpuArray, RingBuf},
    macros::btf_map,
};
use regha_common::{
    AllowData, BPF_F_MMAPABLE, Backend, Counters, DEFAULT_FLOW_TABLE_SIZE, FLOW_CACHE_SIZE,
    FLOW_EVENTS_BYTES, FlowCacheSlot, FlowEvent, FlowKey, FlowValue, HANDSHAKE_TABLE_SIZE,
    Handshake, MAX_ALLOW_PREFIXES, MAX_BACKENDS, MAX_SERVICES, REASON_COUNT, RING_MAP_FLAGS,
    SERVICE_PORT_WORDS, ServiceAllow, ServiceKey, ServiceValue, Signals,
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

/// The flow table: connection 5-tuple -> backend id (and service
/// incarnation), so a flow stays on its backend when the ring changes.
/// Written when a flow's handshake completes (or a flow is first seen
/// past its SYN), never for a SYN: unanswered SYNs never evict anything.
/// Shared by all CPUs, readable and writable by user space. The common
/// LRU (with its per-CPU local lists) measured cheaper per insert than
/// `BPF_F_NO_COMMON_LRU` on these machines (~300 vs ~350 ns a new flow).
#[btf_map]
pub static FLOWS: LruHashMap<FlowKey, FlowValue, { DEFAULT_FLOW_TABLE_SIZE as usize }> =
    LruHashMap::new();

/// Copies of `FLOWS` entries at the slot their key hashes to
/// (`hash::flow_cache_slot`): the established path's lookup, one inline
/// array access and a key compare instead of a kernel hash lookup. Shared
/// by all CPUs, so a flow whose packets run on several CPUs (generic mode)
/// has one copy. `BPF_F_MMAPABLE`: slots are cache-line aligned, and the
/// agent drops a copy with one store when it writes `FLOWS` itself.
#[btf_map]
pub static FLOW_CACHE: Array<
    FlowCacheSlot,
    { FLOW_CACHE_SIZE as usize },
    { BPF_F_MMAPABLE as usize },
> = Array::new();

/// SYNs steered and not yet followed by the client's next packet, at the
/// slot their connection hashes to (`hash::handshake_slot`): where the
/// handshake's ACK finds the backend its SYN went to (even if the ring
/// changed in between), and what tells a retransmitted SYN from a new one.
/// 8-byte words: recording a SYN is one store (nothing allocated, nothing
/// evicted), and the table is small enough to stay in cache under a flood.
/// Shared by all CPUs; `BPF_F_MMAPABLE` for the agent and tests to read.
#[btf_map]
pub static HANDSHAKES: Array<
    Handshake,
    { HANDSHAKE_TABLE_SIZE as usize },
    { BPF_F_MMAPABLE as usize },
> = Array::new();

/// Service id -> forwarded packets, bytes, new flows (per CPU).
#[btf_map]
pub static SERVICE_STATS: PerCpuArray<Counters, { MAX_SERVICES as usize }> = PerCpuArray::new();

/// Backend id -> forwarded packets, bytes, new flows (per CPU).
#[btf_map]
pub static BACKEND_STATS: PerCpuArray<Counters, { MAX_BACKENDS as usize }> = PerCpuArray::new();

/// Backend id -> SYNs, SYN retransmissions and completed handshakes (per
/// CPU): the passive signals of a backend's health (issue 12).
#[btf_map]
pub static BACKEND_SIGNALS: PerCpuArray<Signals, { MAX_BACKENDS as usize }> = PerCpuArray::new();

/// `regha_common::Reason` -> packets not forwarded for that reason (per CPU).
#[btf_map]
pub static REASONS: PerCpuArray<u64, { REASON_COUNT as usize }> = PerCpuArray::new();

/// Every service's source allow-list: (service id, source prefix) -> 1.
/// Looked up only for services with `SERVICE_F_ALLOW`, and only where a
/// flow is chosen (`allow.rs`). An LPM trie: the longest prefix of the
/// key's service id and source decides, in one kernel lookup.
#[btf_map]
pub static ALLOW: LpmTrie<AllowData, u32, { MAX_ALLOW_PREFIXES as usize }> = LpmTrie::new();

/// Service id -> which earlier generations' flows stay trusted once their
/// source passes the list again (`ServiceAllow`). Read only when a flow's
/// generation is not the current one.
#[btf_map]
pub static SERVICE_ALLOW: Array<ServiceAllow, { MAX_SERVICES as usize }> = Array::new();

/// Service id -> packets dropped because their source is not in the
/// service's allow-list (per CPU).
#[btf_map]
pub static SERVICE_DENIED: PerCpuArray<u64, { MAX_SERVICES as usize }> = PerCpuArray::new();

/// Flows just recorded in `FLOWS` (`FlowEvent`), for the agent to send to
/// its peer LBs (flow sync). Written only for services with
/// `SERVICE_F_SYNC`, once per flow (when its handshake completes, or when
/// it is first seen past its SYN), never per packet.
#[btf_map]
pub static FLOW_EVENTS: RingBuf<FlowEvent, { FLOW_EVENTS_BYTES as usize }> = RingBuf::new();

/// Flow events dropped because `FLOW_EVENTS` was full (one slot, per CPU):
/// flows recorded but not synced.
#[btf_map]
pub static SYNC_LOST: PerCpuArray<u64, 1> = PerCpuArray::new();
