//! The document as a whole: every key set, the example file, every default,
//! the top-level keys and the `--iface` flag.

use super::*;

#[test]
fn base_sets_every_key_and_parses_to_what_it_says() {
    let c = parse(BASE);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(
        (c.xdp_mode, c.flow_table_size, c.hash_seed),
        (XdpMode::Native, 262_144, 0)
    );
    assert_eq!(c.role, None);
    let v = &c.vrrp[0];
    assert_eq!(
        (v.virtual_router_id, v.priority, v.version),
        (51, 101, VrrpVersion::V2)
    );
    assert_eq!(
        (v.advert_interval, v.preempt, v.preempt_delay),
        (Duration::from_secs(1), true, Duration::ZERO)
    );
    assert_eq!(v.auth_pass.as_deref(), Some("1111"));
    assert_eq!(
        (v.unicast_src, v.unicast_peers.clone()),
        (Some(ip("192.0.2.2")), vec![ip("192.0.2.3")])
    );
    assert_eq!(
        v.virtual_ipaddresses,
        vec![(ip("192.0.2.100"), 24), (ip("192.0.2.101"), 32)]
    );
    assert_eq!(
        v.track_backends,
        Some(TrackBackends {
            min_healthy: 1,
            weight: -50
        })
    );
    assert_eq!(v.notify.stop, Some(PathBuf::from("/etc/regha/stop.sh")));
    let [registry, metrics] = &c.services[..] else {
        panic!("two services")
    };
    assert_eq!(
        (registry.name.as_str(), registry.vip, registry.port),
        ("registry", ip("192.0.2.100"), 5000)
    );
    assert_eq!(
        (registry.protocol, registry.hash, registry.ring_size),
        (Protocol::Tcp, HashMode::Source, 65537)
    );
    assert_eq!(
        registry.health.kind,
        HealthKind::Http {
            path: "/v2/".into(),
            host: Some("registry.example".into()),
            expect: vec![200, 401],
            expect_header: Some("Docker-Distribution-API-Version".into()),
            tls: None,
        }
    );
    assert_eq!(
        registry.backends[1],
        BackendConfig {
            address: ip("192.0.2.12"),
            port: 5000,
            weight: 2,
            mac: Some([2, 0, 0, 0, 0, 0x12])
        }
    );
    assert_eq!(
        (metrics.protocol, metrics.hash, &metrics.health.kind),
        (Protocol::Udp, HashMode::Flow, &HealthKind::Tcp)
    );
    assert_eq!(
        metrics.backends[0].port, 9000,
        "a backend's port defaults to the service's"
    );
    let stats = c.stats.unwrap();
    assert_eq!(
        stats.listen,
        "127.0.0.1:1158".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        stats.auth.unwrap().password,
        PasswordSource::File(PathBuf::from("/etc/regha/stats.pass"))
    );
}

#[test]
fn the_example_file_parses_and_matches_the_deployment_it_replaces() {
    let c = parse(include_str!("../../regha.example.yaml"));
    let v = &c.vrrp[0];
    assert_eq!(
        (v.virtual_router_id, v.priority, v.advert_interval),
        (51, 101, Duration::from_secs(1))
    );
    assert_eq!(v.auth_pass.as_deref(), Some("1111"));
    assert_eq!(v.virtual_ipaddresses, vec![(ip("192.0.2.100"), 24)]);
    assert_eq!(v.peer_priorities, [100]);
    assert_eq!(c.warnings(), [], "the example's weight can move the VIP");
    let s = &c.services[0];
    assert_eq!(
        (s.vip, s.port, s.hash),
        (ip("192.0.2.100"), 5000, HashMode::Source)
    );
    assert_eq!(
        s.health,
        HealthConfig::default(),
        "GET /v2/ every 5s, rise 2, fall 3"
    );
    let backends: Vec<_> = s
        .backends
        .iter()
        .map(|b| SocketAddr::new(b.address, b.port))
        .collect();
    assert_eq!(
        backends,
        [
            "192.0.2.11:5000".parse().unwrap(),
            "192.0.2.12:5000".parse().unwrap()
        ]
    );
    assert_eq!(c.stats.unwrap().listen, DEFAULT_STATS_LISTEN);
}

#[test]
fn a_minimal_file_gets_every_default() {
    let c = parse(MINIMAL);
    assert_eq!(c.interface, None);
    assert_eq!(
        (c.xdp_mode, c.flow_table_size, c.hash_seed),
        (XdpMode::Native, regha_common::DEFAULT_FLOW_TABLE_SIZE, 0)
    );
    assert_eq!((c.role, c.vrrp), (Some(Role::Master), Vec::new()));
    let s = &c.services[0];
    assert_eq!(
        (s.protocol, s.hash, s.forwarding),
        (Protocol::Tcp, HashMode::Source, Forwarding::Dsr)
    );
    assert_eq!(s.ring_size, regha_common::DEFAULT_RING_SIZE);
    let health = HealthConfig {
        kind: HealthKind::Http {
            path: "/v2/".into(),
            host: None,
            expect: vec![200, 401],
            expect_header: None,
            tls: None,
        },
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        rise: 2,
        fall: 3,
        ..HealthConfig::default()
    };
    assert_eq!(s.health, health);
    assert_eq!(
        s.backends,
        [BackendConfig {
            address: ip("192.0.2.11"),
            port: 5000,
            weight: 1,
            mac: None
        }]
    );
    assert_eq!(
        c.stats,
        Some(StatsConfig {
            listen: "127.0.0.1:1158".parse().unwrap(),
            auth: None
        })
    );
}

#[test]
fn static_role_and_vrrp_may_both_be_set() {
    let c = parse(&edit(&[("hash_seed: 0\n", "hash_seed: 0\nrole: backup\n")]));
    assert_eq!(c.role, Some(Role::Backup));
    assert!(!c.vrrp.is_empty());
}

#[test]
fn neither_role_nor_vrrp() {
    let yaml = MINIMAL.replace("role: master\n", "");
    assert_error(
        &yaml,
        "role",
        "set `role: master|backup`, or configure `vrrp` or `bgp`",
    );
}

#[test]
fn an_empty_file_says_what_is_missing() {
    let errors = errors("");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["role", "services"]);
    assert_eq!(
        errors[1].to_string(),
        "services: required: at least one service"
    );
    assert_error(
        "role: master\nservices: []\n",
        "services",
        "empty: at least one service is required",
    );
}

#[test]
fn the_iface_flag_wins_and_one_of_them_is_needed() {
    let from_file = parse(BASE).with_interface_override(None).unwrap();
    assert_eq!(from_file.interface.as_deref(), Some("eth0"));
    let flag = parse(BASE).with_interface_override(Some("veth1")).unwrap();
    assert_eq!(flag.interface.as_deref(), Some("veth1"));
    let neither = parse(MINIMAL).with_interface_override(None).unwrap_err();
    assert_eq!(
        neither.to_string(),
        "interface: not set: pass --iface or set `interface:`"
    );
    let bad = parse(MINIMAL)
        .with_interface_override(Some("a b"))
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        r#"--iface: "a b" contains ' ', which no interface name can"#
    );
}

rejects! {
    interface_too_long: [("interface: eth0", "interface: abcdefghijklmnop")] => "interface", "is longer than 15 bytes";
    interface_empty: [("interface: eth0", "interface: \"\"")] => "interface", "empty";
    interface_dot: [("interface: eth0", "interface: \"..\"")] => "interface", "is not an interface name";
    xdp_mode_unknown: [("xdp_mode: native", "xdp_mode: fast")] => "xdp_mode", "\"fast\" is not one of: native, generic";
    flow_table_too_small: [("flow_table_size: 262144", "flow_table_size: 100")] => "flow_table_size", "100 is out of range 1024..=16777216";
    hash_seed_negative: [("hash_seed: 0", "hash_seed: -1")] => "hash_seed", "-1 is out of range 0..=4294967295";
    role_unknown: [("hash_seed: 0\n", "hash_seed: 0\nrole: MASTER\n")] => "role", "\"MASTER\" is not one of: master, backup";
}
