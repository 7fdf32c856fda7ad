//! The flow state of issue 13 and the signals of issue 12, packet by packet
//! through BPF_PROG_TEST_RUN against maps written by the agent's writer:
//! when a connection is recorded (the ACK completing its handshake, never
//! the SYN), where that ACK goes when the ring changed after its SYN, what
//! a reused client port gets, how the flow cache follows the flow table,
//! and what each packet of a handshake adds to its backend's signals
//! (SYN, SYN retransmission, completion, later packets).
//!
//! The backend a packet should reach is computed apart from the program:
//! the shared source hash indexes the ring read back from the kernel.

use std::net::Ipv4Addr;

use aya::maps::{HashMap, Map, MapData};
use regha_agent::dataplane::{BackendSpec, ServiceSpec};
use regha_common::{FLOW_REFRESH_EVERY, FlowKey, FlowValue, Signals, addr_from_v4, hash};
use regha_model::BackendState;
use regha_tests::{
    dataplane::{LB_MAC, TestDataplane, XdpAction, pin_to_cpu, source_hashed, test_backend},
    packet::{Frame, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PORT: u16 = 5000;
const SEED: u32 = 0x5eed;
const RING: u32 = 4099;
const REQUEST: &[u8] = b"GET /v2/ HTTP/1.1\r\n\r\n";

fn backend(id: u32, state: BackendState) -> BackendSpec {
    test_backend(id, PORT, state)
}

fn service(backends: Vec<BackendSpec>) -> ServiceSpec {
    source_hashed(VIP, PORT, SEED, RING, backends)
}

fn two_backends() -> Vec<BackendSpec> {
    vec![backend(1, BackendState::Up), backend(2, BackendState::Up)]
}

fn three_backends() -> Vec<BackendSpec> {
    let mut b = two_backends();
    b.push(backend(3, BackendState::Up));
    b
}

fn dataplane(backends: Vec<BackendSpec>) -> TestDataplane {
    let mut t = TestDataplane::load();
    t.maps.apply_service(&service(backends)).unwrap();
    t
}

fn ring_backend(t: &TestDataplane, client: Ipv4Addr) -> u32 {
    let ring = t.maps.ring(0).unwrap().unwrap();
    ring[(hash::hash_source(&addr_from_v4(client.octets()), SEED) % RING) as usize]
}

/// A client that the two-backend ring sends to one backend and the
/// three-backend ring (be3 added) to another: `(client, before, after)`.
fn client_moved_by_be3(t: &mut TestDataplane) -> (Ipv4Addr, u32, u32) {
    let before: Vec<(Ipv4Addr, u32)> = (1..=254u8)
        .map(|i| {
            let c = Ipv4Addr::new(198, 51, 100, i);
            (c, ring_backend(t, c))
        })
        .collect();
    t.maps.apply_service(&service(three_backends())).unwrap();
    let moved = before
        .iter()
        .map(|(c, b)| (*c, *b, ring_backend(t, *c)))
        .find(|(_, b, a)| b != a)
        .expect("adding be3 moves some client");
    t.maps.apply_service(&service(two_backends())).unwrap();
    moved
}

fn tcp(client: Ipv4Addr, sport: u16, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    Frame::tcp4(client, sport, VIP, PORT, flags)
        .with_seq(seq)
        .with_payload(payload)
        .bytes()
}

fn key(client: Ipv4Addr, sport: u16) -> FlowKey {
    FlowKey {
        src: addr_from_v4(client.octets()),
        dst: addr_from_v4(VIP.octets()),
        sport,
        dport: PORT,
        proto: 6,
        family: 4,
        _pad: [0; 2],
    }
}

/// What one forwarded packet did: its backend, whether the ring chose it
/// (a new flow), and what it added to that backend's signals.
#[derive(Debug, PartialEq, Eq)]
struct Steered {
    backend: u32,
    new_flow: bool,
    signals: Signals,
}

fn signals_of(t: &TestDataplane) -> Vec<Signals> {
    (0..4).map(|i| t.maps.signals(i).unwrap()).collect()
}

/// Runs `packet`, which must be forwarded to a backend with only its MACs
/// changed, and says how (see [`Steered`]). Signals and new flows of the
/// other backends must not move.
fn steer(t: &mut TestDataplane, packet: &[u8], what: &str) -> Steered {
    let signals = signals_of(t);
    let flows: Vec<u64> = (0..4)
        .map(|i| t.maps.backend_counters(i).unwrap().new_flows)
        .collect();
    let (action, out) = t.run(packet);
    assert_eq!(action, XdpAction::Tx as u32, "{what}: not forwarded");
    assert_eq!(out[..5], [0x02, 0xbe, 0, 0, 0], "{what}: not a backend MAC");
    assert_eq!(out[6..12], LB_MAC, "{what}: source MAC");
    assert_eq!(
        out[12..],
        packet[12..],
        "{what}: more than the MACs changed"
    );
    let backend = u32::from(out[5]);
    let after = signals_of(t);
    for i in 0..4 {
        if i != backend as usize {
            assert_eq!(after[i], signals[i], "{what}: backend {i}'s signals moved");
            let now = t.maps.backend_counters(i as u32).unwrap().new_flows;
            assert_eq!(now, flows[i], "{what}: backend {i}'s new flows moved");
        }
    }
    let (a, b) = (after[backend as usize], signals[backend as usize]);
    Steered {
        backend,
        new_flow: t.maps.backend_counters(backend).unwrap().new_flows > flows[backend as usize],
        signals: Signals {
            syns: a.syns - b.syns,
            syn_retransmits: a.syn_retransmits - b.syn_retransmits,
            completions: a.completions - b.completions,
        },
    }
}

const SYN: Signals = Signals {
    syns: 1,
    syn_retransmits: 0,
    completions: 0,
};
const RETRANSMIT: Signals = Signals {
    syns: 0,
    syn_retransmits: 1,
    completions: 0,
};
const COMPLETION: Signals = Signals {
    syns: 0,
    syn_retransmits: 0,
    completions: 1,
};
const NOTHING: Signals = Signals {
    syns: 0,
    syn_retransmits: 0,
    completions: 0,
};

fn steered(backend: u32, new_flow: bool, signals: Signals) -> Steered {
    Steered {
        backend,
        new_flow,
        signals,
    }
}

/// Issue 12's fixtures: what each packet of a handshake adds to the
/// signals of the backend it reaches, and issue 13's: what is recorded
/// where along the way.
#[test]
fn each_packet_of_a_handshake_counts_once_and_only_the_ack_records_the_flow() {
    let mut t = dataplane(two_backends());
    let client = Ipv4Addr::new(198, 51, 100, 7);
    let be = ring_backend(&t, client);
    let isn = 0x1234_5678;
    let k = key(client, 40000);
    let syn = tcp(client, 40000, TCP_SYN, isn, &[]);

    assert_eq!(steer(&mut t, &syn, "SYN"), steered(be, true, SYN));
    assert_eq!(t.maps.pending_handshake(&k, isn).unwrap(), Some(be));
    assert_eq!(t.maps.flow(&k).unwrap(), None, "a SYN is not recorded");
    assert_eq!(t.maps.cached_flow(&k).unwrap(), None);

    for i in 1..=2 {
        assert_eq!(
            steer(&mut t, &syn, &format!("SYN retransmission {i}")),
            steered(be, false, RETRANSMIT)
        );
    }
    assert_eq!(t.maps.flow(&k).unwrap(), None);

    let seq = isn.wrapping_add(1);
    assert_eq!(
        steer(&mut t, &tcp(client, 40000, TCP_ACK, seq, &[]), "first ACK"),
        steered(be, false, COMPLETION)
    );
    let recorded = t.maps.flow(&k).unwrap().expect("the ACK records the flow");
    assert_eq!(recorded.backend_id, be);
    assert_eq!(t.maps.cached_flow(&k).unwrap(), Some(recorded));
    assert_eq!(t.maps.pending_handshake(&k, isn).unwrap(), None);

    let data = tcp(client, 40000, TCP_ACK | TCP_PSH, seq, REQUEST);
    assert_eq!(
        steer(&mut t, &data, "request (the same seq as the ACK)"),
        steered(be, false, NOTHING)
    );
    let mut seq = seq.wrapping_add(REQUEST.len() as u32);
    for i in 1..=3 {
        let ack = tcp(client, 40000, TCP_ACK, seq, &[]);
        assert_eq!(
            steer(&mut t, &ack, &format!("later ACK {i}")),
            steered(be, false, NOTHING)
        );
        seq = seq.wrapping_add(1);
    }
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 40000, TCP_ACK, isn.wrapping_add(1), &[]),
            "the first ACK again"
        ),
        steered(be, false, NOTHING),
        "a handshake completes once"
    );

    // An ACK that is not the handshake's (another sequence number) is a
    // flow seen mid-way: the ring picks, nothing completes, and the SYN's
    // record stays for its own ACK.
    let other = 40001;
    let isn2 = 0x7000_0000;
    steer(&mut t, &tcp(client, other, TCP_SYN, isn2, &[]), "SYN 2");
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, other, TCP_ACK, isn2 + 9, &[]),
            "unrelated ACK"
        ),
        steered(be, true, NOTHING)
    );
    assert_eq!(
        t.maps.pending_handshake(&key(client, other), isn2).unwrap(),
        Some(be)
    );

    // A reset answering the SYN-ACK completes the handshake (the backend
    // answered) but records nothing: the connection is over.
    let isn3 = 0x0000_fff0;
    steer(&mut t, &tcp(client, 40002, TCP_SYN, isn3, &[]), "SYN 3");
    assert_eq!(
        steer(&mut t, &tcp(client, 40002, TCP_RST, isn3 + 1, &[]), "reset"),
        steered(be, false, COMPLETION)
    );
    assert_eq!(t.maps.flow(&key(client, 40002)).unwrap(), None);
    assert_eq!(t.maps.cached_flow(&key(client, 40002)).unwrap(), None);

    // The totals, as the agent reads them.
    let s = t.maps.signals(be).unwrap();
    assert_eq!((s.syns, s.syn_retransmits, s.completions), (3, 2, 2));
}

/// The window between a SYN and its ACK: the ring changes (be3 joins and
/// takes the client), the handshake still completes on the SYN's backend,
/// and a retransmitted SYN follows it there too. The client's next
/// connection goes to the new ring's backend.
#[test]
fn the_ack_goes_where_its_syn_went_across_a_ring_change() {
    let mut t = dataplane(two_backends());
    let (client, before, after) = client_moved_by_be3(&mut t);
    let isn = 0xdead_beef;
    let syn = tcp(client, 41000, TCP_SYN, isn, &[]);
    assert_eq!(steer(&mut t, &syn, "SYN").backend, before);

    t.maps.apply_service(&service(three_backends())).unwrap();
    assert_eq!(ring_backend(&t, client), after);
    assert_eq!(
        steer(&mut t, &syn, "SYN retransmitted after the change"),
        steered(before, false, RETRANSMIT)
    );
    let seq = isn.wrapping_add(1);
    assert_eq!(
        steer(&mut t, &tcp(client, 41000, TCP_ACK, seq, &[]), "ACK"),
        steered(before, false, COMPLETION)
    );
    let data = tcp(client, 41000, TCP_ACK | TCP_PSH, seq, REQUEST);
    assert_eq!(steer(&mut t, &data, "request").backend, before);
    assert_eq!(
        t.maps
            .flow(&key(client, 41000))
            .unwrap()
            .unwrap()
            .backend_id,
        before
    );
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 41001, TCP_SYN, 5, &[]),
            "next connection"
        ),
        steered(after, true, SYN)
    );
}

/// A client closes a connection (its FIN passes the LB) and reuses the
/// port while the old connection is still in the flow table (and its
/// cache) from before a ring change: the new connection belongs where its
/// SYN goes, the current ring's backend, and neither the old entry nor its
/// copy may catch its ACK. (The SYN leaves the cache alone, for its cost;
/// the copy of a closing connection yields to a pending handshake that the
/// packet completes.)
#[test]
fn a_reused_port_starts_over_on_the_current_ring() {
    let mut t = dataplane(two_backends());
    let (client, before, after) = client_moved_by_be3(&mut t);
    let k = key(client, 42000);
    let old_isn = 100;
    steer(
        &mut t,
        &tcp(client, 42000, TCP_SYN, old_isn, &[]),
        "old SYN",
    );
    steer(
        &mut t,
        &tcp(client, 42000, TCP_ACK, old_isn + 1, &[]),
        "old ACK",
    );
    let old_data = tcp(client, 42000, TCP_ACK | TCP_PSH, old_isn + 1, REQUEST);
    assert_eq!(steer(&mut t, &old_data, "old request").backend, before);
    assert!(
        t.maps.cached_flow(&k).unwrap().is_some(),
        "the old flow is cached"
    );

    t.maps.apply_service(&service(three_backends())).unwrap();
    assert_eq!(
        steer(&mut t, &old_data, "old flow after the change").backend,
        before
    );

    let fin = tcp(client, 42000, TCP_ACK | TCP_FIN, old_isn + 1, &[]);
    assert_eq!(steer(&mut t, &fin, "old FIN").backend, before);

    let isn = 0x9000_0000;
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 42000, TCP_SYN, isn, &[]),
            "new SYN, same port"
        ),
        steered(after, true, SYN)
    );
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 42000, TCP_ACK, isn + 1, &[]),
            "new ACK"
        ),
        steered(after, false, COMPLETION)
    );
    let data = tcp(client, 42000, TCP_ACK | TCP_PSH, isn + 1, REQUEST);
    assert_eq!(steer(&mut t, &data, "new request").backend, after);
    assert_eq!(t.maps.flow(&k).unwrap().unwrap().backend_id, after);
}

/// In generic mode a connection's packets run on whichever CPU sent them:
/// the handshake table and the cache are shared, so a SYN on one CPU and
/// its ACK on another still complete on the SYN's backend (across a ring
/// change), and the flow's later packets agree on every CPU.
#[test]
fn a_handshake_split_over_two_cpus_completes_on_its_syns_backend() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(
        cpus >= 2,
        "this test needs two CPUs, the machine has {cpus}"
    );
    let mut t = dataplane(two_backends());
    let (client, before, after) = client_moved_by_be3(&mut t);
    let isn = 77;
    pin_to_cpu(0);
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 43000, TCP_SYN, isn, &[]),
            "SYN on CPU 0"
        )
        .backend,
        before
    );
    t.maps.apply_service(&service(three_backends())).unwrap();
    pin_to_cpu(1);
    assert_eq!(
        steer(
            &mut t,
            &tcp(client, 43000, TCP_ACK, isn + 1, &[]),
            "ACK on CPU 1"
        ),
        steered(before, false, COMPLETION)
    );
    let data = tcp(client, 43000, TCP_ACK | TCP_PSH, isn + 1, REQUEST);
    for i in 0..8 {
        pin_to_cpu(i % 2);
        assert_eq!(
            steer(&mut t, &data, &format!("request on CPU {}", i % 2)).backend,
            before
        );
    }
    assert_eq!(ring_backend(&t, client), after);
}

/// The flow table as user space writes it (issue 16 will sync entries
/// between LBs): a write takes effect on the next packet even for a flow
/// the program has cached, and removing an entry unpins the flow.
#[test]
fn user_space_flow_writes_take_effect_on_the_next_packet() {
    let mut t = dataplane(two_backends());
    let client = Ipv4Addr::new(198, 51, 100, 9);
    let be = ring_backend(&t, client);
    let other = 3 - be;
    let k = key(client, 44000);
    let data = tcp(client, 44000, TCP_ACK | TCP_PSH, 1, REQUEST);
    assert_eq!(steer(&mut t, &data, "first packet").backend, be);
    assert_eq!(steer(&mut t, &data, "cached").backend, be);
    let mut v = t.maps.cached_flow(&k).unwrap().expect("cached");

    v.backend_id = other;
    t.maps.set_flow(&k, &v).unwrap();
    assert_eq!(
        steer(&mut t, &data, "after the write"),
        steered(other, false, NOTHING)
    );
    assert_eq!(t.maps.cached_flow(&k).unwrap(), Some(v), "cached again");

    t.maps.remove_flow(&k).unwrap();
    assert_eq!(t.maps.cached_flow(&k).unwrap(), None);
    assert_eq!(
        steer(&mut t, &data, "after the removal"),
        steered(be, true, NOTHING),
        "unpinned: the ring picks again"
    );
}

/// The flow table opened apart from the agent's writer: changes the cache
/// is not told about, as another tool (bpftool) or the LRU makes them.
fn raw_flows(t: &TestDataplane) -> HashMap<MapData, FlowKey, FlowValue> {
    let data = MapData::from_pin(t.pin_dir().join("flows")).unwrap();
    Map::from_map_data(data).unwrap().try_into().unwrap()
}

/// The cache is checked against the flow table now and then (on a flow's
/// second packet and about every `FLOW_REFRESH_EVERY`th): an entry changed
/// behind the cache's back wins within that many packets, and an entry
/// that vanished while the flow was cached (evicted by the LRU) is
/// recorded again from the copy, on the backend the flow is on.
#[test]
fn the_cache_follows_the_flow_table_and_restores_an_evicted_entry() {
    // One CPU: the checks are paced by that CPU's count of packets.
    pin_to_cpu(0);
    let mut t = dataplane(two_backends());
    let client = Ipv4Addr::new(198, 51, 100, 11);
    let be = ring_backend(&t, client);
    let other = 3 - be;
    let k = key(client, 45000);
    let data = tcp(client, 45000, TCP_ACK | TCP_PSH, 1, REQUEST);
    steer(&mut t, &data, "first packet");
    steer(&mut t, &data, "second packet");
    let mut flows = raw_flows(&t);

    // Changed behind the cache: the copy serves until a check, then the
    // table's entry.
    let mut v = flows.get(&k, 0).unwrap();
    v.backend_id = other;
    flows.insert(k, v, 0).unwrap();
    let sent: Vec<u32> = (0..2 * FLOW_REFRESH_EVERY)
        .map(|i| steer(&mut t, &data, &format!("packet {i}")).backend)
        .collect();
    let switched = sent.iter().position(|b| *b == other).unwrap_or_else(|| {
        panic!(
            "the copy never followed the table in {} packets",
            sent.len()
        )
    });
    assert!(sent[..switched].iter().all(|b| *b == be), "{sent:?}");
    assert!(sent[switched..].iter().all(|b| *b == other), "{sent:?}");
    assert!(
        switched as u64 <= FLOW_REFRESH_EVERY,
        "after {switched} packets"
    );

    // Gone behind the cache: recorded again from the copy.
    flows.remove(&k).unwrap();
    for i in 0..=FLOW_REFRESH_EVERY {
        assert_eq!(steer(&mut t, &data, &format!("packet {i}")).backend, other);
    }
    assert_eq!(
        t.maps.flow(&k).unwrap().map(|v| v.backend_id),
        Some(other),
        "the entry is back, with the flow's backend"
    );
}
