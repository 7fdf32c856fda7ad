//! `flow_sync:` as the agent uses it: where this LB sends the flows it
//! records, and the key that authenticates them (issue 16, IPVS's
//! connection sync for regha).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// The UDP port flow sync uses when `flow_sync.port` is not set.
pub const DEFAULT_FLOW_SYNC_PORT: u16 = 8848;
/// The multicast group flows are sent to when `flow_sync.peers` is empty:
/// the one IPVS's sync daemon uses.
pub const DEFAULT_FLOW_SYNC_GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81));
/// Flows sent per second at most when `flow_sync.max_rate` is not set.
pub const DEFAULT_FLOW_SYNC_MAX_RATE: u32 = 50_000;
/// The shortest key accepted, in bytes.
pub const MIN_FLOW_SYNC_KEY_BYTES: usize = 16;

/// `flow_sync:`: the flows this LB records are sent to its peers, and theirs
/// are written into its flow table, so a takeover keeps every synced
/// connection on its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSyncConfig {
    /// `key_file`: absolute path of the shared secret (HMAC-SHA256 key),
    /// required. Read when the config is loaded (like the TLS material:
    /// [`Config::load`](super::Config::load) reads it,
    /// [`Config::read`](super::Config::read) does not), into `key`.
    pub key_file: PathBuf,
    /// The key's bytes (one trailing line break dropped; at least
    /// [`MIN_FLOW_SYNC_KEY_BYTES`]); `None` until loaded.
    pub key: Option<FlowSyncKey>,
    /// `peers`: unicast addresses of the other LBs (IPv4 or IPv6, unicast,
    /// not 0.0.0.0/::, not loopback, no duplicates, not one of the
    /// configured VIPs). Default empty: send to `group` instead.
    pub peers: Vec<IpAddr>,
    /// `group`: the multicast group used when `peers` is empty. Default
    /// [`DEFAULT_FLOW_SYNC_GROUP`] (224.0.0.81). Always a multicast address.
    pub group: IpAddr,
    /// `port`: UDP port, default [`DEFAULT_FLOW_SYNC_PORT`]; not 0.
    pub port: u16,
    /// `max_rate`: flows per second sent at most (beyond it flows wait, then
    /// are dropped and counted). Default [`DEFAULT_FLOW_SYNC_MAX_RATE`],
    /// 100..=1000000.
    pub max_rate: u32,
}

impl FlowSyncConfig {
    /// The settings with their defaults, for `key_file`, the key not read.
    pub fn new(key_file: impl Into<PathBuf>) -> Self {
        Self {
            key_file: key_file.into(),
            key: None,
            peers: Vec::new(),
            group: DEFAULT_FLOW_SYNC_GROUP,
            port: DEFAULT_FLOW_SYNC_PORT,
            max_rate: DEFAULT_FLOW_SYNC_MAX_RATE,
        }
    }
}

/// The flow sync key's bytes. Its Debug never shows them, so that a config
/// printed with `{:?}` (a test failure, a log line) does not leak the key.
#[derive(Clone, PartialEq, Eq)]
pub struct FlowSyncKey(Vec<u8>);

impl FlowSyncKey {
    /// The key as it is used, without a check of its length (the loader
    /// checks it).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for FlowSyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowSyncKey({} bytes, redacted)", self.0.len())
    }
}
