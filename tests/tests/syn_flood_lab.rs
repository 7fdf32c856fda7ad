//! A SYN flood on the lab (issue 13): idle keep-alive connections and a
//! big push through the VIP, a bounded flood of SYNs from spoofed TEST-NET
//! sources sent from the other client's namespace straight at the master's
//! MAC (three times the size of the LBs' flow table), then a reload that
//! adds a backend and so moves some of those clients' slots. Every idle
//! connection's next request reaches the backend it was on (the backends'
//! own sockets say so), the push completes, and the image pulled back
//! matches its digests.
//!
//! Before issue 13 every SYN inserted into the flow table, and idle flows
//! survived a flood by the kernel LRU's second chance; now a SYN writes
//! one word of the handshake table and never touches the flow table.
//! `REGHA_LAB_BIG_LAYER_MIB` sets the push's size (default 200).

use std::{net::IpAddr, time::Duration};

use regha_tests::{
    client::KeepAlive,
    lab::{self, Lab, LabSpec, capture::send_frames, flood, vip_port},
};

const COPY_LIMIT: Duration = Duration::from_secs(300);
/// The LBs' flow table: small, so that the flood is three times its size
/// (a flood that inserted on every SYN would cycle it through).
const FLOW_TABLE: u32 = 16_384;
/// SYNs in the flood: bounded (each costs the lab's whole path, tens of
/// microseconds here), three times the flow table and the handshake table.
const FLOOD: u32 = 50_000;
/// The push's rate while the flood runs: 200 MiB take at least 16 s.
const PUSH_MBIT: u32 = 100;

/// The SYNs the master's dataplane counted as new connection attempts.
fn syns_seen(lab: &Lab) -> u64 {
    let maps = lab.agent(0).maps();
    maps.backend_entries()
        .expect("backend entries")
        .into_iter()
        .map(|(_, id)| maps.signals(id).expect("signals").syns)
        .sum()
}

#[test]
fn idle_connections_and_a_push_survive_a_syn_flood_and_a_reload() {
    let lab = Lab::new(LabSpec {
        backends: 3,
        configured_backends: Some(2),
        flow_table_size: FLOW_TABLE,
        ..LabSpec::default().sources(40, 16)
    });
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));

    // An idle keep-alive connection from each extra source, and where it
    // went.
    let mut idle: Vec<(KeepAlive, usize)> = lab
        .sources
        .clone()
        .into_iter()
        .map(|src| {
            let mut c = lab.clients[0]
                .ns
                .run(move || KeepAlive::open(IpAddr::V4(src), vip_port()))
                .unwrap_or_else(|e| panic!("connect from {src}: {e}"));
            assert_eq!(c.get("/v2/"), Ok(200), "first request from {src}");
            let b = lab
                .holder(c.local())
                .unwrap_or_else(|| panic!("no backend holds {}", c.local()));
            (c, b)
        })
        .collect();

    // The push is shaped until the flood is over, so that the flood lands
    // in its middle on any machine.
    let img = lab.image("big", &[lab::big_layer()], 13);
    let shaped = lab.shape_client(0, PUSH_MBIT);
    let mut push = lab.push_under_way(&img, "lab/flood");

    // The flood, from the other client's namespace at the master's MAC.
    let syns_before = syns_seen(&lab);
    let (lb_mac, flooder_mac) = (flood::mac_bytes(&lab.lb_mac(0)), lab.clients[1].mac);
    let sent = lab.clients[1]
        .ns
        .run(move || send_frames((0..FLOOD).map(|i| flood::spoofed_syn(i, lb_mac, flooder_mac))));
    assert!(
        sent >= u64::from(FLOOD) * 9 / 10,
        "only {sent} of {FLOOD} SYNs left the client"
    );
    let steered = syns_seen(&lab) - syns_before;
    assert!(
        steered >= sent * 9 / 10,
        "the master's dataplane saw {steered} new connection attempts of the {sent} SYNs sent"
    );
    if push.done() {
        let how = push.wait(COPY_LIMIT);
        panic!(
            "the push ended before the flood did ({how:?}): the test would prove nothing; raise REGHA_LAB_BIG_LAYER_MIB\n{}",
            lab.logs()
        );
    }
    drop(shaped);

    // The reload adds be3: some clients' slots move to it.
    for lb in 0..2 {
        lab.agent(lb)
            .rewrite_config(&lab.regha_config(lb, &[0, 1, 2]));
        lab.agent(lb).signal(libc::SIGHUP);
    }
    lab.wait_backends_up(Duration::from_secs(15));
    let mut moved = 0;
    for (c, was) in &mut idle {
        let src = c.local().ip();
        // Where a new connection from the same source goes now.
        let mut fresh = lab.clients[0]
            .ns
            .run(move || KeepAlive::open(src, vip_port()))
            .unwrap_or_else(|e| panic!("connect from {src}: {e}"));
        assert_eq!(fresh.get("/v2/"), Ok(200), "new connection from {src}");
        let now = lab.holder(fresh.local()).expect("a backend holds it");
        if now != *was {
            moved += 1;
        }
        // The idle connection's next request, on its first backend.
        assert_eq!(
            c.get("/v2/"),
            Ok(200),
            "the idle connection from {src} after the flood and the reload\n{}",
            lab.logs()
        );
        assert_eq!(
            lab.holder(c.local()),
            Some(*was),
            "the idle connection from {src} moved (a new one from it goes to be{})",
            now + 1
        );
    }
    assert!(
        moved > 0,
        "the reload moved none of the {} clients: the test would prove nothing",
        idle.len()
    );
    eprintln!(
        "{steered} SYNs steered; {moved} of {} idle clients' slots moved, every connection stayed",
        idle.len()
    );

    push.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("the push did not survive: {e}\n{}", lab.logs()));
    let (pull, dir) = lab.pull(0, "lab/flood", "pulled-after-flood");
    pull.wait(COPY_LIMIT).unwrap();
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
}
