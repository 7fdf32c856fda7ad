//! `regha-agent explain` against the flows the program itself steered:
//! real packets (SYN, the handshake's ACK, data) through BPF_PROG_TEST_RUN,
//! then the answer read from the same pins must name the backend the
//! program chose, for a source-hashed and a 5-tuple-hashed service, and
//! after a ring change that moves a client, must say that an established
//! connection stays where its flow entry pins it while a new one follows
//! the ring. The CLI is run once against the pins too.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
};

use regha_agent::{
    dataplane::{BackendSpec, ServiceSpec},
    explain::{Explanation, Outcome, Query, ServiceAnswer, ServiceFilter, Via, read},
};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction},
    packet::{Frame, TCP_ACK, TCP_PSH, TCP_SYN},
    tempdir::TempDir,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The source-hashed service's port, and the 5-tuple-hashed one's.
const SOURCE_PORT: u16 = 5000;
const FLOW_PORT: u16 = 6000;
const SEED: u32 = 0x5eed;
const RING: u32 = 4099;
const REQUEST: &[u8] = b"GET /v2/ HTTP/1.1\r\n\r\n";

fn backend(id: u32) -> BackendSpec {
    BackendSpec {
        id,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + id as u8)),
        port: 5000,
        mac: [0x02, 0xbe, 0, 0, 0, id as u8],
        weight: 1,
        state: BackendState::Up,
    }
}

/// Service 0 (`VIP:5000`, source hash) on backends 1 and 2 (and 5 when
/// `grown`); service 1 (`VIP:6000`, 5-tuple hash) on 3 and 4 (and 6).
fn services(grown: bool) -> [ServiceSpec; 2] {
    let source = ServiceSpec {
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(VIP),
        port: SOURCE_PORT,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: SEED,
        ring_size: RING,
        backends: [1, 2]
            .into_iter()
            .chain(grown.then_some(5))
            .map(backend)
            .collect(),
    };
    let flow = ServiceSpec {
        allow: Vec::new(),
        id: 1,
        port: FLOW_PORT,
        hash: HashMode::Flow,
        backends: [3, 4]
            .into_iter()
            .chain(grown.then_some(6))
            .map(backend)
            .collect(),
        ..source.clone()
    };
    [source, flow]
}

fn provision(t: &mut TestDataplane, grown: bool) {
    for s in services(grown) {
        t.maps.apply_service(&s).unwrap();
    }
}

/// Runs one packet; the backend it was sent to (by its destination MAC).
fn steer(t: &mut TestDataplane, frame: &Frame) -> u32 {
    let (action, out) = t.run(&frame.bytes());
    assert_eq!(action, XdpAction::Tx as u32, "{frame:?} not forwarded");
    assert_eq!(out[..5], [0x02, 0xbe, 0, 0, 0], "not a backend's MAC");
    u32::from(out[5])
}

fn tcp(client: Ipv4Addr, sport: u16, dport: u16, flags: u8, seq: u32) -> Frame {
    Frame::tcp4(client, sport, VIP, dport, flags).with_seq(seq)
}

/// A whole connection's start: SYN, the handshake's ACK, a request. The
/// backend all three went to.
fn connect(t: &mut TestDataplane, client: Ipv4Addr, sport: u16, dport: u16) -> u32 {
    let isn = 0x4000_0000 ^ u32::from(sport);
    let syn = steer(t, &tcp(client, sport, dport, TCP_SYN, isn));
    let ack = steer(t, &tcp(client, sport, dport, TCP_ACK, isn + 1));
    let data = steer(
        t,
        &tcp(client, sport, dport, TCP_ACK | TCP_PSH, isn + 1).with_payload(REQUEST),
    );
    assert_eq!((ack, data), (syn, syn), "one connection, one backend");
    syn
}

/// A packet of an established connection (its data).
fn data(t: &mut TestDataplane, client: Ipv4Addr, sport: u16, dport: u16) -> u32 {
    steer(
        t,
        &tcp(client, sport, dport, TCP_ACK | TCP_PSH, 0x7000_0000).with_payload(REQUEST),
    )
}

/// `explain` on the test's pins, about one service.
fn explain(t: &TestDataplane, client: Ipv4Addr, port: Option<u16>, dport: u16) -> ServiceAnswer {
    let q = Query {
        client: IpAddr::V4(client),
        port,
        service: Some(ServiceFilter::Address {
            vip: IpAddr::V4(VIP),
            port: dport,
            protocol: None,
        }),
    };
    let mut x = read::from_pins(t.pin_dir(), None, &q).unwrap_or_else(|e| panic!("explain: {e}"));
    assert_eq!(x.services.len(), 1);
    x.services.remove(0)
}

fn forward(backend: u32, via: Via) -> Option<Outcome> {
    Some(Outcome::Forward { backend, via })
}

#[test]
fn explain_names_the_backend_the_program_chose() {
    let mut t = TestDataplane::load();
    provision(&mut t, false);
    let mut seen = BTreeMap::<(u16, u32), u32>::new();
    for i in 1..=24u8 {
        let client = Ipv4Addr::new(198, 51, 100, i);
        let sport = 40000 + u16::from(i);
        for dport in [SOURCE_PORT, FLOW_PORT] {
            // Before any packet: the ring's answer, which the SYN follows.
            let before = explain(&t, client, Some(sport), dport);
            assert_eq!(
                (before.flow.as_ref(), before.flow_cache.as_ref()),
                (None, None)
            );
            let be = connect(&mut t, client, sport, dport);
            *seen.entry((dport, be)).or_default() += 1;
            assert_eq!(
                before.new_connection.backend(),
                Some(be),
                "{client} :{dport}"
            );
            assert_eq!(before.ring_backend.as_ref().map(|b| b.id), Some(be));

            let after = explain(&t, client, Some(sport), dport);
            assert_eq!(after.new_connection.backend(), Some(be));
            let flow = after.flow.as_ref().expect("the ACK recorded the flow");
            let copy = after.flow_cache.as_ref().expect("and cached it");
            assert_eq!((flow.backend.id, flow.trusted), (be, true));
            assert_eq!((copy.backend.id, copy.trusted), (be, true));
            assert_eq!(copy.closing, Some(false));
            assert_eq!(after.established, forward(be, Via::FlowCache));
            assert_eq!(data(&mut t, client, sport, dport), be);
            let mac = [0x02, 0xbe, 0, 0, 0, be as u8];
            assert_eq!(flow.backend.mac.0, mac);
            assert_eq!(
                flow.backend.address.map(|a| a.to_string()),
                Some(format!("192.0.2.{}:5000", 10 + be))
            );

            if dport == SOURCE_PORT {
                // The source hash needs no port, and another port of the
                // client goes to the same backend.
                let no_port = explain(&t, client, None, dport);
                assert_eq!(no_port.hash, HashMode::Source);
                assert_eq!(no_port.new_connection.backend(), Some(be));
                assert_eq!(no_port.established, None);
                assert_eq!(connect(&mut t, client, sport + 1000, dport), be);
            } else {
                assert_eq!(after.hash, HashMode::Flow);
            }
        }
    }
    // Both backends of both services were exercised.
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        vec![
            (SOURCE_PORT, 1),
            (SOURCE_PORT, 2),
            (FLOW_PORT, 3),
            (FLOW_PORT, 4)
        ],
        "{seen:?}"
    );
}

#[test]
fn after_a_ring_change_the_flow_entry_wins_over_the_ring() {
    let mut t = TestDataplane::load();
    provision(&mut t, false);
    // Connections from many clients, on both services.
    let mut conns = Vec::new();
    for i in 1..=64u8 {
        let client = Ipv4Addr::new(203, 0, 113, i);
        let sport = 41000 + u16::from(i);
        for dport in [SOURCE_PORT, FLOW_PORT] {
            conns.push((client, sport, dport, connect(&mut t, client, sport, dport)));
        }
    }
    // A backend added to each service: its ring moves some clients.
    provision(&mut t, true);
    let mut moved = BTreeMap::<u16, u32>::new();
    for &(client, sport, dport, was) in &conns {
        let x = explain(&t, client, Some(sport), dport);
        let ring = x.ring_backend.as_ref().unwrap().id;
        assert_eq!(x.new_connection.backend(), Some(ring));
        // The established connection stays (the program agrees) ...
        // (from its cached copy, or from the flow table if another
        // connection took its cache slot since).
        assert!(
            x.established == forward(was, Via::FlowCache)
                || x.established == forward(was, Via::FlowTable),
            "{client}:{sport} -> :{dport}: {:?}, was on {was}",
            x.established
        );
        assert!(x.flow.as_ref().unwrap().trusted);
        assert_eq!(data(&mut t, client, sport, dport), was);
        if ring != was {
            *moved.entry(dport).or_default() += 1;
            // ... while a new connection follows the new ring: the same
            // client and port for the source hash; for the 5-tuple hash the
            // answer for another port, asked before connecting.
            let new_port = sport + 2000;
            let fresh = explain(&t, client, Some(new_port), dport);
            let want = fresh.new_connection.backend().unwrap();
            assert_eq!(connect(&mut t, client, new_port, dport), want);
            if dport == SOURCE_PORT {
                assert_eq!(want, ring);
            }
        }
    }
    assert!(
        moved.get(&SOURCE_PORT).is_some_and(|n| *n > 0)
            && moved.get(&FLOW_PORT).is_some_and(|n| *n > 0),
        "adding a backend moved no client of some service: {moved:?}"
    );

    // A re-created service (a new generation) no longer trusts the entries
    // of the old one: explain says so, and the program re-hashes.
    let (client, sport, dport, was) = conns[0];
    t.maps.remove_service(&services(true)[0]).unwrap();
    t.maps.apply_service(&services(true)[0]).unwrap();
    let x = explain(&t, client, Some(sport), dport);
    let flow = x.flow.as_ref().unwrap();
    assert!(
        !flow.trusted && flow.current_gen != flow.service_gen,
        "{flow:?}"
    );
    let ring = x.ring_backend.as_ref().unwrap().id;
    assert_eq!(x.established, forward(ring, Via::Ring), "was on {was}");
    assert_eq!(data(&mut t, client, sport, dport), ring);
}

#[test]
fn the_cli_answers_as_the_library_does() {
    let mut t = TestDataplane::load();
    provision(&mut t, false);
    let client = Ipv4Addr::new(198, 51, 100, 7);
    let be = connect(&mut t, client, 40007, SOURCE_PORT);
    let state = TempDir::new("explain-state");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(regha_tests::agent::agent_bin())
            .arg("--bpffs-root")
            .arg(t.pin_dir().parent().unwrap())
            .arg("--iface")
            .arg(t.pin_dir().file_name().unwrap())
            .arg("--state-dir")
            .arg(state.path())
            .arg("explain")
            .args(extra)
            .output()
            .expect("run regha-agent explain");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, json, err) = run(&["198.51.100.7", "--port", "40007", "--json"]);
    assert!(ok, "explain --json: {err}");
    let q = Query {
        client: IpAddr::V4(client),
        port: Some(40007),
        service: None,
    };
    let lib: Explanation = read::from_pins(t.pin_dir(), None, &q).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        serde_json::to_value(&lib).unwrap()
    );
    assert_eq!(lib.services[0].established, forward(be, Via::FlowCache));

    let (ok, text, err) = run(&["198.51.100.7", "--port", "40007"]);
    assert!(ok, "explain: {err}");
    eprintln!("{text}");
    assert!(
        text.contains(&format!(
            "next packet:     backend {be} (the flow cache's copy)"
        )),
        "{text}"
    );

    // The flow-hashed service without a port: a clear refusal.
    let (ok, _, err) = run(&["198.51.100.7", "--service", "192.0.2.100:6000"]);
    assert!(!ok);
    assert!(
        err.contains("hashes the 5-tuple") && err.contains("--port"),
        "{err}"
    );
    // An interface with no pins.
    let out = std::process::Command::new(regha_tests::agent::agent_bin())
        .args([
            "--bpffs-root",
            "/nonexistent",
            "--iface",
            "eth9",
            "explain",
            "192.0.2.1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Is the agent running on eth9"),
        "{err}"
    );
}
