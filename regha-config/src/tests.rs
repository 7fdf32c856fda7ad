//! What the config accepts, what it fills in, and what it says when it
//! refuses. Most refusals are one edit of [`BASE`] (a valid file that sets
//! every key) and the error it must produce: the exact field path and a
//! fragment of the message.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use regha_model::XdpMode;

use super::*;

const BASE: &str = r#"
interface: eth0
xdp_mode: native
flow_table_size: 262144
hash_seed: 0
vrrp:
  virtual_router_id: 51
  priority: 101
  advert_interval: 1s
  version: 2
  auth_pass: "1111"
  preempt: true
  preempt_delay: 0s
  unicast_src: 192.0.2.2
  unicast_peers: [192.0.2.3]
  virtual_ipaddresses: [192.0.2.100/24, 192.0.2.101]
  track_backends: { min_healthy: 1, weight: -50 }
  notify: { master: /etc/regha/master.sh, backup: /etc/regha/backup.sh, fault: /etc/regha/fault.sh, stop: /etc/regha/stop.sh }
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    protocol: tcp
    hash: source
    forwarding: dsr
    ring_size: 65537
    health:
      http: { path: /v2/, host: registry.example, expect: [200, 401], expect_header: Docker-Distribution-API-Version }
      interval: 5s
      timeout: 2s
      rise: 2
      fall: 3
    backends:
      - { address: 192.0.2.11, port: 5000, weight: 1 }
      - { address: 192.0.2.12, weight: 2, mac: "02:00:00:00:00:12" }
  - name: metrics
    vip: 192.0.2.101
    port: 9000
    protocol: udp
    hash: flow
    health: { tcp: {} }
    backends:
      - { address: 192.0.2.21 }
stats:
  listen: 127.0.0.1:1158
  auth: { user: admin, password_file: /etc/regha/stats.pass }
"#;

const MINIMAL: &str = "
role: master
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }]
";

/// [`BASE`] with each `(from, to)` applied once; `from` must be there.
fn edit(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(BASE.to_owned(), |text, (from, to)| {
        assert!(text.contains(from), "{from:?} is not in the base config");
        text.replacen(from, to, 1)
    })
}

fn parse(yaml: &str) -> Config {
    Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("rejected:\n{e}\n---\n{yaml}"))
}

fn errors(yaml: &str) -> Vec<ConfigError> {
    match Config::from_yaml_str(yaml) {
        Ok(config) => panic!("accepted: {config:#?}\n---\n{yaml}"),
        Err(ConfigErrors(errors)) => errors,
    }
}

fn assert_error(yaml: &str, path: &str, message: &str) {
    let errors = errors(yaml);
    assert!(
        errors
            .iter()
            .any(|e| e.path == path && e.message.contains(message)),
        "no error at {path:?} containing {message:?}; got:\n{}",
        ConfigErrors(errors.clone())
    );
}

/// One test per refusal: `name: [(from, to), ...] => path, message fragment;`
macro_rules! rejects {
    ($($name:ident: [$(($from:expr, $to:expr)),+] => $path:expr, $message:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_error(&edit(&[$(($from, $to)),+]), $path, $message);
            }
        )+
    };
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn base_sets_every_key_and_parses_to_what_it_says() {
    let c = parse(BASE);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(
        (c.xdp_mode, c.flow_table_size, c.hash_seed),
        (XdpMode::Native, 262_144, 0)
    );
    assert_eq!(c.role, None);
    let v = c.vrrp.as_ref().unwrap();
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
    let c = parse(include_str!("../regha.example.yaml"));
    let v = c.vrrp.as_ref().unwrap();
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
    assert_eq!((c.role, c.vrrp), (Some(Role::Master), None));
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
        },
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        rise: 2,
        fall: 3,
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
fn vrrp_defaults() {
    let yaml = MINIMAL.replace(
        "role: master",
        "vrrp: { virtual_router_id: 7, virtual_ipaddresses: [192.0.2.100] }",
    );
    let v = parse(&yaml).vrrp.unwrap();
    let expected = VrrpConfig {
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
        parse(&yaml).vrrp.unwrap().track_backends,
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
    let v = c.vrrp.unwrap();
    assert_eq!(
        (v.version, v.advert_interval),
        (VrrpVersion::V3, Duration::from_millis(250))
    );
    assert_eq!(v.virtual_ipaddresses, vec![(ip("2001:db8::100"), 64)]);
    assert_eq!(c.services[0].backends[0].address, ip("2001:db8::11"));
}

#[test]
fn the_stats_password_may_come_from_the_environment() {
    let c = parse(&format!(
        "{MINIMAL}stats: {{ auth: {{ user: admin, password_env: REGHA_STATS_PASSWORD }} }}\n"
    ));
    assert_eq!(
        c.stats.unwrap().auth.unwrap().password,
        PasswordSource::Env("REGHA_STATS_PASSWORD".into())
    );
}

#[test]
fn stats_absent_null_and_empty() {
    assert_eq!(parse(MINIMAL).stats.unwrap().listen, DEFAULT_STATS_LISTEN);
    assert_eq!(parse(&format!("{MINIMAL}stats: null\n")).stats, None);
    assert_eq!(parse(&format!("{MINIMAL}stats:\n")).stats, None);
    assert_eq!(
        parse(&format!("{MINIMAL}stats: {{}}\n"))
            .stats
            .unwrap()
            .listen,
        DEFAULT_STATS_LISTEN
    );
    let v6 = parse(&format!("{MINIMAL}stats: {{ listen: \"[::1]:9100\" }}\n"));
    assert_eq!(
        v6.stats.unwrap().listen,
        "[::1]:9100".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn a_bare_http_or_tcp_key_chooses_the_check_with_its_defaults() {
    let http = parse(&edit(&[("health: { tcp: {} }", "health: { http: }")]));
    assert_eq!(http.services[1].health.kind, HealthKind::default_http());
    let tcp = parse(&edit(&[("health: { tcp: {} }", "health: { tcp: }")]));
    assert_eq!(tcp.services[1].health.kind, HealthKind::Tcp);
}

#[test]
fn static_role_and_vrrp_may_both_be_set() {
    let c = parse(&edit(&[("hash_seed: 0\n", "hash_seed: 0\nrole: backup\n")]));
    assert_eq!(c.role, Some(Role::Backup));
    assert!(c.vrrp.is_some());
}

#[test]
fn one_vip_and_port_may_carry_tcp_and_udp() {
    let yaml = edit(&[
        ("vip: 192.0.2.101\n", "vip: 192.0.2.100\n"),
        ("    port: 9000\n", "    port: 5000\n"),
    ]);
    assert_eq!(parse(&yaml).services.len(), 2);
}

#[test]
fn a_mac_may_be_written_with_dashes() {
    let c = parse(&edit(&[("02:00:00:00:00:12", "02-00-00-00-00-AB")]));
    assert_eq!(c.services[0].backends[1].mac, Some([2, 0, 0, 0, 0, 0xab]));
}

#[test]
fn neither_role_nor_vrrp() {
    let yaml = MINIMAL.replace("role: master\n", "");
    assert_error(
        &yaml,
        "role",
        "set `role: master|backup` or configure `vrrp`",
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
fn every_problem_is_reported_in_one_run() {
    let yaml = edit(&[
        ("interface: eth0", "interface: eth0/1"),
        ("    port: 5000\n", "    port: 70000\n"),
        ("address: 192.0.2.12,", "address: 10.0.0.300,"),
        ("interval: 5s", "interval: 5"),
        ("vip: 192.0.2.101\n", "vip: 192.0.2.102\n"),
        ("listen: 127.0.0.1:1158", "listen: localhost"),
    ]);
    let text = ConfigErrors(errors(&yaml)).to_string();
    let expected = [
        r#"interface: "eth0/1" contains '/', which no interface name can"#,
        "services[0].port: 70000 is out of range 1..=65535",
        "services[0].health.interval: 5 has no unit: write it with one, e.g. `5s` or `5ms`",
        r#"services[0].backends[1].address: "10.0.0.300" is not an IP address"#,
        "services[1].vip: 192.0.2.102 is not in vrrp.virtual_ipaddresses: the LB would never hold it",
        r#"stats.listen: "localhost" is not a socket address: expected IP:port, e.g. 127.0.0.1:1158 or [::1]:1158"#,
    ];
    assert_eq!(text, expected.join("\n"));
}

#[test]
fn unknown_keys_are_refused_at_every_level_with_a_position() {
    let top = &errors(&edit(&[("hash_seed: 0\n", "hash_seed: 0\nhash_sead: 1\n")]))[0];
    assert_eq!(top.path, "");
    assert!(
        top.message
            .contains("unknown field `hash_sead`, expected one of `interface`"),
        "{top}"
    );
    assert!(top.message.starts_with("line "), "{top}");
    let nested = &errors(&edit(&[(
        "      rise: 2\n",
        "      rise: 2\n      rize: 2\n",
    )]))[0];
    assert_eq!(nested.path, "services[0].health");
    assert!(
        nested
            .message
            .starts_with("line 32 column 7: unknown field `rize`, expected one of"),
        "{nested}"
    );
    assert_error(
        &edit(&[(
            "{ address: 192.0.2.21 }",
            "{ address: 192.0.2.21, adress: x }",
        )]),
        "services[1].backends[0]",
        "unknown field `adress`",
    );
    assert_error(
        &edit(&[("tcp: {}", "tcp: { port: 1 }")]),
        "services[1].health.tcp",
        "unknown field `port`",
    );
    assert_error(
        &edit(&[("weight: -50", "weight: -50, wieght: 1")]),
        "vrrp.track_backends",
        "unknown field `wieght`",
    );
    assert_error(
        &edit(&[("user: admin", "user: admin, password: x")]),
        "stats.auth",
        "unknown field `password`",
    );
}

#[test]
fn yaml_type_and_syntax_errors_carry_line_and_column() {
    let e = &errors(&edit(&[("    port: 9000\n", "    port: [9000]\n")]))[0];
    assert_eq!(
        e.to_string(),
        "services[1].port: line 38 column 11: invalid type: sequence, expected i64"
    );
    let e = &errors(&edit(&[("preempt: true", "preempt: yes")]))[0];
    assert_eq!(
        (e.path.as_str(), e.message.contains("expected a boolean")),
        ("vrrp.preempt", true)
    );
    let e = &errors("services: [{name: a\n")[0];
    assert_eq!(e.path, "");
    assert!(
        e.message.contains("did not find expected ',' or '}'") && e.message.contains("line 2"),
        "{e}"
    );
}

#[test]
fn display_and_error_trait() {
    let e = ConfigError::new("services[0].port", "70000 is out of range 1..=65535");
    assert_eq!(
        e.to_string(),
        "services[0].port: 70000 is out of range 1..=65535"
    );
    assert_eq!(ConfigError::new("", "whole file").to_string(), "whole file");
    let all = ConfigErrors(vec![e.clone(), e]);
    assert_eq!(all.to_string().lines().count(), 2);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(all);
    assert!(boxed.to_string().starts_with("services[0].port: "));
}

#[test]
fn load_reads_a_file_and_names_it_when_it_cannot() {
    let path = std::env::temp_dir().join(format!("regha-config-test-{}.yaml", std::process::id()));
    std::fs::write(&path, MINIMAL).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.unwrap(), parse(MINIMAL));
    let missing = Config::load("/nonexistent/regha.yaml").unwrap_err();
    assert_eq!(missing.0[0].path, "/nonexistent/regha.yaml");
    assert!(
        missing.0[0]
            .message
            .starts_with("cannot read the config file: "),
        "{missing}"
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

#[test]
fn service_and_backend_counts_are_bounded() {
    let service = |i: usize, backends: usize| {
        let list: String = (0..backends)
            .map(|j| {
                format!(
                    "      - {{ address: 10.{}.{}.{} }}\n",
                    i,
                    j / 250,
                    j % 250 + 1
                )
            })
            .collect();
        format!(
            "  - name: s{i}\n    vip: 192.0.2.100\n    port: {}\n    backends:\n{list}",
            1000 + i
        )
    };
    let config = |services: usize, backends: usize| {
        let list: String = (0..services).map(|i| service(i, backends)).collect();
        format!("role: master\nservices:\n{list}")
    };
    assert_eq!(parse(&config(1, 1024)).services[0].backends.len(), 1024);
    assert_error(
        &config(1, 1025),
        "services[0].backends",
        "1025 backends: at most 1024 per service",
    );
    assert_error(&config(257, 1), "services", "257 services: at most 256");
    assert_error(
        &config(5, 1000),
        "services",
        "5000 backends in all: the dataplane holds at most 4096",
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

    name_missing: [("  - name: metrics\n    vip", "  - vip")] => "services[1].name", "required";
    name_with_space: [("name: metrics", "name: \"my metrics\"")] => "services[1].name", "contains ' ': use only A-Z a-z 0-9 _ . -";
    name_too_long: [("name: metrics", &format!("name: {}", "m".repeat(64)))] => "services[1].name", "is longer than 63 bytes";
    name_empty: [("name: metrics", "name: \"\"")] => "services[1].name", "empty";
    name_twice: [("name: metrics", "name: registry")] => "services[1].name", "\"registry\" is also the name of services[0]";
    same_vip_port_protocol: [("vip: 192.0.2.101\n", "vip: 192.0.2.100\n"), ("    port: 9000\n", "    port: 5000\n"), ("protocol: udp", "protocol: tcp")] => "services[1]", "192.0.2.100 port 5000/tcp is also services[0]";
    vip_missing: [("    vip: 192.0.2.101\n", "")] => "services[1].vip", "required";
    vip_a_name: [("vip: 192.0.2.101\n", "vip: registry.example\n")] => "services[1].vip", "\"registry.example\" is not an IP address";
    vip_unspecified: [("vip: 192.0.2.101\n", "vip: 0.0.0.0\n")] => "services[1].vip", "0.0.0.0 is the unspecified address";
    vip_loopback: [("vip: 192.0.2.101\n", "vip: 127.0.0.1\n")] => "services[1].vip", "127.0.0.1 is a loopback address";
    vip_broadcast: [("vip: 192.0.2.101\n", "vip: 255.255.255.255\n")] => "services[1].vip", "is the broadcast address";
    port_missing: [("    port: 9000\n", "")] => "services[1].port", "required: an integer in 1..=65535";
    port_too_high: [("    port: 9000\n", "    port: 70000\n")] => "services[1].port", "70000 is out of range 1..=65535";
    protocol_unknown: [("protocol: udp", "protocol: sctp")] => "services[1].protocol", "\"sctp\" is not one of: tcp, udp";
    hash_unknown: [("hash: flow", "hash: random")] => "services[1].hash", "\"random\" is not one of: source, flow";
    forwarding_not_dsr: [("forwarding: dsr", "forwarding: ipip")] => "services[0].forwarding", "\"ipip\" is not implemented: only `dsr`";
    ring_not_prime: [("ring_size: 65537", "ring_size: 65536")] => "services[0].ring_size", "65536 is not prime: Maglev needs a prime size; try 65537";
    ring_not_prime_near_the_limit: [("ring_size: 65537", "ring_size: 16777215")] => "services[0].ring_size", "try 16777213";
    ring_too_big: [("ring_size: 65537", "ring_size: 16777217")] => "services[0].ring_size", "16777217 is out of range 1..=16777216";
    ring_smaller_than_backends: [("ring_size: 65537", "ring_size: 2"), ("      - { address: 192.0.2.12,", "      - { address: 192.0.2.13 }\n      - { address: 192.0.2.12,")] => "services[0].ring_size", "2 is smaller than the 3 backends";

    health_http_and_tcp: [("health: { tcp: {} }", "health: { tcp: {}, http: {} }")] => "services[1].health", "set one of `http` or `tcp`, not both";
    health_path_relative: [("path: /v2/", "path: v2/")] => "services[0].health.http.path", "\"v2/\": must start with '/'";
    health_path_with_space: [("path: /v2/", "path: \"/v2/ x\"")] => "services[0].health.http.path", "no spaces or control characters";
    health_host_with_space: [("host: registry.example", "host: \"registry example\"")] => "services[0].health.http.host", "is not a Host value";
    health_expect_empty: [("expect: [200, 401]", "expect: []")] => "services[0].health.http.expect", "empty: no answer could pass";
    health_expect_bad_code: [("expect: [200, 401]", "expect: [200, 4010]")] => "services[0].health.http.expect[1]", "4010 is out of range 100..=599";
    health_expect_header_bad: [("expect_header: Docker-Distribution-API-Version", "expect_header: \"Bad Header\"")] => "services[0].health.http.expect_header", "\"Bad Header\" is not an HTTP header name";
    health_interval_zero: [("interval: 5s", "interval: 0s")] => "services[0].health.interval", "0s: must be more than zero";
    health_interval_too_long: [("interval: 5s", "interval: 2h")] => "services[0].health.interval", "2h is longer than 1h";
    health_interval_without_unit: [("interval: 5s", "interval: 5")] => "services[0].health.interval", "5 has no unit";
    health_interval_unknown_unit: [("interval: 5s", "interval: 5 parsecs")] => "services[0].health.interval", "unknown time unit \"parsecs\"";
    health_timeout_over_interval: [("timeout: 2s", "timeout: 6s")] => "services[0].health.timeout", "6s is longer than the interval, 5s";
    health_timeout_zero: [("timeout: 2s", "timeout: 0ms")] => "services[0].health.timeout", "0s: must be more than zero";
    health_rise_zero: [("rise: 2", "rise: 0")] => "services[0].health.rise", "0 is out of range 1..=100";
    health_fall_too_high: [("fall: 3", "fall: 101")] => "services[0].health.fall", "101 is out of range 1..=100";

    backends_missing: [("    backends:\n      - { address: 192.0.2.21 }\n", "")] => "services[1].backends", "required: at least one backend";
    backends_empty: [("    backends:\n      - { address: 192.0.2.21 }\n", "    backends: []\n")] => "services[1].backends", "empty: at least one backend is required";
    backend_address_missing: [("{ address: 192.0.2.21 }", "{ weight: 1 }")] => "services[1].backends[0].address", "required";
    backend_address_not_an_ip: [("address: 192.0.2.12,", "address: 10.0.0.300,")] => "services[0].backends[1].address", "\"10.0.0.300\" is not an IP address";
    backend_other_family: [("{ address: 192.0.2.21 }", "{ address: \"2001:db8::21\" }")] => "services[1].backends[0].address", "2001:db8::21 is not of the family of the service vip 192.0.2.101: DSR at L2 needs the same family";
    backend_is_the_vip: [("{ address: 192.0.2.21 }", "{ address: 192.0.2.101 }")] => "services[1].backends[0].address", "192.0.2.101 is the service vip";
    backend_multicast: [("{ address: 192.0.2.21 }", "{ address: 239.1.1.1 }")] => "services[1].backends[0].address", "239.1.1.1 is a multicast address";
    backend_port_differs_under_dsr: [("port: 5000, weight: 1", "port: 5001, weight: 1")] => "services[0].backends[0].port", "5001 is not the service port 5000: DSR forwards packets unchanged";
    backend_port_zero: [("port: 5000, weight: 1", "port: 0, weight: 1")] => "services[0].backends[0].port", "0 is out of range 1..=65535";
    backend_weight_zero: [("weight: 2,", "weight: 0,")] => "services[0].backends[1].weight", "0 is out of range 1..=65535";
    backend_weight_too_high: [("weight: 2,", "weight: 65536,")] => "services[0].backends[1].weight", "65536 is out of range 1..=65535";
    backend_mac_short: [("02:00:00:00:00:12", "02:00:00:00:12")] => "services[0].backends[1].mac", "\"02:00:00:00:12\" is not a MAC address";
    backend_mac_not_hex: [("02:00:00:00:00:12", "02:00:00:00:00:zz")] => "services[0].backends[1].mac", "is not a MAC address";
    backend_mac_multicast: [("02:00:00:00:00:12", "01:00:5e:00:00:12")] => "services[0].backends[1].mac", "01:00:5e:00:00:12 is a multicast MAC";
    backend_mac_zero: [("02:00:00:00:00:12", "00:00:00:00:00:00")] => "services[0].backends[1].mac", "is all zeros";
    backend_listed_twice_even_on_a_wrong_port: [("address: 192.0.2.12,", "address: 192.0.2.11, port: 5001,"), ("port: 5000, weight: 1", "port: 5001, weight: 1")] => "services[0].backends[1]", "192.0.2.11:5001 is listed twice (also services[0].backends[0])";
    backend_listed_twice: [("address: 192.0.2.12,", "address: 192.0.2.11,")] => "services[0].backends[1]", "192.0.2.11:5000 is listed twice (also services[0].backends[0])";

    stats_listen_not_a_socket_address: [("listen: 127.0.0.1:1158", "listen: localhost:1158")] => "stats.listen", "\"localhost:1158\" is not a socket address";
    stats_listen_port_zero: [("listen: 127.0.0.1:1158", "listen: 127.0.0.1:0")] => "stats.listen", "port 0";
    stats_user_missing: [("user: admin, ", "")] => "stats.auth.user", "required";
    stats_user_with_colon: [("user: admin", "user: \"ad:min\"")] => "stats.auth.user", "without ':'";
    stats_password_file_missing: [(", password_file: /etc/regha/stats.pass", "")] => "stats.auth.password_file", "required";
    stats_password_file_relative: [("password_file: /etc/regha/stats.pass", "password_file: stats.pass")] => "stats.auth.password_file", "\"stats.pass\" is not an absolute path";
    stats_password_file_and_env: [("password_file: /etc/regha/stats.pass", "password_file: /etc/regha/stats.pass, password_env: REGHA_STATS_PASSWORD")] => "stats.auth", "both set";
    stats_password_env_bad_name: [("password_file: /etc/regha/stats.pass", "password_env: 1-PASS")] => "stats.auth.password_env", "not an environment variable name";
}

/// [`BASE`] with tracked scripts and interfaces added to `vrrp`.
fn with_trackers(scripts: &str, interfaces: &str) -> String {
    edit(&[(
        "  track_backends: { min_healthy: 1, weight: -50 }\n",
        &format!(
            "  track_backends: {{ min_healthy: 1, weight: -50 }}\n  track_scripts:\n{scripts}  track_interfaces:\n{interfaces}"
        ),
    )])
}

const SCRIPTS: &str = "    - name: chk_haproxy
      script: /usr/local/keepalived/chk_haproxy.sh --port 5000
      interval: 2s
      timeout: 3s
      weight: 2
      rise: 2
      fall: 3
    - { name: chk_disk, script: /usr/bin/true }
";
const INTERFACES: &str = "    - { name: eth1, weight: -20 }\n    - { name: bond0 }\n";

#[test]
fn tracked_scripts_and_interfaces_parse_with_keepalived_defaults() {
    let v = parse(&with_trackers(SCRIPTS, INTERFACES)).vrrp.unwrap();
    assert_eq!(
        v.track_scripts,
        vec![
            TrackScript {
                name: "chk_haproxy".into(),
                program: PathBuf::from("/usr/local/keepalived/chk_haproxy.sh"),
                args: vec!["--port".into(), "5000".into()],
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(3),
                weight: 2,
                rise: 2,
                fall: 3,
            },
            TrackScript {
                name: "chk_disk".into(),
                program: PathBuf::from("/usr/bin/true"),
                args: vec![],
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                weight: 0,
                rise: 1,
                fall: 1,
            },
        ]
    );
    assert_eq!(
        v.track_interfaces,
        vec![
            TrackInterface {
                name: "eth1".into(),
                weight: -20
            },
            TrackInterface {
                name: "bond0".into(),
                weight: 0
            },
        ]
    );
    // The timeout defaults to the interval, whatever it is.
    let v = parse(&with_trackers(
        "    - { name: c, script: /bin/c, interval: 5s }\n",
        "    []\n",
    ))
    .vrrp
    .unwrap();
    assert_eq!(v.track_scripts[0].timeout, Duration::from_secs(5));
}

#[test]
fn tracker_problems_name_their_field() {
    let one = |script: &str| with_trackers(&format!("    - {script}\n"), "    []\n");
    let cases: &[(String, &str, &str)] = &[
        (
            one("{ name: c, script: check.sh }"),
            "vrrp.track_scripts[0].script",
            "\"check.sh\" is not an absolute path",
        ),
        (
            one("{ name: c, script: \"\" }"),
            "vrrp.track_scripts[0].script",
            "empty",
        ),
        (
            one("{ name: c }"),
            "vrrp.track_scripts[0].script",
            "required",
        ),
        (
            one("{ script: /bin/c }"),
            "vrrp.track_scripts[0].name",
            "required",
        ),
        (
            one("{ name: \"a b\", script: /bin/c }"),
            "vrrp.track_scripts[0].name",
            "contains ' '",
        ),
        (
            one("{ name: c, script: /bin/c, weight: 255 }"),
            "vrrp.track_scripts[0].weight",
            "255 is out of range -254..=254",
        ),
        (
            one("{ name: c, script: /bin/c, interval: 0s }"),
            "vrrp.track_scripts[0].interval",
            "must be more than zero",
        ),
        (
            one("{ name: c, script: /bin/c, interval: 2 }"),
            "vrrp.track_scripts[0].interval",
            "has no unit",
        ),
        (
            one("{ name: c, script: /bin/c, timeout: 0s }"),
            "vrrp.track_scripts[0].timeout",
            "must be more than zero",
        ),
        (
            one("{ name: c, script: /bin/c, rise: 0 }"),
            "vrrp.track_scripts[0].rise",
            "0 is out of range 1..=100",
        ),
        (
            one("{ name: c, script: /bin/c, fall: 101 }"),
            "vrrp.track_scripts[0].fall",
            "101 is out of range 1..=100",
        ),
        (
            with_trackers(
                "    - { name: c, script: /bin/c }\n    - { name: c, script: /bin/d }\n",
                "    []\n",
            ),
            "vrrp.track_scripts[1].name",
            "\"c\" is also the name of vrrp.track_scripts[0]",
        ),
        (
            with_trackers("    []\n", "    - { name: \"eth/1\" }\n"),
            "vrrp.track_interfaces[0].name",
            "contains '/'",
        ),
        (
            with_trackers("    []\n", "    - { weight: 2 }\n"),
            "vrrp.track_interfaces[0].name",
            "required",
        ),
        (
            with_trackers("    []\n", "    - { name: eth1, weight: -300 }\n"),
            "vrrp.track_interfaces[0].weight",
            "-300 is out of range",
        ),
        (
            with_trackers("    []\n", "    - { name: eth1 }\n    - { name: eth1 }\n"),
            "vrrp.track_interfaces[1].name",
            "\"eth1\" is listed twice (also vrrp.track_interfaces[0])",
        ),
    ];
    for (yaml, path, message) in cases {
        assert_error(yaml, path, message);
    }
    // Unknown keys stop parsing, with the position.
    let e = errors(&one("{ name: c, script: /bin/c, wieght: 2 }"));
    assert!(e[0].message.contains("unknown field `wieght`"), "{e:?}");
    let e = errors(&with_trackers(
        "    []\n",
        "    - { name: eth1, weigth: 2 }\n",
    ));
    assert!(e[0].message.contains("unknown field `weigth`"), "{e:?}");
}

#[test]
fn a_weight_that_cannot_change_the_master_is_a_warning() {
    // (priority, peer_priorities, track_backends weight, warned, what)
    let cases: &[(u8, &str, i32, bool, &str)] = &[
        (
            101,
            "[100]",
            2,
            false,
            "keepalived's pair: +2 flips 101/100",
        ),
        (101, "[100]", -50, false, "-50 flips it too"),
        (101, "[100]", 1, true, "+1 only ties: the address decides"),
        (
            101,
            "[100]",
            0,
            false,
            "weight 0 is FAULT: always hands over",
        ),
        (
            150,
            "[100, 50]",
            -50,
            true,
            "50 is not more than the gap of 50",
        ),
        (
            150,
            "[100, 140]",
            -20,
            false,
            "it can flip against the closer peer",
        ),
        (
            100,
            "[100]",
            2,
            false,
            "equal priorities: any weight decides",
        ),
        (101, "[]", 1, false, "no peers listed: nothing to say"),
        (255, "[]", -50, true, "the owner is never tracked"),
    ];
    for &(priority, peers, weight, warned, what) in cases {
        let yaml = edit(&[
            ("priority: 101", &format!("priority: {priority}")),
            (
                "weight: -50 }",
                &format!("weight: {weight} }}\n  peer_priorities: {peers}"),
            ),
        ]);
        let warnings = parse(&yaml).warnings();
        assert_eq!(!warnings.is_empty(), warned, "{what}: {warnings:?}");
        if warned {
            assert_eq!(warnings[0].path, "vrrp.track_backends.weight", "{what}");
        }
    }
    // Every tracker is checked, and named by its own path.
    let yaml = with_trackers(SCRIPTS, INTERFACES).replace(
        "  track_scripts:",
        "  peer_priorities: [100]\n  track_scripts:",
    );
    let yaml = yaml.replace("weight: 2\n", "weight: 1\n");
    let paths: Vec<String> = parse(&yaml)
        .warnings()
        .into_iter()
        .map(|w| w.path)
        .collect();
    assert_eq!(paths, ["vrrp.track_scripts[0].weight"]);
    assert_error(
        &edit(&[("weight: -50 }", "weight: -50 }\n  peer_priorities: [0]")]),
        "vrrp.peer_priorities[0]",
        "0 is out of range 1..=255",
    );
}

#[test]
fn garp_keys_take_keepalived_names_and_defaults() {
    let v = parse(BASE).vrrp.unwrap();
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
        .unwrap();
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
fn load_refuses_scripts_someone_other_than_root_could_change() {
    use std::os::unix::fs::PermissionsExt;
    // /tmp is world-writable (sticky or not): a script there is refused,
    // and the error names the field, the directory, its owner and mode.
    let tmp = std::env::temp_dir();
    let mode = std::fs::metadata(&tmp).unwrap().permissions().mode() & 0o7777;
    assert_ne!(
        mode & 0o002,
        0,
        "{} must be world-writable for this test",
        tmp.display()
    );
    let script = tmp.join(format!("regha-notify-test-{}.sh", std::process::id()));
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let yaml = edit(&[
        ("master: /etc/regha/master.sh, backup: /etc/regha/backup.sh, fault: /etc/regha/fault.sh, stop: /etc/regha/stop.sh", &format!("master: {}", script.display())),
    ])
    .replace(
        "  track_backends:",
        "  track_scripts: [{ name: ok, script: /usr/bin/test -e /etc/hostname }]\n  track_backends:",
    );
    let path = tmp.join(format!("regha-config-scripts-{}.yaml", std::process::id()));
    std::fs::write(&path, &yaml).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&script).unwrap();
    let errors = loaded.expect_err("a script in /tmp is refused").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "vrrp.notify.master");
    let want = format!(
        "refused: directory {} is writable by group or others (owner uid 0, mode {mode:04o})",
        tmp.display()
    );
    assert!(
        errors[0].message.starts_with(&want),
        "{}",
        errors[0].message
    );
    // from_yaml_str reads no file system: the same text parses.
    assert!(Config::from_yaml_str(&yaml).is_ok());
}

#[test]
fn debug_output_never_shows_the_vrrp_password() {
    let c = parse(&edit(&[("auth_pass: \"1111\"", "auth_pass: \"s3cr3t!x\"")]));
    let v = c.vrrp.as_ref().unwrap();
    assert_eq!(v.auth_pass.as_deref(), Some("s3cr3t!x"));
    for text in [format!("{c:?}"), format!("{c:#?}"), format!("{v:?}")] {
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("\"<redacted>\""), "{text}");
    }
}

#[test]
fn unsafe_settings_are_warned_about() {
    let no_auth = (
        "  auth: { user: admin, password_file: /etc/regha/stats.pass }\n",
        "",
    );
    let multicast = ("  unicast_peers: [192.0.2.3]\n", "");
    let v3 = [
        ("version: 2", "version: 3"),
        ("  auth_pass: \"1111\"\n", ""),
    ];
    /// What the file is, its edits of BASE, the warned field paths.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        ("the base file is safe", vec![], vec![]),
        ("stats on loopback without auth", vec![no_auth], vec![]),
        (
            "stats on every address without auth",
            vec![no_auth, ("listen: 127.0.0.1:1158", "listen: 0.0.0.0:1158")],
            vec!["stats.listen"],
        ),
        (
            "stats on a public address with auth",
            vec![("listen: 127.0.0.1:1158", "listen: 192.0.2.2:1158")],
            vec![],
        ),
        (
            "stats on an IPv6 address without auth",
            vec![
                no_auth,
                ("listen: 127.0.0.1:1158", "listen: \"[2001:db8::2]:1158\""),
            ],
            vec!["stats.listen"],
        ),
        (
            "v2 unicast without auth_pass",
            vec![("  auth_pass: \"1111\"\n", "")],
            vec![],
        ),
        ("v2 multicast with auth_pass", vec![multicast], vec![]),
        (
            "v2 multicast without auth_pass",
            vec![multicast, ("  auth_pass: \"1111\"\n", "")],
            vec!["vrrp.auth_pass"],
        ),
        ("v3 unicast", v3.to_vec(), vec![]),
        (
            "v3 multicast",
            [v3.as_slice(), &[multicast]].concat(),
            vec!["vrrp.version"],
        ),
    ];
    for (what, edits, want) in cases {
        let warnings = parse(&edit(&edits)).warnings();
        let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, want, "{what}: {warnings:?}");
    }
    let w = parse(&edit(&[
        no_auth,
        ("listen: 127.0.0.1:1158", "listen: 0.0.0.0:1158"),
    ]))
    .warnings();
    assert!(
        w[0].message
            .starts_with("0.0.0.0:1158 is not a loopback address and stats.auth is not set"),
        "{}",
        w[0].message
    );
    let w = parse(&edit(&[multicast, ("  auth_pass: \"1111\"\n", "")])).warnings();
    assert!(
        w[0].message
            .contains("anyone on the segment can send a higher priority"),
        "{}",
        w[0].message
    );
}
