//! Dataplane ids for services and backends: stable while they exist, so a
//! flow pinned to backend id N keeps meaning the same backend across config
//! reloads, and recovered from the pinned maps when the agent restarts.

use std::{collections::BTreeMap, net::SocketAddr};

use regha_common::{MAX_BACKENDS, MAX_SERVICES};
use regha_model::{BackendIdentity, ServiceIdentity};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("more than {MAX_SERVICES} services: the dataplane has no id left")]
    Services,
    #[error("more than {MAX_BACKENDS} backends over all services: the dataplane has no id left")]
    Backends,
}

/// The id tables.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    services: BTreeMap<ServiceIdentity, u32>,
    backends: BTreeMap<BackendIdentity, u32>,
    /// Backend ids found in the maps at start, by address, not yet claimed.
    adoptable: BTreeMap<SocketAddr, Vec<u32>>,
}

fn lowest_free<'a>(used: impl Iterator<Item = &'a u32>, limit: u32) -> Option<u32> {
    let mut taken: Vec<u32> = used.copied().collect();
    taken.sort_unstable();
    let mut next = 0;
    for t in taken {
        if t > next {
            break;
        }
        next = t + 1;
    }
    (next < limit).then_some(next)
}

impl Ids {
    /// Starts from what the pinned maps hold: services by key, backends by
    /// address (the maps do not say which service a backend belongs to; a
    /// backend address seen again takes over one of its old ids, so flows
    /// pinned to that id still reach the same host).
    pub fn adopt(
        services: impl IntoIterator<Item = (ServiceIdentity, u32)>,
        backends: impl IntoIterator<Item = (SocketAddr, u32)>,
    ) -> Self {
        let mut ids = Self::default();
        for (s, id) in services {
            if id < MAX_SERVICES {
                ids.services.insert(s, id);
            }
        }
        for (addr, id) in backends {
            if id < MAX_BACKENDS {
                ids.adoptable.entry(addr).or_default().push(id);
            }
        }
        ids
    }

    pub fn service(&mut self, s: ServiceIdentity) -> Result<u32, IdError> {
        if let Some(id) = self.services.get(&s) {
            return Ok(*id);
        }
        let id = lowest_free(self.services.values(), MAX_SERVICES).ok_or(IdError::Services)?;
        self.services.insert(s, id);
        Ok(id)
    }

    pub fn backend(&mut self, b: BackendIdentity) -> Result<u32, IdError> {
        if let Some(id) = self.backends.get(&b) {
            return Ok(*id);
        }
        let adopted = self.adoptable.get_mut(&b.addr).and_then(|v| v.pop());
        let id = match adopted {
            Some(id) => id,
            None => {
                let held = self.adoptable.values().flatten();
                let used = self.backends.values().chain(held);
                lowest_free(used, MAX_BACKENDS).ok_or(IdError::Backends)?
            }
        };
        self.backends.insert(b, id);
        Ok(id)
    }

    pub fn release_service(&mut self, s: &ServiceIdentity) -> Option<u32> {
        self.services.remove(s)
    }

    pub fn release_backend(&mut self, b: &BackendIdentity) -> Option<u32> {
        self.backends.remove(b)
    }

    /// Adopted ids no configured backend claimed: stale, to be cleared.
    pub fn take_unclaimed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.adoptable)
            .into_values()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn svc(port: u16) -> ServiceIdentity {
        ServiceIdentity {
            vip: "192.0.2.100".parse().unwrap(),
            port,
            protocol: regha_model::Protocol::Tcp,
        }
    }

    fn be(port: u16, last: u8) -> BackendIdentity {
        BackendIdentity {
            service: svc(port),
            addr: SocketAddr::new(IpAddr::from([192, 0, 2, last]), 5000),
        }
    }

    #[test]
    fn ids_are_stable_and_the_lowest_free_is_reused() {
        let mut ids = Ids::default();
        assert_eq!(ids.backend(be(5000, 11)).unwrap(), 0);
        assert_eq!(ids.backend(be(5000, 12)).unwrap(), 1);
        assert_eq!(ids.backend(be(5000, 11)).unwrap(), 0, "stable");
        ids.release_backend(&be(5000, 11));
        assert_eq!(ids.backend(be(5000, 13)).unwrap(), 0, "lowest free");
        assert_eq!(ids.service(svc(5000)).unwrap(), 0);
        assert_eq!(ids.service(svc(5001)).unwrap(), 1);
        assert_eq!(ids.service(svc(5000)).unwrap(), 0);
    }

    #[test]
    fn adopted_ids_follow_their_address_and_leftovers_are_reported() {
        let mut ids = Ids::adopt(
            [(svc(5000), 7)],
            [
                (be(5000, 11).addr, 3),
                (be(5000, 12).addr, 5),
                (SocketAddr::new(IpAddr::from([192, 0, 2, 99]), 5000), 0),
            ],
        );
        assert_eq!(ids.service(svc(5000)).unwrap(), 7);
        assert_eq!(ids.backend(be(5000, 12)).unwrap(), 5);
        assert_eq!(ids.backend(be(5000, 11)).unwrap(), 3);
        // A new backend does not take an id still held by an unclaimed one.
        assert_eq!(ids.backend(be(5000, 13)).unwrap(), 1);
        assert_eq!(ids.take_unclaimed(), vec![0]);
    }

    #[test]
    fn running_out_of_ids_is_an_error() {
        let mut ids = Ids::default();
        for p in 0..MAX_SERVICES {
            ids.service(svc(p as u16 + 1)).unwrap();
        }
        assert_eq!(ids.service(svc(60000)), Err(IdError::Services));
    }
}
