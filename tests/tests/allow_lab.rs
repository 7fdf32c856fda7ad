//! Per-service allow-lists on the lab (issue 18): the LB drops what the
//! list refuses, counts it, and a reload that narrows the list ends the
//! connections from the removed sources while a long-lived connection from
//! a source still listed keeps working on its backend.
//!
//! Client1's extra sources are 192.0.2.40 to .47; its own address,
//! 192.0.2.1, is in none of the lists below.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use regha_config::Config;
use regha_tests::{
    client::{KeepAlive, http_get},
    lab::{Lab, LabSpec, client_ip, vip_port},
    wait::wait_for,
};

const KEPT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 40);
const REMOVED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 44);

/// Both LBs' config with `allow` on the registry service.
fn with_allow(lab: &Lab, lb: usize, allow: &[&str]) -> Config {
    let mut c = lab.regha_config(lb, &[0, 1]);
    c.services[0].allow = allow.iter().map(|p| p.parse().unwrap()).collect();
    c
}

fn reload(lab: &Lab, allow: &[&str]) {
    for lb in 0..2 {
        lab.agent(lb).rewrite_config(&with_allow(lab, lb, allow));
        lab.agent(lb).signal(libc::SIGHUP);
    }
}

/// Packets the master denied, over its services.
fn denied(lab: &Lab) -> u64 {
    let maps = lab.agent(0).maps();
    maps.service_entries()
        .expect("service entries")
        .iter()
        .filter(|(k, _)| k.port != regha_common::FRAGMENT_PORT)
        .map(|(_, v)| maps.service_denied(v.id).expect("denied"))
        .sum()
}

fn get(lab: &Lab, src: Ipv4Addr) -> Result<u16, String> {
    lab.clients[0]
        .ns
        .run(move || http_get(IpAddr::V4(src), vip_port(), "/v2/"))
}

fn open(lab: &Lab, src: Ipv4Addr) -> KeepAlive {
    lab.clients[0]
        .ns
        .run(move || KeepAlive::open(IpAddr::V4(src), vip_port()))
        .unwrap_or_else(|e| panic!("connect from {src}: {e}\n{}", lab.logs()))
        .with_timeout(Duration::from_secs(3))
}

#[test]
fn the_lb_drops_and_counts_sources_not_listed_and_a_reload_ends_only_removed_ones() {
    let lab = Lab::new(LabSpec::default().sources(40, 8));
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));
    assert_eq!(get(&lab, client_ip(0)), Ok(200), "before any list");

    // The list names the sources' network, not client1's own address.
    reload(&lab, &["192.0.2.40/30", "192.0.2.44/30"]);
    let before = denied(&lab);
    wait_for(
        "the list to refuse client1's own address",
        Duration::from_secs(15),
    )
    .context(|| lab.logs())
    .until(|| get(&lab, client_ip(0)).is_err());
    assert!(
        denied(&lab) > before,
        "the refused connection was not counted as denied"
    );
    assert_eq!(get(&lab, KEPT), Ok(200), "a listed source");
    assert_eq!(get(&lab, REMOVED), Ok(200), "another listed source");

    // Long-lived connections from a source that stays and from one the
    // next reload removes, and where each went.
    let mut kept = open(&lab, KEPT);
    let mut removed = open(&lab, REMOVED);
    assert_eq!(kept.get("/v2/"), Ok(200));
    assert_eq!(removed.get("/v2/"), Ok(200));
    let kept_on = lab.holder(kept.local()).expect("a backend holds it");

    reload(&lab, &["192.0.2.40/30"]);
    wait_for("the reload to refuse 192.0.2.45", Duration::from_secs(15))
        .context(|| lab.logs())
        .until(|| get(&lab, Ipv4Addr::new(192, 0, 2, 45)).is_err());
    let before = denied(&lab);
    for i in 0..3 {
        assert_eq!(
            kept.get("/v2/"),
            Ok(200),
            "request {i} on the connection from {KEPT}, still listed, after the reload\n{}",
            lab.logs()
        );
    }
    assert_eq!(
        lab.holder(kept.local()),
        Some(kept_on),
        "the connection from {KEPT} moved"
    );
    let ended = removed.get("/v2/");
    assert!(
        ended.is_err(),
        "the connection from {REMOVED}, removed from the list, still works: {ended:?}"
    );
    assert!(
        denied(&lab) > before,
        "the removed source's packets were not counted as denied"
    );
    assert_eq!(
        get(&lab, KEPT),
        Ok(200),
        "a new connection from a listed source"
    );
    let local: SocketAddr = kept.local();
    eprintln!(
        "denied {} packets; {local} stayed on be{}",
        denied(&lab),
        kept_on + 1
    );
}
