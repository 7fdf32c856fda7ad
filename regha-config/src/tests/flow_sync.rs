//! `flow_sync:`: off unless set, its defaults, every refusal, the round
//! trip, what a reload cannot apply, and the key file read at load.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

/// [`BASE`] with `flow_sync:` set to the map `map`.
fn with_flow_sync(map: &str) -> String {
    format!("{BASE}flow_sync: {map}\n")
}

const KEY_FILE: &str = "/etc/regha/flow-sync.key";

#[test]
fn flow_sync_is_off_unless_set_and_takes_its_defaults() {
    assert_eq!(parse(BASE).flow_sync, None);
    assert_eq!(parse(MINIMAL).flow_sync, None);
    assert_eq!(parse(&format!("{BASE}flow_sync: null\n")).flow_sync, None);
    assert_eq!(parse(&format!("{BASE}flow_sync:\n")).flow_sync, None);
    let f = parse(&with_flow_sync(&format!("{{ key_file: {KEY_FILE} }}")))
        .flow_sync
        .expect("set");
    assert_eq!(
        f,
        FlowSyncConfig {
            key_file: PathBuf::from(KEY_FILE),
            key: None,
            peers: vec![],
            group: ip("224.0.0.81"),
            port: 8848,
            max_rate: 50_000,
        }
    );
    assert_eq!(f, FlowSyncConfig::new(KEY_FILE));
    assert_eq!(DEFAULT_FLOW_SYNC_PORT, 8848);
    assert_eq!(DEFAULT_FLOW_SYNC_GROUP, ip("224.0.0.81"));
    assert_eq!(DEFAULT_FLOW_SYNC_MAX_RATE, 50_000);
}

#[test]
fn flow_sync_takes_every_key_and_writes_back_the_path_not_the_key() {
    let text = with_flow_sync(&format!(
        "{{ key_file: {KEY_FILE}, peers: [192.0.2.3, \"2001:db8::3\"], group: \"ff02::1:81\", port: 9000, max_rate: 100 }}"
    ));
    let config = parse(&text);
    let f = config.flow_sync.as_ref().unwrap();
    assert_eq!(f.peers, [ip("192.0.2.3"), ip("2001:db8::3")]);
    assert_eq!(f.group, ip("ff02::1:81"));
    assert_eq!((f.port, f.max_rate), (9000, 100));
    assert_eq!(parse(&config.to_yaml()), config);

    // A loaded key is never written: the file's path is.
    let mut loaded = config.clone();
    loaded.flow_sync.as_mut().unwrap().key = Some(FlowSyncKey::new(
        b"a secret key of 32 bytes, not 16".to_vec(),
    ));
    let written = loaded.to_yaml();
    assert!(!written.contains("a secret key"), "{written}");
    assert!(
        written.contains(&format!("key_file: {KEY_FILE}")),
        "{written}"
    );
    assert_eq!(parse(&written), config);
    // Off stays off.
    assert!(!parse(BASE).to_yaml().contains("flow_sync"));
}

#[test]
fn the_key_never_shows_in_debug() {
    let key = FlowSyncKey::new(b"0123456789abcdef-the-secret".to_vec());
    assert_eq!(key.as_bytes(), b"0123456789abcdef-the-secret");
    let mut config = parse(&with_flow_sync(&format!("{{ key_file: {KEY_FILE} }}")));
    config.flow_sync.as_mut().unwrap().key = Some(key.clone());
    for shown in [
        format!("{key:?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
    ] {
        assert!(!shown.contains("the-secret"), "{shown}");
        assert!(!shown.contains("48, 49, 50"), "bytes as numbers: {shown}");
        assert!(shown.contains("FlowSyncKey(27 bytes, redacted)"), "{shown}");
    }
}

#[test]
fn flow_sync_refusals_name_the_key() {
    let at = "flow_sync";
    for (map, key, message) in [
        ("{}", "key_file", "required"),
        (
            "{ peers: [192.0.2.3] }",
            "key_file",
            "head -c 32 /dev/urandom",
        ),
        (
            "{ key_file: flow-sync.key }",
            "key_file",
            "not an absolute path",
        ),
        (
            "{ key_file: /k, peers: [0.0.0.0] }",
            "peers[0]",
            "unspecified",
        ),
        (
            "{ key_file: /k, peers: [\"::\"] }",
            "peers[0]",
            "unspecified",
        ),
        (
            "{ key_file: /k, peers: [127.0.0.2] }",
            "peers[0]",
            "loopback",
        ),
        ("{ key_file: /k, peers: [\"::1\"] }", "peers[0]", "loopback"),
        (
            "{ key_file: /k, peers: [224.0.0.81] }",
            "peers[0]",
            "multicast",
        ),
        (
            "{ key_file: /k, peers: [lb2] }",
            "peers[0]",
            "not an IP address",
        ),
        (
            "{ key_file: /k, peers: [192.0.2.3, 192.0.2.4, 192.0.2.3] }",
            "peers[2]",
            "listed twice",
        ),
        // A service's VIP, and an instance's virtual address no service uses.
        (
            "{ key_file: /k, peers: [192.0.2.100] }",
            "peers[0]",
            "is a VIP",
        ),
        (
            "{ key_file: /k, peers: [192.0.2.101] }",
            "peers[0]",
            "is a VIP",
        ),
        (
            "{ key_file: /k, peers: [192.0.2.2] }",
            "peers[0]",
            "own address",
        ),
        (
            "{ key_file: /k, group: 192.0.2.3 }",
            "group",
            "not a multicast address",
        ),
        (
            "{ key_file: /k, group: \"2001:db8::1\" }",
            "group",
            "not a multicast address",
        ),
        (
            "{ key_file: /k, group: all-lbs }",
            "group",
            "not an IP address",
        ),
        (
            "{ key_file: /k, port: 0 }",
            "port",
            "out of range 1..=65535",
        ),
        ("{ key_file: /k, port: 65536 }", "port", "out of range"),
        (
            "{ key_file: /k, max_rate: 99 }",
            "max_rate",
            "out of range 100..=1000000",
        ),
        (
            "{ key_file: /k, max_rate: 1000001 }",
            "max_rate",
            "out of range",
        ),
    ] {
        assert_error(&with_flow_sync(map), &format!("{at}.{key}"), message);
    }
    // The limits themselves are accepted.
    for map in [
        "{ key_file: /k, port: 1, max_rate: 100 }",
        "{ key_file: /k, port: 65535, max_rate: 1000000 }",
    ] {
        parse(&with_flow_sync(map));
    }
    // Every problem at once, not the first only.
    let all = errors(&with_flow_sync(
        "{ key_file: k, peers: [127.0.0.1], group: 192.0.2.3, port: 0, max_rate: 1 }",
    ));
    assert_eq!(all.len(), 5, "{all:?}");
}

#[test]
fn an_unknown_flow_sync_key_is_an_error_with_its_position() {
    let errors = errors(&with_flow_sync("{ key_file: /k, peer: [192.0.2.3] }"));
    assert!(
        errors[0].message.contains("unknown field `peer`")
            && errors[0].message.contains("expected one of `key_file`"),
        "{errors:?}"
    );
    let errors = super::errors(&format!("{BASE}flow_synk: {{ key_file: /k }}\n"));
    assert!(
        errors[0].message.contains("unknown field `flow_synk`"),
        "{errors:?}"
    );
}

#[test]
fn flow_sync_without_vrrp_is_a_warning() {
    let sync = format!("flow_sync: {{ key_file: {KEY_FILE} }}\n");
    let warned = |text: &str| {
        parse(text)
            .warnings()
            .into_iter()
            .any(|w| w.path == "flow_sync")
    };
    assert!(warned(&format!("{MINIMAL}{sync}")));
    assert!(!warned(&format!("{BASE}{sync}")), "vrrp is set");
    assert!(!warned(MINIMAL), "flow_sync is off");
    let w = parse(&format!("{MINIMAL}{sync}")).warnings();
    assert!(
        w.iter().any(|w| w.message.contains("set without vrrp")),
        "{w:?}"
    );
}

#[test]
fn a_change_of_flow_sync_takes_effect_at_restart() {
    let off = parse(BASE);
    let on = parse(&with_flow_sync(&format!("{{ key_file: {KEY_FILE} }}")));
    let changes = |a: &Config, b: &Config| -> Vec<String> {
        restart_only_changes(a, b)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(changes(&on, &on.clone()), Vec::<String>::new());
    assert_eq!(
        changes(&off, &on),
        [format!(
            "flow_sync: changes only when the agent restarts (running: off, file: key_file {KEY_FILE}, group 224.0.0.81, port 8848, max_rate 50000)"
        )]
    );
    assert_eq!(changes(&on, &off).len(), 1);
    let peers = parse(&with_flow_sync(&format!(
        "{{ key_file: {KEY_FILE}, peers: [192.0.2.3, 192.0.2.4] }}"
    )));
    assert_eq!(
        changes(&on, &peers),
        [format!(
            "flow_sync: changes only when the agent restarts (running: key_file {KEY_FILE}, group 224.0.0.81, port 8848, max_rate 50000, file: key_file {KEY_FILE}, peers 192.0.2.3 192.0.2.4, port 8848, max_rate 50000)"
        )]
    );
    for edit in ["port: 9000", "max_rate: 100", "group: 224.0.0.82"] {
        let other = parse(&with_flow_sync(&format!(
            "{{ key_file: {KEY_FILE}, {edit} }}"
        )));
        let c = restart_only_changes(&on, &other);
        assert_eq!(c.len(), 1, "{edit}: {c:?}");
        assert_eq!(c[0].path, "flow_sync", "{edit}");
    }
    // The key: a new one is a change; a config read without its files (the
    // running one, written back) has none to compare, and that is none.
    let keyed = |k: &[u8]| {
        let mut c = on.clone();
        c.flow_sync.as_mut().unwrap().key = Some(FlowSyncKey::new(k.to_vec()));
        c
    };
    let a = keyed(b"0123456789abcdef");
    let b = keyed(b"fedcba9876543210");
    assert_eq!(changes(&a, &a.clone()), Vec::<String>::new());
    assert_eq!(changes(&a, &on), Vec::<String>::new());
    assert_eq!(changes(&on, &a), Vec::<String>::new());
    let rotated = changes(&a, &b);
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert!(!rotated[0].contains("0123"), "never the key: {rotated:?}");
}

/// A directory of its own under the temp directory, emptied first.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "regha-config-flow-sync-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `key` to `dir/name` with `mode`, and returns its path.
fn key_file(dir: &Path, name: &str, key: &[u8], mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

/// Loads [`MINIMAL`] (no scripts, no PEM files) with `flow_sync` reading
/// `key_file`, from a config file in `dir`.
fn load(dir: &Path, key_file: &str) -> Result<Config, ConfigErrors> {
    let path = dir.join("regha.yaml");
    std::fs::write(
        &path,
        format!("{MINIMAL}flow_sync: {{ key_file: {key_file} }}\n"),
    )
    .unwrap();
    Config::load(&path)
}

fn loaded_key(config: &Config) -> &[u8] {
    config
        .flow_sync
        .as_ref()
        .unwrap()
        .key
        .as_ref()
        .expect("loaded")
        .as_bytes()
}

#[test]
fn load_reads_the_key_and_read_does_not() {
    let dir = scratch_dir("load");
    let raw = key_file(&dir, "raw.key", &[0xff; 32], 0o600);
    let config = load(&dir, &raw).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded_key(&config), [0xff; 32]);
    // One trailing line break is dropped (an `echo`ed key), one only.
    let lf = key_file(&dir, "lf.key", b"0123456789abcdef\n", 0o600);
    assert_eq!(loaded_key(&load(&dir, &lf).unwrap()), b"0123456789abcdef");
    let crlf = key_file(&dir, "crlf.key", b"0123456789abcdef\r\n", 0o600);
    assert_eq!(loaded_key(&load(&dir, &crlf).unwrap()), b"0123456789abcdef");
    let two = key_file(&dir, "two.key", b"0123456789abcdef\n\n", 0o600);
    assert_eq!(
        loaded_key(&load(&dir, &two).unwrap()),
        b"0123456789abcdef\n"
    );
    // Read, the config has its path and no key; nor is the file looked at.
    let path = dir.join("regha.yaml");
    std::fs::write(
        &path,
        format!("{MINIMAL}flow_sync: {{ key_file: /nonexistent/k }}\n"),
    )
    .unwrap();
    let read = Config::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.flow_sync.unwrap().key, None);
    // Flow sync off: nothing to read.
    std::fs::write(&path, MINIMAL).unwrap();
    assert_eq!(Config::load(&path).unwrap().flow_sync, None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn load_names_the_key_file_and_says_how_to_make_one() {
    let dir = scratch_dir("refusals");
    let missing = dir.join("missing.key").display().to_string();
    let short = key_file(&dir, "short.key", b"fifteen bytes!!\n", 0o600);
    let empty = key_file(&dir, "empty.key", b"", 0o600);
    let large = key_file(&dir, "large.key", &[b'k'; 4097], 0o600);
    let directory = dir.display().to_string();
    for (file, message) in [
        (&missing, "cannot read"),
        (&short, "holds 15 byte(s), fewer than the 16"),
        (&empty, "holds 0 byte(s)"),
        (&large, "larger than the 4096 bytes"),
        (&directory, "not a regular file"),
    ] {
        let errors = load(&dir, file).expect_err(file).0;
        assert!(
            errors.iter().any(|e| e.path == "flow_sync.key_file"
                && e.message.contains(message)
                && e.message
                    .contains(&format!("head -c 32 /dev/urandom > {file}"))),
            "{file}: no error at flow_sync.key_file containing {message:?}: {errors:?}"
        );
    }
    // Exactly 16 bytes is enough.
    let sixteen = key_file(&dir, "sixteen.key", b"0123456789abcdef", 0o600);
    load(&dir, &sixteen).unwrap();
    // A bad PEM file and a bad key are both reported.
    let path = dir.join("regha.yaml");
    std::fs::write(
        &path,
        format!(
            "{MINIMAL}    health: {{ http: {{ tls: {{ ca_file: {missing} }} }} }}\nflow_sync: {{ key_file: {missing} }}\n"
        ),
    )
    .unwrap();
    let errors = Config::load(&path).unwrap_err().0;
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["services[0].health.http.tls.ca_file", "flow_sync.key_file"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_file_others_can_read_is_a_warning() {
    let dir = scratch_dir("mode");
    let warned = |mode: u32| {
        let file = key_file(&dir, &format!("{mode:o}.key"), &[7; 32], mode);
        let config = load(&dir, &file).unwrap_or_else(|e| panic!("{e}"));
        let w: Vec<ConfigError> = config
            .script_warnings()
            .into_iter()
            .filter(|w| w.path == "flow_sync.key_file")
            .collect();
        assert!(
            config
                .warnings()
                .iter()
                .all(|w| w.path != "flow_sync.key_file"),
            "the pure warnings do not read files"
        );
        w
    };
    assert_eq!(warned(0o600), []);
    assert_eq!(warned(0o400), []);
    assert_eq!(warned(0o711), [], "execute bits let nobody read the key");
    for (mode, can) in [
        (0o640, "can read the key"),
        (0o644, "can read the key"),
        (0o604, "can read the key"),
        (0o620, "can change the key"),
        (0o660, "can read and change the key"),
    ] {
        let w = warned(mode);
        assert_eq!(w.len(), 1, "{mode:o}: {w:?}");
        assert!(
            w[0].message.contains(&format!("has mode {mode:04o}"))
                && w[0].message.contains(can)
                && w[0].message.contains("chmod 600"),
            "{w:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
