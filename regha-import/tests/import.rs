//! The import through its public API, on the golden cases' inputs: the
//! reference pair field by field, the warnings with their lines, every
//! pair through the config validator and back, and no panic on any prefix
//! of any input. The whole output of each case is in `golden/`; these
//! tests say what in it matters, and why.
//!
//! The inputs keep the names they had as fixtures of the agent
//! (`reference/keepalived-master.conf`), which the warnings cite.

use std::net::IpAddr;
use std::time::Duration;

use regha_config::{Config, HealthKind};
use regha_import::{ImportFailure, ImportOptions, Imported, Warning, import, import_with};
use regha_model::{HashMode, Role};

/// An input of a golden case, under the name the warnings cite.
macro_rules! fixture {
    ($name:literal, $path:literal) => {
        ($name, include_str!(concat!("golden/", $path)))
    };
}

const MASTER: (&str, &str) = fixture!(
    "reference/keepalived-master.conf",
    "reference-master/keepalived.conf"
);
const BACKUP: (&str, &str) = fixture!(
    "reference/keepalived-backup.conf",
    "reference-backup/keepalived.conf"
);
const HAPROXY: (&str, &str) = fixture!("reference/haproxy.cfg", "reference-master/haproxy.cfg");
const UNICAST_K: (&str, &str) = fixture!("unicast/keepalived.conf", "unicast/keepalived.conf");
const UNICAST_H: (&str, &str) = fixture!("unicast/haproxy.cfg", "unicast/haproxy.cfg");
const CRLF_K: (&str, &str) = fixture!("crlf/keepalived.conf", "crlf/keepalived.conf");
const CRLF_H: (&str, &str) = fixture!("crlf/haproxy.cfg", "crlf/haproxy.cfg");
const ONELINE_K: (&str, &str) = fixture!("oneline/keepalived.conf", "oneline/keepalived.conf");
const MODERN_H: (&str, &str) = fixture!("modern/haproxy.cfg", "modern/haproxy.cfg");
const MULTI_K: (&str, &str) = fixture!("multi/keepalived.conf", "multi/keepalived.conf");
const SYNC_K: (&str, &str) = fixture!(
    "sync-dual-stack/keepalived.conf",
    "sync-dual-stack/keepalived.conf"
);
const SYNC_H: (&str, &str) = fixture!("sync-dual-stack/haproxy.cfg", "sync-dual-stack/haproxy.cfg");
const LVS_DR: (&str, &str) = fixture!("lvs-dr/keepalived.conf", "lvs-dr/keepalived.conf");
const LVS_NAT: (&str, &str) = fixture!("lvs-nat/keepalived.conf", "lvs-nat/keepalived.conf");
const LVS_MERGE: (&str, &str) = fixture!(
    "lvs-and-haproxy/keepalived.conf",
    "lvs-and-haproxy/keepalived.conf"
);

/// A fixture: (name, text).
type Fixture = (&'static str, &'static str);

/// Every keepalived/haproxy pair the fixtures make.
const PAIRS: &[(Fixture, Fixture)] = &[
    (MASTER, HAPROXY),
    (BACKUP, HAPROXY),
    (UNICAST_K, UNICAST_H),
    (CRLF_K, CRLF_H),
    (ONELINE_K, HAPROXY),
    (MASTER, MODERN_H),
    (MULTI_K, HAPROXY),
    (MULTI_K, MODERN_H),
    (UNICAST_K, MODERN_H),
    (SYNC_K, SYNC_H),
    (LVS_MERGE, HAPROXY),
    (LVS_DR, HAPROXY),
];

/// Validates the output as `check-config` does (`vrrp.track_scripts` and
/// `track_interfaces` included: issue 4 added them to the schema).
fn valid(yaml: &str) -> Config {
    Config::from_yaml_str(yaml).unwrap_or_else(|e| {
        panic!("the import's output does not pass check-config:\n{e}\n---\n{yaml}")
    })
}

fn run(k: (&str, &str), h: (&str, &str)) -> Imported {
    let out = import(Some(k), Some(h)).unwrap_or_else(|e| panic!("{}+{}: {e}", k.0, h.0));
    reads_back(&out);
    out
}

/// The comments and the layout of the output change no value: it reads
/// back as what `Config::to_yaml` writes, and as the config itself.
fn reads_back(out: &Imported) {
    assert_eq!(
        yaml_value(&out.yaml),
        yaml_value(&out.config.to_yaml()),
        "{}",
        out.yaml
    );
    assert_eq!(valid(&out.yaml), out.config);
}

fn yaml_value(yaml: &str) -> serde_yaml::Value {
    serde_yaml::from_str(yaml).expect("the output is YAML")
}

/// The warning at `file:line` whose message contains `text`.
fn has(warnings: &[Warning], file: &str, line: usize, text: &str) -> Warning {
    warnings
        .iter()
        .find(|w| w.file == file && w.line == line && w.message.contains(text))
        .cloned()
        .unwrap_or_else(|| {
            let all: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
            panic!(
                "no warning {file}:{line} containing {text:?} in:\n{}",
                all.join("\n")
            )
        })
}

// ---- the reference pair ----

#[test]
fn reference_master_field_by_field() {
    let out = run(MASTER, HAPROXY);
    let c = valid(&out.yaml);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.role, None);
    let v = c.vrrp.first().expect("a vrrp section");
    assert_eq!((v.virtual_router_id, v.priority), (51, 101));
    assert_eq!(v.advert_interval, Duration::from_secs(1));
    assert_eq!(v.auth_pass.as_deref(), Some("1111"));
    assert!(v.preempt);
    assert_eq!(v.unicast_src, Some("198.51.100.4".parse().unwrap()));
    assert!(v.unicast_peers.is_empty());
    assert_eq!(
        v.virtual_ipaddresses,
        [("198.51.100.70".parse::<IpAddr>().unwrap(), 32)]
    );
    assert_eq!(v.notify, Default::default());

    assert_eq!(c.services.len(), 1);
    let s = &c.services[0];
    assert_eq!((s.name.as_str(), s.port), ("docker-registry", 5000));
    assert_eq!(s.vip, "198.51.100.70".parse::<IpAddr>().unwrap());
    assert_eq!(s.hash, HashMode::Source);
    let addrs: Vec<(String, u16, u32)> = s
        .backends
        .iter()
        .map(|b| (b.address.to_string(), b.port, b.weight))
        .collect();
    assert_eq!(
        addrs,
        [
            ("198.51.100.5".to_owned(), 5000, 1),
            ("198.51.100.67".to_owned(), 5000, 1)
        ]
    );
    assert_eq!(
        s.health.kind,
        HealthKind::Http {
            path: "/v2/".into(),
            host: Some("198.51.100.6".into()),
            expect: vec![200, 401],
            expect_header: None,
            tls: None,
        }
    );
    assert_eq!(
        (
            s.health.interval,
            s.health.timeout,
            s.health.rise,
            s.health.fall
        ),
        (Duration::from_secs(5), Duration::from_secs(2), 2, 3)
    );

    let stats = c.stats.as_ref().expect("stats");
    assert_eq!(stats.listen, "127.0.0.1:1158".parse().unwrap());
    assert_eq!(stats.auth.as_ref().expect("stats auth").user, "admin");
    let y = yaml_value(&out.yaml);
    assert_eq!(
        y["stats"]["auth"]["password_file"].as_str(),
        Some("/etc/regha/stats.pass")
    );

    // The track script, in the shape of issue 4.
    let t = &y["vrrp"]["track_scripts"][0];
    assert_eq!(t["name"].as_str(), Some("chk_haproxy"));
    assert_eq!(
        t["script"].as_str(),
        Some("/usr/local/keepalived/chk_haproxy.sh")
    );
    assert_eq!(t["interval"].as_str(), Some("2s"));
    assert_eq!(t["weight"].as_i64(), Some(2));
    // and the suggestion that replaces it, commented out.
    assert!(
        out.yaml
            .contains("# track_backends: { min_healthy: 1, weight: -50 }")
    );
}

#[test]
fn reference_backup_differs_only_in_priority_and_source() {
    let master = valid(&run(MASTER, HAPROXY).yaml);
    let backup = valid(&run(BACKUP, HAPROXY).yaml);
    let (m, b) = (master.vrrp[0].clone(), backup.vrrp[0].clone());
    assert_eq!(b.priority, 100);
    assert_eq!(b.unicast_src, Some("198.51.100.6".parse().unwrap()));
    assert_eq!(
        (m.virtual_router_id, &m.virtual_ipaddresses, &m.auth_pass),
        (b.virtual_router_id, &b.virtual_ipaddresses, &b.auth_pass)
    );
    assert_eq!(master.services, backup.services);
    assert_eq!(master.stats, backup.stats);
}

#[test]
fn reference_warnings_name_file_line_and_what_to_do() {
    let out = run(MASTER, HAPROXY);
    let k = "reference/keepalived-master.conf";
    let h = "reference/haproxy.cfg";
    let mail = has(&out.warnings, k, 2, "regha sends no mail");
    assert!(mail.hint.unwrap().contains("vrrp.notify"));
    let chk = has(&out.warnings, k, 11, "checks HAProxy");
    assert!(chk.hint.as_deref().unwrap().contains("track_backends"));
    has(&out.warnings, k, 17, "state MASTER");
    has(
        &out.warnings,
        k,
        22,
        "mcast_src_ip becomes `vrrp.unicast_src`",
    );
    has(&out.warnings, h, 7, "timeout connect 5000");
    has(&out.warnings, h, 13, "forwardfor");
    has(&out.warnings, h, 28, "every address");
    let auth = has(&out.warnings, h, 33, "password");
    assert!(auth.hint.unwrap().contains("install -m 600"));
    // Sorted, each line of `defaults` reported once, not once per proxy.
    let keys: Vec<(&str, usize)> = out
        .warnings
        .iter()
        .map(|w| (w.file.as_str(), w.line))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        out.warnings
            .iter()
            .filter(|w| w.message.contains("forwardfor"))
            .count(),
        1
    );
    // The Display form is `file:line: level: message`.
    assert!(
        chk.to_string()
            .starts_with("reference/keepalived-master.conf:11: warning: vrrp_script chk_haproxy")
    );
}

#[test]
fn reference_output_is_commented_for_a_reader() {
    let yaml = run(MASTER, HAPROXY).yaml;
    assert!(
        yaml.starts_with("# regha-agent configuration, generated by `regha-agent import` from:\n")
    );
    assert!(
        yaml.contains("#   keepalived: reference/keepalived-master.conf (vrrp_instance VI_1)\n")
    );
    assert!(yaml.contains("#   haproxy:    reference/haproxy.cfg\n"));
    assert!(yaml.contains("priority: 101                    # keepalived-master.conf:20\n"));
    assert!(yaml.contains("# balance source, haproxy.cfg:22"));
}

#[test]
fn stats_passwords_never_reach_the_output() {
    for (k, h, password) in [
        (MASTER, HAPROXY, "admin:admin"),
        (MASTER, MODERN_H, "correct-horse"),
    ] {
        let out = run(k, h);
        assert!(!out.yaml.contains(password), "{password} in the YAML");
        for w in &out.warnings {
            assert!(!w.to_string().contains(password), "{password} in {w}");
        }
    }
}

// ---- every fixture ----

#[test]
fn every_fixture_pair_passes_check_config() {
    for (k, h) in PAIRS {
        let out = run(*k, *h);
        valid(&out.yaml);
        for w in &out.warnings {
            assert!(w.file == k.0 || w.file == h.0, "{w}");
            assert!(
                w.line <= k.1.lines().count().max(h.1.lines().count()),
                "{w}"
            );
        }
    }
}

#[test]
fn unicast_peers_several_track_scripts_and_notify() {
    let out = run(UNICAST_K, UNICAST_H);
    let c = valid(&out.yaml);
    let v = c.vrrp.first().unwrap();
    assert_eq!(
        (v.virtual_router_id, v.priority, v.advert_interval),
        (77, 150, Duration::from_secs(2))
    );
    assert!(!v.preempt);
    assert_eq!(v.preempt_delay, Duration::from_secs(30));
    assert_eq!(v.unicast_src, Some("198.51.100.4".parse().unwrap()));
    let peers: Vec<String> = v.unicast_peers.iter().map(IpAddr::to_string).collect();
    assert_eq!(peers, ["198.51.100.6", "198.51.100.8"]);
    let vips: Vec<(String, u8)> = v
        .virtual_ipaddresses
        .iter()
        .map(|(a, p)| (a.to_string(), *p))
        .collect();
    assert_eq!(
        vips,
        [
            ("198.51.100.70".to_owned(), 24),
            ("198.51.100.71".to_owned(), 24)
        ]
    );
    // keepalived sent the first 8 bytes: so does the import.
    assert_eq!(v.auth_pass.as_deref(), Some("s3cr3tpa"));
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        46,
        "longer than 8 bytes",
    );
    assert_eq!(
        v.notify.master.as_deref(),
        Some(std::path::Path::new("/etc/keepalived/master.sh"))
    );
    assert_eq!(
        v.notify.fault.as_deref(),
        Some(std::path::Path::new("/etc/keepalived/fault.sh"))
    );
    assert_eq!(v.notify.backup, None);
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        61,
        "without arguments",
    );
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        63,
        "no catch-all notify",
    );
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        49,
        "label ens192:vip",
    );

    let y = yaml_value(&out.yaml);
    let scripts = y["vrrp"]["track_scripts"].as_sequence().unwrap();
    let names: Vec<&str> = scripts
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chk_haproxy", "chk_registry"]);
    assert_eq!(
        scripts[0]["script"].as_str(),
        Some("/usr/bin/killall -0 haproxy")
    );
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        10,
        "not an absolute path",
    );
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        9,
        "checks HAProxy",
    );
    let reg = &scripts[1];
    assert_eq!(
        reg["script"].as_str(),
        Some("/usr/local/bin/check_registry.sh --port 5000")
    );
    // The instance's `chk_registry weight 15` wins over the script's 10.
    assert_eq!(
        (
            reg["interval"].as_str(),
            reg["timeout"].as_str(),
            reg["weight"].as_i64()
        ),
        (Some("5s"), Some("3s"), Some(15))
    );
    assert_eq!(
        (reg["rise"].as_i64(), reg["fall"].as_i64()),
        (Some(3), Some(2))
    );
    // The shell one is left out, as a comment, with a warning.
    has(
        &out.warnings,
        "unicast/keepalived.conf",
        27,
        "needs a shell",
    );
    assert!(
        out.yaml
            .contains("# vrrp_script chk_disk (keepalived.conf:27) needs a shell")
    );
    assert_eq!(y["vrrp"]["garp_master_delay"].as_str(), Some("5s"));
    assert_eq!(v.garp.delay, Duration::from_secs(5));
    assert_eq!(
        y["vrrp"]["track_interfaces"][0]["name"].as_str(),
        Some("ens192")
    );
    assert_eq!(
        y["vrrp"]["track_interfaces"][0]["weight"].as_i64(),
        Some(-30)
    );

    // Two binds on two VIPs, one backend: two services; roundrobin -> flow.
    let svc: Vec<(&str, String, HashMode, usize)> = c
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.vip.to_string(), s.hash, s.backends.len()))
        .collect();
    assert_eq!(
        svc,
        [
            ("registry_pool", "198.51.100.70".into(), HashMode::Flow, 2),
            (
                "registry_pool-5000",
                "198.51.100.71".into(),
                HashMode::Flow,
                2
            )
        ]
    );
    assert_eq!(c.services[0].health.kind, HealthKind::Tcp);
    assert_eq!(c.services[0].health.interval, Duration::from_secs(2));
    assert_eq!(
        out.warnings
            .iter()
            .filter(|w| w.message.contains("roundrobin"))
            .count(),
        1
    );
    has(&out.warnings, "unicast/haproxy.cfg", 22, "`backup` server");
}

#[test]
fn modern_http_check_hash_type_and_a_listen_service() {
    let out = run(MASTER, MODERN_H);
    let c = valid(&out.yaml);
    let h = "modern/haproxy.cfg";
    assert_eq!(c.services.len(), 2);
    let pull = &c.services[0];
    assert_eq!(
        (pull.name.as_str(), pull.port, pull.hash),
        ("registry_pull", 5000, HashMode::Source)
    );
    assert_eq!(
        pull.health.kind,
        HealthKind::Http {
            path: "/v2/".into(),
            host: Some("registry.example.com".into()),
            expect: vec![200, 401],
            expect_header: None,
            tls: None,
        }
    );
    // default-server inter 3s fall 3 rise 2; timeout check 2s.
    assert_eq!(
        (
            pull.health.interval,
            pull.health.timeout,
            pull.health.rise,
            pull.health.fall
        ),
        (Duration::from_secs(3), Duration::from_secs(2), 2, 3)
    );
    assert_eq!(pull.backends.len(), 2);
    has(&out.warnings, h, 23, "hash-type consistent");
    has(&out.warnings, h, 18, "use_backend");
    has(&out.warnings, h, 29, "differ from the first server");
    has(&out.warnings, h, 30, "`disabled`");
    has(&out.warnings, h, 31, "not an IP address");
    has(&out.warnings, h, 33, "backend registry_push");

    let mirror = &c.services[1];
    assert_eq!(
        (mirror.name.as_str(), mirror.port, mirror.hash),
        ("registry_mirror", 5001, HashMode::Flow)
    );
    assert_eq!(
        mirror.health.kind,
        HealthKind::Http {
            path: "/v2/".into(),
            host: Some("mirror.example.com".into()),
            expect: vec![200],
            expect_header: Some("Docker-Distribution-Api-Version".into()),
            tls: None,
        }
    );
    assert!(mirror.backends.iter().all(|b| b.port == 5001));
    has(&out.warnings, h, 44, "send-proxy");
    has(&out.warnings, h, 45, "port 5002");

    let stats = c.stats.unwrap();
    assert_eq!(stats.listen, "198.51.100.4:8404".parse().unwrap());
    assert_eq!(stats.auth.unwrap().user, "ops");
}

#[test]
fn crlf_tabs_status_lists_and_weights() {
    let out = run(CRLF_K, CRLF_H);
    let c = valid(&out.yaml);
    assert!(!out.yaml.contains('\r'));
    let v = c.vrrp.first().unwrap();
    assert_eq!((v.virtual_router_id, v.priority), (9, 200));
    assert_eq!(c.interface.as_deref(), Some("eth1"));
    let s = &c.services[0];
    assert_eq!(s.name, "be_registry");
    let weights: Vec<u32> = s.backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [3, 1]);
    assert_eq!(
        (
            s.health.interval,
            s.health.timeout,
            s.health.rise,
            s.health.fall
        ),
        (Duration::from_secs(3), Duration::from_millis(1500), 3, 2)
    );
    assert!(matches!(&s.health.kind, HealthKind::Http { expect, .. } if expect == &[200, 401]));
    has(&out.warnings, "crlf/haproxy.cfg", 13, "always a GET");
    has(&out.warnings, "crlf/keepalived.conf", 3, "state MASTER");
}

#[test]
fn one_line_blocks() {
    let out = run(ONELINE_K, HAPROXY);
    let c = valid(&out.yaml);
    let v = c.vrrp.first().unwrap();
    assert_eq!(
        (v.virtual_router_id, v.priority, v.auth_pass.as_deref()),
        (51, 101, Some("1111"))
    );
    assert_eq!(v.unicast_peers, ["198.51.100.6".parse::<IpAddr>().unwrap()]);
    assert_eq!(v.virtual_ipaddresses.len(), 1);
    let y = yaml_value(&out.yaml);
    assert_eq!(
        y["vrrp"]["track_scripts"][0]["script"].as_str(),
        Some("/usr/local/bin/chk_reg")
    );
    assert_eq!(y["vrrp"]["track_scripts"][0]["weight"].as_i64(), Some(-10));
    has(
        &out.warnings,
        "oneline/keepalived.conf",
        1,
        "regha sends no mail",
    );
}

#[test]
fn several_instances_are_all_imported_under_their_names() {
    // keepalived ran both: so does regha, each service naming its holder.
    let out = run(MULTI_K, MODERN_H);
    let c = valid(&out.yaml);
    let names: Vec<(&str, u8)> = (c.vrrp.iter())
        .map(|v| (v.name.as_str(), v.virtual_router_id))
        .collect();
    assert_eq!(names, [("VI_OTHER", 60), ("VI_REGISTRY", 61)]);
    assert!(
        (c.services.iter()).all(|s| s.vrrp_instance.as_deref() == Some("VI_REGISTRY")),
        "{:?}",
        c.services
    );
    has(
        &out.warnings,
        "multi/keepalived.conf",
        2,
        "vrrp_instance VI_OTHER: no service is on its VIPs",
    );
    has(&out.warnings, "multi/keepalived.conf", 18, "auth_type AH");
    has(
        &out.warnings,
        "multi/keepalived.conf",
        24,
        "without arguments or a shell",
    );
    has(
        &out.warnings,
        "multi/keepalived.conf",
        12,
        "state MASTER with priority 90",
    );
    assert_eq!(c.vrrp[1].auth_pass, None);
    assert!(
        out.yaml.contains(
            "#   keepalived: multi/keepalived.conf (vrrp_instance VI_OTHER, VI_REGISTRY)\n"
        )
    );

    // --instance keeps one, under its own name.
    let opts = ImportOptions {
        instance: Some("VI_REGISTRY".into()),
        interface: Some("bond0".into()),
        ..Default::default()
    };
    let out = import_with(Some(MULTI_K), Some(HAPROXY), &opts).unwrap();
    reads_back(&out);
    let c = valid(&out.yaml);
    assert_eq!(c.vrrp.len(), 1);
    assert_eq!(
        (c.vrrp[0].name.as_str(), c.vrrp[0].virtual_router_id),
        ("VI_REGISTRY", 61)
    );
    assert_eq!(c.interface.as_deref(), Some("bond0"));
    assert_eq!(c.services[0].vrrp_instance, None, "one instance: derived");
    has(
        &out.warnings,
        "multi/keepalived.conf",
        2,
        "VI_OTHER not imported: --instance VI_REGISTRY",
    );
}

#[test]
fn dual_stack_instances_in_a_sync_group() {
    let out = run(SYNC_K, SYNC_H);
    let c = valid(&out.yaml);
    let k = "sync-dual-stack/keepalived.conf";
    let v: Vec<(&str, String, u8, Option<&str>)> = (c.vrrp.iter())
        .map(|v| {
            (
                v.name.as_str(),
                v.router().to_string(),
                v.version.number(),
                v.sync_group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        v,
        [
            ("VI_V4", "51/ipv4".to_owned(), 2, Some("VG_REGISTRY")),
            ("VI_V6", "51/ipv6".to_owned(), 3, Some("VG_REGISTRY")),
        ]
    );
    assert_eq!(c.vrrp[1].advert_interval, Duration::from_millis(100));
    assert_eq!(c.vrrp[0].auth_pass.as_deref(), Some("1111"));
    // keepalived ignored the members' weighted track_script: left out, said
    // at each line; the unweighted track_interface (FAULT) stays.
    assert!(c.vrrp.iter().all(|v| v.track_scripts.is_empty()));
    has(
        &out.warnings,
        k,
        31,
        "keepalived ignores a tracker's weight",
    );
    has(
        &out.warnings,
        k,
        48,
        "keepalived ignores a tracker's weight",
    );
    assert_eq!(c.vrrp[0].track_interfaces[0].name, "eth1");
    has(&out.warnings, k, 15, "notify scripts per instance");
    has(&out.warnings, k, 37, "version 3");
    let holders: Vec<(String, Option<&str>)> = (c.services.iter())
        .map(|s| (s.vip.to_string(), s.vrrp_instance.as_deref()))
        .collect();
    assert_eq!(
        holders,
        [
            ("198.51.100.70".to_owned(), Some("VI_V4")),
            ("2001:db8::70".to_owned(), Some("VI_V6"))
        ]
    );
    assert!(out.yaml.contains("adverts are multicast to ff02::12"));
    // Nothing said that IPv6 VRRP would not run.
    assert!(
        !out.warnings
            .iter()
            .any(|w| w.message.contains("not implemented"))
    );
}

#[test]
fn a_sync_group_of_one_imported_instance_is_not_written() {
    let opts = ImportOptions {
        instance: Some("VI_V4".into()),
        ..Default::default()
    };
    let out = import_with(Some(SYNC_K), Some(SYNC_H), &opts).unwrap();
    let c = valid(&out.yaml);
    assert_eq!(c.vrrp[0].sync_group, None);
    has(
        &out.warnings,
        "sync-dual-stack/keepalived.conf",
        10,
        "only one of its instances was imported",
    );
}

#[test]
fn instances_that_cannot_run_side_by_side() {
    let k = "vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress { 198.51.100.70 }\n}\n\
             vrrp_instance B {\n interface eth1\n virtual_router_id 5\n virtual_ipaddress { 198.51.100.71 }\n}\n\
             vrrp_instance C {\n interface eth1\n virtual_router_id 6\n virtual_ipaddress { 198.51.100.70\n 198.51.100.72 }\n unicast_peer { 198.51.100.71 }\n}\n\
             vrrp_sync_group G {\n group { A C NOPE }\n}\n";
    let out = import(Some(("k.conf", k)), Some(HAPROXY)).unwrap();
    reads_back(&out);
    let c = valid(&out.yaml);
    let names: Vec<&str> = c.vrrp.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["A", "C"]);
    has(
        &out.warnings,
        "k.conf",
        6,
        "VRID 5 (ipv4) is also vrrp_instance A's",
    );
    has(
        &out.warnings,
        "k.conf",
        11,
        "198.51.100.70 is also a virtual address of vrrp_instance A",
    );
    has(
        &out.warnings,
        "k.conf",
        12,
        "interface eth1: regha runs every instance on its one interface, eth0",
    );
    has(&out.warnings, "k.conf", 19, "no vrrp_instance NOPE");
    assert_eq!(
        c.vrrp[1].virtual_ipaddresses,
        [("198.51.100.72".parse::<IpAddr>().unwrap(), 32)]
    );
    assert_eq!(
        c.vrrp[1].unicast_peers,
        ["198.51.100.71".parse::<IpAddr>().unwrap()]
    );
    assert!(c.vrrp.iter().all(|v| v.sync_group.as_deref() == Some("G")));
}

// ---- keepalived's load balancer ----

#[test]
fn lvs_direct_routing_alone_is_enough() {
    let out = import(Some(LVS_DR), None).expect("keepalived alone, with virtual_servers");
    reads_back(&out);
    let c = valid(&out.yaml);
    let k = "lvs-dr/keepalived.conf";
    assert_eq!(c.role, None, "the VRRP instance holds the VIPs");
    let svc: Vec<(String, u16, HashMode)> = (c.services.iter())
        .map(|s| (s.vip.to_string(), s.port, s.hash))
        .collect();
    assert_eq!(
        svc,
        [
            ("198.51.100.70".to_owned(), 5000, HashMode::Source),
            ("198.51.100.70".to_owned(), 443, HashMode::Source),
            ("198.51.100.71".to_owned(), 5000, HashMode::Source),
        ]
    );
    // HTTP_GET: delay_loop, connect_timeout, nb_get_retry 2 -> fall 3.
    let s = &c.services[0];
    assert_eq!(
        s.health.kind,
        HealthKind::Http {
            path: "/v2/".into(),
            host: None,
            expect: vec![200, 401],
            expect_header: None,
            tls: None,
        }
    );
    let h = &s.health;
    assert_eq!(
        (h.interval, h.timeout, h.rise, h.fall),
        (Duration::from_secs(5), Duration::from_secs(2), 1, 3)
    );
    let weights: Vec<u32> = s.backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [3, 1]);
    has(&out.warnings, k, 31, "delay_before_retry 1s apart");
    // SSL_GET: the HTTPS check on the same path and codes, unverified as
    // keepalived's, warned.
    let s = &c.services[1];
    let HealthKind::Http {
        host, expect, tls, ..
    } = &s.health.kind
    else {
        panic!("{:?}", s.health.kind)
    };
    let tls = tls.as_ref().expect("SSL_GET is an HTTPS check");
    assert!(!tls.verify && tls.ca_file.is_none(), "{tls:?}");
    assert_eq!(host.as_deref(), Some("registry.example.com"));
    assert_eq!((expect.len(), expect[0], expect[100]), (101, 200, 401));
    assert_eq!(s.health.fall, 4);
    let ssl = has(
        &out.warnings,
        k,
        54,
        "SSL_GET: keepalived checked this real server over TLS",
    );
    assert!(ssl.hint.unwrap().contains("under `health.http.tls`"));
    // TCP_CHECK; mh is Maglev on the source.
    let s = &c.services[2];
    assert_eq!(s.health.kind, HealthKind::Tcp);
    assert_eq!(
        (s.health.interval, s.health.timeout, s.health.fall),
        (Duration::from_secs(3), Duration::from_secs(1), 2)
    );
    assert!(out.yaml.contains(
        "#   keepalived: lvs-dr/keepalived.conf (vrrp_instance VI_1; 3 virtual_servers)\n"
    ));
    assert!(
        !out.warnings.iter().any(|w| w.message.contains("lb_kind")),
        "DR is regha's own"
    );
}

#[test]
fn lvs_nat_tun_schedulers_and_what_does_not_map() {
    let out = import(Some(LVS_NAT), None).unwrap();
    reads_back(&out);
    let c = valid(&out.yaml);
    let k = "lvs-nat/keepalived.conf";
    let nat = has(&out.warnings, k, 15, "lb_kind NAT");
    assert!(nat.message.contains("direct server return"));
    assert!(
        nat.hint
            .unwrap()
            .contains("regha-agent backend-setup --vip 198.51.100.80 --apply")
    );
    let tun = has(&out.warnings, k, 41, "lb_kind TUN");
    assert!(tun.message.contains("198.51.100.81, 198.51.100.82"));
    let wlc = has(
        &out.warnings,
        k,
        14,
        "lb_algo wlc cannot be done statelessly",
    );
    assert!(wlc.message.contains("`hash: flow`"));
    has(&out.warnings, k, 40, "lb_algo rr");
    has(&out.warnings, k, 17, "sorry_server");
    has(&out.warnings, k, 18, "quorum");
    has(&out.warnings, k, 22, "notify_down");
    has(&out.warnings, k, 23, "MISC_CHECK");
    has(&out.warnings, k, 27, "listens on port 5001");
    has(&out.warnings, k, 28, "weight 0");
    has(&out.warnings, k, 36, "fwmark in virtual_server_group");
    has(&out.warnings, k, 46, "digest");
    has(&out.warnings, k, 51, "virtual_server fwmark 1");
    has(&out.warnings, k, 59, "not on a VRRP virtual address");
    let svc: Vec<(String, HashMode, usize)> = (c.services.iter())
        .map(|s| (s.vip.to_string(), s.hash, s.backends.len()))
        .collect();
    assert_eq!(
        svc,
        [
            ("198.51.100.80".to_owned(), HashMode::Flow, 2),
            ("198.51.100.81".to_owned(), HashMode::Flow, 1),
            ("198.51.100.82".to_owned(), HashMode::Flow, 1),
        ]
    );
    // MISC_CHECK is not run: a TCP connect, keepalived's default retry.
    assert_eq!(c.services[0].health.kind, HealthKind::Tcp);
    // connect_timeout 5 is bounded by delay_loop 4.
    assert_eq!(c.services[1].health.timeout, Duration::from_secs(4));
}

#[test]
fn haproxy_and_virtual_servers_merge_haproxy_wins_a_shared_port() {
    let out = run(LVS_MERGE, HAPROXY);
    let c = valid(&out.yaml);
    let svc: Vec<(&str, u16)> = (c.services.iter())
        .map(|s| (s.name.as_str(), s.port))
        .collect();
    assert_eq!(
        svc,
        [("docker-registry", 5000), ("vs_198.51.100.70_5001", 5001)]
    );
    let dup = has(
        &out.warnings,
        "lvs-and-haproxy/keepalived.conf",
        12,
        "is also HAProxy's service",
    );
    assert!(dup.message.contains("the HAProxy one is kept"));
    assert!(out.yaml.contains("#   haproxy:    reference/haproxy.cfg\n"));
}

#[test]
fn keepalived_without_instances_but_with_virtual_servers_is_a_static_master() {
    let k = "virtual_server 198.51.100.70 5000 {\n lb_algo sh\n lb_kind DR\n real_server 198.51.100.5 5000 {\n  TCP_CHECK { connect_timeout 2 }\n }\n}\n";
    let out = import(Some(("k.conf", k)), None).unwrap();
    reads_back(&out);
    let c = valid(&out.yaml);
    assert_eq!(c.role, Some(Role::Master));
    assert!(c.vrrp.is_empty());
    assert_eq!(c.services[0].health.timeout, Duration::from_secs(2));
    has(&out.warnings, "k.conf", 0, "no vrrp_instance");
}

// ---- errors ----

#[test]
fn errors_say_what_to_do() {
    let err = |r: Result<Imported, ImportFailure>| r.unwrap_err().to_string();
    assert!(err(import(None, None)).contains("give --keepalived"));
    assert!(err(import(Some(MASTER), None)).contains("--haproxy"));
    let e = err(import(None, Some(HAPROXY)));
    assert!(
        e.starts_with("reference/haproxy.cfg:15: ") && e.contains("--vip"),
        "{e}"
    );
    let e = err(import(
        Some(("k.conf", "global_defs { router_id x }")),
        Some(HAPROXY),
    ));
    assert!(e.contains("no `vrrp_instance`"), "{e}");
    let opts = ImportOptions {
        instance: Some("NOPE".into()),
        ..Default::default()
    };
    let e = err(import_with(Some(MULTI_K), Some(HAPROXY), &opts));
    assert!(e.contains("VI_OTHER, VI_REGISTRY"), "{e}");
    let e = err(import(
        Some((
            "k.conf",
            "vrrp_instance X {\n interface eth0\n virtual_ipaddress { 198.51.100.70 }\n}",
        )),
        Some(HAPROXY),
    ));
    assert!(
        e.starts_with("k.conf:1: ") && e.contains("virtual_router_id"),
        "{e}"
    );
    let e = err(import(
        Some(MASTER),
        Some(("h.cfg", "frontend f\n bind :5000\n")),
    ));
    assert!(
        e.contains("no service") && e.contains("see the warnings"),
        "{e}"
    );
    // ... and the warnings it points to come with the error.
    let failure = import(Some(MASTER), Some(("h.cfg", "frontend f\n bind :5000\n"))).unwrap_err();
    has(
        &failure.warnings,
        "h.cfg",
        1,
        "frontend f has no default_backend",
    );
}

#[test]
fn haproxy_alone_with_a_vip_is_a_static_master() {
    let opts = ImportOptions {
        vip: Some("198.51.100.70".parse().unwrap()),
        interface: Some("eth0".into()),
        ..Default::default()
    };
    let out = import_with(None, Some(HAPROXY), &opts).unwrap();
    let c = valid(&out.yaml);
    assert_eq!(c.role, Some(Role::Master));
    assert!(c.vrrp.is_empty());
    assert_eq!(
        c.services[0].vip,
        "198.51.100.70".parse::<IpAddr>().unwrap()
    );
    has(
        &out.warnings,
        "reference/haproxy.cfg",
        0,
        "static `role: master`",
    );
    // An explicit bind address is the VIP without --vip.
    let out = import(None, Some(MODERN_H)).unwrap();
    assert_eq!(
        valid(&out.yaml).services[0].vip,
        "198.51.100.70".parse::<IpAddr>().unwrap()
    );
}

// ---- robustness ----

#[test]
fn no_panic_on_any_prefix_of_any_fixture() {
    let texts = [
        MASTER, BACKUP, HAPROXY, UNICAST_K, UNICAST_H, CRLF_K, CRLF_H, ONELINE_K, MODERN_H,
        MULTI_K, SYNC_K, SYNC_H, LVS_DR, LVS_NAT, LVS_MERGE,
    ];
    for (name, text) in texts {
        for (cut, _) in text.char_indices().step_by(7) {
            let part = &text[..cut];
            let _ = import(Some((name, part)), Some((name, part)));
            let _ = import(Some((name, part)), Some(HAPROXY));
            let _ = import(Some(MASTER), Some((name, part)));
            let _ = import(Some((name, part)), None);
        }
    }
    for garbage in [
        "{",
        "}",
        "{{}}}}",
        "\"",
        "\\",
        "server",
        "bind",
        "bind :",
        "bind :0",
        "bind :1-65535",
        "server a [::1",
        "\u{feff}\u{0}\r\r\n",
        "vrrp_instance {",
        "frontend\nbind *:99999\ndefault_backend",
    ] {
        let _ = import(Some(("k", garbage)), Some(("h", garbage)));
    }
}

#[test]
fn fuzz_regression_non_printable_characters_are_escaped() {
    let (name, text) = UNICAST_K;
    for odd in ['\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}'] {
        let k = text.replacen(
            "notify_master /etc/keepalived/master.sh",
            &format!("notify_master /etc/keepalived/mas{odd}ter.sh"),
            1,
        );
        assert_ne!(k, text, "the fixture has the notify_master line");
        let out = import(Some((name, &k)), Some(UNICAST_H)).expect("imports");
        if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&out.yaml) {
            panic!(
                "U+{:04X} in a path: the output is not YAML: {e}",
                odd as u32
            );
        }
    }
}
