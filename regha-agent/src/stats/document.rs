//! The status document: the dataplane as the pinned maps show it (traffic
//! summed over CPUs, backend states, reasons), joined with the running
//! agent's state (names, health, admin, VRRP). One builder for
//! `regha-agent status [--json]`, `/status`, `/metrics` and the page, so the
//! four never disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    agent::state::AgentState,
    dataplane::{DataplaneError, MapWriter},
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatusDocument {
    pub iface: String,
    pub agent_running: bool,
    pub agent: Option<AgentState>,
    pub services: Vec<ServiceTraffic>,
    /// Packets the program passed or dropped instead of forwarding, by reason.
    pub not_forwarded: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceTraffic {
    pub name: Option<String>,
    pub id: u32,
    pub vip: String,
    pub port: u16,
    pub proto: u8,
    pub no_backend: bool,
    pub packets: u64,
    pub bytes: u64,
    pub new_flows: u64,
    pub backends: Vec<BackendTraffic>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendTraffic {
    pub id: u32,
    pub address: String,
    /// The dataplane's state: `up`, `draining` or `down`.
    pub state: String,
    pub mac: String,
    /// The health checks' verdict: `up`, `down` or `unknown`.
    pub health: Option<String>,
    /// `enabled`, `drain` or `disabled`.
    #[serde(default)]
    pub admin: Option<String>,
    /// Seconds since the health verdict last changed.
    #[serde(default)]
    pub since_s: Option<u64>,
    pub last_check: Option<String>,
    #[serde(default)]
    pub last_check_ok: Option<bool>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
    pub packets: u64,
    pub bytes: u64,
    pub new_flows: u64,
}

pub fn state_name(s: u8) -> &'static str {
    match s {
        regha_common::BACKEND_UP => "up",
        regha_common::BACKEND_DRAINING => "draining",
        _ => "down",
    }
}

/// Reads the maps and joins them with `agent` (the running agent's state,
/// if it runs).
pub fn build(
    maps: &MapWriter,
    iface: &str,
    agent: Option<AgentState>,
) -> Result<StatusDocument, DataplaneError> {
    let mut services = Vec::new();
    for (key, value) in maps.service_entries()? {
        if key.port == regha_common::FRAGMENT_PORT {
            continue; // the fragment alias of a service listed anyway
        }
        let Some(vip) = crate::dataplane::ip_of(&key.addr, key.family) else {
            continue;
        };
        let c = maps.service_counters(value.id)?;
        let svc_state = agent
            .as_ref()
            .and_then(|a| a.services.iter().find(|s| s.id == Some(value.id)));
        let mut backends = Vec::new();
        if let Some(s) = svc_state {
            for b in &s.backends {
                let Some(id) = b.id else { continue };
                let be = maps.backend(id)?;
                let bc = maps.backend_counters(id)?;
                backends.push(BackendTraffic {
                    id,
                    address: b.address.clone(),
                    state: state_name(be.state).to_owned(),
                    mac: crate::net::mac_str(be.mac),
                    health: Some(b.health.clone()),
                    admin: Some(b.admin.as_str().to_owned()),
                    since_s: Some(b.since_s),
                    last_check: b.last_check.clone(),
                    last_check_ok: b.last_check_ok,
                    latency_ms: b.latency_ms,
                    packets: bc.packets,
                    bytes: bc.bytes,
                    new_flows: bc.new_flows,
                });
            }
        }
        services.push(ServiceTraffic {
            name: svc_state.map(|s| s.name.clone()),
            id: value.id,
            vip: vip.to_string(),
            port: key.port,
            proto: key.proto,
            no_backend: value.flags & regha_common::SERVICE_F_NO_BACKEND != 0,
            packets: c.packets,
            bytes: c.bytes,
            new_flows: c.new_flows,
            backends,
        });
    }
    services.sort_by_key(|s| s.id);
    let mut not_forwarded = BTreeMap::new();
    for r in regha_common::Reason::ALL {
        not_forwarded.insert(r.name().to_owned(), maps.reason_count(r)?);
    }
    Ok(StatusDocument {
        iface: iface.to_owned(),
        agent_running: agent.is_some(),
        agent,
        services,
        not_forwarded,
    })
}
