//! What the page shows over time and the maps cannot say: traffic rates
//! and a graph of the last minutes, from samples of the agent's own
//! counters, and the history of state changes, from the status the agent
//! publishes after every step. The stats listener keeps it in memory (a
//! restart of the agent starts it afresh: long history is Prometheus's
//! job). Pure: the listener hands it documents and statuses with their
//! times (`server.rs`), and the page renders a [`View`] of it.

use std::{
    collections::{BTreeMap, VecDeque},
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

use regha_model::{AdminState, BackendState, Health, VrrpState};

use crate::status::{AgentStatus, StatusDocument};

/// How often the listener samples the counters.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept: five minutes of them, the span of the graph.
pub const SAMPLES_KEPT: usize = 60;
/// Changes kept, across services and VRRP instances.
pub const CHANGES_KEPT: usize = 256;
/// A rate is taken over at least this long, when the samples allow.
pub const RATE_SPAN: Duration = Duration::from_secs(4);

/// Forwarded traffic as the counters show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
}

/// Forwarded traffic per second.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rate {
    pub packets: f64,
    pub bytes: f64,
}

impl Rate {
    /// From `before` to `after` over `span`; `None` when a counter went
    /// back (the maps were replaced) or no time passed.
    fn between(before: Traffic, after: Traffic, span: Duration) -> Option<Rate> {
        let secs = span.as_secs_f64();
        if secs <= 0.0 || after.packets < before.packets || after.bytes < before.bytes {
            return None;
        }
        Some(Rate {
            packets: (after.packets - before.packets) as f64 / secs,
            bytes: (after.bytes - before.bytes) as f64 / secs,
        })
    }
}

/// One service's counters at one time.
#[derive(Clone, Debug, Default, PartialEq)]
struct ServiceSample {
    total: Traffic,
    backends: BTreeMap<SocketAddr, Traffic>,
}

#[derive(Clone, Debug)]
struct Sample {
    at: Instant,
    services: BTreeMap<String, ServiceSample>,
}

/// The named services of a document and their counters (a service the
/// running agent does not name is left out: it is not one of its own).
fn sample_of(doc: &StatusDocument) -> BTreeMap<String, ServiceSample> {
    doc.services
        .iter()
        .filter_map(|s| {
            let name = s.name.clone()?;
            Some((
                name,
                ServiceSample {
                    total: Traffic {
                        packets: s.packets,
                        bytes: s.bytes,
                    },
                    backends: s
                        .backends
                        .iter()
                        .map(|b| {
                            (
                                b.address,
                                Traffic {
                                    packets: b.packets,
                                    bytes: b.bytes,
                                },
                            )
                        })
                        .collect(),
                },
            ))
        })
        .collect()
}

/// Whose state changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Backend {
        service: String,
        backend: SocketAddr,
    },
    Vrrp {
        vrid: u8,
    },
}

/// What changed, from what to what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The health checks' verdict.
    Health(Health, Health),
    /// What the agent wrote to the dataplane (none before the first write).
    Dataplane(Option<BackendState>, Option<BackendState>),
    /// What an operator asked.
    Admin(AdminState, AdminState),
    /// A VRRP instance's state.
    Vrrp(VrrpState, VrrpState),
}

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |s: Option<BackendState>| s.map_or("unwritten", |s| s.as_str());
        match self {
            Self::Health(a, b) => write!(f, "health {} \u{2192} {}", a.as_str(), b.as_str()),
            Self::Dataplane(a, b) => write!(f, "dataplane {} \u{2192} {}", opt(*a), opt(*b)),
            Self::Admin(a, b) => write!(f, "admin {} \u{2192} {}", a.as_str(), b.as_str()),
            Self::Vrrp(a, b) => write!(f, "{} \u{2192} {}", a.as_str(), b.as_str()),
        }
    }
}

/// One state change, when the listener saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub at: SystemTime,
    pub subject: Subject,
    pub transition: Transition,
}

/// The states compared from one status to the next.
#[derive(Clone, Debug, Default, PartialEq)]
struct States {
    backends: BTreeMap<(String, SocketAddr), (Health, Option<BackendState>, AdminState)>,
    vrrp: BTreeMap<u8, VrrpState>,
}

fn states_of(agent: &AgentStatus) -> States {
    States {
        backends: agent
            .services
            .iter()
            .flat_map(|s| {
                s.backends
                    .iter()
                    .map(|b| ((s.name.clone(), b.address), (b.health, b.state, b.admin)))
            })
            .collect(),
        vrrp: agent.vrrp.iter().map(|v| (v.vrid, v.state)).collect(),
    }
}

/// The samples and changes the listener has seen.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
    changes: VecDeque<Change>,
    last: Option<States>,
}

/// One point of a service's graph: how long before the newest sample, and
/// each backend's rate over the interval that ended then.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub age: Duration,
    pub rates: BTreeMap<SocketAddr, Rate>,
}

/// What the page renders from the history, as of one request.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Per service, then per backend: the rate up to this request.
    pub rates: BTreeMap<String, (Option<Rate>, BTreeMap<SocketAddr, Rate>)>,
    /// Per service: the graph's points, oldest first.
    pub series: BTreeMap<String, Vec<Point>>,
    /// Newest first.
    pub changes: Vec<Change>,
    /// How far back the graph reaches.
    pub span: Duration,
    /// The wall-clock time of the request.
    pub now: Option<SystemTime>,
}

impl View {
    /// The newest change of `backend` in `service`, if one was seen.
    pub fn last_change(&self, service: &str, backend: SocketAddr) -> Option<&Change> {
        self.changes.iter().find(|c| {
            matches!(&c.subject, Subject::Backend { service: s, backend: b } if s == service && *b == backend)
        })
    }

    /// The changes of `service`'s backends, newest first.
    pub fn service_changes<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Change> {
        self.changes.iter().filter(
            move |c| matches!(&c.subject, Subject::Backend { service: s, .. } if s == service),
        )
    }

    /// The VRRP instances' changes, newest first.
    pub fn vrrp_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| matches!(c.subject, Subject::Vrrp { .. }))
    }
}

impl History {
    /// Keeps the counters of `doc`, read at `at`.
    pub fn record(&mut self, at: Instant, doc: &StatusDocument) {
        self.samples.push_back(Sample {
            at,
            services: sample_of(doc),
        });
        while self.samples.len() > SAMPLES_KEPT {
            self.samples.pop_front();
        }
    }

    /// Notes what changed since the last status the agent published (the
    /// first one only sets where to start from).
    pub fn observe(&mut self, at: SystemTime, agent: &AgentStatus) {
        let now = states_of(agent);
        if let Some(last) = &self.last {
            for (key, &(health, state, admin)) in &now.backends {
                let Some(&(h0, s0, a0)) = last.backends.get(key) else {
                    continue;
                };
                let subject = || Subject::Backend {
                    service: key.0.clone(),
                    backend: key.1,
                };
                let mut push = |transition| {
                    self.changes.push_back(Change {
                        at,
                        subject: subject(),
                        transition,
                    })
                };
                if h0 != health {
                    push(Transition::Health(h0, health));
                }
                if s0 != state {
                    push(Transition::Dataplane(s0, state));
                }
                if a0 != admin {
                    push(Transition::Admin(a0, admin));
                }
            }
            for (&vrid, &state) in &now.vrrp {
                if let Some(&before) = last.vrrp.get(&vrid)
                    && before != state
                {
                    self.changes.push_back(Change {
                        at,
                        subject: Subject::Vrrp { vrid },
                        transition: Transition::Vrrp(before, state),
                    });
                }
            }
            while self.changes.len() > CHANGES_KEPT {
                self.changes.pop_front();
            }
        }
        self.last = Some(now);
    }

    /// The view for a request at `now` / `wall`, whose document is `doc`
    /// (read just now: the rates run up to it).
    pub fn view(&self, now: Instant, wall: SystemTime, doc: &StatusDocument) -> View {
        let current = sample_of(doc);
        // The newest sample at least RATE_SPAN old, else the oldest if a
        // second has passed since it (a rate over less says little).
        let base = self
            .samples
            .iter()
            .rev()
            .find(|s| now.saturating_duration_since(s.at) >= RATE_SPAN)
            .or_else(|| {
                self.samples
                    .front()
                    .filter(|s| now.saturating_duration_since(s.at) >= Duration::from_secs(1))
            });
        let mut rates = BTreeMap::new();
        for (name, cur) in &current {
            let Some(base) = base else { break };
            let span = now.saturating_duration_since(base.at);
            let Some(before) = base.services.get(name) else {
                continue;
            };
            let total = Rate::between(before.total, cur.total, span);
            let backends = cur
                .backends
                .iter()
                .filter_map(|(addr, t)| {
                    Some((*addr, Rate::between(*before.backends.get(addr)?, *t, span)?))
                })
                .collect();
            rates.insert(name.clone(), (total, backends));
        }
        View {
            rates,
            series: self.series(),
            changes: self.changes.iter().rev().cloned().collect(),
            span: SAMPLE_EVERY * SAMPLES_KEPT as u32,
            now: Some(wall),
        }
    }

    /// Per service, a point per pair of consecutive samples.
    fn series(&self) -> BTreeMap<String, Vec<Point>> {
        let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        let Some(newest) = self.samples.back() else {
            return out;
        };
        for (a, b) in self.samples.iter().zip(self.samples.iter().skip(1)) {
            let span = b.at.saturating_duration_since(a.at);
            for (name, after) in &b.services {
                let Some(before) = a.services.get(name) else {
                    continue;
                };
                let rates = after
                    .backends
                    .iter()
                    .filter_map(|(addr, t)| {
                        Some((*addr, Rate::between(*before.backends.get(addr)?, *t, span)?))
                    })
                    .collect();
                out.entry(name.clone()).or_default().push(Point {
                    age: newest.at.saturating_duration_since(b.at),
                    rates,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
