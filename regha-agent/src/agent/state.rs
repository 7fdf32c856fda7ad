//! The running agent's state, written after every reconcile to
//! `/run/regha/<iface>.json` (atomically: a new file renamed over the old),
//! for `regha-agent status` and for people: what the maps cannot say
//! (names, health detail, role).

use regha_model::{AdminState, BackendIdentity, ServiceIdentity};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::Agent;

pub const DEFAULT_STATE_DIR: &str = "/run/regha";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AgentState {
    pub pid: u32,
    pub iface: String,
    pub role: String,
    pub vips: Vec<String>,
    pub uptime_s: u64,
    pub services: Vec<ServiceState>,
    /// The VRRP instance, when VRRP decides the role.
    #[serde(default)]
    pub vrrp: Option<VrrpState>,
    /// Ring swaps since the agent started, and how long the last one took.
    #[serde(default)]
    pub ring_swaps: u64,
    #[serde(default)]
    pub last_ring_swap_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VrrpState {
    pub vrid: u8,
    /// `initialize`, `backup`, `master` or `fault`.
    pub state: String,
    /// The effective priority (tracking included).
    pub priority: u8,
    pub configured_priority: u8,
    /// The master last heard (none while we are master).
    pub master: Option<String>,
    /// The unicast peers; empty means multicast.
    pub peers: Vec<String>,
    pub transitions: u64,
    /// Packets refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// `regha-agent vrrp resign` holds the instance out of the election.
    pub resigned: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceState {
    pub name: String,
    pub vip: String,
    pub port: u16,
    pub protocol: String,
    pub id: Option<u32>,
    /// No backend takes new flows (VRRP tracking reads this).
    pub all_down: bool,
    pub backends: Vec<BackendHealth>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendHealth {
    pub address: String,
    pub id: Option<u32>,
    pub health: String,
    pub since_s: u64,
    pub last_check: Option<String>,
    pub latency_ms: Option<f64>,
    pub checks: u64,
    pub transitions: u64,
    pub mac: Option<String>,
    /// What an operator asked (`regha-agent backend ...`).
    #[serde(default)]
    pub admin: AdminState,
    /// Whether the last check passed (none before the first).
    #[serde(default)]
    pub last_check_ok: Option<bool>,
}

pub fn path(dir: &Path, iface: &str) -> PathBuf {
    dir.join(format!("{iface}.json"))
}

pub(super) fn snapshot(agent: &Agent) -> AgentState {
    let services = agent
        .config
        .services
        .iter()
        .map(|s| {
            let identity: ServiceIdentity = super::inputs::service_identity(s);
            let applied = agent.reconciler.applied(&identity);
            ServiceState {
                name: s.name.clone(),
                vip: s.vip.to_string(),
                port: s.port,
                protocol: format!("{:?}", s.protocol).to_lowercase(),
                id: applied.map(|a| a.id),
                all_down: agent.reconciler.all_down(&identity),
                backends: s
                    .backends
                    .iter()
                    .map(|b| {
                        let addr = SocketAddr::new(b.address, b.port);
                        let report = agent.checks.report(&BackendIdentity {
                            service: identity,
                            addr,
                        });
                        let id = applied.and_then(|a| {
                            a.backends
                                .iter()
                                .find(|x| x.addr == b.address && x.port == b.port)
                                .map(|x| x.id)
                        });
                        let mac = b.mac.or_else(|| agent.macs.get(&b.address).copied());
                        BackendHealth {
                            address: addr.to_string(),
                            id,
                            health: report
                                .as_ref()
                                .map(|r| format!("{:?}", r.state).to_lowercase())
                                .unwrap_or_else(|| "unknown".into()),
                            since_s: report
                                .as_ref()
                                .map(|r| r.since.elapsed().as_secs())
                                .unwrap_or(0),
                            last_check: report
                                .as_ref()
                                .and_then(|r| r.last.as_ref().map(|o| o.detail().to_owned())),
                            latency_ms: report
                                .as_ref()
                                .and_then(|r| r.last_latency)
                                .map(|d| d.as_secs_f64() * 1000.0),
                            checks: report.as_ref().map(|r| r.checks).unwrap_or(0),
                            transitions: report.as_ref().map(|r| r.transitions).unwrap_or(0),
                            mac: mac.map(crate::net::mac_str),
                            admin: agent.ops.table.get(&s.name, addr),
                            last_check_ok: report
                                .as_ref()
                                .and_then(|r| r.last.as_ref().map(|o| o.is_ok())),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    AgentState {
        pid: std::process::id(),
        iface: agent.iface.name.clone(),
        role: format!("{:?}", agent.role).to_lowercase(),
        vips: super::vips(&agent.config)
            .iter()
            .map(|(ip, p)| format!("{ip}/{p}"))
            .collect(),
        uptime_s: agent.started.elapsed().as_secs(),
        services,
        vrrp: vrrp_state(agent),
        ring_swaps: agent.ops.ring_swaps,
        last_ring_swap_s: agent.ops.last_ring_swap.map(|d| d.as_secs_f64()),
    }
}

fn vrrp_state(agent: &Agent) -> Option<VrrpState> {
    let config = agent.config.vrrp.as_ref()?;
    let status = match (&agent.vrrp, &agent.ops.last_vrrp) {
        (Some(handle), _) => handle.status.borrow().clone(),
        // Resigned: the stopped instance's last word, advertising nothing.
        (None, Some(last)) if agent.ops.resigned => crate::vrrp::VrrpStatus {
            priority: 0,
            master: None,
            ..last.clone()
        },
        _ => return None,
    };
    Some(VrrpState {
        vrid: config.virtual_router_id,
        state: format!("{:?}", status.state).to_lowercase(),
        priority: status.priority,
        configured_priority: config.priority,
        master: status.master.map(|m| m.to_string()),
        peers: config
            .unicast_peers
            .iter()
            .map(ToString::to_string)
            .collect(),
        transitions: status.transitions,
        rejected: status
            .rejected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect(),
        resigned: agent.ops.resigned,
    })
}

/// Publishes the state to the stats listener and writes the file.
pub(super) fn write(agent: &Agent) -> std::io::Result<()> {
    let dir = &agent.opts.state_dir;
    let doc = snapshot(agent);
    agent.ops.published.send_replace(Some(doc.clone()));
    std::fs::create_dir_all(dir)?;
    let final_path = path(dir, &agent.iface.name);
    let tmp = final_path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, final_path)
}

pub(super) fn remove(dir: &Path, iface: &str) {
    let _ = std::fs::remove_file(path(dir, iface));
}

/// The state of a running agent, if its file exists and its process lives.
pub fn read(dir: &Path, iface: &str) -> Option<AgentState> {
    let text = std::fs::read_to_string(path(dir, iface)).ok()?;
    let state: AgentState = serde_json::from_str(&text).ok()?;
    Path::new(&format!("/proc/{}", state.pid))
        .exists()
        .then_some(state)
}
