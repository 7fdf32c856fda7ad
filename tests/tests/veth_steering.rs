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
    thread::JoinHandle,
    time::Duration,
};

use aya::programs::XdpMode;
use regha_agent::dataplane::{BackendSpec, Dataplane, DataplaneOptions, ServiceSpec};
use regha_common::{addr_from_v4, hash};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, link_prog_id},
    lab::{HOST_IFACE, Host, Lab, LabSpec, VIP},
};

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

/// The lab without an agent: client1 with sixteen source addresses, lb1
/// holding the VIP on the wire (it answers ARP for it) with a dataplane the
/// test loads, and be1 and be2 (VIP on lo, DSR) serving :5000 from
/// threads.
struct Steering {
    /// Stopped first (field order): threads in the backends' namespaces,
    /// like processes, go before the namespaces.
    _servers: Servers,
    lab: Lab,
}

/// The server threads on the backends, stopped and joined on drop.
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Steering {
    fn new() -> Self {
        let lab = LabSpec::bare(1).bare_backends(2).sources(20, 16).build();
        lab.lbs[0].add_address(IpAddr::V4(VIP), 32);
        let stop = Arc::new(AtomicBool::new(false));
        let servers = Servers {
            threads: vec![
                lab.backends[0].ns.spawn(serve("be1", stop.clone())),
                lab.backends[1].ns.spawn(serve("be2", stop.clone())),
            ],
            stop,
        };
        std::thread::sleep(Duration::from_millis(100));
        Self {
            _servers: servers,
            lab,
        }
    }

    fn lb(&self) -> &Host {
        &self.lab.lbs[0]
    }

    fn service(&self) -> ServiceSpec {
        let backend = |id, h: &Host| BackendSpec {
            id,
            addr: IpAddr::V4(h.ip),
            port: 5000,
            mac: h.mac,
            weight: 1,
            state: BackendState::Up,
        };
        ServiceSpec {
            allow: Vec::new(),
            id: 0,
            vip: IpAddr::V4(VIP),
            port: 5000,
            protocol: Protocol::Tcp,
            hash: HashMode::Source,
            seed: 42,
            ring_size: 65537,
            backends: vec![
                backend(1, &self.lab.backends[0]),
                backend(2, &self.lab.backends[1]),
            ],
        }
    }

    /// Two connections from every source; checks each reached the backend
    /// the ring names. Returns the backends seen.
    fn check_all(
        &self,
        t: &TestDataplane,
        spec: &ServiceSpec,
    ) -> std::collections::BTreeSet<&'static str> {
        let ring = t.maps.ring(spec.id).unwrap().unwrap();
        let sources = self.lab.sources.clone();
        let answers = self.lab.clients[0].ns.run(move || {
            sources
                .iter()
                .map(|s| (*s, ask(*s), ask(*s)))
                .collect::<Vec<_>>()
        });
        let mut seen = std::collections::BTreeSet::new();
        for (src, a1, a2) in answers {
            let slot = hash::hash_source(&addr_from_v4(src.octets()), spec.seed) % spec.ring_size;
            let name = if ring[slot as usize] == 1 {
                "be1"
            } else {
                "be2"
            };
            assert_eq!(
                a1,
                format!("{name} got 5"),
                "client {src} reached the wrong backend"
            );
            assert_eq!(a2, a1, "client {src}: a second connection moved");
            seen.insert(name);
        }
        seen
    }
}

#[test]
fn real_tcp_connections_are_steered_through_a_veth() {
    let lab = Steering::new();
    let mut t = TestDataplane::load_with(lab.lb().mac, 4096);
    let spec = lab.service();
    t.maps.apply_service(&spec).unwrap();
    lab.lb()
        .ns
        .run(|| t.dataplane.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap_or_else(|e| panic!("attach: {e}"));
    assert!(t.pin_dir().join("link").exists(), "the link is pinned");

    let seen = lab.check_all(&t, &spec);
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
}

/// An agent restart or upgrade: a second load from the same pins reuses the
/// maps (services, rings, flows survive) and replaces the program behind the
/// pinned link in one step; the first program's process state can go away
/// without unsteering anything.
#[test]
fn a_second_load_adopts_the_pins_and_replaces_the_program() {
    let lab = Steering::new();
    let mut first = TestDataplane::load_with(lab.lb().mac, 4096);
    let spec = lab.service();
    first.maps.apply_service(&spec).unwrap();
    lab.lb()
        .ns
        .run(|| first.dataplane.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap();
    let link = first.pin_dir().join("link");
    let prog_before = link_prog_id(&link);
    lab.check_all(&first, &spec);
    let flows_before = first.maps.service_counters(0).unwrap().new_flows;

    let opts = DataplaneOptions {
        pin_dir: first.pin_dir().to_owned(),
        iface_mac: lab.lb().mac,
        flow_table_size: 4096,
    };
    let mut second = Dataplane::load(&opts).unwrap();
    lab.lb()
        .ns
        .run(|| second.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap();
    assert_ne!(
        link_prog_id(&link),
        prog_before,
        "the link now runs the new program"
    );
    // The new loader's handles go away too (the new agent crashes): the
    // pinned link keeps its program running, steering with the same maps,
    // with no re-provisioning.
    drop(second);
    let seen = lab.check_all(&first, &spec);
    assert_eq!(seen.len(), 2);
    // 16 sources x 2 connections, each a SYN: 32 more new flows, counted on
    // top of the first program's 32 in the same (pinned) counters.
    assert_eq!(flows_before, 32);
    assert_eq!(first.maps.service_counters(0).unwrap().new_flows, 64);
}
