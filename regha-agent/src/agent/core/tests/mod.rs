//! The core's behaviour as event logs: each scenario feeds events at given
//! times and writes what the core decided, one line per effect, into a
//! golden file (`golden/<scenario>.txt`). A change of behaviour shows as a
//! diff of that file; `REGHA_BLESS=1 cargo test -p regha-agent --lib
//! agent::core` rewrites the files after a deliberate change, and the diff
//! is then reviewed like code.

mod scenarios;

use std::{
    fmt::Write as _,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::{Duration, Instant},
};

use regha_model::{
    BackendIdentity, Health, IpFamily, Protocol, ServiceIdentity, VirtualRouter, VrrpState,
};

use super::{Core, CoreOptions, Effect, Event, ShellFacts};
use crate::{
    admin::AdminTable,
    health::{CheckOutcome, HealthReport},
    ids::Ids,
    vrrp::VrrpStatus,
};
use regha_config::Config;

/// What a VRRP report says for its sync group.
#[derive(Clone, Copy, Debug, Default)]
pub struct Group {
    pub wants_master: bool,
    pub own_fault: bool,
}

/// One scenario: a core, its clock, and the log so far.
pub struct Run {
    core: Core,
    base: Instant,
    now: Duration,
    log: String,
}

impl Run {
    pub fn new(config: &str) -> Self {
        Self::with(
            config,
            CoreOptions {
                role_override: None,
            },
        )
    }

    pub fn with(config: &str, opts: CoreOptions) -> Self {
        let config = Config::from_yaml_str(config).expect("scenario configs are valid");
        Self {
            core: Core::new(config, Ids::default(), AdminTable::default(), opts),
            base: Instant::now(),
            now: Duration::ZERO,
            log: String::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.base + self.now
    }

    /// Feeds `event` at `ms` after the start and logs it with its effects.
    pub fn at(&mut self, ms: u64, what: &str, event: Event) -> &mut Self {
        self.ticks_until(Duration::from_millis(ms));
        self.now = Duration::from_millis(ms);
        let effects = self.core.step(event, self.now());
        let _ = writeln!(self.log, "{ms:>6} ms  {what}");
        for e in &effects {
            let _ = writeln!(self.log, "            -> {}", self.describe(e));
        }
        self
    }

    /// Fires every deadline of the core before `until` as the shell would,
    /// logging the ticks that had effects.
    fn ticks_until(&mut self, until: Duration) {
        for _ in 0..1000 {
            let Some(deadline) = self.core.next_deadline() else {
                return;
            };
            let at = deadline.saturating_duration_since(self.base);
            if at >= until {
                return;
            }
            self.now = self.now.max(at);
            let effects = self.core.step(Event::Tick, self.now());
            if !effects.is_empty() {
                let _ = writeln!(self.log, "{:>6} ms  tick", self.now.as_millis());
                for e in &effects {
                    let _ = writeln!(self.log, "            -> {}", self.describe(e));
                }
            }
        }
        panic!("the core's deadline never moved on (a busy loop in the shell)");
    }

    /// A checker's verdict at `ms`.
    pub fn health(&mut self, ms: u64, backend: &str, health: Health) -> &mut Self {
        let addr: SocketAddr = backend.parse().unwrap();
        let now = self.base + Duration::from_millis(ms);
        let report = HealthReport {
            state: health,
            last: Some(match health {
                Health::Up => CheckOutcome::Ok {
                    detail: "HTTP 200".into(),
                },
                _ => CheckOutcome::Failed {
                    reason: crate::health::FailReason::Refused,
                    detail: "connection refused".into(),
                },
            }),
            last_latency: Some(Duration::from_millis(2)),
            since: now,
            checks: 1,
            transitions: 1,
            decided_at: Some(now),
            passed_in_a_row: u32::from(health == Health::Up),
            fast: false,
        };
        let event = Event::Health {
            backend: BackendIdentity {
                service: service_5000(),
                addr,
            },
            report,
        };
        self.at(ms, &format!("health {backend} {health}"), event)
    }

    pub fn mac(&mut self, ms: u64, addr: &str, last: u8) -> &mut Self {
        let addr: IpAddr = addr.parse().unwrap();
        self.at(
            ms,
            &format!("MAC of {addr} learned"),
            Event::Mac {
                addr,
                mac: Some([2, 0, 0, 0, 0, last]),
            },
        )
    }

    /// The IPv4 instance on `vrid` reports `state`.
    pub fn vrrp(&mut self, ms: u64, vrid: u8, state: VrrpState) -> &mut Self {
        let router = VirtualRouter {
            family: IpFamily::Ipv4,
            vrid,
        };
        self.report(ms, router, state, Group::default())
    }

    /// The instance on `router` reports `state`, with what its sync group
    /// reads.
    pub fn report(
        &mut self,
        ms: u64,
        router: VirtualRouter,
        state: VrrpState,
        group: Group,
    ) -> &mut Self {
        let status = VrrpStatus {
            state,
            priority: 101,
            wants_master: group.wants_master,
            own_fault: group.own_fault,
            ..VrrpStatus::initial(101)
        };
        let also = match (group.wants_master, group.own_fault) {
            (true, _) => ", wants master",
            (_, true) => ", its own fault",
            _ => "",
        };
        self.at(
            ms,
            &format!("VRRP {router} is {state}{also}"),
            Event::Vrrp { router, status },
        )
    }

    pub fn reload(&mut self, ms: u64, what: &str, config: &str) -> &mut Self {
        let config = Config::from_yaml_str(config).map(Box::new);
        self.at(ms, &format!("reload: {what}"), Event::Reload(config))
    }

    /// Appends a line of the agent's status (role and VIPs held).
    pub fn status(&mut self) -> &mut Self {
        let facts = ShellFacts {
            pid: 1,
            iface: "eth0".into(),
            started: self.base,
            ring_swaps: 0,
            last_ring_swap_s: None,
        };
        let s = self.core.status(&facts, self.now());
        let vips: Vec<String> = s
            .vips
            .iter()
            .map(|v| format!("{v} {}{}", v.holder, if v.held { " held" } else { "" }))
            .collect();
        let backends: Vec<String> = s
            .services
            .iter()
            .flat_map(|svc| &svc.backends)
            .map(|b| {
                let suspect = b
                    .suspect
                    .as_ref()
                    .map(|r| format!(" suspect ({r})"))
                    .unwrap_or_default();
                format!("{} {} admin {}{suspect}", b.address, b.health, b.admin)
            })
            .collect();
        let vrrp: Vec<String> = s
            .vrrp
            .iter()
            .map(|v| {
                format!(
                    "{} {}/{} {} prio {}{}",
                    v.name,
                    v.vrid,
                    v.family,
                    v.state,
                    v.priority,
                    if v.resigned { " resigned" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            self.log,
            "            status: role {}; VIPs {}; backends {}; vrrp {}",
            s.role,
            vips.join(", "),
            backends.join(", "),
            if vrrp.is_empty() {
                "none".to_owned()
            } else {
                vrrp.join(", ")
            }
        );
        self
    }

    pub fn note(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.log, "# {text}");
        self
    }

    fn ms(&self, at: Instant) -> String {
        format!("{} ms", at.saturating_duration_since(self.base).as_millis())
    }

    fn describe(&self, e: &Effect) -> String {
        let ips = |v: &[(IpAddr, u8)]| {
            v.iter()
                .map(|(ip, p)| format!("{ip}/{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match e {
            Effect::AnnounceRoute { vip, protocol } => {
                format!("announce {vip} (route proto {protocol})")
            }
            Effect::WithdrawRoute { vip, protocol } => {
                format!("withdraw {vip} (route proto {protocol})")
            }
            Effect::ExcludeSources(vips) => format!(
                "never a source: {}",
                vips.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Effect::SyncChecks(checks) => format!(
                "run checks: {}",
                checks
                    .iter()
                    .map(|(k, s)| format!("{} every {:?}", k.addr, s.interval))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Effect::SuspectChecks { backend, suspect } => format!(
                "{} checks of {}",
                if *suspect { "fast" } else { "normal" },
                backend.addr
            ),
            Effect::WatchMacs(addrs) => format!(
                "watch MACs of {}",
                addrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Effect::WriteMaps { plan, decided } => {
                let mut parts = Vec::new();
                for (i, s) in plan.apply.iter().enumerate() {
                    let backends: Vec<String> = s
                        .backends
                        .iter()
                        .map(|b| {
                            format!(
                                "#{} {}:{} {} mac ..{:02x}",
                                b.id, b.addr, b.port, b.state, b.mac[5]
                            )
                        })
                        .collect();
                    parts.push(format!(
                        "service #{} {} seed {} [{}]{}",
                        s.id,
                        s.identity(),
                        s.seed,
                        backends.join(", "),
                        decided
                            .get(i)
                            .copied()
                            .flatten()
                            .map(|d| format!(" (decided at {})", self.ms(d)))
                            .unwrap_or_default()
                    ));
                }
                for s in &plan.remove {
                    parts.push(format!("remove service #{} {}", s.id, s.identity()));
                }
                if !plan.clear_backends.is_empty() {
                    parts.push(format!("clear backends {:?}", plan.clear_backends));
                }
                format!("write maps: {}", parts.join("; "))
            }
            Effect::AddVips(v) => format!("add VIPs {}", ips(v)),
            Effect::RemoveVips(v) => format!("remove VIPs {}", ips(v)),
            Effect::AnnounceVips(v) => format!(
                "announce {}",
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Effect::StartVrrp(c) => format!(
                "start VRRP {} {}{} priority {} VIPs {}",
                c.name,
                c.router(),
                c.sync_group
                    .as_deref()
                    .map(|g| format!(" (sync group {g})"))
                    .unwrap_or_default(),
                c.priority,
                ips(&c.virtual_ipaddresses)
            ),
            Effect::ReconfigureVrrp(c) => format!(
                "reconfigure VRRP {} {} in place: priority {}, advert {:?}, VIPs {}",
                c.name,
                c.router(),
                c.priority,
                c.advert_interval,
                ips(&c.virtual_ipaddresses)
            ),
            Effect::StopVrrp { router } => format!("stop VRRP {router}"),
            Effect::TrackBackends { router, ok } => {
                format!("VRRP {router}: track_backends holds: {ok}")
            }
            Effect::SettleVrrp { router, settled } => {
                format!("VRRP {router}: health view settled: {settled}")
            }
            Effect::SyncVrrp { router, command } => {
                format!("VRRP {router}: its sync group says {command:?}")
            }
            Effect::SaveAdmin(t) => format!(
                "save admin table [{}]",
                t.backends
                    .iter()
                    .map(|e| format!("{} {} {}", e.service, e.backend, e.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Effect::StartStats(s) => format!("start stats on {}", s.listen),
            Effect::StopStats => "stop stats".to_owned(),
            Effect::RecordConfig(c) => format!(
                "record the applied config ({} service(s))",
                c.services.len()
            ),
            Effect::Reply(r) => {
                format!("reply {}: {}", if r.ok { "ok" } else { "error" }, r.message)
            }
        }
    }

    /// Compares the log with `golden/<name>.txt` (or writes it with
    /// `REGHA_BLESS=1`).
    pub fn golden(&mut self, name: &str) {
        // What the last events leave pending (a coalesced write) happens.
        self.ticks_until(self.now + Duration::from_millis(100));
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/agent/core/tests/golden")
            .join(format!("{name}.txt"));
        if std::env::var_os("REGHA_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &self.log).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; write it with REGHA_BLESS=1 and review it",
                path.display()
            )
        });
        if want != self.log {
            panic!(
                "the core's decisions differ from {} (REGHA_BLESS=1 rewrites it after a deliberate change)\n--- want\n{want}\n--- got\n{}",
                path.display(),
                self.log
            );
        }
    }
}

/// The scenarios' one service.
pub fn service_5000() -> ServiceIdentity {
    ServiceIdentity {
        vip: "192.0.2.100".parse().unwrap(),
        port: 5000,
        protocol: Protocol::Tcp,
    }
}
