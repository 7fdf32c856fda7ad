//! The agent's configuration: one YAML file (default [`DEFAULT_CONFIG_PATH`]),
//! checked as a whole before anything touches the system.
//!
//! Two layers. `raw` mirrors the YAML with serde (unknown keys refused
//! everywhere), keeping addresses, enum words and durations as text and
//! integers as `i64`, so that a value that does not parse is not a serde
//! error that stops at the first bad field. `validate` then turns it into
//! the typed [`Config`] below, applying the defaults and collecting *every*
//! problem, each named by its field path (`services[0].backends[1].address`).
//! Only YAML syntax and type errors (a list where a number belongs, an
//! unknown key) stop early; they carry the line and column.
//!
//! Every default is written on the typed field it applies to, and
//! `regha.example.yaml` beside this crate's manifest spells out a complete
//! file.

pub mod duration;
pub mod primes;
pub mod script_security;
mod security;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regha_model::{Forwarding, HashMode, Protocol, Role, VrrpVersion, XdpMode};

/// Where the agent reads its configuration unless told otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/regha/regha.yaml";
/// Where the stats listener binds when `stats:` is absent (HAProxy's port in
/// the setup regha replaces).
pub const DEFAULT_STATS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1158));
/// Most backends one service may list.
pub const MAX_BACKENDS_PER_SERVICE: usize = 1024;

/// One problem with the configuration: the field it is about and what is
/// wrong. Displays as `{path}: {message}` (just the message when the path is
/// empty, i.e. the document as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path as written in YAML, e.g. `services[0].backends[1].address`;
    /// the file's path for a file that cannot be read; `--iface` for the flag.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one pass: field by field in file order, then the
/// rules across fields (never empty when returned as an error). Displays one
/// problem per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(err: ConfigError) -> Self {
        Self(vec![err])
    }
}

/// The validated configuration. Invariants: `role` or `vrrp` (or both) is
/// set; every service has at least one backend; when VRRP is configured,
/// every service VIP is one of its virtual addresses.
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
    /// `vrrp`: the VRRP instance that decides the role. Default none.
    pub vrrp: Option<VrrpConfig>,
    /// `services`: required, 1..=[`regha_common::MAX_SERVICES`].
    pub services: Vec<ServiceConfig>,
    /// `stats`: the stats listener. Default `Some` on [`DEFAULT_STATS_LISTEN`]
    /// without auth; `stats: null` makes it `None` (off).
    pub stats: Option<StatsConfig>,
}

/// `vrrp:`, compatible with a keepalived `vrrp_instance` on the same VRID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpConfig {
    /// `virtual_router_id`: 1..=255, required, the same on every peer.
    pub virtual_router_id: u8,
    /// `priority`: 1..=255, default 100. 255 means the address owner.
    pub priority: u8,
    /// `advert_interval`: default 1s. Version 2: whole seconds, 1s..=255s;
    /// version 3: a multiple of 10ms, 10ms..=40.95s.
    pub advert_interval: Duration,
    /// `version`: 2 (RFC 3768, IPv4 only) or 3 (RFC 5798). Default 2.
    pub version: VrrpVersion,
    /// `auth_pass`: version 2 simple password, 1..=8 bytes. Default none
    /// (no authentication).
    pub auth_pass: Option<Secret>,
    /// `preempt`: a higher priority takes over from a lower master. Default true.
    pub preempt: bool,
    /// `preempt_delay`: wait this long after start before preempting,
    /// at most 1000s. Default 0s.
    pub preempt_delay: Duration,
    /// `unicast_src`: source address of unicast adverts. Default none (the
    /// interface's primary address).
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peers`: send adverts to these instead of multicast. Default
    /// empty (multicast to 224.0.0.18 / ff02::12).
    pub unicast_peers: Vec<IpAddr>,
    /// `virtual_ipaddresses`: required, 1..=255, one family; `IP` or
    /// `IP/prefix` (prefix default 32 for IPv4, 128 for IPv6).
    pub virtual_ipaddresses: Vec<(IpAddr, u8)>,
    /// `track_backends`: priority tracking of backend health. Default none.
    pub track_backends: Option<TrackBackends>,
    /// `track_scripts`: keepalived's `vrrp_script` + `track_script`. Default empty.
    pub track_scripts: Vec<TrackScript>,
    /// `track_interfaces`: keepalived's `track_interface`. Default empty.
    pub track_interfaces: Vec<TrackInterface>,
    /// `garp_master_delay`, `garp_master_repeat`, `garp_master_refresh`,
    /// `garp_master_refresh_repeat`: how a master announces the VIPs.
    pub garp: GarpConfig,
    /// `peer_priorities`: the configured priorities of the other hosts on
    /// this VRID, each 1..=255. Default empty. Only `check-config` (and the
    /// agent's start-up log) reads it: a host's config does not otherwise
    /// know its peers' priorities, and without them no one can tell whether
    /// a tracker's weight can change who is master.
    ///
    /// The check assumes the peers track the same things with the same
    /// weights (a mirrored keepalived pair). Then, against a peer of
    /// priority P, a tracker of weight w failing on one side only moves the
    /// difference of the two priorities by |w|; it can change who is master
    /// only if |w| > |priority - P| (at |w| = the gap the priorities tie and
    /// the primary address decides, which is not the tracker's doing).
    /// A tracker whose |w| is at most the gap to every listed peer is
    /// reported as a warning. keepalived's usual 101/100 pair has a gap of
    /// 1: `weight: 2` and `weight: -50` both can flip it, `weight: 1` cannot.
    /// Weight 0 (FAULT) always hands over and is never reported.
    pub peer_priorities: Vec<u8>,
    /// `notify`: scripts run on transitions. Default: none of them.
    pub notify: NotifyScripts,
}

/// A password from the config. Its `Debug` prints `"<redacted>"` and it has
/// no `Display`, so that logging a config (or a part of it) with `?` never
/// shows it; the code that needs the text derefs it to `&str`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// `vrrp.track_backends`: the tracked condition is "at least `min_healthy`
/// backends are healthy, counted over all services", weighted as keepalived
/// weighs a tracked script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackBackends {
    /// `min_healthy`: 1..=the number of backends configured. Default 1.
    pub min_healthy: u32,
    /// `weight`: -254..=254, default 0. Positive: added to the priority while
    /// the condition holds; negative: added while it fails; 0: the instance
    /// goes to FAULT (releases the VIPs) while it fails. The result is
    /// clamped to 1..=254, and ignored at priority 255.
    pub weight: i32,
}

/// `vrrp.track_scripts[]`: a check run periodically, weighted as
/// keepalived's `vrrp_script`. Exit status 0 is success; anything else, a
/// failure to start, or running past `timeout` (the process is then
/// killed) is a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// `name`: required, unique among the scripts, `[A-Za-z0-9_.-]{1,63}`.
    pub name: String,
    /// `script`, first word: the program, an absolute path. It is run
    /// directly, without a shell.
    pub program: PathBuf,
    /// `script`, the other words (split on whitespace): its arguments.
    pub args: Vec<String>,
    /// `interval`: from the start of one run to the start of the next,
    /// >0 and at most 1h. Default 1s.
    pub interval: Duration,
    /// `timeout`: a run still going after this is killed and counts as a
    /// failure; >0 and at most 1h. Default: the interval.
    pub timeout: Duration,
    /// `weight`: -254..=254, default 0. As [`TrackBackends::weight`].
    pub weight: i32,
    /// `rise`: successes in a row to count as up again, 1..=100. Default 1.
    pub rise: u32,
    /// `fall`: failures in a row to count as down, 1..=100. Default 1.
    pub fall: u32,
}

/// `vrrp.track_interfaces[]`: an interface whose link state is tracked
/// (up: administratively up and running, i.e. with carrier).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    /// `name`: required, an interface name, unique in the list.
    pub name: String,
    /// `weight`: -254..=254, default 0. As [`TrackBackends::weight`], the
    /// condition being "the link is up".
    pub weight: i32,
}

/// Gratuitous ARP (IPv4) / unsolicited NA (IPv6) of a master, with
/// keepalived's names and defaults. On becoming master: `repeat` at once,
/// and `repeat` more after `delay`; then, while master, `refresh_repeat`
/// every `refresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpConfig {
    /// `garp_master_delay`: 0s..=1000s, default 5s; 0s: no second burst.
    pub delay: Duration,
    /// `garp_master_repeat`: 1..=255, default 5: frames per VIP in a burst.
    pub repeat: u32,
    /// `garp_master_refresh`: 0s..=1000s, default 0s (off).
    pub refresh: Duration,
    /// `garp_master_refresh_repeat`: 1..=255, default 1.
    pub refresh_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
        }
    }
}

/// `vrrp.notify`: absolute paths of scripts run on entering a state. Each
/// defaults to none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyScripts {
    /// `master`: run on becoming master.
    pub master: Option<PathBuf>,
    /// `backup`: run on becoming backup.
    pub backup: Option<PathBuf>,
    /// `fault`: run on entering fault.
    pub fault: Option<PathBuf>,
    /// `stop`: run when the instance stops (agent shutdown).
    pub stop: Option<PathBuf>,
}

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
    /// `backends`: required, 1..=[`MAX_BACKENDS_PER_SERVICE`].
    pub backends: Vec<BackendConfig>,
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

/// `stats:`, the HTTP stats listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsConfig {
    /// `listen`: `IP:port`. Default [`DEFAULT_STATS_LISTEN`].
    pub listen: SocketAddr,
    /// `auth`: basic auth. Default none.
    pub auth: Option<StatsAuth>,
}

/// `stats.auth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsAuth {
    /// `user`: required, non-empty, no `:`.
    pub user: String,
    /// Where the password comes from: `password_file` or `password_env`,
    /// exactly one of them (so that the config can be world-readable).
    pub password: PasswordSource,
}

/// Where the stats password is read from when the agent starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// `password_file`: an absolute path; one trailing line break is ignored.
    File(PathBuf),
    /// `password_env`: the name of an environment variable of the agent.
    Env(String),
}

impl Config {
    /// Parses and validates a YAML document.
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigErrors> {
        let raw: raw::Config = serde_yaml::from_str(text).map_err(|e| yaml_error(&e))?;
        validate::validate(raw)
    }

    /// What is valid but probably not what was meant, each with its field
    /// path (`check-config` prints them and still exits 0).
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut out = self
            .vrrp
            .as_ref()
            .map(validate::vrrp_warnings)
            .unwrap_or_default();
        out.extend(security::security_warnings(self));
        out
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                path.display().to_string(),
                format!("cannot read the config file: {e}"),
            )
        })?;
        let config = Self::from_yaml_str(&text)?;
        let unsafe_scripts = config.script_errors();
        if !unsafe_scripts.is_empty() {
            return Err(ConfigErrors(unsafe_scripts));
        }
        Ok(config)
    }

    /// Every notify and tracked script that only root should be able to
    /// change but someone else could (see [`script_security`]). It reads the
    /// file system, so [`Config::load`] runs it, not [`Config::from_yaml_str`].
    pub fn script_errors(&self) -> Vec<ConfigError> {
        self.scripts()
            .filter_map(|(field, path)| {
                script_security::check(path)
                    .err()
                    .map(|e| ConfigError::new(field, format!("refused: {e}")))
            })
            .collect()
    }

    /// Every notify and tracked script that does not exist (yet), below
    /// directories only root can write: a warning, since it will fail when
    /// run. Reads the file system.
    pub fn script_warnings(&self) -> Vec<ConfigError> {
        self.scripts()
            .filter_map(|(field, path)| match script_security::check(path) {
                Ok(script_security::Found::Missing { missing }) => Some(ConfigError::new(
                    field,
                    format!(
                        "{}: {} does not exist: every run will fail until it is installed",
                        path.display(),
                        missing.display()
                    ),
                )),
                _ => None,
            })
            .collect()
    }

    /// The scripts of the config, each with its field path.
    fn scripts(&self) -> impl Iterator<Item = (String, &Path)> {
        let Some(vrrp) = &self.vrrp else {
            return Vec::new().into_iter();
        };
        let notify = &vrrp.notify;
        let notify = [
            ("master", &notify.master),
            ("backup", &notify.backup),
            ("fault", &notify.fault),
            ("stop", &notify.stop),
        ]
        .into_iter()
        .filter_map(|(state, p)| Some((format!("vrrp.notify.{state}"), p.as_ref()?)));
        let tracked = vrrp
            .track_scripts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("vrrp.track_scripts[{i}].script"), &t.program));
        notify
            .chain(tracked)
            .map(|(field, path)| (field, path.as_path()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Applies the `--iface` flag, which wins over `interface:`. Fails when
    /// the flag is not a valid interface name, or when neither is set.
    pub fn with_interface_override(mut self, iface: Option<&str>) -> Result<Config, ConfigErrors> {
        if let Some(iface) = iface {
            validate::check_ifname(iface).map_err(|m| ConfigError::new("--iface", m))?;
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

/// One serde_yaml error as a [`ConfigError`]: serde_yaml's path (`services[0]
/// .health`, empty at the top level) and `line L column C: <serde's message>`.
fn yaml_error(err: &serde_yaml::Error) -> ConfigError {
    let text = err.to_string();
    let location = err.location().map(|l| (l.line(), l.column()));
    // Display is "[path: ]message[ at line L column C]"; libyaml syntax errors
    // name their own positions and no path.
    let mut message = text.as_str();
    let mut position = None;
    if let Some((line, column)) = location {
        let suffix = format!(" at line {line} column {column}");
        message = message.strip_suffix(suffix.as_str()).unwrap_or(message);
        if !message.contains(" at line ") {
            position = Some(format!("line {line} column {column}"));
        }
    }
    let (path, message) = match message.split_once(": ") {
        Some((head, rest)) if is_yaml_path(head) => (head, rest),
        _ => ("", message),
    };
    match position {
        Some(position) => ConfigError::new(path, format!("{position}: {message}")),
        None => ConfigError::new(path, message),
    }
}

/// Whether `head` looks like a serde_yaml path (`stats`, `services[0].port`)
/// rather than the start of a message (`invalid type`).
fn is_yaml_path(head: &str) -> bool {
    !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]-?".contains(c))
}

/// The YAML as written: text where a value needs checking, `Option` where a
/// key may be absent. Defaults and every check live in `validate`.
mod raw {
    use serde::{Deserialize, Deserializer, Serialize};

    /// Tells an absent key (`None`) from an explicit `null` (`Some(None)`).
    fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::deserialize(d).map(Some)
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Config {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) interface: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) xdp_mode: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) flow_table_size: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) hash_seed: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) role: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) vrrp: Option<Vrrp>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) services: Option<Vec<Service>>,
        #[serde(default, deserialize_with = "present")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) stats: Option<Option<Stats>>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Vrrp {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) virtual_router_id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) priority: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) advert_interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) version: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) auth_pass: Option<super::Secret>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) preempt: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) preempt_delay: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) unicast_src: Option<String>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) unicast_peers: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) virtual_ipaddresses: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) track_backends: Option<TrackBackends>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) track_scripts: Vec<TrackScript>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) track_interfaces: Vec<TrackInterface>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub(super) peer_priorities: Vec<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) garp_master_delay: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) garp_master_repeat: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) garp_master_refresh: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) garp_master_refresh_repeat: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) notify: Option<Notify>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct TrackBackends {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) min_healthy: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) weight: Option<i64>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct TrackScript {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) script: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) timeout: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) weight: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) rise: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) fall: Option<i64>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct TrackInterface {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) weight: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Notify {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) master: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) backup: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) fault: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) stop: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Service {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) vip: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) port: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) protocol: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) hash: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) forwarding: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) ring_size: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) health: Option<Health>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) backends: Option<Vec<Backend>>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Health {
        /// `http:` with nothing after it means HTTP with the defaults.
        #[serde(default, deserialize_with = "present")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) http: Option<Option<Http>>,
        /// `tcp:` and `tcp: {}` both mean a TCP check.
        #[serde(default, deserialize_with = "present")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) tcp: Option<Option<Tcp>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) timeout: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) rise: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) fall: Option<i64>,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Http {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) path: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) host: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) expect: Option<Vec<i64>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) expect_header: Option<String>,
    }

    /// No options yet; a map so that it can grow some.
    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Tcp {}

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Backend {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) port: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) weight: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) mac: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Stats {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) listen: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) auth: Option<StatsAuth>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct StatsAuth {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) user: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) password_file: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) password_env: Option<String>,
    }
}
