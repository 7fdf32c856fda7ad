//! Tests of the import: each parser construct, the warnings with their
//! lines, the reference pair field by field, every fixture through the
//! config validator, and no panic on any prefix of any fixture.

use std::net::IpAddr;
use std::time::Duration;

use super::keepalived::{self, Stmt};
use super::{
    ImportError, ImportOptions, Imported, Severity, Warning, haproxy, import, import_with,
};
use regha_model::{HashMode, Role};

use regha_config::{Config, HealthKind};

macro_rules! fixture {
    ($name:literal, $path:literal) => {
        ($name, include_str!(concat!("../tests/golden/", $path)))
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
];

/// Validates the output as `check-config` does (`vrrp.track_scripts` and
/// `track_interfaces` included: issue 4 added them to the schema).
fn valid(yaml: &str) -> Config {
    Config::from_yaml_str(yaml).unwrap_or_else(|e| {
        panic!("the import's output does not pass check-config:\n{e}\n---\n{yaml}")
    })
}

fn run(k: (&str, &str), h: (&str, &str)) -> Imported {
    import(Some(k), Some(h)).unwrap_or_else(|e| panic!("{}+{}: {e}", k.0, h.0))
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

fn words(s: &Stmt) -> Vec<&str> {
    s.words.iter().map(|t| t.text.as_str()).collect()
}

fn parse_k(text: &str) -> (Vec<Stmt>, Vec<Warning>) {
    let mut w = Vec::new();
    let stmts = keepalived::parse(text, &mut super::Diag::new("k.conf", &mut w)).unwrap();
    (stmts, w)
}

// ---- keepalived lexer and parser ----

#[test]
fn keepalived_comments_quotes_and_braces() {
    let toks = keepalived::lex("a \"b # c\" d # e\nf ! g\ntrack_script {chk}\n");
    let texts: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        texts,
        ["a", "b # c", "d", "f", "track_script", "{", "chk", "}"]
    );
    assert!(toks[1].quoted);
    assert_eq!(toks[3].line, 2);
    assert_eq!(toks[7].line, 3);
}

#[test]
fn keepalived_non_ascii_comments_and_crlf() {
    let (stmts, w) = parse_k(
        "vrrp_instance VI_1 {\r\n    state BACKUP #状态为BACKUP\r\n    priority 100  #权重\r\n}\r\n",
    );
    assert!(w.is_empty(), "{w:?}");
    let block = stmts[0].block.as_ref().unwrap();
    assert_eq!(words(&block[0]), ["state", "BACKUP"]);
    assert_eq!(words(&block[1]), ["priority", "100"]);
    assert_eq!(block[1].line, 3);
}

#[test]
fn keepalived_brace_on_the_next_line_and_one_line_blocks() {
    let (stmts, w) = parse_k(
        "vrrp_instance VI_1\n{\n  authentication { auth_type PASS auth_pass 1111 }\n  virtual_ipaddress {\n 198.51.100.70 }\n}\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(stmts.len(), 1);
    let block = stmts[0].block.as_ref().unwrap();
    let auth = block[0].block.as_ref().unwrap();
    let entries = keepalived::split_known(auth, &["auth_type", "auth_pass"]);
    let pairs: Vec<(&str, Option<&str>, usize)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.arg(), e.line))
        .collect();
    assert_eq!(
        pairs,
        [
            ("auth_type", Some("PASS"), 3),
            ("auth_pass", Some("1111"), 3)
        ]
    );
    assert_eq!(
        words(&block[1].block.as_ref().unwrap()[0]),
        ["198.51.100.70"]
    );
}

#[test]
fn keepalived_unbalanced_braces_are_warnings_with_lines() {
    let (_, w) = parse_k("}\nvrrp_instance X {\n  state MASTER\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!((w[0].line, w[0].severity), (1, Severity::Warning));
    assert!(w[0].message.contains("closes no block"));
    assert_eq!(w[1].line, 2);
    assert!(w[1].message.contains("never closed"));
}

#[test]
fn keepalived_absurd_nesting_is_an_error_not_a_stack_overflow() {
    let text = "a {".repeat(100_000);
    let mut w = Vec::new();
    let err = keepalived::parse(&text, &mut super::Diag::new("k.conf", &mut w)).unwrap_err();
    assert!(matches!(err, ImportError::Syntax { line: 1, .. }), "{err}");
}

// ---- HAProxy tokenizer and sections ----

#[test]
fn haproxy_escapes_comments_and_quotes() {
    assert_eq!(
        haproxy::tokenize("    stats realm Haproxy\\ Statistics     #登录提示"),
        ["stats", "realm", "Haproxy Statistics"]
    );
    assert_eq!(
        haproxy::tokenize("option httpchk GET /v2/ HTTP/1.1\\r\\nHost:198.51.100.6"),
        [
            "option",
            "httpchk",
            "GET",
            "/v2/",
            "HTTP/1.1\r\nHost:198.51.100.6"
        ]
    );
    assert_eq!(
        haproxy::tokenize("a \"b c # d\" 'e\\f' g\\#h #x"),
        ["a", "b c # d", "e\\f", "g#h"]
    );
    assert_eq!(
        haproxy::tokenize("  # only a comment"),
        Vec::<String>::new()
    );
    assert_eq!(haproxy::tokenize("bind :5000\r"), ["bind", ":5000"]);
}

#[test]
fn haproxy_sections_ignore_indentation() {
    let mut w = Vec::new();
    let s = haproxy::sections(HAPROXY.1, &mut super::Diag::new("h.cfg", &mut w));
    let names: Vec<(&str, &str, usize)> = s
        .iter()
        .map(|s| (s.keyword.as_str(), s.name.as_str(), s.line))
        .collect();
    assert_eq!(
        names,
        [
            ("global", "", 1),
            ("defaults", "", 6),
            ("frontend", "http_server", 14),
            ("backend", "docker-registry", 20),
            ("listen", "admin_stat", 27)
        ]
    );
    // `stats admin if TRUE` at column 0 still belongs to the listen section.
    let last = s[4].lines.last().unwrap();
    assert_eq!(
        (last.no, last.word(0), last.word(1)),
        (35, "stats", "admin")
    );
    assert!(w.is_empty());
}

#[test]
fn haproxy_times() {
    assert_eq!(haproxy::time("5000"), Some(Duration::from_secs(5)));
    assert_eq!(haproxy::time("5s"), Some(Duration::from_secs(5)));
    assert_eq!(haproxy::time("1500ms"), Some(Duration::from_millis(1500)));
    assert_eq!(haproxy::time("2m"), Some(Duration::from_secs(120)));
    assert_eq!(haproxy::time("10us"), Some(Duration::from_micros(10)));
    assert_eq!(haproxy::time("5 s"), None);
    assert_eq!(haproxy::time("fast"), None);
    assert_eq!(haproxy::time("99999999999999999999d"), None);
}

// ---- the reference pair ----

#[test]
fn reference_master_field_by_field() {
    let out = run(MASTER, HAPROXY);
    let c = valid(&out.yaml);
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.role, None);
    let v = c.vrrp.as_ref().expect("a vrrp section");
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
            expect_header: None
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
    let (m, b) = (master.vrrp.clone().unwrap(), backup.vrrp.clone().unwrap());
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
    let v = c.vrrp.as_ref().unwrap();
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
            expect_header: None
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
            expect_header: Some("Docker-Distribution-Api-Version".into())
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
    let v = c.vrrp.as_ref().unwrap();
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
    let v = c.vrrp.as_ref().unwrap();
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
fn several_instances_pick_the_one_holding_the_bound_vip() {
    // modern/haproxy.cfg binds 198.51.100.70: VI_REGISTRY holds it.
    let out = run(MULTI_K, MODERN_H);
    let c = valid(&out.yaml);
    assert_eq!(c.vrrp.as_ref().unwrap().virtual_router_id, 61);
    has(
        &out.warnings,
        "multi/keepalived.conf",
        2,
        "VI_OTHER not imported",
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
    assert_eq!(c.vrrp.unwrap().auth_pass, None);

    // `bind :5000` names no address: the first instance, said so.
    let out = run(MULTI_K, HAPROXY);
    assert_eq!(valid(&out.yaml).vrrp.unwrap().virtual_router_id, 60);
    has(
        &out.warnings,
        "multi/keepalived.conf",
        11,
        "choose with --instance",
    );
    let opts = ImportOptions {
        instance: Some("VI_REGISTRY".into()),
        interface: Some("bond0".into()),
        ..Default::default()
    };
    let out = import_with(Some(MULTI_K), Some(HAPROXY), &opts).unwrap();
    let c = valid(&out.yaml);
    assert_eq!(c.vrrp.unwrap().virtual_router_id, 61);
    assert_eq!(c.interface.as_deref(), Some("bond0"));
}

// ---- errors ----

#[test]
fn errors_say_what_to_do() {
    let err = |r: Result<Imported, ImportError>| r.unwrap_err().to_string();
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
    assert!(e.contains("no service"), "{e}");
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
    assert!(c.vrrp.is_none());
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
        MASTER, BACKUP, HAPROXY, UNICAST_K, UNICAST_H, CRLF_K, CRLF_H, ONELINE_K, MODERN_H, MULTI_K,
    ];
    for (name, text) in texts {
        for (cut, _) in text.char_indices().step_by(7) {
            let part = &text[..cut];
            let _ = import(Some((name, part)), Some((name, part)));
            let _ = import(Some((name, part)), Some(HAPROXY));
            let _ = import(Some(MASTER), Some((name, part)));
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
fn yaml_scalars_stay_strings() {
    use super::emit::scalar;
    assert_eq!(scalar("registry"), "registry");
    assert_eq!(scalar("/v2/"), "/v2/");
    assert_eq!(scalar("1111"), "\"1111\"");
    assert_eq!(scalar("yes"), "\"yes\"");
    assert_eq!(scalar("a: b"), "\"a: b\"");
    assert_eq!(scalar("x\"y\n"), "\"x\\\"y\\n\"");
    assert_eq!(scalar(""), "\"\"");
}

/// Found by the `import` fuzz target (fuzz/): a DEL (0x7f) in a keepalived
/// notify path went into a double-quoted YAML string as it was. JSON leaves
/// DEL and the C1 controls unescaped, but YAML allows neither in a
/// document, so the output was not YAML.
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
