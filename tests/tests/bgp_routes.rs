//! BGP mode's routes on one LB, without a router: what the agent finds at
//! start and what it leaves at the end (issue 14). A route of regha's
//! protocol that no running dataplane backs is deleted at start (here the
//! dataplane is fresh, so even the configured VIP's old route goes, to be
//! added again once the VIP is ready); a route of another protocol is left
//! alone; the VIP is a route, never an address; SIGTERM withdraws it.

use std::{net::IpAddr, time::Duration};

use regha_config::{BgpConfig, Config};
use regha_tests::{
    lab::{LabSpec, config},
    wait::wait_for,
};

const VIP: &str = "203.0.113.10";

fn routes(lab: &regha_tests::lab::Lab, protocol: &str) -> String {
    lab.lbs[0]
        .ns
        .ip(&["-4", "route", "show", "table", "main", "proto", protocol])
}

#[test]
fn stale_routes_go_at_start_the_vip_is_a_route_and_sigterm_withdraws_it() {
    let mut lab = LabSpec::bare(1)
        .registries(1)
        .check_interval(Duration::from_millis(200))
        .build();
    let lb = &lab.lbs[0];
    lb.ns.ip(&[
        "route",
        "add",
        "blackhole",
        "203.0.113.10/32",
        "proto",
        "250",
    ]);
    lb.ns.ip(&[
        "route",
        "add",
        "blackhole",
        "203.0.113.99/32",
        "proto",
        "250",
    ]);
    lb.ns.ip(&[
        "route",
        "add",
        "blackhole",
        "203.0.113.98/32",
        "proto",
        "251",
    ]);
    let vip: IpAddr = VIP.parse().unwrap();
    let config = Config {
        role: None,
        stats: None,
        bgp: Some(BgpConfig {
            vips: vec![vip],
            min_healthy: 1,
            warmup: Duration::from_millis(300),
            route_protocol: 250,
            drain_timeout: Duration::from_secs(5),
            frr: None,
        }),
        ..config::with_role(
            regha_model::Role::Backup,
            vec![config::registry(
                vip,
                [IpAddr::V4(lab.backends[0].ip)],
                Duration::from_millis(200),
            )],
        )
    };
    lab.start_agent(0, &config, &[]);
    lab.agent(0)
        .wait_for("the VIP announced", Duration::from_secs(15), |s| {
            s.bgp.iter().any(|b| b.announced)
        });
    let ours = routes(&lab, "250");
    assert!(
        ours.contains("blackhole 203.0.113.10") && !ours.contains("203.0.113.99"),
        "routes of proto 250: {ours}"
    );
    assert!(
        routes(&lab, "251").contains("blackhole 203.0.113.98"),
        "another protocol's route must stay"
    );
    let log = lab.agent(0).log();
    assert_eq!(
        log.matches("stale VIP route deleted").count(),
        2,
        "the old routes of .10 (no dataplane backed it) and .99 (not configured):\n{log}"
    );
    assert!(
        !lab.lbs[0].holds(vip, 32),
        "the VIP must never be an address in BGP mode"
    );
    let state = lab.agent(0).state().expect("state");
    assert_eq!(state.vips.len(), 1, "{:?}", state.vips);
    assert!(state.vips[0].held);

    lab.agent(0).signal(libc::SIGTERM);
    lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    wait_for("the route withdrawn", Duration::from_secs(2))
        .until(|| !routes(&lab, "250").contains("203.0.113.10"));
}
