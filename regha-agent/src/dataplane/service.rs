//! One service as the dataplane carries it, and the order in which its maps
//! are written so that no packet ever sees an inconsistent state.

use std::{collections::BTreeSet, net::IpAddr};

use regha_common::{
    Backend, FAMILY_V4, FAMILY_V6, FRAGMENT_PORT, SERVICE_F_ALLOW, SERVICE_F_HASH_FLOW,
    SERVICE_F_NO_BACKEND, SERVICE_F_SYNC, ServiceAllow, ServiceKey, ServiceValue, addr_from_v4,
};
use regha_model::{BackendState, HashMode, IpPrefix, Protocol, ServiceIdentity};

use super::{DataplaneError, MapWriter, RingSwap, maps::AllowPrefix};
use crate::maglev::{MaglevBackend, MaglevTable};

/// One backend of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendSpec {
    /// Dataplane id (`BACKENDS` key), unique on this host.
    pub id: u32,
    pub addr: IpAddr,
    pub port: u16,
    /// Resolved from the neighbour table by the agent.
    pub mac: [u8; 6],
    pub weight: u32,
    pub state: BackendState,
}

impl BackendSpec {
    /// What seeds the backend's Maglev permutation: the same on every LB host.
    pub fn identity(&self) -> String {
        std::net::SocketAddr::new(self.addr, self.port).to_string()
    }
}

/// One `VIP:port/proto` service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Dataplane id (`RINGS` and `SERVICE_STATS` index), `< MAX_SERVICES`.
    pub id: u32,
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    pub hash: HashMode,
    pub seed: u32,
    /// Maglev table size, a prime.
    pub ring_size: u32,
    pub backends: Vec<BackendSpec>,
    /// Source networks allowed to start flows; empty: every source.
    pub allow: Vec<IpPrefix>,
}

fn addr16(addr: IpAddr) -> ([u8; 16], u8) {
    match addr {
        IpAddr::V4(a) => (addr_from_v4(a.octets()), FAMILY_V4),
        IpAddr::V6(a) => (a.octets(), FAMILY_V6),
    }
}

/// The address a map's 16-byte field and family hold (the inverse of the
/// form the maps use); `None` for an unused entry (family 0).
pub fn ip_of(addr: &[u8; 16], family: u8) -> Option<IpAddr> {
    match family {
        FAMILY_V4 => Some(IpAddr::from([addr[0], addr[1], addr[2], addr[3]])),
        FAMILY_V6 => Some(IpAddr::from(*addr)),
        _ => None,
    }
}

impl ServiceSpec {
    /// `VIP:port/protocol`, as the agent keys services.
    pub fn identity(&self) -> ServiceIdentity {
        ServiceIdentity {
            vip: self.vip,
            port: self.port,
            protocol: self.protocol,
        }
    }

    pub fn key(&self) -> ServiceKey {
        let (addr, family) = addr16(self.vip);
        ServiceKey {
            addr,
            port: self.port,
            proto: self.protocol.number(),
            family,
        }
    }

    /// The alias that later IPv4 fragments (no ports) are looked up by. Only
    /// source-hashed services can steer them: the source alone picks the
    /// backend, so every fragment lands where the first one did.
    pub fn fragment_key(&self) -> Option<ServiceKey> {
        (self.hash == HashMode::Source && self.vip.is_ipv4()).then(|| ServiceKey {
            port: FRAGMENT_PORT,
            ..self.key()
        })
    }

    /// The Maglev table over the backends that take new flows, or `None`
    /// when no backend is up.
    pub fn build_ring(&self) -> Result<Option<MaglevTable>, crate::maglev::MaglevError> {
        let up: Vec<MaglevBackend> = self
            .backends
            .iter()
            .filter(|b| b.state == BackendState::Up)
            .map(|b| MaglevBackend {
                id: b.id,
                identity: b.identity(),
                weight: b.weight,
            })
            .collect();
        if up.is_empty() {
            return Ok(None);
        }
        MaglevTable::build(&up, self.ring_size).map(Some)
    }
}

pub use regha_common::GENERATION_RETIRED;

/// The generation after `stored`: never 0, never with the retired bit, and
/// never one used before at this id (until 2^31 re-creations wrap it).
pub fn next_generation(stored: u32) -> u32 {
    let next = (stored & !GENERATION_RETIRED).wrapping_add(1) & !GENERATION_RETIRED;
    next.max(1)
}

/// What [`MapWriter::apply_service`] does to a service's allow-list.
struct AllowChange {
    /// `SERVICE_F_ALLOW` if the new list is not empty.
    flags: u32,
    /// The list now refuses some source the old one took: the service's
    /// flows must each meet the new list (a generation bump).
    narrowed: bool,
    /// Prefixes to remove once the entry is written (the list became empty).
    stale: Vec<AllowPrefix>,
}

/// What `apply_service` changed.
#[derive(Clone, Copy, Debug)]
pub struct ApplyReport {
    /// The ring swap, when a table was published (`None`: no backend is up,
    /// the last table stays but the service is marked "no backend").
    pub ring: Option<RingSwap>,
}

impl MapWriter {
    /// Writes one service so that no packet sees an inconsistent state:
    /// 1. backends (the new ring never names a backend the dataplane lacks);
    /// 2. the service's generation, when the id starts a new service (flows
    ///    of whatever held the id before stop being trusted);
    /// 3. the ring, swapped whole, and the service entry (and its fragment
    ///    alias), each one update, ordered so that `hash % ring_size` always
    ///    indexes inside the ring a packet sees: a growing ring is published
    ///    before the larger size, a shrinking one after the smaller size;
    /// 4. the port bit that lets packets to this port be looked at at all.
    ///
    /// An allow-list change goes around step 3 (`stage_allow`, `finish_allow`):
    /// prefixes added first, prefixes removed before a generation bump when
    /// the list narrows (each established flow then meets the new list on its
    /// next packet, and only those from removed sources are dropped), or after
    /// the entry when the list becomes empty.
    ///
    /// Backends that left the spec are the caller's to remove, afterwards.
    pub fn apply_service(&mut self, spec: &ServiceSpec) -> Result<ApplyReport, DataplaneError> {
        let ring = spec.build_ring().map_err(DataplaneError::Ring)?;
        for b in &spec.backends {
            let (addr, family) = addr16(b.addr);
            self.set_backend(
                b.id,
                &Backend {
                    mac: b.mac,
                    state: b.state.wire(),
                    family,
                    addr,
                    port: b.port,
                    _pad: [0; 6],
                },
            )?;
        }
        let key = spec.key();
        let existing = self.service(&key)?.filter(|v| v.id == spec.id);
        let allow = self.stage_allow(spec, existing)?;
        let generation = match existing {
            Some(v) if allow.narrowed => {
                // Flows of this incarnation stay trusted once their source
                // passes the new list (`ServiceAllow`); the bump makes each
                // one's next packet look.
                let since = match self.service_allow(spec.id)?.since_gen {
                    0 => v.generation,
                    since => since,
                };
                self.set_service_allow(
                    spec.id,
                    ServiceAllow {
                        since_gen: since,
                        flags: SERVICE_F_ALLOW,
                    },
                )?;
                let next = next_generation(v.generation);
                self.set_service_generation(spec.id, next)?;
                next
            }
            Some(v) => v.generation,
            None => {
                let next = next_generation(self.service_generation(spec.id)?);
                self.set_service_allow(
                    spec.id,
                    ServiceAllow {
                        since_gen: next,
                        flags: allow.flags,
                    },
                )?;
                self.set_service_generation(spec.id, next)?;
                next
            }
        };
        let mut flags = allow.flags;
        if spec.hash == HashMode::Flow {
            flags |= SERVICE_F_HASH_FLOW;
        }
        if ring.is_none() {
            flags |= SERVICE_F_NO_BACKEND;
        }
        if self.flow_sync {
            flags |= SERVICE_F_SYNC;
        }
        let value = ServiceValue {
            id: spec.id,
            // With no backend up the old ring stays: so does its size.
            ring_size: match (&ring, existing) {
                (None, Some(old)) => old.ring_size,
                _ => spec.ring_size,
            },
            flags,
            seed: spec.seed,
            generation,
        };
        let shrinking = existing.is_some_and(|old| value.ring_size < old.ring_size);
        if shrinking {
            self.write_service_entries(spec, &value)?;
        }
        let swap = match &ring {
            Some(table) => Some(self.swap_ring(spec.id, table.slots())?),
            None => None,
        };
        if !shrinking {
            self.write_service_entries(spec, &value)?;
        }
        self.finish_allow(spec, &allow)?;
        self.set_service_port(spec.port, true)?;
        Ok(ApplyReport { ring: swap })
    }

    /// The first half of an allow-list change, before the service entry
    /// is written: the new prefixes are added (so no source of the new list
    /// is refused at any moment), and when the list narrows (a prefix
    /// removed, or a list where there was none) the removed ones go, so that
    /// the generation bump that follows makes every flow of the service
    /// meet the new list. A list that becomes empty (every source
    /// allowed) keeps its prefixes until the entry no longer asks for them.
    fn stage_allow(
        &mut self,
        spec: &ServiceSpec,
        existing: Option<ServiceValue>,
    ) -> Result<AllowChange, DataplaneError> {
        let want: BTreeSet<AllowPrefix> = spec.allow.iter().map(AllowPrefix::of).collect();
        let have: BTreeSet<AllowPrefix> = self.allow_prefixes(spec.id)?.into_iter().collect();
        for p in want.difference(&have) {
            self.add_allow_prefix(spec.id, *p)?;
        }
        let listed_before = existing.is_some_and(|v| v.flags & SERVICE_F_ALLOW != 0);
        let stale: Vec<AllowPrefix> = have.difference(&want).copied().collect();
        let narrowed =
            existing.is_some() && !want.is_empty() && (!listed_before || !stale.is_empty());
        if !want.is_empty() {
            for p in &stale {
                self.remove_allow_prefix(spec.id, *p)?;
            }
        }
        Ok(AllowChange {
            flags: if want.is_empty() { 0 } else { SERVICE_F_ALLOW },
            narrowed,
            stale: if want.is_empty() { stale } else { Vec::new() },
        })
    }

    /// The second half, once the entry is written: a list that became empty
    /// loses its prefixes (after `SERVICE_ALLOW` stops asking for them).
    fn finish_allow(
        &mut self,
        spec: &ServiceSpec,
        allow: &AllowChange,
    ) -> Result<(), DataplaneError> {
        let now = self.service_allow(spec.id)?;
        if now.flags != allow.flags {
            self.set_service_allow(
                spec.id,
                ServiceAllow {
                    flags: allow.flags,
                    ..now
                },
            )?;
        }
        for p in &allow.stale {
            self.remove_allow_prefix(spec.id, *p)?;
        }
        Ok(())
    }

    fn write_service_entries(
        &mut self,
        spec: &ServiceSpec,
        value: &ServiceValue,
    ) -> Result<(), DataplaneError> {
        self.set_service(&spec.key(), value)?;
        if let Some(alias) = spec.fragment_key() {
            self.set_service(&alias, value)?;
        }
        Ok(())
    }

    /// Removes a service: its entries go, its generation is cleared (its
    /// flows are no longer trusted), and its port bit is cleared unless
    /// another service uses the port. Its backends are the caller's.
    pub fn remove_service(&mut self, spec: &ServiceSpec) -> Result<(), DataplaneError> {
        self.delete_service_entry(&spec.key())?;
        if let Some(alias) = spec.fragment_key() {
            self.delete_service_entry(&alias)?;
        }
        let current = self.service_generation(spec.id)?;
        self.set_service_generation(spec.id, current | GENERATION_RETIRED)?;
        self.set_service_allow(spec.id, ServiceAllow::default())?;
        for p in self.allow_prefixes(spec.id)? {
            self.remove_allow_prefix(spec.id, p)?;
        }
        let port_still_used = self
            .service_entries()?
            .iter()
            .any(|(k, _)| k.port == spec.port);
        if !port_still_used {
            self.set_service_port(spec.port, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_never_repeat_across_removal_and_skip_zero() {
        assert_eq!(next_generation(0), 1);
        assert_eq!(next_generation(1), 2);
        assert_eq!(next_generation(1 | GENERATION_RETIRED), 2);
        assert_eq!(next_generation(GENERATION_RETIRED - 1), 1);
        assert_eq!(next_generation(u32::MAX), 1);
    }
}
