//! The I/O side of `explain`: the pinned maps as a [`MapsView`], only
//! ever read.

use std::{
    cell::RefCell,
    collections::{BTreeMap, btree_map::Entry},
    path::Path,
};

use regha_common::{Backend, FlowKey, FlowValue, ServiceKey, ServiceValue};

use super::{CachedCopy, ExplainError, Explanation, MapsView, Query, explain};
use crate::{
    dataplane::{DataplaneError, MapWriter},
    status::AgentStatus,
};

/// The maps of one pin directory, each ring read once.
pub struct PinnedMaps {
    maps: MapWriter,
    rings: RefCell<BTreeMap<u32, Option<Vec<u32>>>>,
}

impl PinnedMaps {
    /// Opens the maps pinned in `pin_dir` (root only: the kernel checks
    /// the pins' permissions, and reading a ring opens it by id).
    pub fn open(pin_dir: &Path) -> Result<Self, DataplaneError> {
        Ok(Self::new(MapWriter::open(pin_dir)?))
    }

    pub fn new(maps: MapWriter) -> Self {
        Self {
            maps,
            rings: RefCell::default(),
        }
    }
}

impl MapsView for PinnedMaps {
    fn services(&self) -> Result<Vec<(ServiceKey, ServiceValue)>, DataplaneError> {
        self.maps.service_entries()
    }

    fn generation(&self, service_id: u32) -> Result<u32, DataplaneError> {
        self.maps.service_generation(service_id)
    }

    fn port_marked(&self, port: u16) -> Result<bool, DataplaneError> {
        self.maps.service_port(port)
    }

    fn ring_slot(&self, service_id: u32, slot: u32) -> Result<Option<u32>, DataplaneError> {
        let mut rings = self.rings.borrow_mut();
        let ring = match rings.entry(service_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.maps.ring(service_id)?),
        };
        Ok(ring.as_ref().and_then(|r| r.get(slot as usize).copied()))
    }

    fn backend(&self, id: u32) -> Result<Backend, DataplaneError> {
        self.maps.backend(id)
    }

    fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError> {
        self.maps.flow(key)
    }

    fn cached_flow(&self, key: &FlowKey) -> Result<Option<CachedCopy>, DataplaneError> {
        Ok(self
            .maps
            .cached_flow_slot(key)?
            .map(|(slot, value, flags)| CachedCopy { slot, value, flags }))
    }
}

/// Service names by dataplane id, from the running agent's state.
pub fn names(agent: Option<&AgentStatus>) -> BTreeMap<u32, String> {
    agent
        .into_iter()
        .flat_map(|a| &a.services)
        .filter_map(|s| Some((s.id?, s.name.clone())))
        .collect()
}

/// Answers `q` from the maps pinned in `pin_dir`, naming services as
/// `agent` (the running agent's state, if any) does.
pub fn from_pins(
    pin_dir: &Path,
    agent: Option<&AgentStatus>,
    q: &Query,
) -> Result<Explanation, ExplainError> {
    let maps = PinnedMaps::open(pin_dir)?;
    explain(&maps, &names(agent), q)
}
