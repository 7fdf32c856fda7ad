//! Per-service source allow-lists (`services[].allow`, issue 18) through
//! the real program (BPF_PROG_TEST_RUN), maps written by the agent's own
//! writer: exact packets in, verdict and bytes out, counters after.
//!
//! - an allowed source is forwarded as without a list; another is dropped,
//!   counted under `denied` for the service and nowhere else;
//! - IPv6 lists, longest prefix, and a service without a list (which the
//!   trie never sees: another service's list does not touch it);
//! - a reload that narrows the list ends the established flows from the
//!   removed sources and leaves those of the sources still listed on their
//!   backend (even after a ring change that would move them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use regha_agent::dataplane::{BackendSpec, ServiceSpec};
use regha_common::{FlowKey, Reason, SERVICE_F_ALLOW, hash};
use regha_model::{BackendState, HashMode, IpPrefix, Protocol};
use regha_tests::{
    dataplane::{LB_MAC, TestDataplane, XdpAction, addr16},
    packet::{Frame, TCP_ACK, TCP_PSH, TCP_SYN},
};

const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
/// In the office network (allowed).
const OFFICE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// In the lab network (allowed at first, removed by the reload).
const LAB: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
/// In neither.
const STRANGER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
const OFFICE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xaa, 0, 0, 0, 0, 7);
const STRANGER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xbb, 0, 0, 0, 0, 7);
const RING: u32 = 251;

fn backend(id: u32, addr: IpAddr) -> BackendSpec {
    BackendSpec {
        id,
        addr,
        port: 5000,
        mac: [0x02, 0xbe, 0, 0, 0, id as u8],
        weight: 1,
        state: BackendState::Up,
    }
}

fn prefixes(list: &[&str]) -> Vec<IpPrefix> {
    list.iter().map(|p| p.parse().unwrap()).collect()
}

/// Service 0: registry over IPv4 with `allow`; 1: over IPv6 with `allow6`;
/// 2: a UDP service on the same VIP without a list.
fn services(allow: &[&str], allow6: &[&str]) -> [ServiceSpec; 3] {
    let v4 = |last: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, last));
    let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last));
    let web = ServiceSpec {
        id: 0,
        vip: IpAddr::V4(VIP4),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 0x5eed,
        ring_size: RING,
        backends: vec![backend(1, v4(11)), backend(2, v4(12))],
        allow: prefixes(allow),
    };
    let web6 = ServiceSpec {
        id: 1,
        vip: IpAddr::V6(VIP6),
        backends: vec![backend(3, v6(0x11)), backend(4, v6(0x12))],
        allow: prefixes(allow6),
        ..web.clone()
    };
    let dns = ServiceSpec {
        id: 2,
        port: 53,
        protocol: Protocol::Udp,
        hash: HashMode::Flow,
        backends: vec![backend(5, v4(21))],
        allow: Vec::new(),
        ..web.clone()
    };
    [web, web6, dns]
}

/// The backend the ring in the kernel holds for `src`.
fn ring_backend(t: &TestDataplane, spec: &ServiceSpec, src: IpAddr) -> u32 {
    let ring = t.maps.ring(spec.id).unwrap().unwrap();
    ring[(hash::hash_source(&addr16(src), spec.seed) % spec.ring_size) as usize]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// XDP_TX to this backend id, only the MACs changed.
    Tx(u32),
    /// XDP_DROP as denied by service `0`'s list.
    Denied(u32),
}

/// Every counter the check looks at: reasons, and per service (forwarded
/// packets, denied).
#[derive(Debug, PartialEq, Clone)]
struct Counts {
    reasons: Vec<u64>,
    forwarded: Vec<u64>,
    denied: Vec<u64>,
}

fn counts(t: &TestDataplane) -> Counts {
    Counts {
        reasons: Reason::ALL
            .iter()
            .map(|r| t.maps.reason_count(*r).unwrap())
            .collect(),
        forwarded: (0..3)
            .map(|i| t.maps.service_counters(i).unwrap().packets)
            .collect(),
        denied: (0..3).map(|i| t.maps.service_denied(i).unwrap()).collect(),
    }
}

fn mac_of(specs: &[ServiceSpec], id: u32) -> [u8; 6] {
    specs
        .iter()
        .flat_map(|s| &s.backends)
        .find(|b| b.id == id)
        .map(|b| b.mac)
        .unwrap()
}

fn check(t: &mut TestDataplane, specs: &[ServiceSpec], name: &str, input: &[u8], expect: Expect) {
    let before = counts(t);
    let (action, out) = t.run(input);
    let after = counts(t);
    let mut want = before.clone();
    match expect {
        Expect::Tx(id) => {
            assert_eq!(
                action,
                XdpAction::Tx as u32,
                "{name}: expected XDP_TX to backend {id}"
            );
            let mut bytes = input.to_vec();
            bytes[..6].copy_from_slice(&mac_of(specs, id));
            bytes[6..12].copy_from_slice(&LB_MAC);
            assert_eq!(out, bytes, "{name}: output bytes");
            let svc = specs
                .iter()
                .position(|s| s.backends.iter().any(|b| b.id == id))
                .unwrap();
            want.forwarded[svc] += 1;
        }
        Expect::Denied(svc) => {
            assert_eq!(action, XdpAction::Drop as u32, "{name}: expected XDP_DROP");
            want.reasons[Reason::Denied as usize] += 1;
            want.denied[svc as usize] += 1;
        }
    }
    assert_eq!(after, want, "{name}: counters");
}

fn key(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FlowKey {
    FlowKey {
        src: addr16(src),
        dst: addr16(dst),
        sport,
        dport,
        proto: 6,
        family: if src.is_ipv4() { 4 } else { 6 },
        _pad: [0; 2],
    }
}

#[test]
fn allowed_sources_pass_others_are_dropped_and_counted() {
    let mut t = TestDataplane::load();
    let specs = services(&["198.51.100.0/24", "203.0.113.9"], &["2001:db8:aa::/48"]);
    t.provision(&specs);
    let [web, web6, _] = &specs;
    let office_be = ring_backend(&t, web, IpAddr::V4(OFFICE));
    let lab_be = ring_backend(&t, web, IpAddr::V4(LAB));
    let office6_be = ring_backend(&t, web6, IpAddr::V6(OFFICE6));
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "SYN from the office network",
            Frame::tcp4(OFFICE, 40000, VIP4, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Tx(office_be),
        ),
        (
            "its handshake's ACK (pending handshake, no second lookup)",
            Frame::tcp4(OFFICE, 40000, VIP4, 5000, TCP_ACK)
                .with_seq(1)
                .bytes(),
            Expect::Tx(office_be),
        ),
        (
            "SYN from the one listed host",
            Frame::tcp4(LAB, 40000, VIP4, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Tx(lab_be),
        ),
        (
            "SYN from a source in no listed network",
            Frame::tcp4(STRANGER, 40000, VIP4, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Denied(0),
        ),
        (
            "mid-flow packet from that source (a flow-table miss)",
            Frame::tcp4(STRANGER, 40000, VIP4, 5000, TCP_ACK | TCP_PSH)
                .with_payload(b"GET /v2/ HTTP/1.1\r\n\r\n")
                .bytes(),
            Expect::Denied(0),
        ),
        (
            "the host next to the listed one",
            Frame::tcp4(Ipv4Addr::new(203, 0, 113, 10), 40000, VIP4, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Denied(0),
        ),
        (
            "IPv6 SYN from the listed /48",
            Frame::tcp6(OFFICE6, 40000, VIP6, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Tx(office6_be),
        ),
        (
            "IPv6 SYN from outside it",
            Frame::tcp6(STRANGER6, 40000, VIP6, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Denied(1),
        ),
        (
            "UDP service without a list, from the stranger",
            Frame::udp4(STRANGER, 33000, VIP4, 53)
                .with_payload(&[1; 20])
                .bytes(),
            Expect::Tx(5),
        ),
    ];
    for (name, input, expect) in &cases {
        check(&mut t, &specs, name, input, *expect);
    }
    // A denied source leaves no flow state behind.
    let k = key(IpAddr::V4(STRANGER), 40000, IpAddr::V4(VIP4), 5000);
    assert_eq!(t.maps.flow(&k).unwrap(), None);
    assert_eq!(t.maps.cached_flow(&k).unwrap(), None);
}

#[test]
fn an_empty_list_lets_everyone_in_and_never_touches_the_trie() {
    let mut t = TestDataplane::load();
    let specs = services(&[], &[]);
    t.provision(&specs);
    let [web, web6, _] = &specs;
    assert!(t.maps.allow_prefixes(0).unwrap().is_empty());
    for s in [&specs[0], &specs[1]] {
        let v = t.maps.service(&s.key()).unwrap().unwrap();
        assert_eq!(
            v.flags & SERVICE_F_ALLOW,
            0,
            "service {} asks for the trie",
            s.id
        );
    }
    let be = ring_backend(&t, web, IpAddr::V4(STRANGER));
    let be6 = ring_backend(&t, web6, IpAddr::V6(STRANGER6));
    check(
        &mut t,
        &specs,
        "SYN from anywhere",
        &Frame::tcp4(STRANGER, 40000, VIP4, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Tx(be),
    );
    check(
        &mut t,
        &specs,
        "IPv6 SYN from anywhere",
        &Frame::tcp6(STRANGER6, 40000, VIP6, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Tx(be6),
    );
    // A list given, then taken away: everyone again, the trie emptied.
    let listed = services(&["198.51.100.0/24"], &[]);
    t.provision(&listed);
    check(
        &mut t,
        &listed,
        "SYN from outside the new list",
        &Frame::tcp4(STRANGER, 40001, VIP4, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Denied(0),
    );
    t.provision(&specs);
    assert!(t.maps.allow_prefixes(0).unwrap().is_empty());
    check(
        &mut t,
        &specs,
        "SYN once the list is gone",
        &Frame::tcp4(STRANGER, 40002, VIP4, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Tx(be),
    );
}

/// Two established flows (office, lab); the reload removes the lab network
/// and moves the ring: the office flow stays on its backend (kept, its
/// generation brought up to date once), the lab flow's next packet is
/// dropped and counted, and so is every later one.
#[test]
fn a_reload_that_removes_a_source_ends_its_flows_and_keeps_the_others() {
    let mut t = TestDataplane::load();
    let specs = services(&["198.51.100.0/24", "203.0.113.0/24"], &[]);
    t.provision(&specs);
    let web = &specs[0];
    let office_be = ring_backend(&t, web, IpAddr::V4(OFFICE));
    let lab_be = ring_backend(&t, web, IpAddr::V4(LAB));
    let data = |src, sport| {
        Frame::tcp4(src, sport, VIP4, 5000, TCP_ACK | TCP_PSH)
            .with_seq(1)
            .with_payload(b"PATCH /v2/blobs HTTP/1.1\r\n\r\n")
            .bytes()
    };
    for (src, be) in [(OFFICE, office_be), (LAB, lab_be)] {
        check(
            &mut t,
            &specs,
            "SYN",
            &Frame::tcp4(src, 41000, VIP4, 5000, TCP_SYN)
                .with_seq(0)
                .bytes(),
            Expect::Tx(be),
        );
        check(
            &mut t,
            &specs,
            "ACK",
            &Frame::tcp4(src, 41000, VIP4, 5000, TCP_ACK)
                .with_seq(1)
                .bytes(),
            Expect::Tx(be),
        );
        check(
            &mut t,
            &specs,
            "data (cached)",
            &data(src, 41000),
            Expect::Tx(be),
        );
    }
    let gen_before = t.maps.service_generation(0).unwrap();
    let office_key = key(IpAddr::V4(OFFICE), 41000, IpAddr::V4(VIP4), 5000);
    assert_eq!(
        t.maps.flow(&office_key).unwrap().unwrap().service_gen,
        gen_before
    );

    // The reload: the lab network goes; the office flow's backend leaves
    // the ring (draining: it keeps its flows), so a re-hash would move it.
    let mut reloaded = services(&["198.51.100.0/24"], &[]);
    for b in &mut reloaded[0].backends {
        if b.id == office_be {
            b.state = BackendState::Draining;
        }
    }
    t.provision(&reloaded);
    let gen_after = t.maps.service_generation(0).unwrap();
    assert!(
        gen_after > gen_before,
        "a narrowing reload bumps the generation"
    );
    assert_eq!(t.maps.service_allow(0).unwrap().since_gen, gen_before);

    check(
        &mut t,
        &reloaded,
        "office flow after the reload (cache hit, re-checked)",
        &data(OFFICE, 41000),
        Expect::Tx(office_be),
    );
    assert_eq!(
        t.maps.flow(&office_key).unwrap().unwrap().service_gen,
        gen_after,
        "a kept flow is recorded again under the new generation"
    );
    check(
        &mut t,
        &reloaded,
        "office flow again (plain cache hit)",
        &data(OFFICE, 41000),
        Expect::Tx(office_be),
    );
    check(
        &mut t,
        &reloaded,
        "lab flow after the reload",
        &data(LAB, 41000),
        Expect::Denied(0),
    );
    check(
        &mut t,
        &reloaded,
        "lab flow, next packet",
        &data(LAB, 41000),
        Expect::Denied(0),
    );
    check(
        &mut t,
        &reloaded,
        "new SYN from the lab",
        &Frame::tcp4(LAB, 41001, VIP4, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Denied(0),
    );

    // A flow found only in the flow table (its cached copy dropped) is
    // re-checked the same way.
    let other = key(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 8)),
        41002,
        IpAddr::V4(VIP4),
        5000,
    );
    let lab2 = key(
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 20)),
        41002,
        IpAddr::V4(VIP4),
        5000,
    );
    let value = regha_common::FlowValue {
        backend_id: office_be,
        service_id: 0,
        service_gen: gen_before,
    };
    t.maps.set_flow(&other, &value).unwrap();
    t.maps.set_flow(&lab2, &value).unwrap();
    check(
        &mut t,
        &reloaded,
        "office flow from the flow table",
        &data(Ipv4Addr::new(198, 51, 100, 8), 41002),
        Expect::Tx(office_be),
    );
    check(
        &mut t,
        &reloaded,
        "lab flow from the flow table",
        &data(Ipv4Addr::new(203, 0, 113, 20), 41002),
        Expect::Denied(0),
    );

    // Widening does not bump: nothing to end.
    let widened = services(&["198.51.100.0/24", "203.0.113.0/24"], &[]);
    t.provision(&widened);
    assert_eq!(t.maps.service_generation(0).unwrap(), gen_after);
    check(
        &mut t,
        &widened,
        "office flow after widening",
        &data(OFFICE, 41000),
        Expect::Tx(office_be),
    );
}

/// A service re-created at the same id (removed, added back) keeps none of
/// the old incarnation's flows, list or not.
#[test]
fn a_new_incarnation_keeps_no_flow_of_the_old_one() {
    let mut t = TestDataplane::load();
    let specs = services(&["198.51.100.0/24"], &[]);
    t.provision(&specs);
    let web = &specs[0];
    let be = ring_backend(&t, web, IpAddr::V4(OFFICE));
    let other = 3 - be;
    check(
        &mut t,
        &specs,
        "SYN",
        &Frame::tcp4(OFFICE, 42000, VIP4, 5000, TCP_SYN)
            .with_seq(0)
            .bytes(),
        Expect::Tx(be),
    );
    check(
        &mut t,
        &specs,
        "ACK",
        &Frame::tcp4(OFFICE, 42000, VIP4, 5000, TCP_ACK)
            .with_seq(1)
            .bytes(),
        Expect::Tx(be),
    );
    t.maps.remove_service(web).unwrap();
    assert!(t.maps.allow_prefixes(0).unwrap().is_empty());
    // Back with only the other backend: an old flow trusted would go to `be`.
    let mut again = services(&["198.51.100.0/24"], &[]);
    again[0].backends.retain(|b| b.id == other);
    t.provision(&again[..1]);
    let a = t.maps.service_allow(0).unwrap();
    assert_eq!(a.since_gen, t.maps.service_generation(0).unwrap());
    check(
        &mut t,
        &again,
        "the old flow's next packet (chosen anew)",
        &Frame::tcp4(OFFICE, 42000, VIP4, 5000, TCP_ACK)
            .with_seq(1)
            .bytes(),
        Expect::Tx(other),
    );
}
