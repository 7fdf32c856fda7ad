//! `stats:` as the agent uses it: where the listener binds and how it
//! authenticates.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `stats:`, the HTTP stats listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsConfig {
    /// `listen`: `IP:port`. Default [`DEFAULT_STATS_LISTEN`](super::DEFAULT_STATS_LISTEN).
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
