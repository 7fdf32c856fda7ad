//! `/metrics`: the status document in the Prometheus text format (0.0.4),
//! encoded by prometheus-client. A registry is filled from the document on
//! each scrape: the numbers live in the kernel's maps and the agent's state,
//! not in counters of our own, so there is nothing to keep in step.
//!
//! Conventions: `regha_` prefix, `_total` counters, seconds and bytes, one
//! gauge per state with the state as a label (`regha_backend_state{state}`
//! is 1 for the current one, 0 for the others) so alerts need no magic
//! numbers.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};

use regha_model::{AdminState, BackendState, Health, Role, VrrpState, Word};

use crate::status::StatusDocument;

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    service: String,
    /// `address:port` (`[v6]:port`).
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendStateLabels {
    service: String,
    backend: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
/// One VRRP instance: its name, and its virtual router (VRID and family:
/// an IPv4 and an IPv6 instance may share a VRID).
struct VrrpLabels {
    vrrp_instance: String,
    vrid: String,
    family: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VrrpStateLabels {
    vrrp_instance: String,
    vrid: String,
    family: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VrrpReasonLabels {
    vrrp_instance: String,
    vrid: String,
    family: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipLabels {
    vip: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RingLabels {
    service: String,
    fingerprint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    protocol: String,
    peer: String,
}

type Counters<L> = Family<L, Counter<u64>>;
type Gauges<L> = Family<L, Gauge<i64>>;
type Seconds<L> = Family<L, Gauge<f64, AtomicU64>>;

/// One gauge per value of `W`, 1 for `current`: `state="..."` labels that
/// alerts can name.
fn one_hot<W: Word, L>(family: &Gauges<L>, labels: impl Fn(&'static str) -> L, current: W)
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    for &value in W::ALL {
        family
            .get_or_create(&labels(value.word()))
            .set(i64::from(value == current));
    }
}

fn counters<L>(r: &mut Registry, name: &str, help: &str) -> Counters<L>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let f = Counters::<L>::default();
    r.register(name, help, f.clone());
    f
}

fn gauges<L>(r: &mut Registry, name: &str, help: &str) -> Gauges<L>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let f = Gauges::<L>::default();
    r.register(name, help, f.clone());
    f
}

fn seconds<L>(r: &mut Registry, name: &str, help: &str) -> Seconds<L>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let f = Seconds::<L>::default();
    r.register_with_unit(name, help, Unit::Seconds, f.clone());
    f
}

/// Renders the document as Prometheus text.
pub fn render(doc: &StatusDocument) -> String {
    let mut r = Registry::with_prefix("regha");

    let svc_packets = counters::<ServiceLabels>(
        &mut r,
        "service_packets",
        "Packets forwarded to the service's backends",
    );
    let svc_bytes = counters::<ServiceLabels>(
        &mut r,
        "service_bytes",
        "Bytes forwarded to the service's backends (client to backend: answers bypass the LB)",
    );
    let svc_flows = counters::<ServiceLabels>(
        &mut r,
        "service_new_flows",
        "Flows (connections) the service's ring assigned",
    );
    let svc_denied = counters::<ServiceLabels>(
        &mut r,
        "service_denied",
        "Packets dropped at the LB because their source is not in the service's allow list",
    );
    let svc_no_backend = gauges::<ServiceLabels>(
        &mut r,
        "service_no_backend",
        "1 while no backend takes new flows",
    );
    let be_packets = counters::<BackendLabels>(
        &mut r,
        "backend_packets",
        "Packets forwarded to the backend",
    );
    let be_bytes = counters::<BackendLabels>(
        &mut r,
        "backend_bytes",
        "Bytes forwarded to the backend (client to backend)",
    );
    let be_flows =
        counters::<BackendLabels>(&mut r, "backend_new_flows", "Flows assigned to the backend");
    let be_syns = counters::<BackendLabels>(
        &mut r,
        "backend_syns",
        "SYNs that started a connection attempt to the backend (retransmissions not counted)",
    );
    let be_syn_retransmits = counters::<BackendLabels>(
        &mut r,
        "backend_syn_retransmits",
        "SYNs of a connection attempt already steered to the backend: the client heard no SYN-ACK in time",
    );
    let be_completions = counters::<BackendLabels>(
        &mut r,
        "backend_completions",
        "Connection attempts to the backend seen completing: the client's first packet after its SYN",
    );
    let be_up =
        gauges::<BackendLabels>(&mut r, "backend_up", "1 while the backend takes new flows");
    let be_state = gauges::<BackendStateLabels>(
        &mut r,
        "backend_state",
        "The dataplane state (up, draining, down): 1 for the current one",
    );
    let be_health = gauges::<BackendStateLabels>(
        &mut r,
        "backend_health",
        "The health checks' verdict (up, down, unknown): 1 for the current one",
    );
    let be_admin = gauges::<BackendStateLabels>(
        &mut r,
        "backend_admin_state",
        "What an operator asked (enabled, drain, disabled): 1 for the current one",
    );
    let be_since = seconds::<BackendLabels>(
        &mut r,
        "backend_health_age",
        "Time since the health verdict last changed",
    );
    let be_check_ok = gauges::<BackendLabels>(
        &mut r,
        "backend_check_success",
        "1 if the last health check passed, 0 if it failed",
    );
    let be_check_time = seconds::<BackendLabels>(
        &mut r,
        "backend_check_duration",
        "How long the last health check took",
    );
    let svc_ring_size = gauges::<ServiceLabels>(
        &mut r,
        "service_ring_size",
        "Slots of the service's Maglev ring",
    );
    let be_suspect = gauges::<BackendLabels>(
        &mut r,
        "backend_suspect",
        "1 while the dataplane's signals make the backend suspect (its checks run at the fast interval until they decide), else 0",
    );
    let be_fast_checks = gauges::<BackendLabels>(
        &mut r,
        "backend_fast_checks",
        "1 while the backend's checks run at the fast interval (suspect, or in transition), else 0",
    );
    let be_weight = gauges::<BackendLabels>(
        &mut r,
        "backend_weight",
        "The configured weight: the backend's share of the ring follows it among the backends up",
    );
    let be_ring_slots = gauges::<BackendLabels>(
        &mut r,
        "backend_ring_slots",
        "Slots of the service's Maglev ring that hold the backend, as read from the ring the dataplane uses",
    );
    let not_forwarded = counters::<ReasonLabels>(
        &mut r,
        "dataplane_not_forwarded_packets",
        "Packets the XDP program passed to the kernel or dropped instead of forwarding, by reason",
    );

    for svc in &doc.services {
        let service = svc
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", svc.vip, svc.port));
        let sl = ServiceLabels {
            service: service.clone(),
        };
        svc_packets.get_or_create(&sl).inc_by(svc.packets);
        svc_bytes.get_or_create(&sl).inc_by(svc.bytes);
        svc_flows.get_or_create(&sl).inc_by(svc.new_flows);
        svc_denied.get_or_create(&sl).inc_by(svc.denied);
        svc_no_backend
            .get_or_create(&sl)
            .set(i64::from(svc.no_backend));
        svc_ring_size
            .get_or_create(&sl)
            .set(i64::from(svc.ring_size));
        for b in &svc.backends {
            let bl = BackendLabels {
                service: service.clone(),
                backend: b.address.to_string(),
            };
            let with_state = |state: &str| BackendStateLabels {
                service: bl.service.clone(),
                backend: bl.backend.clone(),
                state: state.to_owned(),
            };
            be_packets.get_or_create(&bl).inc_by(b.packets);
            be_bytes.get_or_create(&bl).inc_by(b.bytes);
            be_flows.get_or_create(&bl).inc_by(b.new_flows);
            be_syns.get_or_create(&bl).inc_by(b.syns);
            be_syn_retransmits
                .get_or_create(&bl)
                .inc_by(b.syn_retransmits);
            be_completions.get_or_create(&bl).inc_by(b.completions);
            be_up
                .get_or_create(&bl)
                .set(i64::from(b.state == BackendState::Up));
            one_hot::<BackendState, _>(&be_state, with_state, b.state);
            if let Some(h) = b.health {
                one_hot::<Health, _>(&be_health, with_state, h);
            }
            if let Some(a) = b.admin {
                one_hot::<AdminState, _>(&be_admin, with_state, a);
            }
            if let Some(since) = b.since_s {
                be_since.get_or_create(&bl).set(since as f64);
            }
            if let Some(ok) = b.last_check_ok {
                be_check_ok.get_or_create(&bl).set(i64::from(ok));
            }
            if let Some(ms) = b.latency_ms {
                be_check_time.get_or_create(&bl).set(ms / 1000.0);
            }
            if b.health.is_some() {
                be_suspect
                    .get_or_create(&bl)
                    .set(i64::from(b.suspect.is_some()));
                be_fast_checks
                    .get_or_create(&bl)
                    .set(i64::from(b.fast_checks));
            }
            if let Some(w) = b.weight {
                be_weight.get_or_create(&bl).set(i64::from(w));
            }
            if let Some(slots) = b.ring_slots {
                be_ring_slots.get_or_create(&bl).set(i64::from(slots));
            }
        }
    }
    for (reason, n) in &doc.not_forwarded {
        not_forwarded
            .get_or_create(&ReasonLabels {
                reason: reason.clone(),
            })
            .inc_by(*n);
    }

    if let Some(agent) = &doc.agent {
        // Health-check counters come from the agent's state per backend.
        let checks = counters::<BackendLabels>(&mut r, "backend_checks", "Health checks completed");
        let transitions = counters::<BackendLabels>(
            &mut r,
            "backend_health_transitions",
            "Health verdict changes, the first decision included",
        );
        for s in &agent.services {
            for b in &s.backends {
                let bl = BackendLabels {
                    service: s.name.clone(),
                    backend: b.address.to_string(),
                };
                checks.get_or_create(&bl).inc_by(b.checks);
                transitions.get_or_create(&bl).inc_by(b.transitions);
            }
        }
        let holds = Gauge::<i64>::default();
        holds.set(i64::from(agent.role == Role::Master));
        r.register(
            "holds_vips",
            "1 while this host holds the VIPs (master)",
            holds,
        );
        let settled = Gauge::<i64>::default();
        settled.set(i64::from(agent.settled));
        r.register(
            "health_view_settled",
            "1 while this host's health view is settled (every check decided, none changed for a check interval, no write pending); an unsettled host does not preempt",
            settled,
        );
        if let Some(fs) = &agent.flow_sync {
            flow_sync_metrics(&mut r, fs);
        }
        bgp_metrics(&mut r, agent);
        let swaps = Counter::<u64>::default();
        swaps.inc_by(agent.ring_swaps);
        r.register(
            "ring_swaps",
            "Maglev ring swaps (whole-table replacements) since the agent started",
            swaps,
        );
        if let Some(last) = agent.last_ring_swap_s {
            let g = Gauge::<f64, AtomicU64>::default();
            g.set(last);
            r.register_with_unit("ring_swap_last_duration", "How long the last ring swap took, from creating the table to the slot pointing at it", Unit::Seconds, g);
        }
        if !agent.vrrp.is_empty() {
            let state = gauges::<VrrpStateLabels>(
                &mut r,
                "vrrp_state",
                "The VRRP state (initialize, backup, master, fault): 1 for the current one",
            );
            let priority = gauges::<VrrpLabels>(
                &mut r,
                "vrrp_priority",
                "The effective priority (tracking included; 0 while resigned)",
            );
            let configured = gauges::<VrrpLabels>(
                &mut r,
                "vrrp_configured_priority",
                "The configured priority",
            );
            let transitions =
                counters::<VrrpLabels>(&mut r, "vrrp_transitions", "VRRP state transitions");
            let resigned = gauges::<VrrpLabels>(
                &mut r,
                "vrrp_resigned",
                "1 while `regha-agent vrrp resign` holds this host out of the election",
            );
            let rejected = counters::<VrrpReasonLabels>(
                &mut r,
                "vrrp_rejected_packets",
                "VRRP packets refused, by reason",
            );
            for v in &agent.vrrp {
                let vl = VrrpLabels {
                    vrrp_instance: v.name.clone(),
                    vrid: v.vrid.to_string(),
                    family: v.family.as_str().to_owned(),
                };
                let with_state = |s: &str| VrrpStateLabels {
                    vrrp_instance: vl.vrrp_instance.clone(),
                    vrid: vl.vrid.clone(),
                    family: vl.family.clone(),
                    state: s.to_owned(),
                };
                one_hot::<VrrpState, _>(&state, with_state, v.state);
                priority.get_or_create(&vl).set(i64::from(v.priority));
                configured
                    .get_or_create(&vl)
                    .set(i64::from(v.configured_priority));
                transitions.get_or_create(&vl).inc_by(v.transitions);
                resigned.get_or_create(&vl).set(i64::from(v.resigned));
                for (reason, n) in &v.rejected {
                    rejected
                        .get_or_create(&VrrpReasonLabels {
                            vrrp_instance: vl.vrrp_instance.clone(),
                            vrid: vl.vrid.clone(),
                            family: vl.family.clone(),
                            reason: reason.clone(),
                        })
                        .inc_by(*n);
                }
            }
        }
    }

    let mut out = String::new();
    prometheus_text::encode(&mut out, &r).expect("writing to a String cannot fail");
    sorted_samples(&out)
}

/// Sorts the samples of each metric (a family's label sets come out in hash
/// order): the same state reads the same, and backends appear in order.
fn sorted_samples(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut block: Vec<&str> = Vec::new();
    let flush = |block: &mut Vec<&str>, out: &mut String| {
        block.sort_unstable();
        for l in block.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut block, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            block.push(line);
        }
    }
    flush(&mut block, &mut out);
    out
}

#[cfg(test)]
mod tests;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

/// `regha_flow_sync_*`: what was sent, received and applied, why not, and
/// whether each peer's rings are this host's.
/// BGP mode: each announced VIP, each service's ring fingerprint (equal on
/// every LB that steers alike), FRR's sessions.
fn bgp_metrics(r: &mut Registry, agent: &crate::status::AgentStatus) {
    let rings = gauges::<RingLabels>(
        r,
        "service_ring_info",
        "1, labelled with the service's ring fingerprint: LBs with equal fingerprints send every client to the same backend",
    );
    for s in &agent.services {
        if let Some(f) = &s.ring_fingerprint {
            rings
                .get_or_create(&RingLabels {
                    service: s.name.clone(),
                    fingerprint: f.clone(),
                })
                .set(1);
        }
    }
    if agent.bgp.is_empty() {
        return;
    }
    let announced = gauges::<VipLabels>(
        r,
        "bgp_vip_announced",
        "1 while the VIP's route is in the kernel for the routing daemon to announce",
    );
    let drained = gauges::<VipLabels>(
        r,
        "bgp_vip_drained",
        "1 while `regha-agent drain` holds the VIP withdrawn",
    );
    for b in &agent.bgp {
        let l = VipLabels {
            vip: b.vip.to_string(),
        };
        announced.get_or_create(&l).set(i64::from(b.announced));
        drained.get_or_create(&l).set(i64::from(b.drained));
    }
    if let Some(routing) = &agent.routing {
        let up = gauges::<SessionLabels>(
            r,
            "routing_session_up",
            "1 while FRR's BGP session (Established) or BFD session (up) with the peer is up",
        );
        for s in &routing.bgp {
            up.get_or_create(&SessionLabels {
                protocol: "bgp".into(),
                peer: s.peer.clone(),
            })
            .set(i64::from(s.state == "Established"));
        }
        for s in &routing.bfd {
            up.get_or_create(&SessionLabels {
                protocol: "bfd".into(),
                peer: s.peer.clone(),
            })
            .set(i64::from(s.status == "up"));
        }
        let readable = Gauge::<i64>::default();
        readable.set(i64::from(routing.error.is_none()));
        r.register(
            "routing_daemon_readable",
            "1 while FRR's sessions could be read with vtysh (0: see `status` for why)",
            readable,
        );
    }
}

fn flow_sync_metrics(r: &mut Registry, fs: &crate::flowsync::FlowSyncStatus) {
    let plain = [
        (
            "flow_sync_sent_flows",
            "Flows sent to the peer LBs",
            fs.sent_flows,
        ),
        (
            "flow_sync_sent_datagrams",
            "Flow sync datagrams sent (hellos included), per destination",
            fs.sent_datagrams,
        ),
        (
            "flow_sync_send_errors",
            "Flow sync datagrams that could not be sent",
            fs.send_errors,
        ),
        (
            "flow_sync_lost",
            "Flows recorded while FLOW_EVENTS was full: never sent",
            fs.lost,
        ),
        (
            "flow_sync_dropped",
            "Flows not sent because the queue was full (max_rate exceeded for long)",
            fs.dropped,
        ),
        (
            "flow_sync_received_datagrams",
            "Flow sync datagrams received",
            fs.received_datagrams,
        ),
        (
            "flow_sync_received_flows",
            "Flows received in accepted datagrams",
            fs.received_flows,
        ),
        (
            "flow_sync_applied",
            "Peer flows written into this host's flow table",
            fs.applied,
        ),
        (
            "flow_sync_apply_errors",
            "Peer flows that could not be written",
            fs.apply_errors,
        ),
    ];
    for (name, help, v) in plain {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        r.register(name, help, c);
    }
    let by_kind = [
        (
            "flow_sync_not_sent",
            "Recorded flows not sent, by why (unknown_service, unknown_backend)",
            &fs.not_sent,
        ),
        (
            "flow_sync_not_applied",
            "Peer flows not applied, by why (unknown_service, unknown_backend, backend_down)",
            &fs.not_applied,
        ),
        (
            "flow_sync_rejected",
            "Datagrams refused, by why (auth: another key; version: another format; malformed; replay; stranger: not a configured peer)",
            &fs.rejected,
        ),
    ];
    for (name, help, kinds) in by_kind {
        let f = Family::<KindLabels, Counter>::default();
        for (kind, n) in kinds {
            f.get_or_create(&KindLabels { kind: kind.clone() })
                .inc_by(*n);
        }
        r.register(name, help, f);
    }
    let held = Gauge::<i64>::default();
    held.set(fs.held as i64);
    r.register(
        "flow_sync_held_flows",
        "Peer flows waiting for their backend, down here now, to come up (30 s at most)",
        held,
    );
    let same = Family::<PeerLabels, Gauge>::default();
    let seen = Family::<PeerLabels, Gauge>::default();
    for p in &fs.peers {
        let l = PeerLabels {
            peer: p.address.to_string(),
        };
        same.get_or_create(&l).set(i64::from(p.same_rings));
        seen.get_or_create(&l).set(p.last_seen_s as i64);
    }
    r.register(
        "flow_sync_peer_same_rings",
        "1 while the peer's ring fingerprint is this host's: both pick the same backend for every new flow",
        same,
    );
    r.register(
        "flow_sync_peer_last_seen_seconds",
        "Seconds since the peer's last accepted datagram (a hello goes out every second)",
        seen,
    );
}
