//! Katran-style fixtures: a table of {description, input packet, expected
//! verdict, expected output bytes} run through the real program in the
//! kernel (BPF_PROG_TEST_RUN), against maps written by the agent's own map
//! writer, with the counters checked after every packet.
//!
//! The expected backend of a forwarded packet is computed independently of
//! the program: the shared hash over the client source (or 5-tuple), modulo
//! the ring size, indexes the ring read back from the kernel map.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use regha_agent::dataplane::{BackendSpec, ServiceSpec};
use regha_common::{Counters, FlowKey, Reason, Signals, addr_from_v4, hash};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{LB_MAC, TestDataplane, XdpAction, addr16},
    packet::{Frame, L4, TCP_ACK, TCP_PSH, TCP_SYN, arp_request, mac_str},
};

const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const SEED: u32 = 0x5eed;
/// A small prime keeps ring read-backs fast; the default size is covered by
/// the Maglev unit tests and the benchmark.
const RING: u32 = 4099;

fn backend(id: u32, last: u8, state: BackendState) -> BackendSpec {
    BackendSpec {
        id,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        port: 5000,
        mac: [0x02, 0, 0, 0, 0, last],
        weight: 1,
        state,
    }
}

fn backend6(id: u32, last: u16, state: BackendState) -> BackendSpec {
    BackendSpec {
        addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)),
        ..backend(id, last as u8, state)
    }
}

/// The three services of the fixtures: registry over TCP (source hash),
/// a UDP service (5-tuple hash), and the registry over IPv6.
fn services() -> [ServiceSpec; 3] {
    let web = ServiceSpec {
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(VIP4),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: SEED,
        ring_size: RING,
        backends: vec![
            backend(1, 11, BackendState::Up),
            backend(2, 12, BackendState::Up),
        ],
    };
    let dns = ServiceSpec {
        allow: Vec::new(),
        id: 1,
        port: 53,
        protocol: Protocol::Udp,
        hash: HashMode::Flow,
        backends: vec![
            backend(3, 21, BackendState::Up),
            backend(4, 22, BackendState::Up),
        ],
        ..web.clone()
    };
    let web6 = ServiceSpec {
        allow: Vec::new(),
        id: 2,
        vip: IpAddr::V6(VIP6),
        backends: vec![
            backend6(5, 0x11, BackendState::Up),
            backend6(6, 0x12, BackendState::Up),
        ],
        ..web.clone()
    };
    [web, dns, web6]
}

/// The backend the ring in the kernel holds for this packet's hash.
fn ring_backend(t: &TestDataplane, spec: &ServiceSpec, h: u32) -> u32 {
    let ring = t
        .maps
        .ring(spec.id)
        .expect("read ring")
        .expect("ring present");
    assert_eq!(ring.len(), spec.ring_size as usize);
    ring[(h % spec.ring_size) as usize]
}

fn source_backend(t: &TestDataplane, spec: &ServiceSpec, src: IpAddr) -> u32 {
    ring_backend(t, spec, hash::hash_source(&addr16(src), spec.seed))
}

fn flow_backend(t: &TestDataplane, spec: &ServiceSpec, src: IpAddr, sport: u16, dport: u16) -> u32 {
    let proto = match spec.protocol {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
    };
    let h = hash::hash_flow(
        &addr16(src),
        &addr16(spec.vip),
        sport,
        dport,
        proto,
        spec.seed,
    );
    ring_backend(t, spec, h)
}

fn mac_of(specs: &[ServiceSpec], id: u32) -> [u8; 6] {
    specs
        .iter()
        .flat_map(|s| &s.backends)
        .find(|b| b.id == id)
        .map(|b| b.mac)
        .unwrap_or_else(|| panic!("no backend {id}"))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// XDP_TX to this backend id, with only the MACs changed.
    Tx(u32),
    /// XDP_PASS, bytes unchanged, counted under this reason.
    Pass(Reason),
    /// XDP_DROP, counted under this reason.
    Drop(Reason),
}

/// Every counter the program keeps, summed over CPUs.
#[derive(Debug, PartialEq, Clone)]
struct Snapshot {
    reasons: Vec<u64>,
    services: Vec<Counters>,
    backends: Vec<Counters>,
    signals: Vec<Signals>,
}

fn snapshot(t: &TestDataplane) -> Snapshot {
    Snapshot {
        reasons: Reason::ALL
            .iter()
            .map(|r| t.maps.reason_count(*r).unwrap())
            .collect(),
        services: (0..3)
            .map(|i| t.maps.service_counters(i).unwrap())
            .collect(),
        backends: (0..8)
            .map(|i| t.maps.backend_counters(i).unwrap())
            .collect(),
        signals: (0..8).map(|i| t.maps.signals(i).unwrap()).collect(),
    }
}

/// Runs one packet and checks verdict, bytes and counters. Returns whether
/// the program counted it as a new flow (for forwarded packets).
fn check(
    t: &mut TestDataplane,
    specs: &[ServiceSpec],
    name: &str,
    input: &[u8],
    expect: Expect,
) -> bool {
    let before = snapshot(t);
    let (action, out) = t.run(input);
    let after = snapshot(t);
    let mut want_reasons = before.reasons.clone();
    match expect {
        Expect::Tx(id) => {
            assert_eq!(
                action,
                XdpAction::Tx as u32,
                "{name}: expected XDP_TX, got {action}"
            );
            let mut want = input.to_vec();
            want[..6].copy_from_slice(&mac_of(specs, id));
            want[6..12].copy_from_slice(&LB_MAC);
            assert_eq!(
                out,
                want,
                "{name}: output differs from the input with dst MAC {} (backend {id}) and src MAC {}",
                mac_str(&mac_of(specs, id)),
                mac_str(&LB_MAC)
            );
            assert_eq!(
                after.reasons, want_reasons,
                "{name}: a forwarded packet bumped a reason"
            );
            let b = &after.backends[id as usize];
            let b0 = &before.backends[id as usize];
            assert_eq!(b.packets, b0.packets + 1, "{name}: backend {id} packets");
            assert_eq!(
                b.bytes,
                b0.bytes + input.len() as u64,
                "{name}: backend {id} bytes"
            );
            let svc_delta: u64 = after.services.iter().map(|c| c.packets).sum::<u64>()
                - before.services.iter().map(|c| c.packets).sum::<u64>();
            assert_eq!(
                svc_delta, 1,
                "{name}: exactly one service counts the packet"
            );
            b.new_flows > b0.new_flows
        }
        Expect::Pass(reason) | Expect::Drop(reason) => {
            let want_action = if matches!(expect, Expect::Pass(_)) {
                XdpAction::Pass
            } else {
                XdpAction::Drop
            } as u32;
            assert_eq!(
                action, want_action,
                "{name}: expected {expect:?}, got action {action}"
            );
            if matches!(expect, Expect::Pass(_)) {
                assert_eq!(out, input, "{name}: a passed packet must leave unchanged");
            }
            want_reasons[reason as usize] += 1;
            assert_eq!(after.reasons, want_reasons, "{name}: reason counters");
            assert_eq!(
                after.services, before.services,
                "{name}: service counters moved"
            );
            assert_eq!(
                after.backends, before.backends,
                "{name}: backend counters moved"
            );
            assert_eq!(
                after.signals, before.signals,
                "{name}: backend signals moved"
            );
            false
        }
    }
}

/// `bytes` with `with` written at offset `at`: a malformed variant.
fn patch(mut bytes: Vec<u8>, at: usize, with: &[u8]) -> Vec<u8> {
    bytes[at..at + with.len()].copy_from_slice(with);
    bytes
}

fn vrrp_advert() -> Vec<u8> {
    // VRRPv2 advertisement, VRID 51, priority 101, one address, to 224.0.0.18.
    let mut f = Frame::tcp4(
        Ipv4Addr::new(192, 0, 2, 2),
        0,
        Ipv4Addr::new(224, 0, 0, 18),
        0,
        0,
    )
    .with_l4(L4::Raw { proto: 112 })
    .with_ttl(255)
    .with_payload(&[
        0x21, 51, 101, 1, 1, 1, 0, 0, 192, 0, 2, 100, b'1', b'1', b'1', b'1', 0, 0, 0, 0,
    ]);
    f.dst_mac = [0x01, 0x00, 0x5e, 0, 0, 0x12];
    f.bytes()
}

fn icmp_echo() -> Vec<u8> {
    Frame::tcp4(CLIENT, 0, VIP4, 0, 0)
        .with_l4(L4::Raw { proto: 1 })
        .with_payload(&[8, 0, 0xf7, 0xff, 0, 0, 0, 0])
        .bytes()
}

fn ipv6_neighbour_solicitation() -> Vec<u8> {
    Frame::tcp6(CLIENT6, 0, VIP6, 0, 0)
        .with_l4(L4::Raw { proto: 58 })
        .with_payload(&[135, 0, 0, 0, 0, 0, 0, 0])
        .bytes()
}

#[test]
fn fixture_table() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    let [web, dns, web6] = &specs;

    let web_be = source_backend(&t, web, IpAddr::V4(CLIENT));
    let web6_be = source_backend(&t, web6, IpAddr::V6(CLIENT6));
    let dns_be = flow_backend(&t, dns, IpAddr::V4(CLIENT), 33000, 53);

    let syn = Frame::tcp4(CLIENT, 40000, VIP4, 5000, TCP_SYN);
    let ack = Frame::tcp4(CLIENT, 40001, VIP4, 5000, TCP_ACK | TCP_PSH)
        .with_payload(b"GET /v2/ HTTP/1.1\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("IPv4 TCP SYN to VIP:5000", syn.bytes(), Expect::Tx(web_be)),
        (
            "IPv4 TCP mid-flow to VIP:5000 (no flow entry yet)",
            ack.bytes(),
            Expect::Tx(web_be),
        ),
        (
            "the same mid-flow packet again (flow-table hit)",
            ack.bytes(),
            Expect::Tx(web_be),
        ),
        (
            "IPv4 TCP SYN, 802.1Q tag 42",
            syn.clone().with_vlan(42).bytes(),
            Expect::Tx(web_be),
        ),
        (
            "IPv4 TCP with 8 bytes of IP options",
            ack.clone()
                .with_ipv4_options(&[0x01, 0x01, 0x01, 0x00])
                .with_fragment(false, 0)
                .bytes(),
            Expect::Tx(web_be),
        ),
        (
            "IPv4 TCP, 40 bytes of IP options, VLAN",
            syn.clone().with_ipv4_options(&[1; 40]).with_vlan(7).bytes(),
            Expect::Tx(web_be),
        ),
        (
            "IPv6 TCP SYN to [VIP6]:5000",
            Frame::tcp6(CLIENT6, 40000, VIP6, 5000, TCP_SYN).bytes(),
            Expect::Tx(web6_be),
        ),
        (
            "IPv6 TCP mid-flow, VLAN",
            Frame::tcp6(CLIENT6, 40002, VIP6, 5000, TCP_ACK)
                .with_vlan(100)
                .bytes(),
            Expect::Tx(web6_be),
        ),
        (
            "UDP to VIP:53 (5-tuple hash)",
            Frame::udp4(CLIENT, 33000, VIP4, 53)
                .with_payload(&[0xab; 30])
                .bytes(),
            Expect::Tx(dns_be),
        ),
        (
            "IPv4 TCP SYN to VIP:5000, addressed to another host's MAC (flooded)",
            {
                let mut f = syn.clone();
                f.dst_mac = [0x02, 0, 0, 0, 0, 0x99];
                f.bytes()
            },
            Expect::Pass(Reason::OtherHost),
        ),
        (
            "IPv6 TCP mid-flow to [VIP6]:5000 for another host's MAC",
            {
                let mut f = Frame::tcp6(CLIENT6, 40002, VIP6, 5000, TCP_ACK);
                f.dst_mac = [0x33, 0x33, 0, 0, 0, 1];
                f.bytes()
            },
            Expect::Pass(Reason::OtherHost),
        ),
        (
            "IPv4 TCP to another address",
            Frame::tcp4(CLIENT, 40000, Ipv4Addr::new(192, 0, 2, 2), 5000, TCP_SYN).bytes(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "IPv4 TCP to VIP, another port",
            Frame::tcp4(CLIENT, 40000, VIP4, 22, TCP_SYN).bytes(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "UDP to VIP:5000 (service is TCP only)",
            Frame::udp4(CLIENT, 40000, VIP4, 5000).bytes(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "IPv6 TCP to VIP6, another port",
            Frame::tcp6(CLIENT6, 40000, VIP6, 443, TCP_SYN).bytes(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "ARP request for the VIP",
            arp_request([0x02, 0, 0, 0, 0, 0xc1], CLIENT, VIP4),
            Expect::Pass(Reason::NotIp),
        ),
        (
            "VRRP advertisement (IP protocol 112)",
            vrrp_advert(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "ICMP echo to the VIP",
            icmp_echo(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "IPv6 neighbour solicitation",
            ipv6_neighbour_solicitation(),
            Expect::Pass(Reason::NotService),
        ),
        (
            "IPv6 hop-by-hop header before TCP",
            // Next header: hop-by-hop options.
            patch(
                Frame::tcp6(CLIENT6, 40000, VIP6, 5000, TCP_SYN).bytes(),
                14 + 6,
                &[0],
            ),
            Expect::Pass(Reason::Unsupported),
        ),
        (
            "IPv4 header length below 20",
            patch(syn.bytes(), 14, &[0x44]),
            Expect::Pass(Reason::Malformed),
        ),
        (
            "IPv4 total length beyond the frame",
            patch(syn.bytes(), 16, &200u16.to_be_bytes()),
            Expect::Pass(Reason::Malformed),
        ),
        (
            "IPv4 version 5",
            patch(syn.bytes(), 14, &[0x55]),
            Expect::Pass(Reason::Malformed),
        ),
        (
            "TCP data offset below 5",
            patch(syn.bytes(), 14 + 20 + 12, &[0x40]),
            Expect::Pass(Reason::Malformed),
        ),
        (
            "UDP length below 8",
            patch(
                Frame::udp4(CLIENT, 33000, VIP4, 53).bytes(),
                14 + 20 + 4,
                &4u16.to_be_bytes(),
            ),
            Expect::Pass(Reason::Malformed),
        ),
        (
            "IPv6 payload length beyond the frame",
            patch(
                Frame::tcp6(CLIENT6, 40000, VIP6, 5000, TCP_SYN).bytes(),
                18,
                &500u16.to_be_bytes(),
            ),
            Expect::Pass(Reason::Malformed),
        ),
    ];

    let start = snapshot(&t);
    let mut forwarded = 0u64;
    for (name, input, expect) in &cases {
        check(&mut t, &specs, name, input, *expect);
        if matches!(expect, Expect::Tx(_)) {
            forwarded += 1;
        }
    }
    // Everything sent is accounted for exactly once.
    let end = snapshot(&t);
    let reasons: u64 = end.reasons.iter().sum::<u64>() - start.reasons.iter().sum::<u64>();
    let fwd: u64 = end.services.iter().map(|c| c.packets).sum::<u64>()
        - start.services.iter().map(|c| c.packets).sum::<u64>();
    assert_eq!(fwd, forwarded);
    assert_eq!(
        reasons + fwd,
        cases.len() as u64,
        "counters add up to the packets sent"
    );
}

#[test]
fn flow_table_records_new_flows_and_hits() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    let web = &specs[0];
    let be = source_backend(&t, web, IpAddr::V4(CLIENT));
    let ack = Frame::tcp4(CLIENT, 41000, VIP4, 5000, TCP_ACK).bytes();
    assert!(
        check(
            &mut t,
            &specs,
            "first packet of a flow",
            &ack,
            Expect::Tx(be)
        ),
        "a miss is a new flow"
    );
    assert!(
        !check(&mut t, &specs, "second packet", &ack, Expect::Tx(be)),
        "a hit is not a new flow"
    );
    let key = FlowKey {
        src: addr_from_v4(CLIENT.octets()),
        dst: addr_from_v4(VIP4.octets()),
        sport: 41000,
        dport: 5000,
        proto: 6,
        family: 4,
        _pad: [0; 2],
    };
    assert_eq!(t.maps.flow(&key).unwrap().map(|f| f.backend_id), Some(be));
    // A SYN always hashes afresh (a new connection) and counts as new.
    let syn = Frame::tcp4(CLIENT, 41000, VIP4, 5000, TCP_SYN).bytes();
    assert!(check(
        &mut t,
        &specs,
        "SYN on an existing tuple",
        &syn,
        Expect::Tx(be)
    ));
}

/// Every client source lands on the backend the ring says, all connections
/// of one client on one backend, and clients spread over both backends.
#[test]
fn source_hash_spreads_clients_and_keeps_each_on_one_backend() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    let web = &specs[0];
    let mut per_backend = std::collections::HashMap::new();
    for i in 1..=64u8 {
        let client = Ipv4Addr::new(198, 18, 0, i);
        let want = source_backend(&t, web, IpAddr::V4(client));
        for sport in [40000u16, 40001, 52000] {
            let f = Frame::tcp4(client, sport, VIP4, 5000, TCP_SYN).bytes();
            check(
                &mut t,
                &specs,
                &format!("client {client}:{sport}"),
                &f,
                Expect::Tx(want),
            );
        }
        *per_backend.entry(want).or_insert(0) += 1;
    }
    assert_eq!(
        per_backend.len(),
        2,
        "64 clients all on one backend: {per_backend:?}"
    );
    assert!(
        per_backend.values().all(|n| *n >= 16),
        "badly unbalanced: {per_backend:?}"
    );
}

/// Every fragment of a datagram reaches the backend of the client's source:
/// the first (with ports) and the later ones (without).
#[test]
fn ipv4_fragments_follow_the_source_hash() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    let web = &specs[0];
    for i in 1..=16u8 {
        let client = Ipv4Addr::new(198, 18, 1, i);
        let want = source_backend(&t, web, IpAddr::V4(client));
        let first = Frame::tcp4(client, 40000, VIP4, 5000, TCP_ACK)
            .with_payload(&[0u8; 64])
            .with_fragment(true, 0)
            .bytes();
        check(&mut t, &specs, "first fragment", &first, Expect::Tx(want));
        let mut later = Frame::tcp4(client, 0, VIP4, 0, 0)
            .with_l4(L4::Raw { proto: 6 })
            .with_payload(&[0u8; 48])
            .with_fragment(false, 11)
            .bytes();
        check(&mut t, &specs, "last fragment", &later, Expect::Tx(want));
        later[20..22].copy_from_slice(&(0x2000u16 | 5).to_be_bytes());
        later[24..26].copy_from_slice(&[0, 0]);
        check(
            &mut t,
            &specs,
            "middle fragment (bad IP checksum is not ours to judge)",
            &later,
            Expect::Tx(want),
        );
    }
    // A later fragment to a 5-tuple-hashed service cannot be steered: no
    // alias exists for it, so it is not a service packet.
    let udp_later = Frame::tcp4(CLIENT, 0, VIP4, 0, 0)
        .with_l4(L4::Raw { proto: 17 })
        .with_payload(&[0u8; 16])
        .with_fragment(false, 3)
        .bytes();
    check(
        &mut t,
        &specs,
        "later UDP fragment, flow-hashed service",
        &udp_later,
        Expect::Pass(Reason::NotService),
    );
    // Its first fragment has ports but the 5-tuple hash cannot follow the
    // rest of the datagram: passed, counted as unsupported.
    let udp_first = Frame::udp4(CLIENT, 33000, VIP4, 53)
        .with_payload(&[0u8; 16])
        .with_fragment(true, 0)
        .bytes();
    check(
        &mut t,
        &specs,
        "first UDP fragment, flow-hashed service",
        &udp_first,
        Expect::Pass(Reason::Unsupported),
    );
}

/// No truncation of a valid packet is ever transmitted: every length from
/// the Ethernet header up to one byte short is passed and counted.
#[test]
fn every_truncation_is_passed_never_transmitted() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    let packets = [
        (
            "IPv4 TCP",
            Frame::tcp4(CLIENT, 40000, VIP4, 5000, TCP_ACK)
                .with_payload(b"hello")
                .bytes(),
        ),
        (
            "IPv4 TCP, options, VLAN",
            Frame::tcp4(CLIENT, 40000, VIP4, 5000, TCP_SYN)
                .with_ipv4_options(&[1; 12])
                .with_vlan(9)
                .bytes(),
        ),
        (
            "IPv6 TCP",
            Frame::tcp6(CLIENT6, 40000, VIP6, 5000, TCP_SYN)
                .with_payload(b"x")
                .bytes(),
        ),
        (
            "IPv4 UDP",
            Frame::udp4(CLIENT, 33000, VIP4, 53)
                .with_payload(b"query")
                .bytes(),
        ),
    ];
    for (name, full) in &packets {
        // The whole packet is forwarded: the truncations below are the only difference.
        let (action, _) = t.run(full);
        assert_eq!(
            action,
            XdpAction::Tx as u32,
            "{name}: the full packet is steered"
        );
        // BPF_PROG_TEST_RUN needs at least an Ethernet header.
        for len in 14..full.len() {
            let cut = &full[..len];
            check(
                &mut t,
                &specs,
                &format!("{name} cut to {len} bytes"),
                cut,
                Expect::Pass(Reason::Malformed),
            );
        }
    }
}

/// A table swap moves no established flow: a connection pinned to a
/// backend stays there even where the new ring sends its source elsewhere.
#[test]
fn flow_stays_on_its_backend_through_a_table_swap() {
    let mut t = TestDataplane::load();
    let mut specs = services().to_vec();
    t.provision(&specs);
    // Clients and the backend the first ring gives them; establish a flow each.
    let clients: Vec<Ipv4Addr> = (1..=100u8).map(|i| Ipv4Addr::new(198, 18, 2, i)).collect();
    let before: Vec<u32> = clients
        .iter()
        .map(|c| source_backend(&t, &specs[0], IpAddr::V4(*c)))
        .collect();
    for (c, be) in clients.iter().zip(&before) {
        let f = Frame::tcp4(*c, 45000, VIP4, 5000, TCP_ACK).bytes();
        check(&mut t, &specs, "establish", &f, Expect::Tx(*be));
    }
    // be3 joins: a new ring is swapped in.
    specs[0].backends.push(backend(7, 13, BackendState::Up));
    t.provision(&specs[..1]);
    let after: Vec<u32> = clients
        .iter()
        .map(|c| source_backend(&t, &specs[0], IpAddr::V4(*c)))
        .collect();
    let moved: Vec<usize> = (0..clients.len())
        .filter(|i| before[*i] != after[*i])
        .collect();
    assert!(
        !moved.is_empty(),
        "the join moved no client in the ring: the test proves nothing"
    );
    for i in 0..clients.len() {
        let c = clients[i];
        let est = Frame::tcp4(c, 45000, VIP4, 5000, TCP_ACK).bytes();
        check(
            &mut t,
            &specs,
            &format!("established flow of {c}"),
            &est,
            Expect::Tx(before[i]),
        );
        let new = Frame::tcp4(c, 45001, VIP4, 5000, TCP_SYN).bytes();
        check(
            &mut t,
            &specs,
            &format!("new connection of {c}"),
            &new,
            Expect::Tx(after[i]),
        );
    }
}

/// Draining: existing flows stay, new ones go elsewhere. Down: even existing
/// flows leave, and their flow-table entry is replaced.
#[test]
fn draining_keeps_flows_and_down_moves_them() {
    let mut t = TestDataplane::load();
    let mut specs = services().to_vec();
    t.provision(&specs);
    let client = (1..=50u8)
        .map(|i| Ipv4Addr::new(198, 18, 3, i))
        .find(|c| source_backend(&t, &specs[0], IpAddr::V4(*c)) == 1)
        .expect("some client hashes to backend 1");
    let est = Frame::tcp4(client, 46000, VIP4, 5000, TCP_ACK).bytes();
    check(
        &mut t,
        &specs,
        "establish on backend 1",
        &est,
        Expect::Tx(1),
    );

    specs[0].backends[0].state = BackendState::Draining;
    t.provision(&specs[..1]);
    check(
        &mut t,
        &specs,
        "established flow on a draining backend",
        &est,
        Expect::Tx(1),
    );
    let new = Frame::tcp4(client, 46001, VIP4, 5000, TCP_SYN).bytes();
    check(
        &mut t,
        &specs,
        "new connection while backend 1 drains",
        &new,
        Expect::Tx(2),
    );
    let new_ack = Frame::tcp4(client, 46002, VIP4, 5000, TCP_ACK).bytes();
    check(
        &mut t,
        &specs,
        "new flow (no SYN seen) while draining",
        &new_ack,
        Expect::Tx(2),
    );

    specs[0].backends[0].state = BackendState::Down;
    t.provision(&specs[..1]);
    assert!(
        check(
            &mut t,
            &specs,
            "established flow after its backend went down",
            &est,
            Expect::Tx(2)
        ),
        "re-picked: a new flow"
    );
    assert!(!check(
        &mut t,
        &specs,
        "and it stays on the new backend",
        &est,
        Expect::Tx(2)
    ));
}

/// No backend up: the service keeps its last ring but drops and counts
/// instead of sending to dead hosts; it recovers when one comes back.
#[test]
fn no_backend_up_is_dropped_and_counted() {
    let mut t = TestDataplane::load();
    let mut specs = services().to_vec();
    t.provision(&specs);
    let ring_before = t.maps.ring(0).unwrap();
    let est = Frame::tcp4(CLIENT, 47000, VIP4, 5000, TCP_ACK).bytes();
    let be = source_backend(&t, &specs[0], IpAddr::V4(CLIENT));
    check(&mut t, &specs, "establish", &est, Expect::Tx(be));
    for b in &mut specs[0].backends {
        b.state = BackendState::Down;
    }
    t.provision(&specs[..1]);
    assert_eq!(t.maps.ring(0).unwrap(), ring_before, "the last ring stays");
    check(
        &mut t,
        &specs,
        "established flow, all down",
        &est,
        Expect::Drop(Reason::NoBackend),
    );
    let syn = Frame::tcp4(CLIENT, 47001, VIP4, 5000, TCP_SYN).bytes();
    check(
        &mut t,
        &specs,
        "new connection, all down",
        &syn,
        Expect::Drop(Reason::NoBackend),
    );
    let other = Frame::tcp4(CLIENT, 47001, VIP4, 22, TCP_SYN).bytes();
    check(
        &mut t,
        &specs,
        "other port still passes",
        &other,
        Expect::Pass(Reason::NotService),
    );

    specs[0].backends[1].state = BackendState::Up;
    t.provision(&specs[..1]);
    check(&mut t, &specs, "a backend is back", &syn, Expect::Tx(2));
}

/// The ring in the kernel is the one the agent's Maglev builder made.
#[test]
fn ring_in_the_kernel_is_the_maglev_table() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    for s in &specs {
        let table = s.build_ring().unwrap().unwrap();
        assert_eq!(t.maps.ring(s.id).unwrap().as_deref(), Some(table.slots()));
    }
}

/// A removed service stops being steered at once, and a service created
/// later under the same id does not inherit the old one's flows (their
/// recorded generation is no longer current).
#[test]
fn removed_service_stops_and_a_new_one_inherits_no_flows() {
    let mut t = TestDataplane::load();
    let mut specs = services().to_vec();
    t.provision(&specs[..2]); // web6 would share port 5000
    let client = (1..=50u8)
        .map(|i| Ipv4Addr::new(198, 18, 4, i))
        .find(|c| source_backend(&t, &specs[0], IpAddr::V4(*c)) == 1)
        .expect("some client hashes to backend 1");
    let est = Frame::tcp4(client, 48000, VIP4, 5000, TCP_ACK).bytes();
    check(
        &mut t,
        &specs,
        "establish on backend 1",
        &est,
        Expect::Tx(1),
    );
    let gen_before = t.maps.service_generation(0).unwrap();
    assert_ne!(gen_before, 0);

    t.maps.remove_service(&specs[0]).unwrap();
    assert_eq!(
        t.maps.service_generation(0).unwrap(),
        gen_before | regha_agent::dataplane::GENERATION_RETIRED
    );
    assert!(
        !t.maps.service_port(5000).unwrap(),
        "no service left on port 5000"
    );
    check(
        &mut t,
        &specs,
        "established flow of a removed service",
        &est,
        Expect::Pass(Reason::NotService),
    );

    // Service id 0 comes back with the same VIP but only backend 2 (backend 1
    // stays up, as if it served something else): the old flow must not
    // return to backend 1.
    specs[0].backends[0].state = BackendState::Down;
    t.provision(&specs[..1]);
    t.maps
        .set_backend(
            1,
            &regha_common::Backend {
                mac: [2, 0, 0, 0, 0, 11],
                state: regha_common::BACKEND_UP,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(t.maps.service_generation(0).unwrap(), gen_before + 1);
    assert!(
        check(
            &mut t,
            &specs,
            "old flow under the new service",
            &est,
            Expect::Tx(2)
        ),
        "the old entry was not trusted: the flow was hashed anew"
    );
}

/// The port bitmap follows the services: a port stays marked while any
/// service uses it; packets to unmarked ports are passed without lookups.
#[test]
fn service_ports_follow_the_services() {
    let mut t = TestDataplane::load();
    let specs = services();
    t.provision(&specs);
    assert!(t.maps.service_port(5000).unwrap());
    assert!(t.maps.service_port(53).unwrap());
    assert!(!t.maps.service_port(22).unwrap());
    // web and web6 share port 5000: removing one keeps the bit.
    t.maps.remove_service(&specs[0]).unwrap();
    assert!(t.maps.service_port(5000).unwrap(), "web6 still uses 5000");
    let f = Frame::tcp6(CLIENT6, 40000, VIP6, 5000, TCP_SYN).bytes();
    let be = source_backend(&t, &specs[2], IpAddr::V6(CLIENT6));
    check(
        &mut t,
        &specs,
        "IPv6 service still steered",
        &f,
        Expect::Tx(be),
    );
    t.maps.remove_service(&specs[2]).unwrap();
    assert!(!t.maps.service_port(5000).unwrap());
}
