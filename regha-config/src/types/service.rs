//! `services:` as the agent uses it: each service, its health check and
//! its backends.

use std::net::IpAddr;
use std::path::PathBuf;
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
    /// `fast_interval`: between checks while the backend is suspect or in
    /// transition (HAProxy's `fastinter`), >0 and at most `interval`.
    /// Default 250ms (or `interval` if shorter).
    pub fast_interval: Duration,
    /// `fast_timeout`: of one check at the fast interval, >0 and at most
    /// `timeout`. Default 500ms (or `timeout` if shorter).
    pub fast_timeout: Duration,
    /// `suspect`: when the dataplane's signals make a backend suspect.
    pub suspect: SuspectConfig,
}

/// `services[].health.suspect`: the rule that turns the dataplane's
/// per-backend counters into suspicion (fast checks, never a verdict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuspectConfig {
    /// `enabled`. Default true.
    pub enabled: bool,
    /// `window`: how far back the counters are summed, 200ms..=60s.
    /// Default 1s.
    pub window: Duration,
    /// `min_syns`: connection attempts (new SYNs and SYN retransmissions)
    /// in the window, none completed, that make a backend suspect,
    /// 1..=1000000. Default 3.
    pub min_syns: u32,
    /// `min_retransmits`: SYN retransmissions in the window, more than the
    /// completions, that make a backend suspect, 1..=1000000. Default 2.
    pub min_retransmits: u32,
}

impl Default for SuspectConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(1),
            min_syns: 3,
            min_retransmits: 2,
        }
    }
}

/// The default `fast_interval` (HAProxy's `fastinter` is `inter` by default;
/// regha's is short, since it only runs while a backend is suspect or in
/// transition).
pub const DEFAULT_FAST_INTERVAL: Duration = Duration::from_millis(250);
/// The default `fast_timeout`: a host that is cut off never refuses, so only
/// a short timeout detects it quickly.
pub const DEFAULT_FAST_TIMEOUT: Duration = Duration::from_millis(500);

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            kind: HealthKind::default_http(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            rise: 2,
            fall: 3,
            fast_interval: DEFAULT_FAST_INTERVAL,
            fast_timeout: DEFAULT_FAST_TIMEOUT,
            suspect: SuspectConfig::default(),
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
        /// `tls`: speak HTTPS (HAProxy's `check-ssl`). Default none: plain
        /// HTTP.
        tls: Option<Box<TlsCheck>>,
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
            tls: None,
        }
    }
}

/// `services[].health.http.tls`: the check's TLS client, as HAProxy's
/// `check-ssl` with `verify`, `ca-file`, `crt` and `check-sni`.
///
/// The files are named here and read by [`Config::load`](super::Config::load)
/// into [`TlsCheck::material`]: the agent drops the capabilities that would
/// let it read files it does not own, and a reload re-reads them, so that a
/// bad file refuses the config instead of failing the checks later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCheck {
    /// `server_name`: the name sent as SNI and verified in the certificate
    /// (a DNS name, or an IP address matched against the IP SANs). Default
    /// none: no SNI (rustls sends none for an address) and the backend's
    /// address verified as an IP SAN.
    pub server_name: Option<String>,
    /// `verify`: check the certificate chain and name. Default true;
    /// false (HAProxy's `verify none`) is warned about at load and by
    /// `check-config`.
    pub verify: bool,
    /// `ca_file`: an absolute path to the PEM CA certificates to trust.
    /// Default none: the system's roots (with `verify`).
    pub ca_file: Option<PathBuf>,
    /// `client_cert`: an absolute path to the PEM client certificate chain,
    /// sent when the backend asks for one. Default none.
    pub client_cert: Option<PathBuf>,
    /// `client_key`: an absolute path to the PEM private key of
    /// `client_cert`. Default: the key in `client_cert`'s file (HAProxy's
    /// `crt` holds both).
    pub client_key: Option<PathBuf>,
    /// What the files held, ready for the checks: filled by
    /// [`Config::load`](super::Config::load) (or
    /// [`Config::load_tls_material`](super::Config::load_tls_material));
    /// none in a config parsed from text alone.
    pub material: Option<crate::tls::TlsMaterial>,
}

impl TlsCheck {
    /// `tls: {}`: the system roots, the backend's address as the name.
    pub fn verified() -> Self {
        Self {
            server_name: None,
            verify: true,
            ca_file: None,
            client_cert: None,
            client_key: None,
            material: None,
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
