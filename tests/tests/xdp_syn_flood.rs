//! Idle established connections keep their backend through a SYN flood and
//! a ring change (issue 13): the flow table, at its default size (262,144
//! entries), must not lose an idle connection to a million spoofed SYNs,
//! and once the ring moves that connection's client elsewhere, the flow
//! table is all that keeps the connection on its backend.
//!
//! Each test, through BPF_PROG_TEST_RUN against maps written by the agent's
//! own writer:
//! 1. 10,000 connections are opened as a client opens them (SYN, the ACK
//!    that completes the handshake, a data packet) and left idle;
//! 2. 1,000,000 SYNs arrive from distinct spoofed sources (TEST-NET-1
//!    addresses and ports) and are never answered; the flow table, as user
//!    space reads it (and issue 16 will sync it), still holds every one of
//!    the 10,000 connections on its backend, and none of the SYNs;
//! 3. the ring changes: a backend is added, or a backend that was down
//!    comes back; the test checks that thousands of the 10,000 clients now
//!    hash to another backend (else it would prove nothing);
//! 4. every one of the 10,000 connections sends its next data packet: each
//!    must reach the backend its handshake reached.

use std::net::Ipv4Addr;

use aya::maps::{HashMap, Map, MapData};
use regha_agent::dataplane::{BackendSpec, ServiceSpec};
use regha_common::{DEFAULT_FLOW_TABLE_SIZE, FlowKey, FlowValue, addr_from_v4, hash};
use regha_model::BackendState;
use regha_tests::{
    dataplane::{LB_MAC, TestDataplane, XdpAction, source_hashed, test_backend},
    packet::{Frame, TCP_ACK, TCP_PSH, TCP_SYN},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PORT: u16 = 5000;
const SEED: u32 = 0x5eed;
const RING: u32 = regha_common::DEFAULT_RING_SIZE;
const CONNECTIONS: u32 = 10_000;
const FLOOD: u32 = 1_000_000;
/// The client's initial sequence number of connection `i` (any value; each
/// connection its own).
const ISN_BASE: u32 = 0x4000_0000;
const REQUEST: &[u8] = b"GET /v2/ HTTP/1.1\r\n\r\n";

fn backend(id: u32, state: BackendState) -> BackendSpec {
    test_backend(id, PORT, state)
}

fn service(backends: Vec<BackendSpec>) -> ServiceSpec {
    source_hashed(VIP, PORT, SEED, RING, backends)
}

/// Connection `i`: a source among the 512 addresses of TEST-NET-2 and
/// TEST-NET-3, about twenty connections each, from its own port.
fn connection(i: u32) -> (Ipv4Addr, u16) {
    let host = (i % 256) as u8;
    let addr = if (i / 256).is_multiple_of(2) {
        Ipv4Addr::new(198, 51, 100, host)
    } else {
        Ipv4Addr::new(203, 0, 113, host)
    };
    (addr, 20_000 + (i / 512) as u16)
}

/// Spoofed SYN `i` of the flood: a TEST-NET-1 address and a port, no two
/// alike (256 addresses x 3,907 ports).
fn spoofed_syn(i: u32) -> Vec<u8> {
    let src = Ipv4Addr::new(192, 0, 2, (i % 256) as u8);
    let sport = 1024 + (i / 256) as u16;
    Frame::tcp4(src, sport, VIP, PORT, TCP_SYN)
        .with_seq(i.wrapping_mul(2_654_435_761))
        .bytes()
}

fn tcp(i: u32, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, sport) = connection(i);
    Frame::tcp4(src, sport, VIP, PORT, flags)
        .with_seq(seq)
        .with_payload(payload)
        .bytes()
}

/// The backend the kernel's ring holds for `src`.
fn ring_backend(ring: &[u32], src: Ipv4Addr) -> u32 {
    ring[(hash::hash_source(&addr_from_v4(src.octets()), SEED) % RING) as usize]
}

fn ring(t: &TestDataplane) -> Vec<u32> {
    t.maps.ring(0).expect("read ring").expect("a ring")
}

/// Sends `packet` and returns the backend it was sent to (by its MAC), or
/// panics naming `what`.
fn steer(t: &mut TestDataplane, packet: &[u8], what: &str) -> u32 {
    let (action, out) = t.run(packet);
    assert_eq!(action, XdpAction::Tx as u32, "{what}: not forwarded");
    assert_eq!(out[6..12], LB_MAC, "{what}: source MAC");
    assert_eq!(out[..5], [0x02, 0xbe, 0, 0, 0], "{what}: not a backend MAC");
    u32::from(out[5])
}

/// Opens every connection and returns the backend each reached.
fn open_connections(t: &mut TestDataplane) -> Vec<u32> {
    let ring = ring(t);
    (0..CONNECTIONS)
        .map(|i| {
            let isn = ISN_BASE.wrapping_add(i * 7919);
            let (src, _) = connection(i);
            let want = ring_backend(&ring, src);
            let what = format!("connection {i} from {src}");
            assert_eq!(
                steer(t, &tcp(i, TCP_SYN, isn, &[]), &what),
                want,
                "{what}: SYN"
            );
            let seq = isn.wrapping_add(1);
            assert_eq!(
                steer(t, &tcp(i, TCP_ACK, seq, &[]), &what),
                want,
                "{what}: ACK"
            );
            let data = tcp(i, TCP_ACK | TCP_PSH, seq, REQUEST);
            assert_eq!(steer(t, &data, &what), want, "{what}: request");
            want
        })
        .collect()
}

fn flood(t: &mut TestDataplane, first: &[u32]) {
    for i in 0..FLOOD {
        let (action, _) = t.run(&spoofed_syn(i));
        assert_eq!(action, XdpAction::Tx as u32, "spoofed SYN {i} not steered");
    }
    let lost: Vec<u32> = (0..CONNECTIONS)
        .filter(|i| {
            let (src, sport) = connection(*i);
            let key = FlowKey {
                src: addr_from_v4(src.octets()),
                dst: addr_from_v4(VIP.octets()),
                sport,
                dport: PORT,
                proto: 6,
                family: 4,
                _pad: [0; 2],
            };
            t.maps.flow(&key).unwrap().map(|v| v.backend_id) != Some(first[*i as usize])
        })
        .collect();
    assert!(
        lost.is_empty(),
        "after the flood, {} of {CONNECTIONS} connections are not in the flow table on their \
         backend (the first: {:?})",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let flows: HashMap<MapData, FlowKey, FlowValue> =
        Map::from_map_data(MapData::from_pin(t.pin_dir().join("flows")).unwrap())
            .unwrap()
            .try_into()
            .unwrap();
    assert_eq!(
        flows.keys().count(),
        CONNECTIONS as usize,
        "the flow table holds the connections and nothing of the flood"
    );
}

/// Step 4: every connection's next request reaches its first backend.
/// `moved`: how many of them the new ring sends elsewhere.
fn check_connections(t: &mut TestDataplane, first: &[u32]) -> usize {
    let ring = ring(t);
    let mut moved = 0;
    let mut lost = Vec::new();
    for (i, want) in (0..CONNECTIONS).zip(first) {
        let (src, _) = connection(i);
        if ring_backend(&ring, src) != *want {
            moved += 1;
        }
        let seq = ISN_BASE
            .wrapping_add(i * 7919)
            .wrapping_add(1 + REQUEST.len() as u32);
        let got = steer(t, &tcp(i, TCP_ACK | TCP_PSH, seq, REQUEST), "next request");
        if got != *want {
            lost.push((i, src, *want, got));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {CONNECTIONS} idle connections left their backend after the flood and the \
         ring change (connection, client, first backend, now): {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    moved
}

/// At least this many of the 10,000 clients must hash elsewhere after the
/// ring change (about a third do: three backends share what two held).
const MIN_MOVED: usize = 2_000;

#[test]
fn idle_connections_survive_a_syn_flood_and_a_backend_added() {
    let mut t = TestDataplane::load_with(LB_MAC, DEFAULT_FLOW_TABLE_SIZE);
    let two = vec![backend(1, BackendState::Up), backend(2, BackendState::Up)];
    t.maps.apply_service(&service(two.clone())).unwrap();
    let first = open_connections(&mut t);
    flood(&mut t, &first);
    let mut three = two;
    three.push(backend(3, BackendState::Up));
    t.maps.apply_service(&service(three)).unwrap();
    let moved = check_connections(&mut t, &first);
    assert!(
        moved >= MIN_MOVED,
        "the new backend took only {moved} of {CONNECTIONS} clients: the test proves nothing"
    );
}

#[test]
fn idle_connections_survive_a_syn_flood_and_a_backend_returning_from_down() {
    let mut t = TestDataplane::load_with(LB_MAC, DEFAULT_FLOW_TABLE_SIZE);
    let mut backends = vec![
        backend(1, BackendState::Up),
        backend(2, BackendState::Up),
        backend(3, BackendState::Down),
    ];
    t.maps.apply_service(&service(backends.clone())).unwrap();
    let first = open_connections(&mut t);
    assert!(
        first.iter().all(|b| *b != 3),
        "a down backend took a connection"
    );
    flood(&mut t, &first);
    backends[2].state = BackendState::Up;
    t.maps.apply_service(&service(backends)).unwrap();
    let moved = check_connections(&mut t, &first);
    assert!(
        moved >= MIN_MOVED,
        "the returning backend took only {moved} of {CONNECTIONS} clients: the test proves nothing"
    );
}
