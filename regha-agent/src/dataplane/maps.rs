//! The map writer: the one place that turns the agent's decisions into map
//! entries. Opened from the pins, so a restarted agent and the tests use the
//! very same path as the agent that created them.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use aya::maps::{
    Array, ArrayOfMaps, HashMap, LpmTrie, Map, MapData, MapError, PerCpuArray, lpm_trie::Key,
};
use regha_common::{
    ALLOW_ID_BITS, AllowData, Backend, Counters, FLOW_CACHE_ENTRY_OFFSET, FLOW_CACHE_GEN_OFFSET,
    FlowCacheEntry, FlowKey, FlowValue, Handshake, MAX_RING_SIZE, RING_MAP_FLAGS, Reason,
    ServiceAllow, ServiceKey, ServiceValue, Signals,
    hash::{flow_cache_slot, flow_check, handshake_fingerprint, handshake_slot, tuple_hash},
    layout::{PINNED_MAPS, PinnedMap},
    map_names,
};

use super::{DataplaneError, held_rings, mmap::MmapArray};

/// What one ring swap did, for logs and metrics.
#[derive(Clone, Copy, Debug)]
pub struct RingSwap {
    pub service_id: u32,
    pub size: u32,
    /// From creating the new table to the outer slot pointing at it.
    pub duration: Duration,
}

/// Typed handles on every pinned map of one interface.
pub struct MapWriter {
    pub(super) services: HashMap<MapData, ServiceKey, ServiceValue>,
    pub(super) service_ports: MmapArray,
    pub(super) service_gens: MmapArray,
    rings: ArrayOfMaps<MapData, MapData>,
    /// The same outer map read as plain ids (a lookup in an array of maps
    /// from user space answers the inner map's id), and its own id: what
    /// `held_rings` needs once opening a ring by id is refused.
    ring_ids: Array<MapData, u32>,
    rings_id: u32,
    backends: MmapArray,
    flows: HashMap<MapData, FlowKey, FlowValue>,
    flow_cache: MmapArray,
    handshakes: MmapArray,
    service_stats: PerCpuArray<MapData, Counters>,
    backend_stats: PerCpuArray<MapData, Counters>,
    backend_signals: PerCpuArray<MapData, Signals>,
    reasons: PerCpuArray<MapData, u64>,
    allow: LpmTrie<MapData, AllowData, u32>,
    service_allow: Array<MapData, ServiceAllow>,
    service_denied: PerCpuArray<MapData, u64>,
    sync_lost: PerCpuArray<MapData, u64>,
    /// Services are written with `SERVICE_F_SYNC` (`flow_sync` is on).
    pub(super) flow_sync: bool,
}

pub(super) fn map_err(map: &'static str) -> impl FnOnce(MapError) -> DataplaneError {
    move |source| DataplaneError::Map { map, source }
}

impl MapWriter {
    /// Opens the maps pinned in `pin_dir`.
    pub fn open(pin_dir: &Path) -> Result<Self, DataplaneError> {
        Self::open_with(|map| pin_dir.join(map.pin))
    }

    /// Opens each map at `path_of(map)` (a replacement map may still be in
    /// the staging directory).
    pub(super) fn open_with(
        path_of: impl Fn(&PinnedMap) -> PathBuf,
    ) -> Result<Self, DataplaneError> {
        let open_data = |name: &'static str| -> Result<MapData, DataplaneError> {
            let map = PINNED_MAPS
                .iter()
                .find(|m| m.name == name)
                .expect("every map name is in PINNED_MAPS");
            MapData::from_pin(path_of(map)).map_err(map_err(name))
        };
        macro_rules! typed {
            ($name:expr) => {
                Map::from_map_data(open_data($name)?)
                    .map_err(map_err($name))?
                    .try_into()
                    .map_err(map_err($name))?
            };
        }
        macro_rules! mapped {
            ($name:expr) => {
                MmapArray::new(open_data($name)?, $name)?
            };
        }
        let ring_ids = open_data(map_names::RINGS)?;
        let rings_id = ring_ids.info().map_err(map_err(map_names::RINGS))?.id();
        let ring_ids = Array::try_from(Map::Array(ring_ids)).map_err(map_err(map_names::RINGS))?;
        Ok(Self {
            services: typed!(map_names::SERVICES),
            service_ports: mapped!(map_names::SERVICE_PORTS),
            service_gens: mapped!(map_names::SERVICE_GENS),
            rings: typed!(map_names::RINGS),
            ring_ids,
            rings_id,
            backends: mapped!(map_names::BACKENDS),
            flows: typed!(map_names::FLOWS),
            flow_cache: mapped!(map_names::FLOW_CACHE),
            handshakes: mapped!(map_names::HANDSHAKES),
            service_stats: typed!(map_names::SERVICE_STATS),
            backend_stats: typed!(map_names::BACKEND_STATS),
            backend_signals: typed!(map_names::BACKEND_SIGNALS),
            reasons: typed!(map_names::REASONS),
            allow: typed!(map_names::ALLOW),
            service_allow: typed!(map_names::SERVICE_ALLOW),
            service_denied: typed!(map_names::SERVICE_DENIED),
            sync_lost: typed!(map_names::SYNC_LOST),
            flow_sync: false,
        })
    }

    /// Whether the services written from now on ask the program to put the
    /// flows it records on `FLOW_EVENTS` (`SERVICE_F_SYNC`). Set once,
    /// before the first write: the flag follows `flow_sync`, which changes
    /// only with a restart.
    pub fn set_flow_sync(&mut self, on: bool) {
        self.flow_sync = on;
    }

    /// Flow events the program could not put on a full `FLOW_EVENTS`,
    /// summed over CPUs: flows recorded but never sent to the peers.
    pub fn sync_lost(&self) -> Result<u64, DataplaneError> {
        let per_cpu = self
            .sync_lost
            .get(&0, 0)
            .map_err(map_err(map_names::SYNC_LOST))?;
        Ok(per_cpu.iter().sum())
    }

    /// Adds or replaces a service entry (one element update: atomic for readers).
    pub fn set_service(
        &mut self,
        key: &ServiceKey,
        value: &ServiceValue,
    ) -> Result<(), DataplaneError> {
        self.services
            .insert(key, value, 0)
            .map_err(map_err(map_names::SERVICES))
    }

    pub fn delete_service_entry(&mut self, key: &ServiceKey) -> Result<(), DataplaneError> {
        match self.services.remove(key) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(map_names::SERVICES)(e)),
        }
    }

    pub fn service(&self, key: &ServiceKey) -> Result<Option<ServiceValue>, DataplaneError> {
        match self.services.get(key, 0) {
            Ok(v) => Ok(Some(v)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(map_names::SERVICES)(e)),
        }
    }

    /// Every service entry (fragment aliases included).
    pub fn service_entries(&self) -> Result<Vec<(ServiceKey, ServiceValue)>, DataplaneError> {
        self.services
            .iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(map_names::SERVICES))
    }

    /// Writes a backend: first the bytes the program does not read, then the
    /// MAC and state together in one atomic store.
    pub fn set_backend(&mut self, id: u32, backend: &Backend) -> Result<(), DataplaneError> {
        let mut cold = Vec::with_capacity(24);
        cold.extend_from_slice(&backend.addr);
        cold.extend_from_slice(&backend.port.to_ne_bytes());
        cold.extend_from_slice(&backend._pad);
        self.backends.write(id, 8, &cold)?;
        self.backends.store_u64(id, 0, backend.hot_word())
    }

    /// Marks a backend id unused (state down, no MAC): flows pinned to it
    /// are re-hashed on their next packet.
    pub fn remove_backend(&mut self, id: u32) -> Result<(), DataplaneError> {
        self.set_backend(id, &Backend::default())
    }

    pub fn backend(&self, id: u32) -> Result<Backend, DataplaneError> {
        let b = self.backends.read(id)?;
        let word = |i: usize| b[i];
        Ok(Backend {
            mac: [word(0), word(1), word(2), word(3), word(4), word(5)],
            state: b[6],
            family: b[7],
            addr: b[8..24].try_into().expect("16 bytes"),
            port: u16::from_ne_bytes([b[24], b[25]]),
            _pad: b[26..32].try_into().expect("6 bytes"),
        })
    }

    /// Every backend id holding an address, with that address (ids of
    /// removed backends are all zeros and are left out).
    pub fn backend_entries(&self) -> Result<Vec<(std::net::SocketAddr, u32)>, DataplaneError> {
        let mut out = Vec::new();
        for id in 0..self.backends.entries() {
            let b = self.backend(id)?;
            let Some(ip) = super::ip_of(&b.addr, b.family) else {
                continue;
            };
            out.push((std::net::SocketAddr::new(ip, b.port), id));
        }
        Ok(out)
    }

    /// The generation of service id `id` (0: no service).
    pub fn service_generation(&self, id: u32) -> Result<u32, DataplaneError> {
        self.service_gens.load_u32(id, 0)
    }

    pub(super) fn set_service_generation(&self, id: u32, g: u32) -> Result<(), DataplaneError> {
        self.service_gens.store_u32(id, 0, g)
    }

    /// Marks `port` as used by some service (or not).
    pub(super) fn set_service_port(&self, port: u16, on: bool) -> Result<(), DataplaneError> {
        self.service_ports
            .set_bit(u32::from(port >> 6), u32::from(port & 63), on)
    }

    /// Whether `port` is marked as used by some service.
    pub fn service_port(&self, port: u16) -> Result<bool, DataplaneError> {
        let w = self.service_ports.load_u64(u32::from(port >> 6), 0)?;
        Ok(w & (1 << (port & 63)) != 0)
    }

    /// Publishes a whole new Maglev table for `service_id`: a fresh inner map
    /// is filled while no packet can see it, then the outer slot is pointed at
    /// it in one update. In-flight packets finish on the old table, which the
    /// kernel frees after an RCU grace period.
    ///
    /// The update of an array-of-maps waits for that grace period itself
    /// (`maybe_wait_bpf_programs()` calls `synchronize_rcu()` in
    /// kernel/bpf/syscall.c): when this returns, no packet uses the old table
    /// any more. That wait is most of a swap's ~10 ms here; it is latency,
    /// not CPU.
    pub fn swap_ring(
        &mut self,
        service_id: u32,
        slots: &[u32],
    ) -> Result<RingSwap, DataplaneError> {
        let start = Instant::now();
        let size = u32::try_from(slots.len())
            .ok()
            .filter(|s| (1..=MAX_RING_SIZE).contains(s))
            .ok_or_else(|| DataplaneError::MapUse {
                map: map_names::RINGS,
                reason: format!(
                    "a ring needs 1..={MAX_RING_SIZE} slots, got {}",
                    slots.len()
                ),
            })?;
        // Named so `bpftool map list` says what it is (at most 15 characters).
        let def = aya_obj::Map::new_from_params(
            aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_ARRAY as u32,
            size_of::<u32>() as u32,
            size_of::<u32>() as u32,
            size,
            RING_MAP_FLAGS,
        );
        let inner = MapData::create(def, "regha_ring", None).map_err(map_err(map_names::RINGS))?;
        let mut mapped = MmapArray::new(inner, map_names::RINGS)?;
        mapped.fill_u32(slots)?;
        self.rings
            .set(service_id, mapped.map(), 0)
            .map_err(map_err(map_names::RINGS))?;
        held_rings::hold(self.rings_id, service_id, mapped);
        Ok(RingSwap {
            service_id,
            size,
            duration: start.elapsed(),
        })
    }

    /// Reads back the table the dataplane uses for `service_id`. Without
    /// `CAP_SYS_ADMIN` (the agent after its capability drop) only a ring
    /// this process made or read before can be read (`held_rings`).
    pub fn ring(&self, service_id: u32) -> Result<Option<Vec<u32>>, DataplaneError> {
        let inner: MapData = match self.rings.get(&service_id, 0) {
            Ok(m) => m,
            Err(MapError::KeyNotFound) => return Ok(None),
            Err(e) if permission_denied(&e) => return self.held_ring(service_id, e),
            Err(e) => return Err(map_err(map_names::RINGS)(e)),
        };
        let mapped = MmapArray::new(inner, map_names::RINGS)?;
        let slots = held_rings::slots(&mapped)?;
        held_rings::hold(self.rings_id, service_id, mapped);
        Ok(Some(slots))
    }

    fn held_ring(
        &self,
        service_id: u32,
        refused: MapError,
    ) -> Result<Option<Vec<u32>>, DataplaneError> {
        let current = match self.ring_ids.get(&service_id, 0) {
            Ok(id) => id,
            Err(MapError::KeyNotFound) => return Ok(None),
            Err(e) => return Err(map_err(map_names::RINGS)(e)),
        };
        held_rings::read(self.rings_id, service_id, current)
            .map(|r| r.map(Some))
            .unwrap_or_else(|| Err(map_err(map_names::RINGS)(refused)))
    }

    /// The flow-table entry of one connection, if any.
    pub fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError> {
        match self.flows.get(key, 0) {
            Ok(v) => Ok(Some(v)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(map_names::FLOWS)(e)),
        }
    }

    /// Every flow-table entry (two calls into the kernel each: a full
    /// 262,144-entry table takes about half a second). Entries the program
    /// changes meanwhile may be missed or seen twice.
    pub fn flow_entries(&self) -> Result<Vec<(FlowKey, FlowValue)>, DataplaneError> {
        self.flows
            .iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(map_names::FLOWS))
    }

    /// Pins a connection to a backend, as the program would (a peer's flow
    /// entries, say): the flow-table entry is written, then any cached copy
    /// of the connection dropped, so the next packet reads the new entry.
    pub fn set_flow(&mut self, key: &FlowKey, value: &FlowValue) -> Result<(), DataplaneError> {
        self.flows
            .insert(key, value, 0)
            .map_err(map_err(map_names::FLOWS))?;
        self.uncache_flow(key)
    }

    /// Unpins a connection: its flow-table entry and any cached copy go,
    /// and its next packet is steered as a connection seen mid-way (the ring).
    pub fn remove_flow(&mut self, key: &FlowKey) -> Result<(), DataplaneError> {
        match self.flows.remove(key) {
            Ok(()) | Err(MapError::KeyNotFound) => {}
            Err(e) => return Err(map_err(map_names::FLOWS)(e)),
        }
        self.uncache_flow(key)
    }

    /// The program's cached copy of a connection's flow entry, if its slot
    /// holds one (`FlowCacheSlot`).
    pub fn cached_flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError> {
        Ok(self.cached_flow_slot(key)?.map(|(_, v, _)| v))
    }

    /// [`cached_flow`](Self::cached_flow) with the slot it is in and its
    /// `FLOW_CACHE_F_*` flags (for `explain`).
    pub fn cached_flow_slot(
        &self,
        key: &FlowKey,
    ) -> Result<Option<(u32, FlowValue, u8)>, DataplaneError> {
        let h = tuple_hash(&key.words());
        let slot = flow_cache_slot(h);
        let entry =
            FlowCacheEntry::from_word(self.flow_cache.load_u64(slot, FLOW_CACHE_ENTRY_OFFSET)?);
        let bytes = self.flow_cache.read(slot)?;
        if entry.check != flow_check(h) || bytes[..40] != key_bytes(key) {
            return Ok(None);
        }
        let value = FlowValue {
            backend_id: u32::from(entry.backend_id),
            service_id: u32::from(entry.service_id),
            service_gen: self.flow_cache.load_u32(slot, FLOW_CACHE_GEN_OFFSET)?,
        };
        Ok(Some((slot, value, entry.flags)))
    }

    /// Drops the cached copy of `key`'s flow, if its slot holds it: one
    /// atomic store of the slot's entry word (the program then finds no
    /// copy and reads the flow table).
    fn uncache_flow(&self, key: &FlowKey) -> Result<(), DataplaneError> {
        let h = tuple_hash(&key.words());
        let slot = flow_cache_slot(h);
        let entry =
            FlowCacheEntry::from_word(self.flow_cache.load_u64(slot, FLOW_CACHE_ENTRY_OFFSET)?);
        if entry.check == flow_check(h) && self.flow_cache.read(slot)?[..40] == key_bytes(key) {
            self.flow_cache
                .store_u64(slot, FLOW_CACHE_ENTRY_OFFSET, 0)?;
        }
        Ok(())
    }

    /// The backend a pending handshake of `key` was steered to: a SYN with
    /// initial sequence number `isn` the client has not followed up yet.
    pub fn pending_handshake(
        &self,
        key: &FlowKey,
        isn: u32,
    ) -> Result<Option<u32>, DataplaneError> {
        let h = tuple_hash(&key.words());
        let word = self.handshakes.load_u64(handshake_slot(h), 0)?;
        let hs = Handshake::from_word(word);
        Ok(
            (word != 0 && hs.fingerprint() == handshake_fingerprint(h, isn))
                .then_some(u32::from(hs.backend_id)),
        )
    }

    /// Forwarded packets, bytes and new flows of a service, summed over CPUs.
    pub fn service_counters(&self, service_id: u32) -> Result<Counters, DataplaneError> {
        sum_counters(&self.service_stats, service_id, map_names::SERVICE_STATS)
    }

    /// The same for a backend.
    pub fn backend_counters(&self, backend_id: u32) -> Result<Counters, DataplaneError> {
        sum_counters(&self.backend_stats, backend_id, map_names::BACKEND_STATS)
    }

    /// The handshakes steered to a backend (SYNs, retransmitted SYNs,
    /// completions), summed over CPUs: its passive health signals.
    pub fn signals(&self, backend_id: u32) -> Result<Signals, DataplaneError> {
        let per_cpu = self
            .backend_signals
            .get(&backend_id, 0)
            .map_err(map_err(map_names::BACKEND_SIGNALS))?;
        Ok(per_cpu.iter().fold(Signals::default(), |acc, s| Signals {
            syns: acc.syns + s.syns,
            syn_retransmits: acc.syn_retransmits + s.syn_retransmits,
            completions: acc.completions + s.completions,
        }))
    }

    /// Packets of a service dropped because their source is not in its
    /// allow-list, summed over CPUs.
    pub fn service_denied(&self, service_id: u32) -> Result<u64, DataplaneError> {
        let per_cpu = self
            .service_denied
            .get(&service_id, 0)
            .map_err(map_err(map_names::SERVICE_DENIED))?;
        Ok(per_cpu.iter().sum())
    }

    /// Which earlier generations of service `id` stay trusted (`ServiceAllow`).
    pub fn service_allow(&self, id: u32) -> Result<ServiceAllow, DataplaneError> {
        self.service_allow
            .get(&id, 0)
            .map_err(map_err(map_names::SERVICE_ALLOW))
    }

    pub(super) fn set_service_allow(
        &mut self,
        id: u32,
        value: ServiceAllow,
    ) -> Result<(), DataplaneError> {
        self.service_allow
            .set(id, value, 0)
            .map_err(map_err(map_names::SERVICE_ALLOW))
    }

    /// Every prefix in service `id`'s allow-list, as the trie holds it.
    pub fn allow_prefixes(&self, id: u32) -> Result<Vec<AllowPrefix>, DataplaneError> {
        let mut out = Vec::new();
        for k in self.allow.keys() {
            let k = k.map_err(map_err(map_names::ALLOW))?;
            let data = k.data();
            if u32::from_be_bytes(data.service_id) == id {
                out.push(AllowPrefix {
                    addr: data.addr,
                    len: (k.prefix_len() - ALLOW_ID_BITS) as u8,
                });
            }
        }
        out.sort();
        Ok(out)
    }

    pub(super) fn add_allow_prefix(
        &mut self,
        id: u32,
        p: AllowPrefix,
    ) -> Result<(), DataplaneError> {
        self.allow
            .insert(&p.key(id), 1, 0)
            .map_err(map_err(map_names::ALLOW))
    }

    pub(super) fn remove_allow_prefix(
        &mut self,
        id: u32,
        p: AllowPrefix,
    ) -> Result<(), DataplaneError> {
        match self.allow.remove(&p.key(id)) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(map_names::ALLOW)(e)),
        }
    }

    /// Packets not forwarded for `reason`, summed over CPUs.
    pub fn reason_count(&self, reason: Reason) -> Result<u64, DataplaneError> {
        let per_cpu = self
            .reasons
            .get(&(reason as u32), 0)
            .map_err(map_err(map_names::REASONS))?;
        Ok(per_cpu.iter().sum())
    }
}

/// One prefix of a service's allow-list in the trie's form: the network's
/// first address in the maps' 16-byte form, and its length in address bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowPrefix {
    pub addr: [u8; 16],
    pub len: u8,
}

impl AllowPrefix {
    pub fn of(p: &regha_model::IpPrefix) -> Self {
        let addr = match p.addr() {
            std::net::IpAddr::V4(a) => regha_common::addr_from_v4(a.octets()),
            std::net::IpAddr::V6(a) => a.octets(),
        };
        Self {
            addr,
            len: p.prefix_len(),
        }
    }

    fn key(&self, service_id: u32) -> Key<AllowData> {
        Key::new(
            ALLOW_ID_BITS + u32::from(self.len),
            AllowData::new(service_id, self.addr),
        )
    }
}

/// A key's 40 bytes as the maps hold them.
fn key_bytes(key: &FlowKey) -> [u8; 40] {
    let mut out = [0u8; 40];
    for (chunk, w) in out.chunks_exact_mut(8).zip(key.words()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Whether the kernel refused `e` for want of a capability.
fn permission_denied(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(s) if s.io_error.raw_os_error() == Some(libc::EPERM))
}

fn sum_counters(
    map: &PerCpuArray<MapData, Counters>,
    index: u32,
    name: &'static str,
) -> Result<Counters, DataplaneError> {
    let per_cpu = map.get(&index, 0).map_err(map_err(name))?;
    Ok(per_cpu.iter().fold(Counters::default(), |acc, c| Counters {
        packets: acc.packets + c.packets,
        bytes: acc.bytes + c.bytes,
        new_flows: acc.new_flows + c.new_flows,
    }))
}
