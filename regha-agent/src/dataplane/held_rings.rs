//! Rings this process made or read, kept open so that it can still read
//! them once it has dropped `CAP_SYS_ADMIN`. The outer `rings` map holds
//! each service's ring as a map *id*, and opening a map by id
//! (`BPF_MAP_GET_FD_BY_ID`) needs `CAP_SYS_ADMIN` whatever else the process
//! holds: the agent, after its capability drop, can no longer open a ring
//! that way. It can read the rings it wrote itself (and those it read while
//! it still could, after an adoption), which are the ones the dataplane
//! uses: each stays here until the service's next ring replaces it. A held
//! ring is read only while its id is the one the outer slot names, so a
//! ring someone else swapped in is never mistaken for it.

use std::{collections::BTreeMap, sync::Mutex};

use super::{DataplaneError, mmap::MmapArray};

/// By (outer map id, service id): the ring last made or read.
static HELD: Mutex<BTreeMap<(u32, u32), MmapArray>> = Mutex::new(BTreeMap::new());

fn held() -> std::sync::MutexGuard<'static, BTreeMap<(u32, u32), MmapArray>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `ring` as the one service `service` of the outer map `outer` uses.
pub(super) fn hold(outer: u32, service: u32, ring: MmapArray) {
    held().insert((outer, service), ring);
}

/// The slots of a ring read through its mapping.
pub(super) fn slots(ring: &MmapArray) -> Result<Vec<u32>, DataplaneError> {
    (0..ring.entries()).map(|i| ring.load_u32(i, 0)).collect()
}

/// The slots of the held ring of `service` in `outer`, if it is the map
/// `current` (the id the outer slot names now); `None` when none is held or
/// the one held is not that map.
pub(super) fn read(
    outer: u32,
    service: u32,
    current: u32,
) -> Option<Result<Vec<u32>, DataplaneError>> {
    let held = held();
    let ring = held.get(&(outer, service))?;
    let id = ring.map().info().ok()?.id();
    (id == current).then(|| slots(ring))
}
