//! The stats listener (`stats.listen`, default `127.0.0.1:1158`):
//!
//! - `/metrics`: Prometheus text (`metrics.rs`);
//! - `/status`: the `regha-agent status --json` document (`crate::status`);
//! - `/`: a page for people, like HAProxy's stats page (`page.rs`), with
//!   rates, a graph per service (`graph.rs`) and the recent state changes
//!   from the listener's own samples (`history.rs`);
//!
//! behind optional basic auth (`auth.rs`), served by hyper (`server.rs`).

pub mod auth;
pub mod graph;
pub mod history;
pub mod metrics;
pub mod page;
pub mod server;

#[cfg(test)]
pub(crate) mod sample;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tracing::info;

use regha_config::StatsConfig;

use crate::status::AgentStatus;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error(
        "cannot listen on {listen} for stats: {source} (change stats.listen, or turn stats off with `stats: null`)"
    )]
    Bind {
        listen: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

/// Binds the listener and serves it on a task of its own.
pub async fn start(
    config: &StatsConfig,
    iface: String,
    pin_dir: PathBuf,
    state: watch::Receiver<Option<AgentStatus>>,
) -> Result<JoinHandle<()>, StatsError> {
    let auth = config
        .auth
        .as_ref()
        .map(auth::Credentials::load)
        .transpose()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StatsError::Bind {
            listen: config.listen,
            source,
        })?;
    info!(
        listen = %config.listen,
        auth = auth.is_some(),
        "stats listener: /, /metrics, /status"
    );
    let ctx = Arc::new(server::Context::new(iface, pin_dir, state, auth));
    // A first look now, while the agent can still open every ring by its
    // id (before its capability drop): rings adopted from an earlier run
    // stay readable for the page and /metrics (`dataplane::held_rings`).
    ctx.sample();
    Ok(tokio::spawn(server::serve(listener, ctx)))
}
