//! The map writer: the one place that turns the agent's decisions into map
//! entries. Opened from the pins, so a restarted agent and the tests use the
//! very same path as the agent that created them.

use std::{
    os::fd::{AsFd, AsRawFd},
    path::Path,
    time::{Duration, Instant},
};

use aya::maps::{ArrayOfMaps, HashMap, Map, MapData, MapError, PerCpuArray};
use regha_common::{
    Backend, Counters, FlowKey, FlowValue, MAX_RING_SIZE, RING_MAP_FLAGS, Reason, ServiceKey,
    ServiceValue, map_names,
};

use super::{DataplaneError, PINNED_MAPS};

/// Bytes between two elements of a BPF array: the kernel rounds every value
/// up to 8 (`round_up(value_size, 8)` in kernel/bpf/arraymap.c), and the
/// mmap of an array shows exactly that layout.
const ARRAY_ELEM_STRIDE: usize = 8;

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
    services: HashMap<MapData, ServiceKey, ServiceValue>,
    rings: ArrayOfMaps<MapData, MapData>,
    backends: HashMap<MapData, u32, Backend>,
    flows: HashMap<MapData, FlowKey, FlowValue>,
    service_stats: PerCpuArray<MapData, Counters>,
    backend_stats: PerCpuArray<MapData, Counters>,
    reasons: PerCpuArray<MapData, u64>,
}

fn map_err(map: &'static str) -> impl FnOnce(MapError) -> DataplaneError {
    move |source| DataplaneError::Map { map, source }
}

fn open_pinned(pin_dir: &Path, name: &'static str) -> Result<Map, DataplaneError> {
    let file = PINNED_MAPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("every map name is in PINNED_MAPS");
    let data = MapData::from_pin(pin_dir.join(file)).map_err(map_err(name))?;
    Map::from_map_data(data).map_err(map_err(name))
}

impl MapWriter {
    /// Opens the maps pinned in `pin_dir`.
    pub fn open(pin_dir: &Path) -> Result<Self, DataplaneError> {
        macro_rules! typed {
            ($name:expr) => {
                open_pinned(pin_dir, $name)?
                    .try_into()
                    .map_err(map_err($name))?
            };
        }
        Ok(Self {
            services: typed!(map_names::SERVICES),
            rings: typed!(map_names::RINGS),
            backends: typed!(map_names::BACKENDS),
            flows: typed!(map_names::FLOWS),
            service_stats: typed!(map_names::SERVICE_STATS),
            backend_stats: typed!(map_names::BACKEND_STATS),
            reasons: typed!(map_names::REASONS),
        })
    }

    /// Adds or replaces a service (one element update: atomic for readers).
    pub fn set_service(
        &mut self,
        key: &ServiceKey,
        value: &ServiceValue,
    ) -> Result<(), DataplaneError> {
        self.services
            .insert(key, value, 0)
            .map_err(map_err(map_names::SERVICES))
    }

    pub fn remove_service(&mut self, key: &ServiceKey) -> Result<(), DataplaneError> {
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

    /// Adds or replaces a backend (MAC, address, state) in one update.
    pub fn set_backend(&mut self, id: u32, backend: &Backend) -> Result<(), DataplaneError> {
        self.backends
            .insert(id, backend, 0)
            .map_err(map_err(map_names::BACKENDS))
    }

    pub fn remove_backend(&mut self, id: u32) -> Result<(), DataplaneError> {
        match self.backends.remove(&id) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(map_names::BACKENDS)(e)),
        }
    }

    pub fn backend(&self, id: u32) -> Result<Option<Backend>, DataplaneError> {
        match self.backends.get(&id, 0) {
            Ok(v) => Ok(Some(v)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(map_names::BACKENDS)(e)),
        }
    }

    /// Publishes a whole new Maglev table for `service_id`: a fresh inner map
    /// is filled while no packet can see it, then the outer slot is pointed at
    /// it in one update. In-flight packets finish on the old table, which the
    /// kernel frees after an RCU grace period.
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
        let data = &inner;
        with_mmap(data, size, true, |mem| {
            for (i, id) in slots.iter().enumerate() {
                let at = i * ARRAY_ELEM_STRIDE;
                mem[at..at + 4].copy_from_slice(&id.to_ne_bytes());
            }
        })?;
        self.rings
            .set(service_id, data, 0)
            .map_err(map_err(map_names::RINGS))?;
        Ok(RingSwap {
            service_id,
            size,
            duration: start.elapsed(),
        })
    }

    /// Reads back the table the dataplane uses for `service_id`.
    pub fn ring(&self, service_id: u32) -> Result<Option<Vec<u32>>, DataplaneError> {
        let inner: MapData = match self.rings.get(&service_id, 0) {
            Ok(m) => m,
            Err(MapError::KeyNotFound) => return Ok(None),
            Err(e) => return Err(map_err(map_names::RINGS)(e)),
        };
        let size = inner
            .info()
            .map_err(map_err(map_names::RINGS))?
            .max_entries();
        let mut out = Vec::with_capacity(size as usize);
        with_mmap(&inner, size, false, |mem| {
            for i in 0..size as usize {
                let at = i * ARRAY_ELEM_STRIDE;
                out.push(u32::from_ne_bytes(
                    mem[at..at + 4].try_into().expect("4 bytes"),
                ));
            }
        })?;
        Ok(Some(out))
    }

    /// The flow-table entry of one connection, if any.
    pub fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError> {
        match self.flows.get(key, 0) {
            Ok(v) => Ok(Some(v)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(map_names::FLOWS)(e)),
        }
    }

    /// Forwarded packets, bytes and new flows of a service, summed over CPUs.
    pub fn service_counters(&self, service_id: u32) -> Result<Counters, DataplaneError> {
        sum_counters(&self.service_stats, service_id, map_names::SERVICE_STATS)
    }

    /// The same for a backend.
    pub fn backend_counters(&self, backend_id: u32) -> Result<Counters, DataplaneError> {
        sum_counters(&self.backend_stats, backend_id, map_names::BACKEND_STATS)
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

/// Maps the memory of an mmapable array of `entries` elements and hands it
/// to `f`; unmaps afterwards whatever `f` did.
fn with_mmap(
    map: &MapData,
    entries: u32,
    writable: bool,
    f: impl FnOnce(&mut [u8]),
) -> Result<(), DataplaneError> {
    let len = entries as usize * ARRAY_ELEM_STRIDE;
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    let fd = map.fd().as_fd().as_raw_fd();
    // SAFETY: mapping a BPF array created with BPF_F_MMAPABLE; the kernel
    // sizes the mapping to the array's data pages, which cover `len`.
    let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(DataplaneError::MapUse {
            map: map_names::RINGS,
            reason: format!("mmap of a ring failed: {}", std::io::Error::last_os_error()),
        });
    }
    let mut scratch;
    // SAFETY: `ptr` is a fresh mapping of `len` bytes owned by this function;
    // a read-only mapping is copied into a scratch buffer first so `f` never
    // writes through a PROT_READ page.
    let mem: &mut [u8] = if writable {
        unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) }
    } else {
        scratch = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec();
        &mut scratch
    };
    f(mem);
    // SAFETY: unmapping exactly what was mapped above.
    unsafe { libc::munmap(ptr, len) };
    Ok(())
}
