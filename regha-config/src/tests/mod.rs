//! What the config accepts, what it fills in, and what it says when it
//! refuses. Most refusals are one edit of [`BASE`] (a valid file that sets
//! every key) and the error it must produce: the exact field path and a
//! fragment of the message.

//!
//! One file per section of the config (`instances`: several VRRP instances
//! and sync groups), plus `errors` (what a refusal says)
//! and `load` (the file itself).

mod bgp;
mod document;
mod errors;
mod flow_sync;
mod health;
mod instances;
mod load;
mod nesting;
mod reference;
mod restart;
mod service;
mod stats;
mod tls;
mod track;
mod vrrp;
mod warnings;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use regha_model::{Forwarding, HashMode, Protocol, Role, VrrpVersion, XdpMode};

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
    allow: [198.51.100.0/24, 203.0.113.7]
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

pub(super) use rejects;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}
