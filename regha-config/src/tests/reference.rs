//! The reference agrees with the README (its generated region), with the
//! parser (every key a full config writes is described, and every key
//! described is one the parser knows), and renders as roff a man reader
//! can take.

use std::collections::BTreeSet;

use super::*;
use crate::reference::{self, SECTIONS, roff};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");

#[test]
fn the_readme_tables_are_the_generated_ones() {
    let readme = std::fs::read_to_string(README).expect("read README.md");
    let region = reference::readme_region(&readme).unwrap_or_else(|| {
        panic!(
            "README.md lacks the generated region's markers:\n{}\n...\n{}",
            reference::README_BEGIN,
            reference::README_END
        )
    });
    let generated = reference::markdown();
    if region == generated.trim_end_matches('\n') {
        return;
    }
    if std::env::var_os("REGHA_WRITE_README").is_some() {
        let rewritten = reference::with_region(&readme).expect("markers found above");
        std::fs::write(README, rewritten).expect("write README.md");
        eprintln!("rewrote the configuration reference in {README}");
        return;
    }
    let first = region
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| region.lines().count().min(generated.lines().count()));
    panic!(
        "README.md's configuration reference differs from regha-config/src/reference/tables.rs \
(the one source of it and of regha.yaml(5)) at line {} of the region:\n  README:    {:?}\n  generated: {:?}\n\
Edit tables.rs, then run `REGHA_WRITE_README=1 cargo test -p regha-config reference` to rewrite the README.",
        first + 1,
        region.lines().nth(first),
        generated.lines().nth(first)
    );
}

/// `services[].health` for the section of that heading, `` for the top.
fn prefix(section: &reference::Section) -> String {
    let heading = section.heading.trim_matches('`');
    if section.keys.is_empty() || heading == "Top level" {
        String::new()
    } else {
        format!("{heading}.")
    }
}

/// Every key the reference describes, with its section's prefix
/// (`vrrp.track_backends.min_healthy`), and its meaning.
fn described() -> Vec<(String, &'static str)> {
    SECTIONS
        .iter()
        .flat_map(|s| {
            let prefix = prefix(s);
            s.keys
                .iter()
                .filter(|k| k.key.starts_with('`'))
                .map(move |k| (format!("{prefix}{}", k.key.trim_matches('`')), k.meaning))
        })
        .collect()
}

/// Every key path in a YAML document: `vrrp.priority`, `services[].name`.
fn paths(value: &serde_yaml::Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().expect("string keys");
                let path = if at.is_empty() {
                    k.to_owned()
                } else {
                    format!("{at}.{k}")
                };
                out.insert(path.clone());
                paths(v, &path, out);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for v in items {
                paths(v, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

/// What [`BASE`] and a second file (the alternatives BASE does not take)
/// write back: every key the parser knows, defaults included.
fn written() -> BTreeSet<String> {
    let other = r#"
interface: eth0
role: master
vrrp:
  name: lb
  sync_group: both
  virtual_router_id: 51
  virtual_ipaddresses: [192.0.2.100]
  track_scripts: [{ name: chk, script: /etc/regha/chk.sh, interval: 2s, timeout: 1s, weight: 2, rise: 1, fall: 1 }]
  track_interfaces: [{ name: eth1, weight: -20 }]
  peer_priorities: [100]
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    health:
      tcp: {}
      fast_interval: 100ms
      fast_timeout: 300ms
      suspect: { enabled: false, window: 2s, min_syns: 5, min_retransmits: 4 }
    backends: [{ address: 192.0.2.11 }]
    vrrp_instance: lb
    allow: [198.51.100.0/24]
  - name: registry-tls
    vip: 192.0.2.100
    port: 5001
    health:
      http:
        tls:
          server_name: registry.example
          ca_file: /etc/regha/ca.pem
          client_cert: /etc/regha/client.pem
          client_key: /etc/regha/client.key
    backends: [{ address: 192.0.2.11, port: 5001 }]
    vrrp_instance: lb
stats:
  listen: 127.0.0.1:1158
  auth: { user: admin, password_env: REGHA_STATS_PASSWORD }
flow_sync: { key_file: /etc/regha/flow-sync.key, peers: [192.0.2.3] }
"#;
    let bgp = "interface: eth0
bgp: { vips: [203.0.113.10], frr: { pathspace: lb1 } }
services: [{ name: s, vip: 203.0.113.10, port: 5000, backends: [{ address: 192.0.2.11 }] }]
";
    let mut out = BTreeSet::new();
    for text in [BASE, other, bgp] {
        let yaml: serde_yaml::Value = serde_yaml::from_str(&parse(text).to_yaml()).unwrap();
        paths(&yaml, "", &mut out);
    }
    out
}

#[test]
fn every_key_the_parser_knows_is_described_and_every_described_key_exists() {
    let described = described();
    let written = written();
    let keys: BTreeSet<&str> = described.iter().map(|(k, _)| k.as_str()).collect();
    // A key inside a list item may be described in its list's meaning
    // (`track_scripts`: "Each: `name` ..., `script` ...") instead of a row.
    let in_prose = |path: &str| {
        described.iter().any(|(k, meaning)| {
            path.strip_prefix(k.as_str())
                .and_then(|rest| rest.strip_prefix("[]."))
                .is_some_and(|sub| meaning.contains(&format!("`{sub}`")) || meaning.contains(sub))
        })
    };
    // A mapping whose keys have rows of their own (`vrrp.notify`).
    let parent = |path: &str| keys.iter().any(|k| k.starts_with(&format!("{path}.")));
    let undescribed: Vec<&String> = written
        .iter()
        .filter(|p| !keys.contains(p.as_str()) && !in_prose(p) && !parent(p))
        .collect();
    assert!(
        undescribed.is_empty(),
        "keys the parser writes but the reference does not describe: {undescribed:?}"
    );
    let guard = example::GUARD_KEY;
    let unknown: Vec<&&str> = keys
        .iter()
        .filter(|k| !written.contains(**k) && **k != guard)
        .collect();
    assert!(
        unknown.is_empty(),
        "keys the reference describes but the parser never writes: {unknown:?}"
    );
}

#[test]
fn markdown_escapes_pipes_and_keeps_empty_cells() {
    let md = reference::markdown();
    assert!(md.contains("| `xdp_mode` | `native` \\| `generic` | `native` |"));
    assert!(md.contains("| (weights) | | | For every tracker"));
    assert!(md.starts_with("### Top level\n\n| key | type | default | meaning |\n"));
}

#[test]
fn roff_fonts_and_escapes() {
    assert_eq!(roff::inline("`--iface` wins"), "\\fB\\-\\-iface\\fR wins");
    assert_eq!(roff::inline("**Must** be `x`"), "\\fBMust\\fR be \\fBx\\fR");
    assert_eq!(roff::inline("a\\b"), "a\\eb");
    assert_eq!(roff::inline(".dot\n'quote"), "\\&.dot\n\\&'quote");
    assert_eq!(
        roff::inline("**bold `code` bold**"),
        "\\fBbold \\fBcode\\fB bold\\fR"
    );
}

#[test]
fn the_man_page_has_every_section_and_key() {
    let page = reference::man_page("9.9.9");
    assert!(page.starts_with(".TH REGHA.YAML 5 \"\" \"regha 9.9.9\""));
    for s in SECTIONS {
        assert!(
            page.contains(&format!(".SS \"{}\"", roff::inline(s.heading))),
            "{}",
            s.heading
        );
        for k in s.keys {
            assert!(page.contains(&roff::inline(k.key)), "{}", k.key);
        }
    }
    assert!(page.contains("unedited_example"));
    // No line a roff reader would take for an unknown request.
    for line in page.lines() {
        if let Some(req) = line.strip_prefix('.') {
            let name = req.split_whitespace().next().unwrap_or("");
            assert!(
                ["TH", "SH", "SS", "PP", "TP", "IP", "br"].contains(&name),
                "unexpected request: {line}"
            );
        }
    }
}

#[test]
fn the_example_carries_the_guard_and_still_parses() {
    let example = include_str!("../../regha.example.yaml");
    let line = example::guard_line(example).expect("the example has the guard");
    assert!(
        example
            .lines()
            .nth(line - 1)
            .unwrap()
            .starts_with("unedited_example: true"),
        "line {line}"
    );
    parse(example);
    assert_eq!(example::guard_line(BASE), None);
    assert_eq!(
        example::guard_line(&format!("{BASE}unedited_example: false\n")),
        None
    );
    let guarded = format!("{BASE}unedited_example: true\n");
    parse(&guarded);
    assert_eq!(example::guard_line(&guarded), Some(guarded.lines().count()));
    assert!(
        !parse(&guarded).to_yaml().contains("unedited_example"),
        "a mark on the file, never written back"
    );
}
