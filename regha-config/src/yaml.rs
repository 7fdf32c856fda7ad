//! The typed [`Config`] written back as YAML: through the same `raw` mirror
//! that reads it, so whatever this writes, [`Config::from_yaml_str`] reads
//! back as the same value (a test holds the two to that). Tests build their
//! configs as typed values and write them with this; the importer does the
//! same, so a schema change breaks their build, not their users.
//!
//! Every key is written, defaults included: a reader sees the whole
//! configuration, and a default that changes later does not silently
//! change what a written file means.

use std::net::IpAddr;

use super::{
    BackendConfig, BgpConfig, Config, DEFAULT_FAST_INTERVAL, DEFAULT_FAST_TIMEOUT, FlowSyncConfig,
    HealthConfig, HealthKind, PasswordSource, ServiceConfig, StatsConfig, SuspectConfig,
    TrackScript, VrrpConfig, duration, raw,
};

impl Config {
    /// The config as a YAML document that reads back as `self`.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&raw_config(self)).expect("the raw mirror is plain data")
    }
}

fn raw_config(c: &Config) -> raw::Config {
    raw::Config {
        interface: c.interface.clone(),
        xdp_mode: Some(c.xdp_mode.as_str().to_owned()),
        flow_table_size: Some(c.flow_table_size.into()),
        hash_seed: Some(c.hash_seed.into()),
        role: c.role.map(|r| r.as_str().to_owned()),
        // One instance in the map form every config was written in before
        // there could be several; several as a list.
        vrrp: match c.vrrp.as_slice() {
            [] => None,
            [one] => Some(raw::VrrpSection::One(Box::new(raw_vrrp(one)))),
            many => Some(raw::VrrpSection::Many(many.iter().map(raw_vrrp).collect())),
        },
        services: Some(c.services.iter().map(raw_service).collect()),
        stats: Some(c.stats.as_ref().map(raw_stats)),
        flow_sync: c.flow_sync.as_ref().map(raw_flow_sync),
        bgp: c.bgp.as_ref().map(raw_bgp),
        unedited_example: None,
    }
}

fn dur(d: std::time::Duration) -> Option<String> {
    Some(duration::format(d))
}

/// `IP/prefix`, the prefix left out where it is the family's default.
fn prefixed((ip, prefix): &(IpAddr, u8)) -> String {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if *prefix == full {
        ip.to_string()
    } else {
        format!("{ip}/{prefix}")
    }
}

fn raw_vrrp(v: &VrrpConfig) -> raw::Vrrp {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    raw::Vrrp {
        name: Some(v.name.clone()),
        sync_group: v.sync_group.clone(),
        virtual_router_id: Some(v.virtual_router_id.into()),
        priority: Some(v.priority.into()),
        advert_interval: dur(v.advert_interval),
        version: Some(v.version.number().into()),
        auth_pass: v.auth_pass.clone(),
        preempt: Some(v.preempt),
        preempt_delay: dur(v.preempt_delay),
        unicast_src: v.unicast_src.map(|ip| ip.to_string()),
        unicast_peers: v.unicast_peers.iter().map(ToString::to_string).collect(),
        virtual_ipaddresses: Some(v.virtual_ipaddresses.iter().map(prefixed).collect()),
        track_backends: v.track_backends.map(|t| raw::TrackBackends {
            min_healthy: Some(t.min_healthy.into()),
            weight: Some(t.weight.into()),
        }),
        track_scripts: v.track_scripts.iter().map(raw_script).collect(),
        track_interfaces: v
            .track_interfaces
            .iter()
            .map(|t| raw::TrackInterface {
                name: Some(t.name.clone()),
                weight: Some(t.weight.into()),
            })
            .collect(),
        peer_priorities: v.peer_priorities.iter().map(|&p| p.into()).collect(),
        garp_master_delay: dur(v.garp.delay),
        garp_master_repeat: Some(v.garp.repeat.into()),
        garp_master_refresh: dur(v.garp.refresh),
        garp_master_refresh_repeat: Some(v.garp.refresh_repeat.into()),
        notify: Some(raw::Notify {
            master: path(&v.notify.master),
            backup: path(&v.notify.backup),
            fault: path(&v.notify.fault),
            stop: path(&v.notify.stop),
        }),
    }
}

fn raw_script(t: &TrackScript) -> raw::TrackScript {
    let mut script = t.program.display().to_string();
    for arg in &t.args {
        script.push(' ');
        script.push_str(arg);
    }
    raw::TrackScript {
        name: Some(t.name.clone()),
        script: Some(script),
        interval: dur(t.interval),
        timeout: dur(t.timeout),
        weight: Some(t.weight.into()),
        rise: Some(t.rise.into()),
        fall: Some(t.fall.into()),
    }
}

fn raw_service(s: &ServiceConfig) -> raw::Service {
    raw::Service {
        name: Some(s.name.clone()),
        vip: Some(s.vip.to_string()),
        port: Some(s.port.into()),
        protocol: Some(s.protocol.as_str().to_owned()),
        hash: Some(s.hash.as_str().to_owned()),
        forwarding: Some(s.forwarding.as_str().to_owned()),
        ring_size: Some(s.ring_size.into()),
        health: Some(raw_health(&s.health)),
        backends: Some(s.backends.iter().map(raw_backend).collect()),
        vrrp_instance: s.vrrp_instance.clone(),
        allow: (!s.allow.is_empty()).then(|| s.allow.iter().map(ToString::to_string).collect()),
    }
}

fn raw_health(h: &HealthConfig) -> raw::Health {
    let (http, tcp) = match &h.kind {
        HealthKind::Http {
            path,
            host,
            expect,
            expect_header,
            tls,
        } => (
            Some(Some(raw::Http {
                path: Some(path.clone()),
                host: host.clone(),
                expect: Some(expect.iter().map(|&e| e.into()).collect()),
                expect_header: expect_header.clone(),
                tls: tls.as_ref().map(|t| {
                    let path = |p: &Option<std::path::PathBuf>| {
                        p.as_ref().map(|p| p.display().to_string())
                    };
                    Some(raw::Tls {
                        server_name: t.server_name.clone(),
                        verify: Some(t.verify),
                        ca_file: path(&t.ca_file),
                        client_cert: path(&t.client_cert),
                        client_key: path(&t.client_key),
                    })
                }),
            })),
            None,
        ),
        HealthKind::Tcp => (None, Some(Some(raw::Tcp {}))),
    };
    raw::Health {
        http,
        tcp,
        interval: dur(h.interval),
        timeout: dur(h.timeout),
        rise: Some(h.rise.into()),
        fall: Some(h.fall.into()),
        // The fast keys and `suspect` only where they differ from what
        // leaving them out means: an imported config stays as short as it was.
        fast_interval: (h.fast_interval != DEFAULT_FAST_INTERVAL.min(h.interval))
            .then(|| duration::format(h.fast_interval)),
        fast_timeout: (h.fast_timeout != DEFAULT_FAST_TIMEOUT.min(h.timeout))
            .then(|| duration::format(h.fast_timeout)),
        suspect: (h.suspect != SuspectConfig::default()).then(|| raw::Suspect {
            enabled: Some(h.suspect.enabled),
            window: dur(h.suspect.window),
            min_syns: Some(h.suspect.min_syns.into()),
            min_retransmits: Some(h.suspect.min_retransmits.into()),
        }),
    }
}

fn raw_backend(b: &BackendConfig) -> raw::Backend {
    raw::Backend {
        address: Some(b.address.to_string()),
        port: Some(b.port.into()),
        weight: Some(b.weight.into()),
        mac: b.mac.map(|m| {
            m.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        }),
    }
}

fn raw_stats(s: &StatsConfig) -> raw::Stats {
    raw::Stats {
        listen: Some(s.listen.to_string()),
        auth: s.auth.as_ref().map(|a| {
            let (password_file, password_env) = match &a.password {
                PasswordSource::File(p) => (Some(p.display().to_string()), None),
                PasswordSource::Env(v) => (None, Some(v.clone())),
            };
            raw::StatsAuth {
                user: Some(a.user.clone()),
                password_file,
                password_env,
            }
        }),
    }
}

/// The key file's path, never the key read from it.
fn raw_flow_sync(f: &FlowSyncConfig) -> raw::FlowSync {
    raw::FlowSync {
        key_file: Some(f.key_file.display().to_string()),
        peers: f.peers.iter().map(ToString::to_string).collect(),
        group: Some(f.group.to_string()),
        port: Some(f.port.into()),
        max_rate: Some(f.max_rate.into()),
    }
}

fn raw_bgp(b: &BgpConfig) -> raw::Bgp {
    raw::Bgp {
        vips: Some(b.vips.iter().map(ToString::to_string).collect()),
        min_healthy: Some(b.min_healthy.into()),
        warmup: dur(b.warmup),
        route_protocol: Some(b.route_protocol.into()),
        drain_timeout: dur(b.drain_timeout),
        frr: Some(b.frr.as_ref().map(|f| raw::Frr {
            vtysh: Some(f.vtysh.display().to_string()),
            pathspace: f.pathspace.clone(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example and fixture config: written and read back, the same.
    #[test]
    fn what_is_written_reads_back_as_the_same_config() {
        let example = include_str!("../regha.example.yaml");
        let full = r#"
interface: eth0
xdp_mode: generic
flow_table_size: 4096
hash_seed: 7
role: master
vrrp:
  virtual_router_id: 51
  priority: 101
  advert_interval: 1500ms
  version: 3
  preempt: false
  preempt_delay: 1m 30s
  unicast_src: 2001:db8::2
  unicast_peers: [2001:db8::3]
  virtual_ipaddresses: [2001:db8::100, 2001:db8::101/64]
  track_backends: { min_healthy: 1, weight: -50 }
  track_scripts:
    - { name: chk, script: /bin/true -a b, interval: 2s, timeout: 1s, weight: 5, rise: 2, fall: 3 }
  track_interfaces: [{ name: eth1, weight: -20 }]
  peer_priorities: [100]
  garp_master_delay: 0s
  garp_master_repeat: 3
  garp_master_refresh: 1m
  garp_master_refresh_repeat: 2
  notify: { master: /bin/true }
services:
  - name: registry
    vip: 2001:db8::100
    port: 5000
    protocol: udp
    hash: flow
    ring_size: 251
    health: { tcp: {}, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }
    backends:
      - { address: 2001:db8::11, weight: 3, mac: "02:00:00:00:00:0b" }
  - name: web
    vip: 2001:db8::101
    port: 80
    health: { http: { path: /healthz, host: h.example, expect: [204], expect_header: X-Ok } }
    backends: [{ address: 2001:db8::12 }]
stats:
  listen: "[::1]:1158"
  auth: { user: admin, password_env: REGHA_PW }
flow_sync:
  key_file: /etc/regha/flow-sync.key
  peers: [2001:db8::3, 192.0.2.3]
  group: ff02::1:81
  port: 9000
  max_rate: 1000
"#;
        let bgp = "interface: eth0\nbgp: { vips: [192.0.2.100], min_healthy: 2, warmup: 5s, route_protocol: 251, drain_timeout: 10s, frr: { pathspace: lb1 } }\nservices: [{name: s, vip: 192.0.2.100, port: 1, backends: [{address: 192.0.2.11}, {address: 192.0.2.12}]}]\n";
        let bgp_no_frr = "interface: eth0\nbgp: { frr: null }\nservices: [{name: s, vip: 192.0.2.100, port: 1, backends: [{address: 192.0.2.11}]}]\n";
        let off = "role: backup\ninterface: eth0\nstats: null\nservices: [{name: s, vip: 192.0.2.100, port: 1, backends: [{address: 192.0.2.11}]}]\n";
        let dual = include_str!("../regha.dual-stack.example.yaml");
        for text in [example, full, off, dual, bgp, bgp_no_frr] {
            let config = Config::from_yaml_str(text).expect("valid");
            let written = config.to_yaml();
            let again = Config::from_yaml_str(&written)
                .unwrap_or_else(|e| panic!("written config does not read back:\n{e}\n{written}"));
            assert_eq!(again, config, "{written}");
        }
    }
}
