//! What this host's dataplane holds, as flow sync needs it: ids to
//! addresses for what it sends, addresses to ids for what it applies, and
//! the ring fingerprint. Pure: built from the services as last written.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
};

use regha_common::{FAMILY_V4, FAMILY_V6, FlowEvent, FlowKey, addr_from_v4};
use regha_model::{BackendState, Protocol};
use ring::digest;

use super::packet::SyncedFlow;
use crate::dataplane::{ServiceSpec, ip_of};

/// Why a flow was not sent or not applied; each counted by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// No service here for the flow's `VIP:port/protocol` (not configured
    /// on this host, or not written yet).
    UnknownService,
    /// The service here has no backend of that address and port (the two
    /// LBs' configs differ, or a reload is under way on one of them).
    UnknownBackend,
    /// The backend is down here: a flow pinned to it would be dropped, and
    /// would keep the client from the ring's live backend.
    BackendDown,
}

impl Skip {
    pub const ALL: [Skip; 3] = [
        Skip::UnknownService,
        Skip::UnknownBackend,
        Skip::BackendDown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownService => "unknown_service",
            Self::UnknownBackend => "unknown_backend",
            Self::BackendDown => "backend_down",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct ServiceView {
    id: u32,
    /// Backend address -> its id and state here.
    backends: HashMap<SocketAddr, (u32, BackendState)>,
}

/// The services as last written to this host's dataplane.
#[derive(Clone, Debug, Default)]
pub struct View {
    services: HashMap<(Protocol, SocketAddr), ServiceView>,
    /// Backend id -> address (ids are unique over all services).
    backend_addrs: HashMap<u32, SocketAddr>,
    fingerprint: u64,
}

/// A flow to write into this host's flow table: the key, and this host's
/// service and backend ids (the generation is read from the map when it
/// is written, so it is the current one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalFlow {
    pub key: FlowKey,
    pub service_id: u32,
    pub backend_id: u32,
}

impl View {
    pub fn new(specs: &[ServiceSpec]) -> Self {
        let mut v = View::default();
        for s in specs {
            let mut sv = ServiceView {
                id: s.id,
                ..ServiceView::default()
            };
            for b in &s.backends {
                let addr = SocketAddr::new(b.addr, b.port);
                sv.backends.insert(addr, (b.id, b.state));
                v.backend_addrs.insert(b.id, addr);
            }
            v.services
                .insert((s.protocol, SocketAddr::new(s.vip, s.port)), sv);
        }
        v.fingerprint = fingerprint(specs);
        v
    }

    /// The fingerprint of every service's ring on this host.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// A flow the program recorded, as its peers will read it.
    pub fn outgoing(&self, e: &FlowEvent) -> Result<SyncedFlow, Skip> {
        let k = &e.key;
        let protocol = Protocol::from_number(k.proto).ok_or(Skip::UnknownService)?;
        let client = ip_of(&k.src, k.family).ok_or(Skip::UnknownService)?;
        let vip = ip_of(&k.dst, k.family).ok_or(Skip::UnknownService)?;
        let vip = SocketAddr::new(vip, k.dport);
        let service = self
            .services
            .get(&(protocol, vip))
            .ok_or(Skip::UnknownService)?;
        if service.id != e.value.service_id {
            return Err(Skip::UnknownService);
        }
        let backend = *self
            .backend_addrs
            .get(&e.value.backend_id)
            .ok_or(Skip::UnknownBackend)?;
        Ok(SyncedFlow {
            protocol,
            client: SocketAddr::new(client, k.sport),
            vip,
            backend,
        })
    }

    /// A peer's flow, in this host's ids: applied only to a service and a
    /// backend this host has, with the backend taking flows here (up or
    /// draining).
    pub fn incoming(&self, f: &SyncedFlow) -> Result<LocalFlow, Skip> {
        let service = self
            .services
            .get(&(f.protocol, f.vip))
            .ok_or(Skip::UnknownService)?;
        let &(backend_id, state) = service
            .backends
            .get(&f.backend)
            .ok_or(Skip::UnknownBackend)?;
        if state == BackendState::Down {
            return Err(Skip::BackendDown);
        }
        let (src, family) = map_addr(f.client.ip());
        let (dst, _) = map_addr(f.vip.ip());
        if f.client.is_ipv4() != f.vip.is_ipv4() {
            return Err(Skip::UnknownService);
        }
        Ok(LocalFlow {
            key: FlowKey {
                src,
                dst,
                sport: f.client.port(),
                dport: f.vip.port(),
                proto: f.protocol.number(),
                family,
                _pad: [0; 2],
            },
            service_id: service.id,
            backend_id,
        })
    }
}

fn map_addr(ip: IpAddr) -> ([u8; 16], u8) {
    match ip {
        IpAddr::V4(a) => (addr_from_v4(a.octets()), FAMILY_V4),
        IpAddr::V6(a) => (a.octets(), FAMILY_V6),
    }
}

/// A digest of what decides every new flow's backend: each service
/// (`VIP:port/protocol`, hash mode, seed, ring size) with its backends that
/// take new flows (address, port, weight), in a fixed order, by address
/// only. Two LBs with the same fingerprint pick the same backend for every
/// client. The first 8 bytes of a SHA-256.
pub fn fingerprint(specs: &[ServiceSpec]) -> u64 {
    let mut lines: Vec<String> = specs
        .iter()
        .map(|s| {
            let mut up: Vec<String> = s
                .backends
                .iter()
                .filter(|b| b.state == BackendState::Up)
                .map(|b| format!("{} w{}", SocketAddr::new(b.addr, b.port), b.weight))
                .collect();
            up.sort();
            format!(
                "{}/{} {} seed {} size {}: {}",
                SocketAddr::new(s.vip, s.port),
                s.protocol,
                s.hash,
                s.seed,
                s.ring_size,
                up.join(", ")
            )
        })
        .collect();
    lines.sort();
    let d = digest::digest(&digest::SHA256, lines.join("\n").as_bytes());
    u64::from_be_bytes(d.as_ref()[..8].try_into().expect("a SHA-256 is 32 bytes"))
}

#[cfg(test)]
mod tests {
    use regha_common::FlowValue;
    use regha_model::HashMode;

    use super::*;
    use crate::dataplane::BackendSpec;

    fn backend(id: u32, last: u8, state: BackendState) -> BackendSpec {
        BackendSpec {
            id,
            addr: IpAddr::from([192, 0, 2, last]),
            port: 5000,
            mac: [2, 0, 0, 0, 0, last],
            weight: 1,
            state,
        }
    }

    fn spec(id: u32, backends: Vec<BackendSpec>) -> ServiceSpec {
        ServiceSpec {
            id,
            vip: IpAddr::from([192, 0, 2, 100]),
            port: 5000,
            protocol: Protocol::Tcp,
            hash: HashMode::Source,
            seed: 7,
            ring_size: 65537,
            backends,
            allow: vec![],
        }
    }

    fn synced(backend_last: u8) -> SyncedFlow {
        SyncedFlow {
            protocol: Protocol::Tcp,
            client: "198.51.100.7:40001".parse().unwrap(),
            vip: "192.0.2.100:5000".parse().unwrap(),
            backend: SocketAddr::new(IpAddr::from([192, 0, 2, backend_last]), 5000),
        }
    }

    /// The two hosts number the same service and backends differently; a
    /// flow goes out by address and comes in under the receiver's ids.
    #[test]
    fn a_flow_crosses_hosts_by_address_whatever_the_ids() {
        let sender = View::new(&[spec(
            3,
            vec![
                backend(10, 11, BackendState::Up),
                backend(11, 12, BackendState::Up),
            ],
        )]);
        let receiver = View::new(&[spec(
            0,
            vec![
                backend(5, 12, BackendState::Up),
                backend(4, 11, BackendState::Up),
            ],
        )]);
        let f = synced(12);
        let local = receiver.incoming(&f).unwrap();
        assert_eq!((local.service_id, local.backend_id), (0, 5));
        let event = FlowEvent {
            key: local.key,
            value: FlowValue {
                backend_id: 11,
                service_id: 3,
                service_gen: 9,
            },
            _pad: 0,
        };
        assert_eq!(sender.outgoing(&event), Ok(f));
        assert_eq!(local.key.src[..4], [198, 51, 100, 7]);
        assert_eq!((local.key.sport, local.key.dport), (40001, 5000));
    }

    #[test]
    fn the_apply_rules() {
        let v = View::new(&[spec(
            0,
            vec![
                backend(1, 11, BackendState::Up),
                backend(2, 12, BackendState::Draining),
                backend(3, 13, BackendState::Down),
            ],
        )]);
        assert!(v.incoming(&synced(11)).is_ok());
        // Draining keeps its flows: a synced one too.
        assert!(v.incoming(&synced(12)).is_ok());
        assert_eq!(v.incoming(&synced(13)), Err(Skip::BackendDown));
        assert_eq!(v.incoming(&synced(14)), Err(Skip::UnknownBackend));
        let mut other_port = synced(11);
        other_port.vip.set_port(443);
        assert_eq!(v.incoming(&other_port), Err(Skip::UnknownService));
        let mut udp = synced(11);
        udp.protocol = Protocol::Udp;
        assert_eq!(v.incoming(&udp), Err(Skip::UnknownService));
        assert_eq!(
            View::default().incoming(&synced(11)),
            Err(Skip::UnknownService)
        );
    }

    #[test]
    fn an_event_of_a_stale_id_is_not_sent() {
        let v = View::new(&[spec(0, vec![backend(1, 11, BackendState::Up)])]);
        let mut e = FlowEvent {
            key: v.incoming(&synced(11)).unwrap().key,
            value: FlowValue {
                backend_id: 1,
                service_id: 0,
                service_gen: 1,
            },
            _pad: 0,
        };
        assert!(v.outgoing(&e).is_ok());
        e.value.backend_id = 99;
        assert_eq!(v.outgoing(&e), Err(Skip::UnknownBackend));
        e.value.service_id = 4;
        assert_eq!(v.outgoing(&e), Err(Skip::UnknownService));
    }

    #[test]
    fn the_fingerprint_follows_the_ring_not_the_ids_or_macs() {
        let a = fingerprint(&[spec(
            0,
            vec![
                backend(1, 11, BackendState::Up),
                backend(2, 12, BackendState::Up),
            ],
        )]);
        let mut renumbered = spec(
            9,
            vec![
                backend(7, 12, BackendState::Up),
                backend(3, 11, BackendState::Up),
            ],
        );
        renumbered.backends[0].mac = [2, 9, 9, 9, 9, 9];
        assert_eq!(a, fingerprint(&[renumbered]));
        let one_down = fingerprint(&[spec(
            0,
            vec![
                backend(1, 11, BackendState::Up),
                backend(2, 12, BackendState::Draining),
            ],
        )]);
        assert_ne!(a, one_down);
        let mut weighted = spec(
            0,
            vec![
                backend(1, 11, BackendState::Up),
                backend(2, 12, BackendState::Up),
            ],
        );
        weighted.backends[1].weight = 2;
        assert_ne!(a, fingerprint(&[weighted]));
        let mut reseeded = spec(
            0,
            vec![
                backend(1, 11, BackendState::Up),
                backend(2, 12, BackendState::Up),
            ],
        );
        reseeded.seed = 8;
        assert_ne!(a, fingerprint(&[reseeded]));
    }
}
