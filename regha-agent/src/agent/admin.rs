//! The agent's side of runtime administration and of the stats listener:
//! what the loop keeps for them ([`Ops`]) and how it answers a command from
//! the admin socket.
//!
//! `vrrp resign` stops the VRRP instance the way a shutdown does: a master
//! releases its VIPs and sends a priority 0 advert, so a backup takes over
//! within Skew_Time. The instance then stays stopped (this host neither
//! advertises nor takes over, even if no master is left) until `vrrp
//! resume` starts it again as a backup, or the agent restarts. keepalived
//! users get what `systemctl stop keepalived` on one host gives them today,
//! without stopping the dataplane, the health checks or the stats.

use regha_model::Role;
use std::{path::PathBuf, time::Duration};

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::{Agent, state};
use regha_config::{Config, StatsConfig};

use crate::{
    admin::{
        AdminTable,
        protocol::{Request, Response, apply_backend},
        table_path,
    },
    agent::state::AgentState,
    vrrp::VrrpStatus,
};

/// A task that ends with its owner.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the loop keeps for the operator's commands and the stats listener.
pub struct Ops {
    pub table: AdminTable,
    table_path: PathBuf,
    /// `vrrp resign` holds the instance stopped.
    pub resigned: bool,
    /// The instance's last status before a resign stopped it.
    pub last_vrrp: Option<VrrpStatus>,
    pub ring_swaps: u64,
    pub last_ring_swap: Option<Duration>,
    /// The latest state, for the stats listener.
    pub published: watch::Sender<Option<AgentState>>,
    /// The `stats` section the listener started with (it applies at start).
    stats: Option<StatsConfig>,
}

impl Ops {
    /// Reads the admin table an earlier run left (a restart keeps a drain),
    /// forgetting backends the config no longer has.
    pub fn new(state_dir: &std::path::Path, iface: &str, config: &Config) -> Self {
        let table_path = table_path(state_dir, iface);
        let mut table = AdminTable::load(&table_path).unwrap_or_else(|e| {
            error!(error = %e, "the admin state file is unreadable: every backend starts enabled");
            AdminTable::default()
        });
        for e in table.retain_configured(config) {
            warn!(service = %e.service, backend = %e.backend, state = e.state.as_str(), "admin state dropped: the backend is no longer configured");
        }
        for e in &table.backends {
            info!(service = %e.service, backend = %e.backend, state = e.state.as_str(), "admin state kept from the last run");
        }
        Self {
            table,
            table_path,
            resigned: false,
            last_vrrp: None,
            ring_swaps: 0,
            last_ring_swap: None,
            published: watch::channel(None).0,
            stats: config.stats.clone(),
        }
    }

    /// After a reload: forget backends that left the config, and say so;
    /// a changed `stats` section (listener, password) waits for a restart.
    pub fn config_changed(&mut self, config: &Config) {
        if config.stats != self.stats {
            warn!("the stats section changed: it applies after a restart of the agent");
        }
        let gone = self.table.retain_configured(config);
        for e in &gone {
            warn!(service = %e.service, backend = %e.backend, state = e.state.as_str(), "admin state dropped: the backend left the config");
        }
        if !gone.is_empty() {
            self.save();
        }
    }

    pub fn record_swap(&mut self, took: Duration) {
        self.ring_swaps += 1;
        self.last_ring_swap = Some(took);
    }

    fn save(&self) -> bool {
        match self.table.save(&self.table_path) {
            Ok(()) => true,
            Err(e) => {
                error!(error = %e, "cannot keep the admin state: it is lost on restart");
                false
            }
        }
    }
}

impl Agent {
    /// Whether VRRP owns the role: an instance runs, or a resign stopped it.
    pub(super) fn vrrp_decides(&self) -> bool {
        self.vrrp.is_some() || self.ops.resigned
    }

    /// Opens `<state dir>/<iface>.sock`; without it the agent runs on, but
    /// takes no commands.
    pub(super) fn start_admin_socket(
        &self,
        tx: mpsc::Sender<crate::admin::socket::Command>,
    ) -> Option<AbortOnDrop> {
        let path = crate::admin::socket_path(&self.opts.state_dir, &self.iface.name);
        match crate::admin::socket::bind(&path) {
            Ok(listener) => {
                info!(path = %path.display(), "admin socket: backend drain|disable|enable, vrrp resign|resume");
                Some(AbortOnDrop(tokio::spawn(crate::admin::socket::serve(
                    listener, tx,
                ))))
            }
            Err(e) => {
                error!(path = %path.display(), error = %e, "no admin socket: runtime commands are unavailable");
                None
            }
        }
    }

    /// Starts the stats listener if the config has one. A listener that
    /// cannot start is logged, not fatal: the load balancer matters more.
    pub(super) async fn start_stats(&self) -> Option<AbortOnDrop> {
        let config = self.config.stats.as_ref()?;
        match crate::stats::start(
            config,
            self.iface.name.clone(),
            self.pin_dir.clone(),
            self.ops.published.subscribe(),
        )
        .await
        {
            Ok(task) => Some(AbortOnDrop(task)),
            Err(e) => {
                error!(error = %e, "stats listener not started");
                None
            }
        }
    }

    /// Carries out one admin command and answers it.
    pub(super) async fn admin(&mut self, request: Request) -> Response {
        match request {
            Request::Backend {
                action,
                service,
                backend,
            } => {
                let mut table = self.ops.table.clone();
                match apply_backend(&mut table, &self.config, action, &service, &backend) {
                    Err(e) => Response::error(e.to_string()),
                    Ok(change) => {
                        if change.changed() {
                            self.ops.table = table;
                            let kept = self.ops.save();
                            info!(service = %change.service, backend = %change.backend, from = change.from.as_str(), to = change.to.as_str(), "admin state changed");
                            self.reconcile();
                            if !kept {
                                return Response::ok(format!(
                                    "{} (applied, but not kept for a restart: see the agent's log)",
                                    change.message()
                                ));
                            }
                        }
                        Response::ok(change.message())
                    }
                }
            }
            Request::VrrpResign => self.resign().await,
            Request::VrrpResume => self.resume().await,
        }
    }

    async fn resign(&mut self) -> Response {
        if !self.uses_vrrp() {
            return Response::error(crate::admin::AdminError::NoVrrp.to_string());
        }
        if self.ops.resigned {
            return Response::ok("already resigned: `regha-agent vrrp resume` rejoins");
        }
        let was = self.role;
        if let Some(v) = self.vrrp.take() {
            let status = v.status.clone();
            // A master releases the VIPs, then advertises priority 0.
            v.stop().await;
            self.ops.last_vrrp = Some(status.borrow().clone());
        }
        self.ops.resigned = true;
        self.role = Role::Backup;
        warn!(role = ?was, "VRRP resigned by an operator: out of the election until `vrrp resume`");
        if let Err(e) = state::write(self) {
            warn!(error = %e, "cannot write the status file");
        }
        Response::ok(format!(
            "resigned (was {}): VIPs released{}, out of the election until `regha-agent vrrp resume` or a restart",
            format!("{was:?}").to_lowercase(),
            if was == Role::Master {
                " and priority 0 advertised"
            } else {
                ""
            }
        ))
    }

    async fn resume(&mut self) -> Response {
        if !self.uses_vrrp() {
            return Response::error(crate::admin::AdminError::NoVrrp.to_string());
        }
        if !self.ops.resigned {
            return Response::ok("not resigned: nothing to resume");
        }
        if let Err(e) = self.start_vrrp().await {
            error!(error = %e, "cannot restart the VRRP instance");
            return Response::error(format!("cannot restart the VRRP instance: {e:#}"));
        }
        self.ops.resigned = false;
        self.ops.last_vrrp = None;
        info!("VRRP resumed by an operator: back in the election as backup");
        self.reconcile();
        Response::ok("resumed: back in the election as backup")
    }
}
