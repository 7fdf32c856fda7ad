//! `vrrp:`: defaults, IPv6 with version 3, gratuitous ARP, the password
//! kept out of logs, and every refusal of the section.

use super::*;

#[test]
fn vrrp_defaults() {
    let yaml = MINIMAL.replace(
        "role: master",
        "vrrp: { virtual_router_id: 7, virtual_ipaddresses: [192.0.2.100] }",
    );
    let v = parse(&yaml).vrrp.remove(0);
    let expected = VrrpConfig {
        name: "VI_7".to_owned(),
        sync_group: None,
        virtual_router_id: 7,
        priority: 100,
        advert_interval: Duration::from_secs(1),
        version: VrrpVersion::V2,
        auth_pass: None,
        preempt: true,
        preempt_delay: Duration::ZERO,
        unicast_src: None,
        unicast_peers: vec![],
        virtual_ipaddresses: vec![(ip("192.0.2.100"), 32)],
        track_backends: None,
        track_scripts: vec![],
        track_interfaces: vec![],
        peer_priorities: vec![],
        garp: GarpConfig::default(),
        notify: NotifyScripts::default(),
    };
    assert_eq!(v, expected);
    let yaml = yaml.replace(
        "virtual_router_id: 7,",
        "virtual_router_id: 7, track_backends: {},",
    );
    assert_eq!(
        parse(&yaml).vrrp.remove(0).track_backends,
        Some(TrackBackends {
            min_healthy: 1,
            weight: 0
        })
    );
}

#[test]
fn ipv6_with_vrrp_version_3() {
    let yaml = MINIMAL
        .replace("role: master", "vrrp: { virtual_router_id: 7, version: 3, advert_interval: 250ms, virtual_ipaddresses: [\"2001:db8::100/64\"] }")
        .replace("192.0.2.100", "2001:db8::100")
        .replace("address: 192.0.2.11", "address: \"2001:db8::11\"");
    let c = parse(&yaml);
    let v = &c.vrrp[0];
    assert_eq!(
        (v.version, v.advert_interval),
        (VrrpVersion::V3, Duration::from_millis(250))
    );
    assert_eq!(v.virtual_ipaddresses, vec![(ip("2001:db8::100"), 64)]);
    assert_eq!(c.services[0].backends[0].address, ip("2001:db8::11"));
}

#[test]
fn garp_keys_take_keepalived_names_and_defaults() {
    let v = parse(BASE).vrrp.remove(0);
    assert_eq!(
        v.garp,
        GarpConfig {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1
        }
    );
    let keys = "  garp_master_delay: 0s\n  garp_master_repeat: 2\n  garp_master_refresh: 60s\n  garp_master_refresh_repeat: 3\n  virtual_ipaddresses:";
    let v = parse(&edit(&[("  virtual_ipaddresses:", keys)]))
        .vrrp
        .remove(0);
    assert_eq!(
        v.garp,
        GarpConfig {
            delay: Duration::ZERO,
            repeat: 2,
            refresh: Duration::from_secs(60),
            refresh_repeat: 3
        }
    );
    let bad = |key: &str, value: &str| {
        edit(&[(
            "  virtual_ipaddresses:",
            &format!("  {key}: {value}\n  virtual_ipaddresses:"),
        )])
    };
    assert_error(
        &bad("garp_master_repeat", "0"),
        "vrrp.garp_master_repeat",
        "0 is out of range 1..=255",
    );
    assert_error(
        &bad("garp_master_refresh_repeat", "256"),
        "vrrp.garp_master_refresh_repeat",
        "256 is out of range 1..=255",
    );
    assert_error(
        &bad("garp_master_delay", "5"),
        "vrrp.garp_master_delay",
        "has no unit",
    );
    assert_error(
        &bad("garp_master_refresh", "2000s"),
        "vrrp.garp_master_refresh",
        "is longer than 1000s",
    );
}

#[test]
fn debug_output_never_shows_the_vrrp_password() {
    let c = parse(&edit(&[("auth_pass: \"1111\"", "auth_pass: \"s3cr3t!x\"")]));
    let v = &c.vrrp[0];
    assert_eq!(v.auth_pass.as_deref(), Some("s3cr3t!x"));
    for text in [format!("{c:?}"), format!("{c:#?}"), format!("{v:?}")] {
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("\"<redacted>\""), "{text}");
    }
}

rejects! {
    vrid_missing: [("  virtual_router_id: 51\n", "")] => "vrrp.virtual_router_id", "required: an integer in 1..=255";
    vrid_zero: [("virtual_router_id: 51", "virtual_router_id: 0")] => "vrrp.virtual_router_id", "0 is out of range 1..=255";
    priority_too_high: [("priority: 101", "priority: 256")] => "vrrp.priority", "256 is out of range 1..=255";
    version_unknown: [("version: 2", "version: 4")] => "vrrp.version", "4 is not a VRRP version: expected 2 or 3";
    advert_v2_fraction: [("advert_interval: 1s", "advert_interval: 1500ms")] => "vrrp.advert_interval", "VRRP version 2 advertises whole seconds, 1s to 255s";
    advert_v2_too_long: [("advert_interval: 1s", "advert_interval: 256s")] => "vrrp.advert_interval", "whole seconds, 1s to 255s";
    advert_v3_not_centiseconds: [("version: 2", "version: 3"), ("  auth_pass: \"1111\"\n", ""), ("advert_interval: 1s", "advert_interval: 15ms")] => "vrrp.advert_interval", "15ms: VRRP version 3 advertises centiseconds";
    advert_v3_too_long: [("version: 2", "version: 3"), ("  auth_pass: \"1111\"\n", ""), ("advert_interval: 1s", "advert_interval: 41s")] => "vrrp.advert_interval", "10ms to 40.95s";
    advert_without_unit: [("advert_interval: 1s", "advert_interval: 1")] => "vrrp.advert_interval", "1 has no unit: write it with one, e.g. `1s` or `1ms`";
    advert_unknown_unit: [("advert_interval: 1s", "advert_interval: 5 parsecs")] => "vrrp.advert_interval", "\"5 parsecs\" is not a duration (unknown time unit \"parsecs\"";
    auth_pass_with_v3: [("version: 2", "version: 3")] => "vrrp.auth_pass", "VRRP version 3 has no authentication";
    auth_pass_too_long: [("auth_pass: \"1111\"", "auth_pass: \"123456789\"")] => "vrrp.auth_pass", "9 bytes long: VRRP version 2 carries at most 8";
    auth_pass_empty: [("auth_pass: \"1111\"", "auth_pass: \"\"")] => "vrrp.auth_pass", "empty: remove auth_pass";
    preempt_delay_too_long: [("preempt_delay: 0s", "preempt_delay: 1001s")] => "vrrp.preempt_delay", "16m 41s is longer than 1000s";
    unicast_src_not_an_ip: [("unicast_src: 192.0.2.2", "unicast_src: 192.0.2.300")] => "vrrp.unicast_src", "\"192.0.2.300\" is not an IP address";
    unicast_src_is_a_vip: [("unicast_src: 192.0.2.2", "unicast_src: 192.0.2.100")] => "vrrp.unicast_src", "192.0.2.100 is in virtual_ipaddresses";
    unicast_src_other_family: [("unicast_src: 192.0.2.2", "unicast_src: \"2001:db8::2\"")] => "vrrp.unicast_src", "2001:db8::2 is not of the family of virtual_ipaddresses";
    unicast_peer_is_src: [("unicast_peers: [192.0.2.3]", "unicast_peers: [192.0.2.2]")] => "vrrp.unicast_peers[0]", "192.0.2.2 is unicast_src";
    unicast_peer_twice: [("unicast_peers: [192.0.2.3]", "unicast_peers: [192.0.2.3, 192.0.2.3]")] => "vrrp.unicast_peers[1]", "192.0.2.3 is listed twice (also vrrp.unicast_peers[0])";
    unicast_peer_multicast: [("unicast_peers: [192.0.2.3]", "unicast_peers: [224.0.0.18]")] => "vrrp.unicast_peers[0]", "224.0.0.18 is a multicast address";
    vips_missing: [("  virtual_ipaddresses: [192.0.2.100/24, 192.0.2.101]\n", "")] => "vrrp.virtual_ipaddresses", "required";
    vips_empty: [("[192.0.2.100/24, 192.0.2.101]", "[]")] => "vrrp.virtual_ipaddresses", "empty: give at least one address";
    vip_prefix_too_long: [("192.0.2.100/24", "192.0.2.100/33")] => "vrrp.virtual_ipaddresses[0]", "the prefix length must be 1..=32";
    vip_not_an_ip: [("192.0.2.100/24", "192.0.2.300/24")] => "vrrp.virtual_ipaddresses[0]", "\"192.0.2.300\" is not an IP address";
    vip_listed_twice: [("192.0.2.101]", "192.0.2.101, 192.0.2.100/32]")] => "vrrp.virtual_ipaddresses[2]", "192.0.2.100 is listed twice (also vrrp.virtual_ipaddresses[0])";
    vips_of_two_families: [("192.0.2.101]", "192.0.2.101, \"2001:db8::100\"]")] => "vrrp.virtual_ipaddresses[2]", "one VRRP instance, one family";
    ipv6_vips_with_v2: [("[192.0.2.100/24, 192.0.2.101]", "[\"2001:db8::100\"]"), ("  unicast_src: 192.0.2.2\n", ""), ("  unicast_peers: [192.0.2.3]\n", "")] => "vrrp.version", "2 is IPv4-only (RFC 3768)";
    track_weight_out_of_range: [("weight: -50", "weight: -255")] => "vrrp.track_backends.weight", "-255 is out of range -254..=254";
    track_min_healthy_zero: [("min_healthy: 1", "min_healthy: 0")] => "vrrp.track_backends.min_healthy", "0 is out of range 1..=4096";
    track_min_healthy_unreachable: [("min_healthy: 1", "min_healthy: 4")] => "vrrp.track_backends.min_healthy", "4 is more than the 3 backends configured";
    notify_relative: [("master: /etc/regha/master.sh", "master: master.sh")] => "vrrp.notify.master", "\"master.sh\" is not an absolute path";
    notify_stop_relative: [("stop: /etc/regha/stop.sh", "stop: ./stop.sh")] => "vrrp.notify.stop", "is not an absolute path";
    service_vip_not_held_by_vrrp: [("vip: 192.0.2.101\n", "vip: 192.0.2.102\n")] => "services[1].vip", "192.0.2.102 is not in vrrp.virtual_ipaddresses: the LB would never hold it";
}
