//! An agent meeting pins made by another layout: compatible pins are adopted
//! with their contents; a pin of another shape or layout is detected,
//! replaced by a new map, and never reused; and the program keeps steering
//! through the pinned link across the replacement.
//!
//! The "other layout" is made by hand, as a later release would make it: a
//! map of another value size (counters that grew a field) pinned at the
//! map's path, a flow table of another size, a layout record of a newer
//! version.

use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use aya::{
    maps::{Array, Map, MapData, MapInfo, PerCpuArray},
    programs::XdpMode,
};
use regha_agent::dataplane::{
    BackendSpec, Dataplane, STAGING_DIR, ServiceSpec,
    layout::{Fate, LayoutPlan},
};
use regha_common::{
    FlowKey, MAX_BACKENDS, Reason,
    layout::{LAYOUT_PIN, LAYOUT_VERSION},
    map_names as m,
};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction, link_prog_id, test_run},
    lab::{HOST_IFACE, Switch},
    packet::{DEFAULT_SEQ, Frame, TCP_ACK, TCP_SYN},
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const BE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const FLOWS: u32 = 4096;

fn service(be_mac: [u8; 6]) -> ServiceSpec {
    ServiceSpec {
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(VIP),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 7,
        ring_size: 13,
        backends: vec![BackendSpec {
            id: 1,
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)),
            port: 5000,
            mac: be_mac,
            weight: 1,
            state: BackendState::Up,
        }],
    }
}

fn syn() -> Vec<u8> {
    Frame::tcp4(CLIENT, 40000, VIP, 5000, TCP_SYN).bytes()
}

/// The ACK completing `syn()`'s handshake (its sequence number plus one).
fn ack() -> Vec<u8> {
    Frame::tcp4(CLIENT, 40000, VIP, 5000, TCP_ACK)
        .with_seq(DEFAULT_SEQ + 1)
        .bytes()
}

/// The flow-table key of `syn()`/`ack()`.
fn flow_key() -> FlowKey {
    let mut key = FlowKey {
        sport: 40000,
        dport: 5000,
        proto: 6,
        family: 4,
        ..FlowKey::default()
    };
    key.src[..4].copy_from_slice(&CLIENT.octets());
    key.dst[..4].copy_from_slice(&VIP.octets());
    key
}

/// Opens the connection as a client does: the SYN, then the ACK that
/// completes the handshake and records the flow.
fn open(dp: &mut Dataplane, what: &str) {
    assert_steers(dp, &syn(), &format!("{what}: SYN"));
    assert_steers(dp, &ack(), &format!("{what}: ACK"));
}

/// A packet through `dp` is sent to the backend: XDP_TX to its MAC.
fn assert_steers(dp: &mut Dataplane, packet: &[u8], what: &str) {
    let (action, out) = test_run(dp.program(), packet);
    assert_eq!(action, XdpAction::Tx as u32, "{what}: not transmitted");
    assert_eq!(&out[..6], &BE_MAC, "{what}: not to the backend");
}

fn fates(plan: &LayoutPlan) -> Vec<(&'static str, Fate)> {
    plan.maps
        .iter()
        .filter(|p| p.fate != Fate::Adopt)
        .map(|p| (p.map.name, p.fate))
        .collect()
}

fn record(pin_dir: &Path) -> u32 {
    let map = Map::from_map_data(MapData::from_pin(pin_dir.join(LAYOUT_PIN)).unwrap()).unwrap();
    let a: Array<MapData, u32> = map.try_into().unwrap();
    a.get(&0, 0).unwrap()
}

fn set_record(pin_dir: &Path, version: u32) {
    let map = Map::from_map_data(MapData::from_pin(pin_dir.join(LAYOUT_PIN)).unwrap()).unwrap();
    let mut a: Array<MapData, u32> = map.try_into().unwrap();
    a.set(0, version, 0).unwrap();
}

/// Pins, at `backend_stats`, per-backend counters of a later layout: one
/// more field than `Counters` (32 bytes instead of 24). The map the loaded
/// program uses stays alive (the program holds it); only the pin changes.
fn pin_wider_backend_stats(pin_dir: &Path) {
    let path = pin_dir.join("backend_stats");
    std::fs::remove_file(&path).unwrap();
    PerCpuArray::<MapData, [u64; 4]>::create(MAX_BACKENDS, 0)
        .unwrap()
        .pin(&path)
        .unwrap();
    assert_eq!(MapInfo::from_pin(&path).unwrap().value_size(), 32);
}

#[test]
fn compatible_pins_are_adopted_with_their_contents() {
    let mut first = TestDataplane::load();
    assert_eq!(first.dataplane.layout().pinned, None, "a fresh directory");
    assert_eq!(record(first.pin_dir()), LAYOUT_VERSION);
    first.maps.apply_service(&service(BE_MAC)).unwrap();
    open(&mut first.dataplane, "first program");
    // A crashed replacement's leftovers: cleared, never adopted.
    let staging = first.pin_dir().join(STAGING_DIR);
    std::fs::create_dir(&staging).unwrap();
    PerCpuArray::<MapData, u64>::create(1, 0)
        .unwrap()
        .pin(staging.join("reasons"))
        .unwrap();

    let mut second = Dataplane::load(&first.options(FLOWS)).unwrap();
    let plan = second.layout().clone();
    assert!(plan.compatible(), "{plan}");
    assert_eq!(plan.pinned, Some(LAYOUT_VERSION));
    assert!(!staging.exists(), "the stale staging directory is gone");
    // The same maps: the flow the first program recorded, its counters.
    let maps = second.maps().unwrap();
    assert_eq!(maps.flow(&flow_key()).unwrap().unwrap().backend_id, 1);
    assert_eq!(maps.backend_counters(1).unwrap().packets, 2);
    assert_steers(
        &mut second,
        &ack(),
        "second program, on the first one's flow",
    );
    assert_eq!(first.maps.backend_counters(1).unwrap().packets, 3);
}

#[test]
fn a_pin_of_another_value_size_is_replaced_and_the_others_adopted() {
    let mut first = TestDataplane::load();
    first.maps.apply_service(&service(BE_MAC)).unwrap();
    open(&mut first.dataplane, "first program");
    pin_wider_backend_stats(first.pin_dir());

    let mut second = Dataplane::load(&first.options(FLOWS)).unwrap();
    let plan = second.layout().clone();
    assert_eq!(fates(&plan), vec![(m::BACKEND_STATS, Fate::Fresh)]);
    assert_eq!(
        plan.to_string(),
        "BACKEND_STATS (value size 32 -> 24): replaced empty"
    );
    // No link: nothing steers through the old pins, so the new map took
    // the pin at once, and the record says the pins are this layout.
    let dir = first.pin_dir();
    assert_eq!(
        MapInfo::from_pin(dir.join("backend_stats"))
            .unwrap()
            .value_size(),
        24
    );
    assert!(!dir.join(STAGING_DIR).exists());
    assert_eq!(record(dir), LAYOUT_VERSION);
    // Services, rings, backends and flows were adopted: the new program
    // steers the established flow at once, and counts in the new map.
    assert_steers(&mut second, &ack(), "second program");
    let maps = second.maps().unwrap();
    assert_eq!(maps.backend_counters(1).unwrap().packets, 1);
    assert_eq!(maps.service_counters(0).unwrap().packets, 3);
}

#[test]
fn a_resized_flow_table_is_copied_into_one_of_the_new_size() {
    let mut first = TestDataplane::load_with(regha_tests::dataplane::LB_MAC, FLOWS);
    first.maps.apply_service(&service(BE_MAC)).unwrap();
    open(&mut first.dataplane, "first program");

    let mut second = Dataplane::load(&first.options(2 * FLOWS)).unwrap();
    assert_eq!(fates(second.layout()), vec![(m::FLOWS, Fate::Copy)]);
    let flows = first.pin_dir().join("flows");
    assert_eq!(MapInfo::from_pin(&flows).unwrap().max_entries(), 2 * FLOWS);
    let maps = second.maps().unwrap();
    assert_eq!(maps.flow(&flow_key()).unwrap().unwrap().backend_id, 1);
    assert_steers(&mut second, &ack(), "second program");
    assert_eq!(
        maps.service_counters(0).unwrap().new_flows,
        1,
        "a hit, not a new flow"
    );
}

#[test]
fn pins_of_a_newer_layout_are_replaced_whole() {
    let mut first = TestDataplane::load();
    first.maps.apply_service(&service(BE_MAC)).unwrap();
    open(&mut first.dataplane, "first program");
    set_record(first.pin_dir(), LAYOUT_VERSION + 1);

    let mut second = Dataplane::load(&first.options(FLOWS)).unwrap();
    let plan = second.layout().clone();
    assert!(plan.maps.iter().all(|p| p.fate == Fate::Fresh), "{plan}");
    assert_eq!(record(first.pin_dir()), LAYOUT_VERSION);
    // Nothing of the newer layout was trusted: no service until the agent
    // writes one.
    let (action, _) = test_run(second.program(), &syn());
    assert_eq!(action, XdpAction::Pass as u32);
    let maps = second.maps().unwrap();
    assert_eq!(maps.reason_count(Reason::NotService).unwrap(), 1);
    assert!(maps.service_entries().unwrap().is_empty());
}

// ---- through a pinned link, under traffic -------------------------------

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
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

/// One connection to VIP:5000: the backend's answer, or why there was none.
fn ask() -> Result<String, String> {
    let mut s = std::net::TcpStream::connect_timeout(
        &SocketAddr::new(IpAddr::V4(VIP), 5000),
        Duration::from_secs(3),
    )
    .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"hello").map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    Ok(out)
}

/// The upgrade as operators see it: the first agent's program steers real
/// connections through the pinned link; a second agent finds one map of
/// another layout, replaces it and the program behind the link while a
/// client keeps connecting, and not one connection fails or goes astray.
#[test]
fn a_replacement_behind_the_link_keeps_steering_under_traffic() {
    regha_tests::require_root();
    let sw = Switch::new();
    let client = sw.plug("client", CLIENT, [2, 0, 0, 0, 0, 0x01]);
    let lb = sw.plug("lb", Ipv4Addr::new(192, 0, 2, 2), [2, 0, 0, 0, 0, 0x02]);
    let be = sw.plug("be1", Ipv4Addr::new(192, 0, 2, 11), BE_MAC);
    lb.ns
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", HOST_IFACE]);
    be.dsr_backend(IpAddr::V4(VIP));
    let stop = Arc::new(AtomicBool::new(false));
    let server = be.ns.spawn(serve("be1", stop.clone()));
    std::thread::sleep(Duration::from_millis(100));

    let mut first = TestDataplane::load_with(lb.mac, FLOWS);
    first.maps.apply_service(&service(be.mac)).unwrap();
    // Generic mode on veth (see veth_steering.rs).
    lb.ns
        .run(|| first.dataplane.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap_or_else(|e| panic!("attach: {e}"));
    let link = first.pin_dir().join("link");
    let prog_before = link_prog_id(&link);
    assert_eq!(client.ns.run(ask), Ok("be1 got 5".into()));
    pin_wider_backend_stats(first.pin_dir());

    // The client connects over and over while the second agent loads.
    let connecting = Arc::new(AtomicBool::new(true));
    let traffic = {
        let connecting = connecting.clone();
        client.ns.spawn(move || {
            let mut answers = Vec::new();
            while connecting.load(Ordering::Relaxed) || answers.len() < 20 {
                answers.push(ask());
            }
            answers
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let mut second = Dataplane::load(&first.options(FLOWS)).unwrap();
    assert_eq!(
        fates(second.layout()),
        vec![(m::BACKEND_STATS, Fate::Fresh)]
    );
    // Until the new program runs, the old pin stays: the old program counts
    // through it.
    let stats = first.pin_dir().join("backend_stats");
    assert_eq!(MapInfo::from_pin(&stats).unwrap().value_size(), 32);
    assert!(
        first
            .pin_dir()
            .join(STAGING_DIR)
            .join("backend_stats")
            .exists()
    );
    lb.ns
        .run(|| second.attach(HOST_IFACE, XdpMode::Skb))
        .unwrap_or_else(|e| panic!("replace behind the link: {e}"));
    assert_ne!(
        link_prog_id(&link),
        prog_before,
        "the link runs the new program"
    );
    assert_eq!(MapInfo::from_pin(&stats).unwrap().value_size(), 24);
    assert!(!first.pin_dir().join(STAGING_DIR).exists());
    assert_eq!(record(first.pin_dir()), LAYOUT_VERSION);
    std::thread::sleep(Duration::from_millis(300));
    connecting.store(false, Ordering::Relaxed);
    let answers = traffic.join().unwrap();
    eprintln!("{} connections across the replacement", answers.len());
    let failed: Vec<_> = answers
        .iter()
        .filter(|a| a.as_deref() != Ok("be1 got 5"))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} connections failed across the replacement: {failed:?}",
        failed.len(),
        answers.len()
    );
    // The new program counts in the new map.
    let after = client.ns.run(ask);
    assert_eq!(after, Ok("be1 got 5".into()));
    let counters = second.maps().unwrap().backend_counters(1).unwrap();
    assert!(counters.packets > 0, "{counters:?}");

    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    drop(second);
    drop(first);
}
