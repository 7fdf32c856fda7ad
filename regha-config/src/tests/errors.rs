//! What a refusal says: every problem in one run, serde's errors (unknown
//! keys, wrong types, syntax) with their position, and how errors display.

use super::*;

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
            .starts_with("line 33 column 7: unknown field `rize`, expected one of"),
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
        "services[1].port: line 39 column 11: invalid type: sequence, expected i64"
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
