//! regha-agent configs for the lab, built as typed values and written with
//! `Config::to_yaml` (which reads back as the same value): a schema change
//! breaks the tests' build, not their meaning. The defaults here are the
//! lab's; a test changes a field with struct update syntax or an
//! assignment, so it reads as the behaviour it sets up:
//!
//! ```ignore
//! let vrrp = VrrpConfig { priority: 101, ..config::vrrp(51, &[(VIP, 32)]) };
//! let config = config::with_vrrp(vrrp, vec![lab.service()]);
//! ```
//!
//! Secrets (a VRRP password, stats auth) are never defaults: a test that
//! needs one sets it. The one place raw YAML is right is a config that must
//! be refused ([`invalid_port`]): the typed config cannot hold it.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use regha_config::{
    BackendConfig, Config, DEFAULT_STATS_LISTEN, GarpConfig, HealthConfig, HealthKind,
    NotifyScripts, PasswordSource, ServiceConfig, StatsAuth, StatsConfig, VrrpConfig,
};
use regha_model::{Forwarding, HashMode, Protocol, Role, VrrpVersion, XdpMode};

use super::HOST_IFACE;

/// The registry's port, on the VIP and on every backend.
pub const REGISTRY_PORT: u16 = 5000;
/// The lab's hash seed: fixed, so that which client lands on which backend
/// is the same on every run (and on both LBs).
pub const HASH_SEED: u32 = 7;

/// An LB with a static `role` (no VRRP).
pub fn with_role(role: Role, services: Vec<ServiceConfig>) -> Config {
    Config {
        role: Some(role),
        ..lb(services)
    }
}

/// An LB whose role `vrrp` decides.
pub fn with_vrrp(vrrp: VrrpConfig, services: Vec<ServiceConfig>) -> Config {
    with_instances(vec![vrrp], services)
}

/// An LB running several VRRP instances (a dual-stack one: an IPv4 and an
/// IPv6 instance).
pub fn with_instances(vrrp: Vec<VrrpConfig>, services: Vec<ServiceConfig>) -> Config {
    Config {
        vrrp,
        ..lb(services)
    }
}

/// What every lab LB shares: `eth0` in generic XDP mode (see the README,
/// "XDP on veth"), the lab's hash seed, the stats listener on its
/// default address without auth, and no flow sync.
fn lb(services: Vec<ServiceConfig>) -> Config {
    Config {
        interface: Some(HOST_IFACE.to_owned()),
        xdp_mode: XdpMode::Generic,
        flow_table_size: regha_common::DEFAULT_FLOW_TABLE_SIZE,
        hash_seed: HASH_SEED,
        role: None,
        vrrp: Vec::new(),
        services,
        stats: Some(StatsConfig {
            listen: DEFAULT_STATS_LISTEN,
            auth: None,
        }),
        flow_sync: None,
        bgp: None,
    }
}

/// A VRRP instance on `vrid` for `vips` (address, prefix), with
/// keepalived's defaults: priority 100, version 2 (3 for IPv6 VIPs),
/// adverts every second, no password, preemption on, no trackers, the
/// default name (`VI_<vrid>`), no sync group.
pub fn vrrp(vrid: u8, vips: &[(IpAddr, u8)]) -> VrrpConfig {
    let v6 = vips.first().is_some_and(|(ip, _)| ip.is_ipv6());
    VrrpConfig {
        name: regha_config::default_instance_name(vrid),
        sync_group: None,
        virtual_router_id: vrid,
        priority: 100,
        advert_interval: Duration::from_secs(1),
        version: if v6 { VrrpVersion::V3 } else { VrrpVersion::V2 },
        auth_pass: None,
        preempt: true,
        preempt_delay: Duration::ZERO,
        unicast_src: None,
        unicast_peers: Vec::new(),
        virtual_ipaddresses: vips.to_vec(),
        track_backends: None,
        track_scripts: Vec::new(),
        track_interfaces: Vec::new(),
        garp: GarpConfig::default(),
        peer_priorities: Vec::new(),
        notify: NotifyScripts::default(),
    }
}

/// The registry service on `vip`:5000 over `backends`, checked as the
/// reference HAProxy checks it (`GET /v2/`, rise 2, fall 3) every
/// `interval`, each check timing out after three quarters of it.
pub fn registry(
    vip: IpAddr,
    backends: impl IntoIterator<Item = IpAddr>,
    interval: Duration,
) -> ServiceConfig {
    ServiceConfig {
        name: "registry".to_owned(),
        vip,
        port: REGISTRY_PORT,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        forwarding: Forwarding::Dsr,
        ring_size: regha_common::DEFAULT_RING_SIZE,
        health: HealthConfig {
            kind: HealthKind::default_http(),
            interval,
            timeout: (interval * 3 / 4).max(Duration::from_millis(100)),
            rise: 2,
            fall: 3,
            fast_interval: regha_config::DEFAULT_FAST_INTERVAL.min(interval),
            fast_timeout: regha_config::DEFAULT_FAST_TIMEOUT
                .min((interval * 3 / 4).max(Duration::from_millis(100))),
            ..HealthConfig::default()
        },
        backends: backends.into_iter().map(backend).collect(),
        vrrp_instance: None,
        allow: Vec::new(),
    }
}

/// A backend on the registry port, weight 1, its MAC from the neighbour
/// table.
pub fn backend(address: IpAddr) -> BackendConfig {
    BackendConfig {
        address,
        port: REGISTRY_PORT,
        weight: 1,
        mac: None,
    }
}

/// The stats listener on its default address, behind basic auth as `user`
/// with the password in `password_file`.
pub fn stats_with_auth(user: &str, password_file: &Path) -> StatsConfig {
    StatsConfig {
        listen: DEFAULT_STATS_LISTEN,
        auth: Some(StatsAuth {
            user: user.to_owned(),
            password: PasswordSource::File(PathBuf::from(password_file)),
        }),
    }
}

/// Raw YAML the agent must refuse: a static master with the registry
/// service on `vip`:`port` over `backend`, valid but for the port (0, or
/// above 65535), so the error names `services[0].port` and nothing else.
/// Text, because a typed config cannot hold such a port.
pub fn invalid_port(vip: IpAddr, backend: IpAddr, port: u32) -> String {
    format!(
        "interface: {HOST_IFACE}\nxdp_mode: generic\nrole: master\n\
         services:\n  - name: registry\n    vip: {vip}\n    port: {port}\n    \
         backends: [{{ address: {backend} }}]\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the lab writes is what the agent reads: every builder's output
    /// passes the agent's own validation and reads back unchanged.
    #[test]
    fn the_lab_configs_are_valid_and_read_back() {
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        let be: IpAddr = "192.0.2.11".parse().unwrap();
        let service = || registry(vip, [be], Duration::from_millis(200));
        let configs = [
            with_role(Role::Master, vec![service()]),
            with_vrrp(vrrp(51, &[(vip, 24)]), vec![service()]),
        ];
        for config in configs {
            let text = config.to_yaml();
            let back = Config::from_yaml_str(&text).unwrap_or_else(|e| {
                panic!("the lab wrote a config the agent refuses:\n{e}\n{text}")
            });
            assert_eq!(back, config, "{text}");
        }
        let refused = Config::from_yaml_str(&invalid_port(vip, be, 70000))
            .expect_err("port 70000 is refused");
        assert_eq!(refused.0.len(), 1, "{refused}");
        assert_eq!(refused.0[0].path, "services[0].port", "{refused}");
        let refused =
            Config::from_yaml_str(&invalid_port(vip, be, 0)).expect_err("port 0 is refused");
        assert_eq!(refused.0[0].path, "services[0].port", "{refused}");
    }
}
