//! The status document: the dataplane as the pinned maps show it (traffic
//! summed over CPUs, backend states, reasons), joined with the running
//! agent's [`AgentStatus`] (names, health, admin, VRRP). One builder for
//! `regha-agent status [--json]`, `/status`, `/metrics` and the page, so the
//! four never disagree.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
};

use regha_model::{AdminState, BackendState, Health, Mac, Protocol};
use serde::{Deserialize, Serialize};

use super::AgentStatus;
use crate::dataplane::{DataplaneError, MapWriter};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatusDocument {
    pub iface: String,
    pub agent_running: bool,
    pub agent: Option<AgentStatus>,
    pub services: Vec<ServiceTraffic>,
    /// Packets the program passed or dropped instead of forwarding, by
    /// reason (`regha_common::Reason::name`).
    pub not_forwarded: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceTraffic {
    pub name: Option<String>,
    pub id: u32,
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    pub no_backend: bool,
    pub packets: u64,
    pub bytes: u64,
    pub new_flows: u64,
    /// Packets dropped because their source is not in the service's
    /// `allow` list (a new flow refused, or a flow from a removed network).
    #[serde(default)]
    pub denied: u64,
    /// Whether the service has an `allow` list.
    #[serde(default)]
    pub allow_list: bool,
    /// Slots of the service's Maglev ring.
    #[serde(default)]
    pub ring_size: u32,
    pub backends: Vec<BackendTraffic>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendTraffic {
    pub id: u32,
    pub address: SocketAddr,
    /// What the dataplane does with it.
    pub state: BackendState,
    pub mac: Mac,
    /// The health checks' verdict.
    pub health: Option<Health>,
    /// What an operator asked.
    #[serde(default)]
    pub admin: Option<AdminState>,
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
    /// The backend's passive health signals, as the clients' side of its
    /// handshakes shows them (`regha_common::Signals`): SYNs that started a
    /// connection attempt to it, ...
    #[serde(default)]
    pub syns: u64,
    /// ... SYNs of an attempt already steered to it (the client heard no
    /// SYN-ACK in time), ...
    #[serde(default)]
    pub syn_retransmits: u64,
    /// ... and attempts seen completing (the client's first packet after
    /// its SYN).
    #[serde(default)]
    pub completions: u64,
    /// Why the dataplane's signals make it suspect (none when they do not).
    #[serde(default)]
    pub suspect: Option<String>,
    /// Whether its checks run at the fast interval now.
    #[serde(default)]
    pub fast_checks: bool,
    /// The configured weight (what its share of the ring should follow).
    #[serde(default)]
    pub weight: Option<u32>,
    /// Slots of the service's ring that hold it, as read from the ring the
    /// dataplane uses (none when the ring could not be read).
    #[serde(default)]
    pub ring_slots: Option<u32>,
}

/// Reads the maps and joins them with `agent` (the running agent's state,
/// if it runs).
pub fn build(
    maps: &MapWriter,
    iface: &str,
    agent: Option<AgentStatus>,
) -> Result<StatusDocument, DataplaneError> {
    let mut services = Vec::new();
    for (key, value) in maps.service_entries()? {
        if key.port == regha_common::FRAGMENT_PORT {
            continue; // the fragment alias of a service listed anyway
        }
        let (Some(vip), Some(protocol)) = (
            crate::dataplane::ip_of(&key.addr, key.family),
            Protocol::from_number(key.proto),
        ) else {
            continue;
        };
        let c = maps.service_counters(value.id)?;
        let svc_state = agent
            .as_ref()
            .and_then(|a| a.services.iter().find(|s| s.id == Some(value.id)));
        // Read as it is, not recomputed: a ring the agent did not write as
        // it meant to shows here. A ring that cannot be read leaves the
        // shares out rather than the whole document.
        let ring_counts = maps.ring(value.id).ok().flatten().map(|ring| {
            let mut counts = BTreeMap::<u32, u32>::new();
            for id in ring {
                *counts.entry(id).or_default() += 1;
            }
            counts
        });
        let slots_of = |id: u32| {
            ring_counts
                .as_ref()
                .map(|c| c.get(&id).copied().unwrap_or(0))
        };
        let mut backends = Vec::new();
        if let Some(s) = svc_state {
            for b in &s.backends {
                let Some(id) = b.id else { continue };
                let be = maps.backend(id)?;
                let bc = maps.backend_counters(id)?;
                let signals = maps.signals(id)?;
                backends.push(BackendTraffic {
                    id,
                    address: b.address,
                    state: BackendState::from_wire(be.state),
                    mac: Mac(be.mac),
                    health: Some(b.health),
                    admin: Some(b.admin),
                    since_s: Some(b.since_s),
                    last_check: b.last_check.clone(),
                    last_check_ok: b.last_check_ok,
                    latency_ms: b.latency_ms,
                    packets: bc.packets,
                    bytes: bc.bytes,
                    new_flows: bc.new_flows,
                    syns: signals.syns,
                    syn_retransmits: signals.syn_retransmits,
                    completions: signals.completions,
                    suspect: b.suspect.clone(),
                    fast_checks: b.fast_checks,
                    weight: Some(b.weight),
                    ring_slots: slots_of(id),
                });
            }
        }
        services.push(ServiceTraffic {
            name: svc_state.map(|s| s.name.clone()),
            id: value.id,
            vip,
            port: key.port,
            protocol,
            no_backend: value.flags & regha_common::SERVICE_F_NO_BACKEND != 0,
            packets: c.packets,
            bytes: c.bytes,
            new_flows: c.new_flows,
            denied: maps.service_denied(value.id)?,
            allow_list: value.flags & regha_common::SERVICE_F_ALLOW != 0,
            ring_size: value.ring_size,
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
