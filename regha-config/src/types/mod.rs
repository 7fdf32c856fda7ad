//! The typed configuration the agent runs on: [`Config`] and one file per
//! section ([`vrrp`], [`service`] with health and backends, [`stats`],
//! [`flow_sync`]).
//! Every default is written on the field it applies to; `validate` is what
//! fills it in.

pub mod bgp;
pub mod flow_sync;
pub mod service;
pub mod stats;
pub mod vrrp;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use regha_model::{Role, XdpMode};

use crate::error::{ConfigError, ConfigErrors};
use crate::validate::names::check_ifname;

pub use bgp::{
    BgpConfig, DEFAULT_BGP_DRAIN_TIMEOUT, DEFAULT_BGP_ROUTE_PROTOCOL, DEFAULT_BGP_WARMUP,
    DEFAULT_VTYSH, FrrConfig, RESERVED_ROUTE_PROTOCOLS,
};
pub use flow_sync::{
    DEFAULT_FLOW_SYNC_GROUP, DEFAULT_FLOW_SYNC_MAX_RATE, DEFAULT_FLOW_SYNC_PORT, FlowSyncConfig,
    FlowSyncKey, MIN_FLOW_SYNC_KEY_BYTES,
};
pub use service::{
    BackendConfig, DEFAULT_FAST_INTERVAL, DEFAULT_FAST_TIMEOUT, HealthConfig, HealthKind,
    ServiceConfig, SuspectConfig, TlsCheck,
};
pub use stats::{PasswordSource, StatsAuth, StatsConfig};
pub use vrrp::{
    GarpConfig, NotifyScripts, Secret, TrackBackends, TrackInterface, TrackScript, VrrpConfig,
    default_instance_name,
};

/// Where the stats listener binds when `stats:` is absent (HAProxy's port in
/// the setup regha replaces).
pub const DEFAULT_STATS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1158));
/// Most backends one service may list.
pub const MAX_BACKENDS_PER_SERVICE: usize = 1024;

/// The validated configuration. Invariants: `role` or `vrrp` (or both) is
/// set; every service has at least one backend; when VRRP is configured,
/// every service VIP is a virtual address of exactly one instance (the one
/// it names, if it names one); instance names are unique, and so is each
/// instance's family and VRID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `interface`: the LB interface (XDP attach point, VRRP and VIP). Default:
    /// none, for `--iface` to supply; [`Config::with_interface_override`]
    /// makes it `Some` or fails.
    pub interface: Option<String>,
    /// `xdp_mode`: `native` or `generic`. Default `native`.
    pub xdp_mode: XdpMode,
    /// `flow_table_size`: entries of the LRU flow table, 1024..=16777216.
    /// Default [`regha_common::DEFAULT_FLOW_TABLE_SIZE`] (262144).
    pub flow_table_size: u32,
    /// `hash_seed`: seed of the source/flow hash. Default 0. Must be the same
    /// on every LB host, or a failover moves clients to other backends.
    pub hash_seed: u32,
    /// `role`: a static role. Default none; required when `vrrp` is absent.
    /// With `vrrp` set as well, it is what an agent that does not run VRRP
    /// yet uses; VRRP decides once it runs.
    pub role: Option<Role>,
    /// `vrrp`: the VRRP instances that decide who holds the VIPs, each its
    /// own. Written as one instance (a map) or a list. Default none.
    pub vrrp: Vec<VrrpConfig>,
    /// `services`: required, 1..=[`regha_common::MAX_SERVICES`].
    pub services: Vec<ServiceConfig>,
    /// `stats`: the stats listener. Default `Some` on [`DEFAULT_STATS_LISTEN`]
    /// without auth; `stats: null` makes it `None` (off).
    pub stats: Option<StatsConfig>,
    /// `flow_sync`: flow state shared with the other LBs. Default `None`
    /// (off); `flow_sync: null` is off as well.
    pub flow_sync: Option<FlowSyncConfig>,
    /// `bgp`: VIPs announced as routes through a routing daemon, several
    /// LBs active at once. Default `None` (off).
    pub bgp: Option<BgpConfig>,
}

impl Config {
    /// The VRRP instance that holds `service`'s VIP: the one it names, or
    /// the one whose virtual addresses include it. `None` without VRRP.
    pub fn holder_of(&self, service: &ServiceConfig) -> Option<&VrrpConfig> {
        match &service.vrrp_instance {
            Some(name) => self.vrrp.iter().find(|v| &v.name == name),
            None => self.vrrp.iter().find(|v| v.holds(service.vip)),
        }
    }

    /// The services whose VIP `instance` holds.
    pub fn services_of<'a>(
        &'a self,
        instance: &'a VrrpConfig,
    ) -> impl Iterator<Item = &'a ServiceConfig> + 'a {
        self.services
            .iter()
            .filter(move |s| self.holder_of(s).is_some_and(|h| h.name == instance.name))
    }

    /// The field path of instance `i`, as the file is written back: `vrrp`
    /// for a lone instance (the map form), `vrrp[i]` in a list.
    pub fn vrrp_path(&self, i: usize) -> String {
        if self.vrrp.len() == 1 {
            "vrrp".to_owned()
        } else {
            format!("vrrp[{i}]")
        }
    }

    /// Applies the `--iface` flag, which wins over `interface:`. Fails when
    /// the flag is not a valid interface name, or when neither is set.
    pub fn with_interface_override(mut self, iface: Option<&str>) -> Result<Config, ConfigErrors> {
        if let Some(iface) = iface {
            check_ifname(iface).map_err(|m| ConfigError::new("--iface", m))?;
            self.interface = Some(iface.to_owned());
        }
        if self.interface.is_none() {
            return Err(
                ConfigError::new("interface", "not set: pass --iface or set `interface:`").into(),
            );
        }
        Ok(self)
    }
}
