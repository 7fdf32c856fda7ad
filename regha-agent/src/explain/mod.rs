//! `regha-agent explain`: why a client goes to the backend it goes to,
//! answered from what the pinned maps hold, without sending a packet.
//!
//! The answer is computed here from map contents seen through
//! [`MapsView`], as `regha-ebpf/src/steer.rs` would decide: the service's
//! hash (the shared functions of `regha_common::hash`, never a copy), its
//! ring slot and the backend there, and for a connection (client port
//! given) its flow-table entry and flow-cache copy, each with whether the
//! program trusts it. Reading the maps is `read.rs`; the text is
//! `render.rs`. Nothing here writes a map.
//!
//! What it cannot see: a handshake still pending (the SYN steered, its ACK
//! not yet seen) is keyed by the client's initial sequence number, which
//! only the packets carry; its ACK goes where the SYN went, even across a
//! ring change.

pub mod read;
mod render;

use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use regha_common::{
    BACKEND_DRAINING, BACKEND_UP, Backend, FAMILY_V4, FAMILY_V6, FLOW_CACHE_F_CLOSING,
    FRAGMENT_PORT, FlowKey, FlowValue, MAX_SERVICES, SERVICE_F_HASH_FLOW, SERVICE_F_NO_BACKEND,
    ServiceKey, ServiceValue, addr_from_v4, hash,
};
use regha_model::{BackendState, HashMode, Mac, Protocol};
use serde::Serialize;

pub use render::text;

use crate::dataplane::{DataplaneError, ip_of};

/// What the answer is read from: the pinned maps (`read.rs`), or a fake in
/// the tests.
pub trait MapsView {
    /// Every `SERVICES` entry (fragment aliases included).
    fn services(&self) -> Result<Vec<(ServiceKey, ServiceValue)>, DataplaneError>;
    /// `SERVICE_GENS[id]`.
    fn generation(&self, service_id: u32) -> Result<u32, DataplaneError>;
    /// Whether `SERVICE_PORTS` marks `port` (the program passes packets to
    /// an unmarked port without looking at `SERVICES`).
    fn port_marked(&self, port: u16) -> Result<bool, DataplaneError>;
    /// The backend id in slot `slot` of the service's ring; `None` when the
    /// service has no ring or the ring no such slot.
    fn ring_slot(&self, service_id: u32, slot: u32) -> Result<Option<u32>, DataplaneError>;
    /// `BACKENDS[id]`.
    fn backend(&self, id: u32) -> Result<Backend, DataplaneError>;
    /// The `FLOWS` entry of a connection.
    fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>, DataplaneError>;
    /// The `FLOW_CACHE` copy of a connection's entry, with its slot and
    /// `FLOW_CACHE_F_*` flags, if its slot holds it.
    fn cached_flow(&self, key: &FlowKey) -> Result<Option<CachedCopy>, DataplaneError>;
}

/// A `FLOW_CACHE` copy as [`MapsView::cached_flow`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedCopy {
    pub slot: u32,
    pub value: FlowValue,
    pub flags: u8,
}

/// Which services to explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceFilter {
    /// A service name, as the running agent's state file gives it.
    Name(String),
    /// `VIP:port`, with `/tcp` or `/udp` when one port carries both.
    Address {
        vip: IpAddr,
        port: u16,
        protocol: Option<Protocol>,
    },
}

impl FromStr for ServiceFilter {
    type Err = std::convert::Infallible;

    /// `192.0.2.100:5000`, `[2001:db8::100]:5000/tcp`, or else a name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, protocol) = match s.rsplit_once('/') {
            Some((a, p)) => match p.parse::<Protocol>() {
                Ok(p) => (a, Some(p)),
                Err(_) => (s, None),
            },
            None => (s, None),
        };
        Ok(match addr.parse::<SocketAddr>() {
            Ok(a) => Self::Address {
                vip: a.ip(),
                port: a.port(),
                protocol,
            },
            Err(_) => Self::Name(s.to_owned()),
        })
    }
}

impl fmt::Display for ServiceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "{n}"),
            Self::Address {
                vip,
                port,
                protocol,
            } => {
                write!(f, "{}", SocketAddr::new(*vip, *port))?;
                match protocol {
                    Some(p) => write!(f, "/{p}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The question.
#[derive(Clone, Debug)]
pub struct Query {
    /// The client's address, as its packets carry it.
    pub client: IpAddr,
    /// The client's port: needed for `hash: flow` services, and to look up
    /// one connection's flow state.
    pub port: Option<u16>,
    /// Every service of the client's family when `None`.
    pub service: Option<ServiceFilter>,
}

/// Why there is no answer. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(
        "{services} hash{es} the 5-tuple (hash: flow): the backend depends on the client's port too; pass the port of the connection with --port{hint}",
        es = if services.contains(", ") { "" } else { "es" },
        hint = if *filtered { "" } else { ", or name a source-hashed service with --service" }
    )]
    NeedsPort { services: String, filtered: bool },
    #[error("no service matches {filter:?}; the services here are: {known}")]
    NoSuchService { filter: String, known: String },
    #[error(
        "{name:?} is not a service name the running agent reported ({known}); name the service by its VIP:port instead"
    )]
    UnknownName { name: String, known: String },
    #[error(
        "no service for IPv{family} clients here (the services are: {known}); a client reaches only services of its own address family"
    )]
    NoServiceForFamily { family: u8, known: String },
    #[error(
        "no service is in the dataplane: the maps hold none (is the agent's configuration applied?)"
    )]
    NoServices,
    #[error(transparent)]
    Maps(#[from] DataplaneError),
}

/// The answer: one entry per service asked about.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Explanation {
    pub client: IpAddr,
    pub client_port: Option<u16>,
    pub services: Vec<ServiceAnswer>,
}

/// Where this client goes on one service, and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServiceAnswer {
    /// From the running agent's state file (none without it).
    pub name: Option<String>,
    pub id: u32,
    pub vip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
    pub hash: HashMode,
    pub seed: u32,
    /// This incarnation of the service (flows record it).
    pub generation: u32,
    /// The agent marked the service as having no backend up: every new
    /// flow is dropped.
    pub no_backend: bool,
    /// The hash of the client's source address (`hash: source`) or of the
    /// 5-tuple (`hash: flow`), as the program computes it.
    pub hash_value: u32,
    pub ring_size: u32,
    /// `hash_value % ring_size`.
    pub slot: u32,
    /// The backend id in that slot (none: no ring, or an empty one).
    pub ring_backend: Option<BackendInfo>,
    /// Where a new connection (a SYN) goes now.
    pub new_connection: Outcome,
    /// With a client port: the connection's `FLOWS` entry, if any.
    pub flow: Option<FlowEntry>,
    /// With a client port: its `FLOW_CACHE` copy, if any.
    pub flow_cache: Option<FlowEntry>,
    /// With a client port: where the next packet of this connection, past
    /// its handshake, goes.
    pub established: Option<Outcome>,
    /// Anything odd the maps show about this service.
    pub notes: Vec<String>,
}

/// A backend as `BACKENDS` holds it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BackendInfo {
    pub id: u32,
    /// None for an unused id (all zeros).
    pub address: Option<SocketAddr>,
    pub mac: Mac,
    pub state: BackendState,
}

/// A flow-table entry or its cached copy, and whether the program follows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FlowEntry {
    pub backend: BackendInfo,
    pub service_id: u32,
    /// The service incarnation it was recorded under ...
    pub service_gen: u32,
    /// ... and the one `SERVICE_GENS` holds now.
    pub current_gen: u32,
    /// The program follows it: generation current, backend up or draining.
    pub trusted: bool,
    /// Why not, when not.
    pub untrusted_because: Option<String>,
    /// Flow cache only: its slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    /// Flow cache only: the client closed the connection (FIN or RST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closing: Option<bool>,
}

/// What the program does with a packet.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Outcome {
    /// XDP_TX to this backend.
    Forward { backend: u32, via: Via },
    /// XDP_DROP, counted `no_backend`.
    Drop { reason: &'static str },
}

impl Outcome {
    /// The backend it goes to, if any.
    pub fn backend(self) -> Option<u32> {
        match self {
            Self::Forward { backend, .. } => Some(backend),
            Self::Drop { .. } => None,
        }
    }
}

/// What chose the backend.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    FlowCache,
    FlowTable,
    Ring,
}

/// The 16-byte form the maps hold addresses in, and its family.
pub(crate) fn map_addr(ip: IpAddr) -> ([u8; 16], u8) {
    match ip {
        IpAddr::V4(a) => (addr_from_v4(a.octets()), FAMILY_V4),
        IpAddr::V6(a) => (a.octets(), FAMILY_V6),
    }
}

/// A service entry that names a real service (not a fragment alias).
struct Entry {
    key: ServiceKey,
    value: ServiceValue,
    vip: IpAddr,
    protocol: Protocol,
    name: Option<String>,
}

impl Entry {
    fn label(&self) -> String {
        let addr = format!(
            "{}/{}",
            SocketAddr::new(self.vip, self.key.port),
            self.protocol
        );
        match &self.name {
            Some(n) => format!("{n} ({addr})"),
            None => addr,
        }
    }

    fn hash_mode(&self) -> HashMode {
        if self.value.flags & SERVICE_F_HASH_FLOW != 0 {
            HashMode::Flow
        } else {
            HashMode::Source
        }
    }
}

fn labels(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "none".into();
    }
    entries
        .iter()
        .map(Entry::label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Answers `q` from `maps`; `names` are the service names by dataplane id
/// (from the running agent's state; empty without it).
pub fn explain(
    maps: &impl MapsView,
    names: &BTreeMap<u32, String>,
    q: &Query,
) -> Result<Explanation, ExplainError> {
    let mut all: Vec<Entry> = maps
        .services()?
        .into_iter()
        .filter(|(k, _)| k.port != FRAGMENT_PORT)
        .filter_map(|(key, value)| {
            Some(Entry {
                vip: ip_of(&key.addr, key.family)?,
                protocol: Protocol::from_number(key.proto)?,
                name: names.get(&value.id).cloned(),
                key,
                value,
            })
        })
        .collect();
    all.sort_by_key(|e| e.value.id);
    if all.is_empty() {
        return Err(ExplainError::NoServices);
    }
    let (client_addr, family) = map_addr(q.client);
    let chosen: Vec<&Entry> = match &q.service {
        None => {
            let same: Vec<&Entry> = all.iter().filter(|e| e.key.family == family).collect();
            if same.is_empty() {
                return Err(ExplainError::NoServiceForFamily {
                    family,
                    known: labels(&all),
                });
            }
            same
        }
        Some(ServiceFilter::Name(n)) => {
            let found: Vec<&Entry> = all
                .iter()
                .filter(|e| e.name.as_deref() == Some(n))
                .collect();
            if found.is_empty() {
                return Err(ExplainError::UnknownName {
                    name: n.clone(),
                    known: if names.is_empty() {
                        "no agent state to read names from".into()
                    } else {
                        labels(&all)
                    },
                });
            }
            found
        }
        Some(
            f @ ServiceFilter::Address {
                vip,
                port,
                protocol,
            },
        ) => {
            let found: Vec<&Entry> = all
                .iter()
                .filter(|e| {
                    e.vip == *vip && e.key.port == *port && protocol.is_none_or(|p| p == e.protocol)
                })
                .collect();
            if found.is_empty() {
                return Err(ExplainError::NoSuchService {
                    filter: f.to_string(),
                    known: labels(&all),
                });
            }
            found
        }
    };
    if let Some(f) = &q.service {
        let wrong: Vec<&&Entry> = chosen.iter().filter(|e| e.key.family != family).collect();
        if !wrong.is_empty() {
            return Err(ExplainError::NoSuchService {
                filter: format!("{f} for an IPv{family} client"),
                known: labels(&all),
            });
        }
    }
    if q.port.is_none() {
        let flow: Vec<String> = chosen
            .iter()
            .filter(|e| e.hash_mode() == HashMode::Flow)
            .map(|e| e.label())
            .collect();
        if !flow.is_empty() {
            return Err(ExplainError::NeedsPort {
                services: flow.join(", "),
                filtered: q.service.is_some(),
            });
        }
    }
    let services = chosen
        .into_iter()
        .map(|e| answer(maps, e, &client_addr, q.port))
        .collect::<Result<_, _>>()?;
    Ok(Explanation {
        client: q.client,
        client_port: q.port,
        services,
    })
}

fn backend_info(maps: &impl MapsView, id: u32) -> Result<BackendInfo, DataplaneError> {
    let b = maps.backend(id)?;
    Ok(BackendInfo {
        id,
        address: ip_of(&b.addr, b.family).map(|ip| SocketAddr::new(ip, b.port)),
        mac: Mac(b.mac),
        state: BackendState::from_wire(b.state),
    })
}

fn answer(
    maps: &impl MapsView,
    e: &Entry,
    client: &[u8; 16],
    port: Option<u16>,
) -> Result<ServiceAnswer, DataplaneError> {
    let svc = &e.value;
    let mode = e.hash_mode();
    let mut notes = Vec::new();
    // The program's `ring_pick`, with the shared hash.
    let hash_value = match (mode, port) {
        (HashMode::Flow, Some(sport)) => hash::hash_flow(
            client,
            &e.key.addr,
            sport,
            e.key.port,
            e.key.proto,
            svc.seed,
        ),
        // Checked by the caller: a flow hash without a port never gets here.
        (HashMode::Flow, None) | (HashMode::Source, _) => hash::hash_source(client, svc.seed),
    };
    let slot = hash_value.checked_rem(svc.ring_size).unwrap_or(0);
    let ring_id = if svc.ring_size == 0 {
        notes.push("the service's ring size is 0: every new flow is dropped".into());
        None
    } else {
        maps.ring_slot(svc.id, slot)?
    };
    if svc.ring_size != 0 && ring_id.is_none() {
        notes.push(format!(
            "no ring for service id {} (or no slot {slot} in it): every new flow is dropped",
            svc.id
        ));
    }
    let ring_backend = ring_id.map(|id| backend_info(maps, id)).transpose()?;
    let no_backend = svc.flags & SERVICE_F_NO_BACKEND != 0;
    let new_connection = if no_backend {
        Outcome::Drop {
            reason: "no_backend",
        }
    } else {
        match &ring_backend {
            Some(b) if b.state == BackendState::Up => Outcome::Forward {
                backend: b.id,
                via: Via::Ring,
            },
            _ => Outcome::Drop {
                reason: "no_backend",
            },
        }
    };
    if no_backend {
        notes.push("no backend is up (the service is marked so): new flows are dropped".into());
    } else if let Some(b) = ring_backend
        .as_ref()
        .filter(|b| b.state != BackendState::Up)
    {
        notes.push(format!(
            "the ring's backend {} is {}: a ring being replaced; new flows in this slot are dropped until it is",
            b.id, b.state
        ));
    }
    if !maps.port_marked(e.key.port)? {
        notes.push(format!(
            "port {} is not marked in SERVICE_PORTS: the program passes these packets to the stack without steering them",
            e.key.port
        ));
    }
    let (mut flow, mut flow_cache, mut established) = (None, None, None);
    if let Some(sport) = port {
        let key = FlowKey {
            src: *client,
            dst: e.key.addr,
            sport,
            dport: e.key.port,
            proto: e.key.proto,
            family: e.key.family,
            _pad: [0; 2],
        };
        flow = maps
            .flow(&key)?
            .map(|v| flow_entry(maps, &v, None))
            .transpose()?;
        flow_cache = maps
            .cached_flow(&key)?
            .map(|c| flow_entry(maps, &c.value, Some(c)))
            .transpose()?;
        // The program's order for a packet past the SYN: the cached copy,
        // then the flow table, then the ring (as a flow seen mid-way).
        established = Some(match (&flow_cache, &flow) {
            (Some(c), _) if c.trusted => Outcome::Forward {
                backend: c.backend.id,
                via: Via::FlowCache,
            },
            (_, Some(f)) if f.trusted => Outcome::Forward {
                backend: f.backend.id,
                via: Via::FlowTable,
            },
            _ => new_connection,
        });
    }
    Ok(ServiceAnswer {
        name: e.name.clone(),
        id: svc.id,
        vip: e.vip,
        port: e.key.port,
        protocol: e.protocol,
        hash: mode,
        seed: svc.seed,
        generation: svc.generation,
        no_backend,
        hash_value,
        ring_size: svc.ring_size,
        slot,
        ring_backend,
        new_connection,
        flow,
        flow_cache,
        established,
        notes,
    })
}

/// The program's `pinned`: an entry is followed while its service
/// incarnation is current (and not 0) and its backend takes existing flows.
fn flow_entry(
    maps: &impl MapsView,
    v: &FlowValue,
    cached: Option<CachedCopy>,
) -> Result<FlowEntry, DataplaneError> {
    let current_gen = if v.service_id < MAX_SERVICES {
        maps.generation(v.service_id)?
    } else {
        0
    };
    let backend = backend_info(maps, v.backend_id)?;
    let raw_state = maps.backend(v.backend_id)?.state;
    let untrusted_because = if v.service_gen == 0 || current_gen != v.service_gen {
        Some(format!(
            "recorded under generation {} of service {}, which is now at {}: the service was re-created or removed since",
            v.service_gen, v.service_id, current_gen
        ))
    } else if raw_state != BACKEND_UP && raw_state != BACKEND_DRAINING {
        Some(format!(
            "backend {} is down: the flow is steered anew",
            v.backend_id
        ))
    } else {
        None
    };
    Ok(FlowEntry {
        backend,
        service_id: v.service_id,
        service_gen: v.service_gen,
        current_gen,
        trusted: untrusted_because.is_none(),
        untrusted_because,
        slot: cached.map(|c| c.slot),
        closing: cached.map(|c| c.flags & FLOW_CACHE_F_CLOSING != 0),
    })
}

#[cfg(test)]
mod tests;
