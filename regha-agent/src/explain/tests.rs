//! `explain` against maps held in memory: no kernel, no root.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use regha_common::{
    BACKEND_DOWN, BACKEND_DRAINING, BACKEND_UP, Backend, FAMILY_V4, FLOW_CACHE_F_CLOSING,
    FRAGMENT_PORT, FlowKey, FlowValue, PROTO_TCP, PROTO_UDP, SERVICE_F_HASH_FLOW,
    SERVICE_F_NO_BACKEND, ServiceKey, ServiceValue, addr_from_v4, hash,
};
use regha_model::{BackendState, HashMode};

use super::*;

const VIP: [u8; 4] = [192, 0, 2, 100];
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SEED: u32 = 0x5eed;
const RING: [u32; 7] = [1, 2, 1, 2, 1, 2, 1];

#[derive(Default)]
struct Fake {
    services: Vec<(ServiceKey, ServiceValue)>,
    gens: BTreeMap<u32, u32>,
    ports: BTreeSet<u16>,
    rings: BTreeMap<u32, Vec<u32>>,
    backends: BTreeMap<u32, Backend>,
    flows: HashMap<FlowKey, FlowValue>,
    cache: HashMap<FlowKey, CachedCopy>,
}

impl MapsView for Fake {
    fn services(&self) -> Result<Vec<(ServiceKey, ServiceValue)>, DataplaneError> {
        Ok(self.services.clone())
    }
    fn generation(&self, id: u32) -> Result<u32, DataplaneError> {
        Ok(self.gens.get(&id).copied().unwrap_or(0))
    }
    fn port_marked(&self, port: u16) -> Result<bool, DataplaneError> {
        Ok(self.ports.contains(&port))
    }
    fn ring_slot(&self, id: u32, slot: u32) -> Result<Option<u32>, DataplaneError> {
        Ok(self
            .rings
            .get(&id)
            .and_then(|r| r.get(slot as usize).copied()))
    }
    fn backend(&self, id: u32) -> Result<Backend, DataplaneError> {
        Ok(self.backends.get(&id).copied().unwrap_or_default())
    }
    fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError> {
        Ok(self.flows.get(key).copied())
    }
    fn cached_flow(&self, key: &FlowKey) -> Result<Option<CachedCopy>, DataplaneError> {
        Ok(self.cache.get(key).copied())
    }
}

fn backend(last: u8, state: u8) -> Backend {
    Backend {
        mac: [2, 0, 0, 0, 0, last],
        state,
        family: FAMILY_V4,
        addr: addr_from_v4([192, 0, 2, last]),
        port: 5000,
        _pad: [0; 6],
    }
}

/// Service 0: VIP:5000/tcp by source; service 1: VIP:53/udp by 5-tuple.
/// Both on the ring `RING`, backends 1 and 2 up, generation 3.
fn fake() -> Fake {
    let mut f = Fake::default();
    let value = |id, flags| ServiceValue {
        id,
        ring_size: RING.len() as u32,
        flags,
        seed: SEED,
        generation: 3,
    };
    f.services = vec![
        (ServiceKey::v4(VIP, 5000, PROTO_TCP), value(0, 0)),
        (ServiceKey::v4(VIP, FRAGMENT_PORT, PROTO_TCP), value(0, 0)),
        (
            ServiceKey::v4(VIP, 53, PROTO_UDP),
            value(1, SERVICE_F_HASH_FLOW),
        ),
    ];
    for id in [0, 1] {
        f.gens.insert(id, 3);
        f.rings.insert(id, RING.to_vec());
    }
    f.ports.extend([5000, 53]);
    f.backends.insert(1, backend(11, BACKEND_UP));
    f.backends.insert(2, backend(12, BACKEND_UP));
    f
}

fn names() -> BTreeMap<u32, String> {
    BTreeMap::from([(0, "registry".into()), (1, "dns".into())])
}

fn query(port: Option<u16>, service: Option<&str>) -> Query {
    Query {
        client: IpAddr::V4(CLIENT),
        port,
        service: service.map(|s| s.parse().unwrap()),
    }
}

fn key(sport: u16, dport: u16, proto: u8) -> FlowKey {
    FlowKey {
        src: addr_from_v4(CLIENT.octets()),
        dst: addr_from_v4(VIP),
        sport,
        dport,
        proto,
        family: FAMILY_V4,
        _pad: [0; 2],
    }
}

fn ring_backend_of(h: u32) -> u32 {
    RING[(h % RING.len() as u32) as usize]
}

#[test]
fn a_source_hashed_service_answers_with_the_shared_hash_and_its_slot() {
    let x = explain(&fake(), &names(), &query(None, Some("registry"))).unwrap();
    assert_eq!(x.services.len(), 1);
    let s = &x.services[0];
    let h = hash::hash_source(&addr_from_v4(CLIENT.octets()), SEED);
    assert_eq!(
        (s.name.as_deref(), s.hash, s.hash_value),
        (Some("registry"), HashMode::Source, h)
    );
    assert_eq!(s.slot, h % 7);
    let want = ring_backend_of(h);
    let rb = s.ring_backend.as_ref().unwrap();
    assert_eq!(rb.id, want);
    assert_eq!(rb.state, BackendState::Up);
    assert_eq!(
        rb.address.unwrap().to_string(),
        format!("192.0.2.{}:5000", 10 + want)
    );
    assert_eq!(
        s.new_connection,
        Outcome::Forward {
            backend: want,
            via: Via::Ring
        }
    );
    // No port: no connection to look up.
    assert_eq!(
        (&s.flow, &s.flow_cache, s.established),
        (&None, &None, None)
    );
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn a_flow_hashed_service_needs_the_clients_port() {
    let e = explain(&fake(), &names(), &query(None, Some("dns"))).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ExplainError::NeedsPort { .. }), "{msg}");
    assert!(
        msg.contains("dns (192.0.2.100:53/udp) hashes the 5-tuple") && msg.contains("--port"),
        "{msg}"
    );
    // Every service: the same, with the way out of asking about one.
    let msg = explain(&fake(), &names(), &query(None, None))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("--service"), "{msg}");
}

#[test]
fn a_flow_hashed_service_hashes_the_5_tuple() {
    let x = explain(
        &fake(),
        &names(),
        &query(Some(33000), Some("192.0.2.100:53")),
    )
    .unwrap();
    let s = &x.services[0];
    let h = hash::hash_flow(
        &addr_from_v4(CLIENT.octets()),
        &addr_from_v4(VIP),
        33000,
        53,
        PROTO_UDP,
        SEED,
    );
    assert_eq!((s.hash, s.hash_value, s.slot), (HashMode::Flow, h, h % 7));
    assert_eq!(s.new_connection.backend(), Some(ring_backend_of(h)));
    assert_eq!(s.established, Some(s.new_connection));
}

#[test]
fn the_flow_cache_then_the_flow_table_win_over_the_ring_while_trusted() {
    let mut f = fake();
    let h = hash::hash_source(&addr_from_v4(CLIENT.octets()), SEED);
    let ring = ring_backend_of(h);
    let other = 3 - ring;
    let k = key(40000, 5000, PROTO_TCP);
    let pinned = FlowValue {
        backend_id: other,
        service_id: 0,
        service_gen: 3,
    };
    f.flows.insert(k, pinned);
    let ask = |f: &Fake| {
        explain(f, &names(), &query(Some(40000), Some("registry")))
            .unwrap()
            .services
            .remove(0)
    };
    let s = ask(&f);
    assert_eq!(s.new_connection.backend(), Some(ring));
    assert!(s.flow.as_ref().unwrap().trusted);
    assert_eq!(
        s.established,
        Some(Outcome::Forward {
            backend: other,
            via: Via::FlowTable
        })
    );

    // A trusted copy in the cache goes first (the program reads it first).
    f.cache.insert(
        k,
        CachedCopy {
            slot: 77,
            value: pinned,
            flags: FLOW_CACHE_F_CLOSING,
        },
    );
    let s = ask(&f);
    let c = s.flow_cache.as_ref().unwrap();
    assert_eq!((c.slot, c.closing, c.trusted), (Some(77), Some(true), true));
    assert_eq!(
        s.established,
        Some(Outcome::Forward {
            backend: other,
            via: Via::FlowCache
        })
    );

    // A draining backend keeps its flows.
    f.backends.get_mut(&other).unwrap().state = BACKEND_DRAINING;
    assert_eq!(ask(&f).established.unwrap().backend(), Some(other));

    // A stale copy (an older incarnation) is passed over for the table ...
    f.backends.get_mut(&other).unwrap().state = BACKEND_UP;
    f.cache.get_mut(&k).unwrap().value.service_gen = 2;
    let s = ask(&f);
    let c = s.flow_cache.as_ref().unwrap();
    assert!(!c.trusted);
    assert!(
        c.untrusted_because
            .as_deref()
            .unwrap()
            .contains("generation 2"),
        "{c:?}"
    );
    assert_eq!(
        s.established,
        Some(Outcome::Forward {
            backend: other,
            via: Via::FlowTable
        })
    );

    // ... and with its backend down, both are, for the ring.
    f.backends.get_mut(&other).unwrap().state = BACKEND_DOWN;
    let s = ask(&f);
    let fl = s.flow.as_ref().unwrap();
    assert!(!fl.trusted);
    assert!(fl.untrusted_because.as_deref().unwrap().contains("down"));
    assert_eq!(
        s.established,
        Some(Outcome::Forward {
            backend: ring,
            via: Via::Ring
        })
    );
}

#[test]
fn a_service_without_a_backend_drops() {
    let mut f = fake();
    f.services[0].1.flags |= SERVICE_F_NO_BACKEND;
    let s = explain(&f, &names(), &query(Some(1), Some("registry")))
        .unwrap()
        .services
        .remove(0);
    assert_eq!(
        s.new_connection,
        Outcome::Drop {
            reason: "no_backend"
        }
    );
    assert_eq!(s.established, Some(s.new_connection));
    assert!(s.notes.iter().any(|n| n.contains("no backend is up")));
}

#[test]
fn an_unmarked_port_is_noted() {
    let mut f = fake();
    f.ports.clear();
    let s = explain(&f, &names(), &query(None, Some("registry")))
        .unwrap()
        .services
        .remove(0);
    assert!(
        s.notes.iter().any(|n| n.contains("SERVICE_PORTS")),
        "{:?}",
        s.notes
    );
}

#[test]
fn filters_say_what_there_is() {
    let f = fake();
    // Every service of the family, fragment aliases left out.
    let x = explain(&f, &names(), &query(Some(1), None)).unwrap();
    assert_eq!(
        x.services.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![0, 1]
    );
    let x = explain(
        &f,
        &BTreeMap::new(),
        &query(Some(1), Some("192.0.2.100:53/udp")),
    )
    .unwrap();
    assert_eq!((x.services[0].id, x.services[0].name.as_deref()), (1, None));

    let msg = explain(&f, &names(), &query(None, Some("192.0.2.100:53/tcp")))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no service matches") && msg.contains("registry (192.0.2.100:5000/tcp)"),
        "{msg}"
    );
    let msg = explain(&f, &names(), &query(None, Some("mirror")))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("VIP:port"), "{msg}");
    let msg = explain(&f, &BTreeMap::new(), &query(None, Some("registry")))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no agent state"), "{msg}");

    let v6 = Query {
        client: IpAddr::V6(Ipv6Addr::LOCALHOST),
        port: None,
        service: None,
    };
    let msg = explain(&f, &names(), &v6).unwrap_err().to_string();
    assert!(msg.contains("no service for IPv6 clients"), "{msg}");

    let msg = explain(&Fake::default(), &names(), &v6)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no service is in the dataplane"), "{msg}");
}

#[test]
fn service_filters_parse() {
    assert_eq!(
        "[2001:db8::100]:5000/tcp".parse::<ServiceFilter>().unwrap(),
        ServiceFilter::Address {
            vip: "2001:db8::100".parse().unwrap(),
            port: 5000,
            protocol: Some(Protocol::Tcp)
        }
    );
    assert_eq!(
        "192.0.2.100:5000".parse::<ServiceFilter>().unwrap(),
        ServiceFilter::Address {
            vip: "192.0.2.100".parse().unwrap(),
            port: 5000,
            protocol: None
        }
    );
    assert_eq!(
        "registry".parse::<ServiceFilter>().unwrap(),
        ServiceFilter::Name("registry".into())
    );
}

#[test]
fn text_and_json_name_the_backend_and_how_it_was_chosen() {
    let mut f = fake();
    let h = hash::hash_source(&addr_from_v4(CLIENT.octets()), SEED);
    let other = 3 - ring_backend_of(h);
    f.flows.insert(
        key(40000, 5000, PROTO_TCP),
        FlowValue {
            backend_id: other,
            service_id: 0,
            service_gen: 3,
        },
    );
    let x = explain(&f, &names(), &query(Some(40000), Some("registry"))).unwrap();
    let t = text(&x);
    assert!(t.starts_with("client 192.0.2.1:40000\n"), "{t}");
    assert!(
        t.contains(&format!(
            "service registry [0] 192.0.2.100:5000/tcp  hash source  seed 0x00005eed  generation 3\n  hash {h:#010x} -> ring slot {} of 7 -> backend {}",
            h % 7,
            ring_backend_of(h)
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "next packet:     backend {other} (the flow table)"
        )),
        "{t}"
    );
    assert!(t.contains("flow cache:      none"), "{t}");
    let j = serde_json::to_value(&x).unwrap();
    let s = &j["services"][0];
    assert_eq!(s["established"]["verdict"], "forward");
    assert_eq!(s["established"]["via"], "flow_table");
    assert_eq!(s["established"]["backend"], other);
    assert_eq!(s["hash"], "source");
    assert_eq!(s["flow"]["trusted"], true);
    assert_eq!(
        s["ring_backend"]["mac"],
        format!("02:00:00:00:00:{:02x}", 10 + ring_backend_of(h))
    );
}
