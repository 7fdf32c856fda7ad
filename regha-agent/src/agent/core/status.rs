//! The agent's part of the status document, from the core's state and the
//! few facts only the shell knows.

use std::{net::SocketAddr, time::Instant};

use regha_model::{BackendIdentity, Mac, Role};

use super::{Core, HolderStatus, inputs};
use crate::status::{AgentStatus, BackendStatus, ServiceStatus, VipStatus};

/// What the shell knows and the core does not.
#[derive(Clone, Debug)]
pub struct ShellFacts {
    pub pid: u32,
    pub iface: String,
    pub started: Instant,
    pub ring_swaps: u64,
    pub last_ring_swap_s: Option<f64>,
}

impl Core {
    pub fn status(&self, facts: &ShellFacts, now: Instant) -> AgentStatus {
        let services = self
            .config
            .services
            .iter()
            .map(|s| {
                let identity = inputs::service_identity(s);
                let applied = self.reconciler.applied(&identity);
                ServiceStatus {
                    name: s.name.clone(),
                    vip: s.vip,
                    port: s.port,
                    protocol: s.protocol,
                    id: applied.map(|a| a.id),
                    all_down: self.reconciler.all_down(&identity),
                    ring_fingerprint: applied.map(|a| {
                        format!(
                            "{:016x}",
                            crate::flowsync::view::fingerprint(std::slice::from_ref(a))
                        )
                    }),
                    backends: s
                        .backends
                        .iter()
                        .map(|b| {
                            let addr = SocketAddr::new(b.address, b.port);
                            let report = self.health.get(&BackendIdentity {
                                service: identity,
                                addr,
                            });
                            let written = applied.and_then(|a| {
                                a.backends
                                    .iter()
                                    .find(|x| x.addr == b.address && x.port == b.port)
                            });
                            BackendStatus {
                                address: addr,
                                id: written.map(|x| x.id),
                                state: written.map(|x| x.state),
                                health: report.map(|r| r.state).unwrap_or_default(),
                                since_s: report.map_or(0, |r| {
                                    now.saturating_duration_since(r.since).as_secs()
                                }),
                                last_check: report
                                    .and_then(|r| r.last.as_ref().map(|o| o.detail().to_owned())),
                                latency_ms: report
                                    .and_then(|r| r.last_latency)
                                    .map(|d| d.as_secs_f64() * 1000.0),
                                checks: report.map_or(0, |r| r.checks),
                                transitions: report.map_or(0, |r| r.transitions),
                                mac: b
                                    .mac
                                    .or_else(|| self.macs.get(&b.address).copied())
                                    .map(Mac),
                                admin: self.admin.get(&s.name, addr),
                                last_check_ok: report
                                    .and_then(|r| r.last.as_ref().map(|o| o.is_ok())),
                                weight: b.weight,
                                suspect: self.suspect_reason(&BackendIdentity {
                                    service: identity,
                                    addr,
                                }),
                                fast_checks: report.is_some_and(|r| r.fast),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let vips = self
            .holders
            .iter()
            .flat_map(|h| {
                h.vips().iter().map(|&(address, prefix)| VipStatus {
                    address,
                    prefix,
                    holder: h.kind(),
                    held: h.holds(),
                })
            })
            .collect::<Vec<_>>();
        let vrrp = self
            .holders
            .iter()
            .filter_map(|h| match h.status() {
                HolderStatus::Vrrp(v) => Some(v),
                HolderStatus::Static | HolderStatus::Bgp(_) => None,
            })
            .collect();
        let bgp = self
            .holders
            .iter()
            .filter_map(|h| match h.status() {
                HolderStatus::Bgp(b) => Some(b),
                _ => None,
            })
            .collect();
        AgentStatus {
            pid: facts.pid,
            iface: facts.iface.clone(),
            role: if vips.iter().any(|v| v.held) {
                Role::Master
            } else {
                Role::Backup
            },
            vips,
            uptime_s: now.saturating_duration_since(facts.started).as_secs(),
            services,
            vrrp,
            ring_swaps: facts.ring_swaps,
            last_ring_swap_s: facts.last_ring_swap_s,
            settled: self.is_settled(now),
            // The shell fills it in: flow sync runs beside the core.
            flow_sync: None,
            bgp,
            routing: None,
        }
    }
}
