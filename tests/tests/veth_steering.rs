//! The program attached to a veth in a namespace lab steers real TCP
//! connections: client -> VIP:5000 reaches the backend the ring chooses,
//! which answers the client directly (L2 direct server return).
//!
//! The LB attaches in generic (SKB) mode: on veth, native XDP_TX frames are
//! dropped unless the peer runs an XDP program too, and locally generated
//! TCP with checksum offload arrives with a bad checksum after native
//! XDP_TX. Real NICs with native XDP have neither problem.

use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use aya::programs::XdpMode;
use regha_agent::dataplane::{BackendSpec, BackendState, HashMode, Protocol, ServiceSpec};
use regha_common::{addr_from_v4, hash};
use regha_tests::{
    dataplane::TestDataplane,
    lab::{HOST_IFACE, Switch},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

/// Answers every connection on :5000 with `name`, until `stop`.
fn serve(name: &'static str, stop: Arc<AtomicBool>) -> impl FnOnce() + Send + 'static {
    move || {
        let l = TcpListener::bind("0.0.0.0:5000").expect("bind :5000 in the backend");
        l.set_nonblocking(true).unwrap();
        while !stop.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 64];
                    let n = s.read(&mut buf).unwrap_or(0);
                    let _ = s.write_all(format!("{name} got {n}").as_bytes());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

/// Connects from `src` to VIP:5000 and returns the backend's answer.
fn ask(src: Ipv4Addr) -> String {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(IpAddr::V4(src), 0).into())
        .unwrap();
    sock.connect_timeout(
        &SocketAddr::new(IpAddr::V4(VIP), 5000).into(),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("connect {src} -> {VIP}:5000: {e}"));
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"hello").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn real_tcp_connections_are_steered_through_a_veth() {
    regha_tests::require_root();
    let sw = Switch::new();
    let client = sw.plug("client", Ipv4Addr::new(192, 0, 2, 1), [2, 0, 0, 0, 0, 0x01]);
    let lb = sw.plug("lb", Ipv4Addr::new(192, 0, 2, 2), [2, 0, 0, 0, 0, 0x02]);
    let be1 = sw.plug("be1", Ipv4Addr::new(192, 0, 2, 11), [2, 0, 0, 0, 0, 0x11]);
    let be2 = sw.plug("be2", Ipv4Addr::new(192, 0, 2, 12), [2, 0, 0, 0, 0, 0x12]);
    // The LB owns the VIP on the wire (it answers ARP for it); backends hold
    // it on lo for DSR.
    lb.ns
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", HOST_IFACE]);
    be1.dsr_backend(VIP);
    be2.dsr_backend(VIP);
    // More client sources, to see the source hash spread them.
    let sources: Vec<Ipv4Addr> = (20..36).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect();
    for s in &sources {
        client
            .ns
            .ip(&["addr", "add", &format!("{s}/24"), "dev", HOST_IFACE]);
    }

    let mut t = TestDataplane::load_with(lb.mac, 4096);
    let spec = ServiceSpec {
        id: 0,
        vip: IpAddr::V4(VIP),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 42,
        ring_size: 65537,
        backends: vec![
            BackendSpec {
                id: 1,
                addr: IpAddr::V4(be1.ip),
                port: 5000,
                mac: be1.mac,
                weight: 1,
                state: BackendState::Up,
            },
            BackendSpec {
                id: 2,
                addr: IpAddr::V4(be2.ip),
                port: 5000,
                mac: be2.mac,
                weight: 1,
                state: BackendState::Up,
            },
        ],
    };
    t.maps.apply_service(&spec).unwrap();
    lb.ns
        .run(|| t.dataplane.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap_or_else(|e| panic!("attach: {e}"));
    assert!(t.pin_dir().join("link").exists(), "the link is pinned");

    let stop = Arc::new(AtomicBool::new(false));
    let s1 = be1.ns.spawn(serve("be1", stop.clone()));
    let s2 = be2.ns.spawn(serve("be2", stop.clone()));
    std::thread::sleep(Duration::from_millis(100));

    let ring = t.maps.ring(0).unwrap().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let answers = client.ns.run(|| {
        sources
            .iter()
            .map(|s| (*s, ask(*s), ask(*s)))
            .collect::<Vec<_>>()
    });
    for (src, a1, a2) in answers {
        let want = ring
            [(hash::hash_source(&addr_from_v4(src.octets()), spec.seed) % spec.ring_size) as usize];
        let name = if want == 1 { "be1" } else { "be2" };
        assert_eq!(
            a1,
            format!("{name} got 5"),
            "client {src} reached the wrong backend"
        );
        assert_eq!(a2, a1, "client {src}: a second connection moved");
        seen.insert(name);
    }
    assert_eq!(seen.len(), 2, "16 clients all went to one backend");
    let c1 = t.maps.backend_counters(1).unwrap();
    let c2 = t.maps.backend_counters(2).unwrap();
    assert!(
        c1.packets > 0 && c2.packets > 0,
        "both backends counted: {c1:?} {c2:?}"
    );
    assert_eq!(
        c1.new_flows + c2.new_flows,
        t.maps.service_counters(0).unwrap().new_flows
    );

    stop.store(true, Ordering::Relaxed);
    s1.join().unwrap();
    s2.join().unwrap();
}
