//! `services:` as the agent uses it: each service, its health check and
//! its backends.

use std::net::IpAddr;
use std::time::Duration;

use regha_model::{Forwarding, HashMode, IpPrefix, Protocol};

/// One `VIP:port/protocol` service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// `name`: required, unique, `[A-Za-z0-9_.-]{1,63}`.
    pub name: String,
    /// `vip`: required, IPv4 or IPv6.
    pub vip: IpAddr,
    /// `port`: required, 1..=65535.
    pub port: u16,
    /// `protocol`: `tcp` or `udp`. Default `tcp`.
    pub protocol: Protocol,
    /// `hash`: `source` or `flow`. Default `source`.
    pub hash: HashMode,
    /// `forwarding`: only `dsr`, the default, exists yet.
    pub forwarding: Forwarding,
    /// `ring_size`: Maglev table slots, a prime from the number of backends
    /// to [`regha_common::MAX_RING_SIZE`]. Default
    /// [`regha_common::DEFAULT_RING_SIZE`] (65537).
    pub ring_size: u32,
    /// `health`: default [`HealthConfig::default`].
    pub health: HealthConfig,
    /// `backends`: required, 1..=[`MAX_BACKENDS_PER_SERVICE`](super::MAX_BACKENDS_PER_SERVICE).
    pub backends: Vec<BackendConfig>,
    /// `vrrp_instance`: the `name` of the VRRP instance that holds `vip`.
    /// Default none: the instance whose `virtual_ipaddresses` list it
    /// ([`Config::holder_of`](super::Config::holder_of) either way).
    pub vrrp_instance: Option<String>,
    /// `allow`: the source networks that may reach the service, of the
    /// VIP's family. Default empty: every source. Packets from other
    /// sources are dropped at the LB and counted (`denied`).
    pub allow: Vec<IpPrefix>,
}

/// `services[].health`: how a backend is checked, counted as HAProxy does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// `http` or `tcp`. Default: HTTP with [`HealthKind::default_http`].
    pub kind: HealthKind,
    /// `interval`: between checks, >0 and at most 1h. Default 5s.
    pub interval: Duration,
    /// `timeout`: of one check, >0 and at most `interval`. Default 2s.
    pub timeout: Duration,
    /// `rise`: consecutive successes to go up, 1..=100. Default 2.
    pub rise: u32,
    /// `fall`: consecutive failures to go down, 1..=100. Default 3.
    pub fall: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            kind: HealthKind::default_http(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            rise: 2,
            fall: 3,
        }
    }
}

/// The check itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthKind {
    /// `http:` a `GET` whose status must be in `expect`.
    Http {
        /// `path`: starts with `/`. Default `/v2/`.
        path: String,
        /// `host`: the Host header. Default none: the backend's `address:port`.
        host: Option<String>,
        /// `expect`: accepted status codes, 100..=599. Default `[200, 401]`
        /// (a registry answers 401 when its auth is on).
        expect: Vec<u16>,
        /// `expect_header`: a header the answer must carry (e.g.
        /// `Docker-Distribution-API-Version`). Default none.
        expect_header: Option<String>,
    },
    /// `tcp: {}`: a plain TCP connect.
    Tcp,
}

impl HealthKind {
    /// `GET /v2/` with the default Host, expecting 200 or 401.
    pub fn default_http() -> Self {
        Self::Http {
            path: "/v2/".to_owned(),
            host: None,
            expect: vec![200, 401],
            expect_header: None,
        }
    }
}

/// `services[].backends[]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// `address`: required, the same family as the service VIP.
    pub address: IpAddr,
    /// `port`: default the service port (which DSR requires).
    pub port: u16,
    /// `weight`: Maglev weight, 1..=65535. Default 1.
    pub weight: u32,
    /// `mac`: a static unicast MAC (`02:00:00:00:00:11`, or with dashes).
    /// Default none: the kernel's neighbour table.
    pub mac: Option<[u8; 6]>,
}
