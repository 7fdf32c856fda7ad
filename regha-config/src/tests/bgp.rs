//! `bgp:`: off unless set, its defaults, which VIPs it takes, and every
//! refusal (a VIP both announced and held by VRRP above all).

use std::time::Duration;

use super::*;

/// A config with only `bgp:` deciding, two services on two VIPs.
fn bgp_only(bgp: &str) -> String {
    format!(
        "interface: eth0\nbgp: {bgp}\nservices:
  - {{ name: a, vip: 203.0.113.10, port: 5000, backends: [{{ address: 192.0.2.11 }}, {{ address: 192.0.2.12 }}] }}
  - {{ name: b, vip: 203.0.113.11, port: 5000, backends: [{{ address: 192.0.2.11 }}] }}
"
    )
}

#[test]
fn bgp_is_off_unless_set_and_takes_its_defaults() {
    assert_eq!(parse(BASE).bgp, None);
    let b = parse(&bgp_only("{}")).bgp.expect("set");
    assert_eq!(
        b,
        BgpConfig {
            vips: vec![ip("203.0.113.10"), ip("203.0.113.11")],
            min_healthy: 1,
            warmup: Duration::from_secs(2),
            route_protocol: 250,
            drain_timeout: Duration::from_secs(30),
            frr: Some(FrrConfig::default()),
        }
    );
    assert_eq!(DEFAULT_BGP_ROUTE_PROTOCOL, 250);
    assert_eq!(DEFAULT_BGP_WARMUP, Duration::from_secs(2));
    assert_eq!(DEFAULT_BGP_DRAIN_TIMEOUT, Duration::from_secs(30));
    // No role is needed: bgp decides for every VIP.
    assert_eq!(parse(&bgp_only("{}")).role, None);
    let config = parse(&bgp_only(
        "{ vips: [203.0.113.10, 203.0.113.11], min_healthy: 1, warmup: 0s, route_protocol: 251, drain_timeout: 5s, frr: null }",
    ));
    let b = config.bgp.as_ref().unwrap();
    assert_eq!(
        (b.route_protocol, b.warmup, b.frr.clone()),
        (251, Duration::ZERO, None)
    );
    assert_eq!(parse(&config.to_yaml()), config);
}

#[test]
fn bgp_takes_only_the_vips_vrrp_does_not_hold() {
    // BASE's VRRP instance holds 192.0.2.100; a second service on another
    // VIP goes to bgp by default.
    let text = "interface: eth0
vrrp: { virtual_router_id: 51, virtual_ipaddresses: [192.0.2.100] }
bgp: {}
services:
  - { name: held, vip: 192.0.2.100, port: 80, backends: [{ address: 192.0.2.11 }] }
  - { name: announced, vip: 203.0.113.20, port: 80, backends: [{ address: 192.0.2.11 }] }
";
    let config = parse(text);
    assert_eq!(config.bgp.unwrap().vips, vec![ip("203.0.113.20")]);
}

#[test]
fn a_vip_is_announced_or_held_never_both() {
    let text = format!("{BASE}bgp: {{ vips: [192.0.2.100] }}\n");
    assert_error(&text, "bgp.vips[0]", "never both");
    // Every VIP held by VRRP: nothing to announce.
    assert_error(&format!("{BASE}bgp: {{}}\n"), "bgp", "nothing to announce");
}

#[test]
fn bgp_refusals_say_what_to_do() {
    assert_error(
        &bgp_only("{ vips: [203.0.113.99] }"),
        "bgp.vips[0]",
        "no service's VIP",
    );
    assert_error(
        &bgp_only("{ vips: [203.0.113.10, 203.0.113.10] }"),
        "bgp.vips[1]",
        "listed twice",
    );
    assert_error(
        &bgp_only("{ vips: [203.0.113.10/32] }"),
        "bgp.vips[0]",
        "address alone",
    );
    assert_error(&bgp_only("{ vips: [] }"), "bgp.vips", "empty list");
    assert_error(
        &bgp_only("{ vips: [203.0.113.10] }"),
        "services[1].vip",
        "not in bgp.vips",
    );
    assert_error(
        &bgp_only("{ min_healthy: 3 }"),
        "bgp.min_healthy",
        "more than the 2 backends",
    );
    assert_error(
        &bgp_only("{ min_healthy: 0 }"),
        "bgp.min_healthy",
        "out of range",
    );
    assert_error(
        &bgp_only("{ route_protocol: 186 }"),
        "bgp.route_protocol",
        "\"bgp\" protocol",
    );
    assert_error(
        &bgp_only("{ route_protocol: 2 }"),
        "bgp.route_protocol",
        "\"kernel\"",
    );
    assert_error(
        &bgp_only("{ route_protocol: 256 }"),
        "bgp.route_protocol",
        "out of range",
    );
    assert_error(
        &bgp_only("{ warmup: 11m }"),
        "bgp.warmup",
        "longer than 10m",
    );
    assert_error(
        &bgp_only("{ drain_timeout: 0s }"),
        "bgp.drain_timeout",
        "more than zero",
    );
    assert_error(
        &bgp_only("{ frr: { vtysh: vtysh } }"),
        "bgp.frr.vtysh",
        "absolute",
    );
    assert_error(
        &bgp_only("{ frr: { pathspace: \"a b\" } }"),
        "bgp.frr.pathspace",
        "-N",
    );
    let errors = errors(&bgp_only("{ vip: [203.0.113.10] }"));
    assert!(
        errors.iter().any(|e| e.message.contains("vip")),
        "{errors:?}"
    );
}

#[test]
fn a_role_holds_what_bgp_does_not_announce() {
    let text = bgp_only("{ vips: [203.0.113.10] }")
        .replace("interface: eth0\n", "interface: eth0\nrole: master\n");
    let config = parse(&text);
    assert_eq!(config.bgp.unwrap().vips, vec![ip("203.0.113.10")]);
}
