use super::{
    protocol::{BackendAction, Request, apply_backend, parse_request},
    *,
};

const CONFIG: &str = "
role: master
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
  - name: registry6
    vip: 2001:db8::100
    port: 443
    backends: [{ address: 2001:db8::11 }]
";

fn config() -> Config {
    Config::from_yaml_str(CONFIG).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_backend_is_named_with_or_without_its_port() {
    let c = config();
    for text in ["192.0.2.11", "192.0.2.11:5000"] {
        assert_eq!(
            resolve_backend(&c, "registry", text),
            Ok(sa("192.0.2.11:5000"))
        );
    }
    for text in ["2001:db8::11", "[2001:db8::11]", "[2001:db8::11]:443"] {
        assert_eq!(
            resolve_backend(&c, "registry6", text),
            Ok(sa("[2001:db8::11]:443"))
        );
    }
}

#[test]
fn unknown_services_and_backends_are_clear_errors() {
    let c = config();
    let e = resolve_backend(&c, "regsitry", "192.0.2.11").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no service named \"regsitry\" (services: registry, registry6)"
    );
    let e = resolve_backend(&c, "registry", "192.0.2.13").unwrap_err();
    assert_eq!(
        e.to_string(),
        "service \"registry\" has no backend 192.0.2.13 (backends: 192.0.2.11:5000, 192.0.2.12:5000)"
    );
    let e = resolve_backend(&c, "registry", "192.0.2.11:5001").unwrap_err();
    assert!(matches!(e, AdminError::UnknownBackend { .. }), "{e}");
    let e = resolve_backend(&c, "registry", "be1").unwrap_err();
    assert!(e.to_string().contains("is not a backend address"), "{e}");
}

#[test]
fn commands_change_the_table_and_errors_change_nothing() {
    let c = config();
    let mut t = AdminTable::default();
    let change = apply_backend(&mut t, &c, BackendAction::Drain, "registry", "192.0.2.11").unwrap();
    assert!(change.changed());
    assert_eq!(
        change.message(),
        "registry 192.0.2.11:5000: drain (was enabled)"
    );
    assert_eq!(t.get("registry", sa("192.0.2.11:5000")), AdminState::Drain);
    let again = apply_backend(&mut t, &c, BackendAction::Drain, "registry", "192.0.2.11").unwrap();
    assert!(!again.changed());
    assert_eq!(again.message(), "registry 192.0.2.11:5000: already drain");

    let before = t.clone();
    assert!(apply_backend(&mut t, &c, BackendAction::Disable, "registry", "192.0.2.99").is_err());
    assert!(apply_backend(&mut t, &c, BackendAction::Enable, "nope", "192.0.2.11").is_err());
    assert_eq!(t, before, "a refused command changes nothing");

    apply_backend(&mut t, &c, BackendAction::Disable, "registry", "192.0.2.12").unwrap();
    apply_backend(&mut t, &c, BackendAction::Enable, "registry", "192.0.2.11").unwrap();
    assert_eq!(
        t.backends,
        vec![AdminEntry {
            service: "registry".into(),
            backend: sa("192.0.2.12:5000"),
            state: AdminState::Disabled
        }],
        "enabled backends are not kept"
    );
}

#[test]
fn the_table_survives_a_round_trip_and_forgets_unconfigured_backends() {
    let dir = std::env::temp_dir().join(format!("regha-admin-table-{}", std::process::id()));
    let path = table_path(&dir, "eth0");
    assert_eq!(
        AdminTable::load(&path),
        Ok(AdminTable::default()),
        "no file: empty"
    );
    let mut t = AdminTable::default();
    t.set("registry", sa("192.0.2.12:5000"), AdminState::Drain);
    t.set("gone", sa("192.0.2.50:80"), AdminState::Disabled);
    t.save(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut back = AdminTable::load(&path).unwrap();
    assert_eq!(back, t);
    let gone = back.retain_configured(&config());
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].service, "gone");
    assert_eq!(back.backends.len(), 1);
    std::fs::write(&path, "{not json").unwrap();
    assert!(AdminTable::load(&path).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn requests_parse_from_json_lines() {
    assert_eq!(
        parse_request(
            r#"{"command":"backend","action":"drain","service":"registry","backend":"192.0.2.11"}"#
        ),
        Ok(Request::Backend {
            action: BackendAction::Drain,
            service: "registry".into(),
            backend: "192.0.2.11".into()
        })
    );
    assert_eq!(
        parse_request("{\"command\":\"vrrp_resign\"}\n"),
        Ok(Request::VrrpResign { instance: None })
    );
    assert_eq!(
        parse_request(r#"{"command":"vrrp_resume","instance":"v6"}"#),
        Ok(Request::VrrpResume {
            instance: Some("v6".into())
        })
    );
    assert!(
        parse_request(r#"{"command":"backend","action":"explode","service":"a","backend":"b"}"#)
            .is_err()
    );
    assert!(parse_request("drain registry").is_err());
    assert!(parse_request(&"x".repeat(5000)).is_err());
}
