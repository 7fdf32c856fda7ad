//! The scenarios: one test each, its golden file named after it.

use std::net::SocketAddr;

use regha_model::{Health, Role, VrrpState, XdpMode};

use super::{Run, service_5000};
use crate::{
    admin::protocol::{BackendAction, Request},
    agent::core::{CoreOptions, Event},
    health::{CheckOutcome, FailReason, HealthReport, suspicion::Counts},
};
use regha_config::{BackendConfig, Config};

const VRRP: &str = "
interface: eth0
vrrp:
  virtual_router_id: 51
  priority: 101
  auth_pass: secret
  virtual_ipaddresses: [192.0.2.100/24]
  track_backends: { min_healthy: 1, weight: -50 }
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
";

const STATIC: &str = "
interface: eth0
role: master
stats: null
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
";

const BE1: &str = "192.0.2.11:5000";
const BE2: &str = "192.0.2.12:5000";

fn config(text: &str) -> Config {
    Config::from_yaml_str(text).unwrap()
}

impl Run {
    fn reload_to(&mut self, ms: u64, what: &str, config: Config) -> &mut Self {
        self.at(
            ms,
            &format!("reload: {what}"),
            Event::Reload(Ok(Box::new(config))),
        )
    }

    fn start(&mut self) -> &mut Self {
        self.at(
            0,
            "start (fresh dataplane)",
            Event::Start {
                routes: Vec::new(),
                adopting: false,
                hold: std::time::Duration::from_millis(2500),
            },
        )
    }

    /// A start that adopts a steering dataplane: writes are held until the
    /// first results, at most 2.5 s.
    fn start_adopting(&mut self) -> &mut Self {
        self.at(
            0,
            "start (adopting a steering dataplane)",
            Event::Start {
                routes: Vec::new(),
                adopting: true,
                hold: std::time::Duration::from_millis(2500),
            },
        )
    }

    /// Both backends up with MACs: the service is written.
    fn both_up(&mut self, ms: u64) -> &mut Self {
        self.mac(ms, "192.0.2.11", 0x11)
            .mac(ms, "192.0.2.12", 0x12)
            .health(ms + 5, BE1, Health::Up)
            .health(ms + 6, BE2, Health::Up)
    }

    /// The dataplane's handshake totals of `backend` at `ms`: SYNs, SYN
    /// retransmissions, completions.
    fn signals(
        &mut self,
        ms: u64,
        backend: &str,
        (syns, retransmits, completions): (u64, u64, u64),
    ) -> &mut Self {
        let addr: SocketAddr = backend.parse().unwrap();
        let counts = Counts::new(syns, retransmits, completions);
        self.at(
            ms,
            &format!("signals {backend}: {syns} SYNs, {retransmits} retransmitted, {completions} completed"),
            Event::Signals(vec![(
                regha_model::BackendIdentity {
                    service: service_5000(),
                    addr,
                },
                counts,
            )]),
        )
    }

    /// A checker's report at `ms`: its `checks`-th check passed (`ok`) or
    /// timed out, `state` as its rise/fall counter says, `passed` checks
    /// passed in a row.
    fn check(
        &mut self,
        ms: u64,
        backend: &str,
        ok: bool,
        state: Health,
        checks: u64,
        passed: u32,
    ) -> &mut Self {
        let addr: SocketAddr = backend.parse().unwrap();
        let now = self.base + std::time::Duration::from_millis(ms);
        let report = HealthReport {
            state,
            last: Some(if ok {
                CheckOutcome::Ok {
                    detail: "HTTP 200".into(),
                }
            } else {
                CheckOutcome::Failed {
                    reason: FailReason::Timeout,
                    detail: "timed out".into(),
                }
            }),
            last_latency: Some(std::time::Duration::from_millis(2)),
            since: now,
            checks,
            transitions: 1,
            decided_at: Some(now),
            passed_in_a_row: passed,
            fast: true,
        };
        let what = format!(
            "check {checks} of {backend} {}: {state}",
            if ok { "passed" } else { "timed out" }
        );
        self.at(
            ms,
            &what,
            Event::Health {
                backend: regha_model::BackendIdentity {
                    service: service_5000(),
                    addr,
                },
                report,
            },
        )
    }

    fn admin(&mut self, ms: u64, what: &str, request: Request) -> &mut Self {
        self.at(ms, &format!("admin: {what}"), Event::Admin(request))
    }
}

fn backend(action: BackendAction, backend: &str) -> Request {
    Request::Backend {
        action,
        service: "registry".into(),
        backend: backend.into(),
    }
}

#[test]
fn static_master_writes_when_health_and_macs_are_known() {
    Run::new(STATIC)
        .start()
        .note("a backend with health but no MAC stays out of the ring")
        .health(10, BE1, Health::Up)
        .mac(20, "192.0.2.11", 0x11)
        .health(30, BE2, Health::Down)
        .mac(40, "192.0.2.12", 0x12)
        .health(5000, BE2, Health::Up)
        .status()
        .at(9000, "stop", Event::Stop)
        .golden("static_master");
}

#[test]
fn vrrp_instance_is_started_informed_and_stopped() {
    Run::new(VRRP)
        .start()
        .both_up(100)
        .vrrp(3000, 51, VrrpState::Master)
        .status()
        .note("tracking: no backend up lowers the priority")
        .health(4000, BE1, Health::Down)
        .health(4001, BE2, Health::Down)
        .health(9000, BE1, Health::Up)
        .at(10_000, "stop", Event::Stop)
        .golden("vrrp_lifecycle");
}

/// Issue 16's sequence, with the default 5 s checks: lb1 is cut off, its
/// checks fail, tracking lowers it and it follows lb2; the partition heals
/// and its backends come back 31 ms apart. One write carries both, and lb1
/// may preempt only once no health has changed for a check interval.
#[test]
fn a_healed_partition_settles_before_preempting() {
    Run::new(VRRP)
        .start()
        .both_up(100)
        .vrrp(3000, 51, VrrpState::Master)
        .note("cut off: both checks fail; a write when the window ends")
        .health(20_000, BE1, Health::Down)
        .health(20_010, BE2, Health::Down)
        .vrrp(21_000, 51, VrrpState::Backup)
        .note("healed: both back 31 ms apart, one write; unsettled until 5 s of quiet")
        .health(30_000, BE1, Health::Up)
        .health(30_031, BE2, Health::Up)
        .status()
        .at(34_000, "nothing happened yet", Event::Tick)
        .at(36_000, "after the quiet interval", Event::Tick)
        .golden("healed_partition");
}

#[test]
fn after_adoption_nothing_is_written_before_the_first_results() {
    Run::new(STATIC)
        .start_adopting()
        .mac(5, "192.0.2.11", 0x11)
        .mac(5, "192.0.2.12", 0x12)
        .health(40, BE1, Health::Up)
        .note("every check decided: written with the decisions that came with it")
        .health(60, BE2, Health::Up)
        .golden("adoption_waits_for_checks");

    Run::new(STATIC)
        .start_adopting()
        .mac(5, "192.0.2.11", 0x11)
        .mac(5, "192.0.2.12", 0x12)
        .health(40, BE1, Health::Up)
        .note("be2's check hangs: the hold ends at its deadline")
        .at(2500, "tick", Event::Tick)
        .golden("adoption_hold_ends");

    // The checks decide before the neighbour table's MACs arrive (on a
    // restart both come within milliseconds, in any order): a backend up
    // without its MAC is not decided yet, or the first write would leave
    // it out and its clients' flows would move (connections reset).
    Run::new(STATIC)
        .start_adopting()
        .health(40, BE1, Health::Up)
        .health(41, BE2, Health::Up)
        .mac(42, "192.0.2.11", 0x11)
        .note("be2 up but its MAC unknown: still held")
        .mac(43, "192.0.2.12", 0x12)
        .golden("adoption_waits_for_macs");
}

#[test]
fn a_reload_applies_vrrp_in_place_and_names_what_needs_a_restart() {
    let mut run = Run::new(VRRP);
    run.start().both_up(100).vrrp(3000, 51, VrrpState::Master);

    let mut c = config(VRRP);
    c.vrrp[0].priority = 150;
    c.vrrp[0].advert_interval = std::time::Duration::from_secs(2);
    run.reload_to(5000, "priority 150, advert 2s", c.clone());

    c.vrrp[0]
        .virtual_ipaddresses
        .push(("192.0.2.101".parse().unwrap(), 32));
    run.reload_to(6000, "a second VIP", c.clone());

    let mut restart_only = c.clone();
    restart_only.interface = Some("eth9".into());
    restart_only.xdp_mode = XdpMode::Generic;
    restart_only.flow_table_size = 4096;
    run.note("interface, xdp_mode, flow_table_size are logged, not applied")
        .reload_to(7000, "interface, xdp_mode, flow_table_size", restart_only);

    let mut seed = c.clone();
    seed.hash_seed = 7;
    run.reload_to(8000, "hash_seed 7", seed.clone());

    let mut removed = seed.clone();
    removed.services[0].backends.pop();
    run.note("a removed backend drains 60 s, then leaves")
        .reload_to(9000, "be2 removed", removed.clone())
        .at(69_000, "tick", Event::Tick);

    let mut vrid = removed.clone();
    vrid.vrrp[0].virtual_router_id = 52;
    run.note("another VRID is another instance: stopped, then the new one started")
        .reload_to(70_000, "VRID 52", vrid)
        .reload(71_000, "invalid file", "services: []")
        .golden("reload_vrrp");
}

#[test]
fn a_reload_moves_a_static_role_and_its_vips() {
    let mut run = Run::new(STATIC);
    run.start().both_up(100);
    let mut c = config(STATIC);
    c.role = Some(Role::Backup);
    run.reload_to(1000, "role backup", c.clone());
    c.role = Some(Role::Master);
    c.services[0].backends.push(BackendConfig {
        address: "192.0.2.13".parse().unwrap(),
        port: 5000,
        weight: 1,
        mac: Some([2, 0, 0, 0, 0, 0x13]),
    });
    run.reload_to(2000, "role master, be3 with a static MAC", c)
        .status()
        .golden("reload_static");
}

#[test]
fn stats_reload_restarts_the_listener_unless_the_port_needs_privilege() {
    let mut run = Run::new(VRRP);
    run.start();
    let mut c = config(VRRP);
    c.stats.as_mut().unwrap().listen = "127.0.0.1:8080".parse::<SocketAddr>().unwrap();
    run.reload_to(1000, "stats on 8080", c.clone()).at(
        2000,
        "capabilities dropped",
        Event::PrivilegesDropped,
    );
    c.stats.as_mut().unwrap().listen = "127.0.0.1:80".parse::<SocketAddr>().unwrap();
    run.reload_to(3000, "stats on 80", c.clone());
    c.stats = None;
    run.reload_to(4000, "stats off", c).golden("reload_stats");
}

#[test]
fn operators_drain_disable_resign_and_resume() {
    Run::new(VRRP)
        .start()
        .both_up(100)
        .vrrp(3000, 51, VrrpState::Master)
        .admin(
            4000,
            "drain be1",
            backend(BackendAction::Drain, "192.0.2.11"),
        )
        .admin(
            4100,
            "drain be1 again",
            backend(BackendAction::Drain, "192.0.2.11"),
        )
        .admin(4200, "disable be2", backend(BackendAction::Disable, BE2))
        .admin(
            4300,
            "unknown backend",
            backend(BackendAction::Drain, "192.0.2.99"),
        )
        .status()
        .admin(
            4400,
            "enable be1",
            backend(BackendAction::Enable, "192.0.2.11"),
        )
        .admin(5000, "vrrp resign", Request::VrrpResign { instance: None })
        .at(
            5001,
            "the stopped instance's last word",
            Event::Vrrp {
                router: regha_model::VirtualRouter {
                    family: regha_model::IpFamily::Ipv4,
                    vrid: 51,
                },
                status: crate::vrrp::VrrpStatus {
                    state: VrrpState::Initialize,
                    transitions: 2,
                    ..crate::vrrp::VrrpStatus::initial(101)
                },
            },
        )
        .status()
        .admin(
            5100,
            "vrrp resign again",
            Request::VrrpResign { instance: None },
        )
        .admin(6000, "vrrp resume", Request::VrrpResume { instance: None })
        .admin(
            6100,
            "vrrp resume again",
            Request::VrrpResume { instance: None },
        )
        .golden("admin");
}

#[test]
fn a_static_role_on_the_command_line_turns_vrrp_off() {
    Run::with(
        VRRP,
        CoreOptions {
            role_override: Some(Role::Master),
        },
    )
    .start()
    .admin(1000, "vrrp resign", Request::VrrpResign { instance: None })
    .status()
    .golden("role_override");
}

/// A dual-stack LB: an IPv4 and an IPv6 instance on the same VRID, in one
/// sync group, each holding one service.
const DUAL: &str = "
interface: eth0
stats: null
vrrp:
  - name: v4
    sync_group: registry
    virtual_router_id: 51
    priority: 101
    auth_pass: secret
    virtual_ipaddresses: [192.0.2.100/24]
    track_backends: { min_healthy: 1, weight: 0 }
  - name: v6
    sync_group: registry
    virtual_router_id: 51
    priority: 101
    version: 3
    virtual_ipaddresses: [2001:db8::100]
    track_backends: { min_healthy: 1, weight: 0 }
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
  - name: registry6
    vip: 2001:db8::100
    port: 5000
    backends: [{ address: \"2001:db8::11\" }]
";

fn v4() -> regha_model::VirtualRouter {
    regha_model::VirtualRouter {
        family: regha_model::IpFamily::Ipv4,
        vrid: 51,
    }
}

fn v6() -> regha_model::VirtualRouter {
    regha_model::VirtualRouter {
        family: regha_model::IpFamily::Ipv6,
        vrid: 51,
    }
}

fn wants() -> super::Group {
    super::Group {
        wants_master: true,
        own_fault: false,
    }
}

fn faulted() -> super::Group {
    super::Group {
        wants_master: false,
        own_fault: true,
    }
}

/// keepalived's sync group semantics over two holders: neither takes over
/// alone, both go when both want to; one leaving master for a higher
/// priority takes the other along; a fault of one holds both; `vrrp resign
/// NAME` takes the whole group out, and each instance tracks the backends
/// of the services it holds.
#[test]
fn a_sync_group_fails_over_as_one() {
    use VrrpState::{Backup, Fault, Master};
    let none = super::Group::default();
    let mut run = Run::new(DUAL);
    run.start()
        .both_up(100)
        .note("the IPv6 service's backend: only the v6 instance counts it")
        .mac(200, "2001:db8::11", 0x11)
        .at(
            205,
            "health [2001:db8::11]:5000 up",
            Event::Health {
                backend: regha_model::BackendIdentity {
                    service: regha_model::ServiceIdentity {
                        vip: "2001:db8::100".parse().unwrap(),
                        port: 5000,
                        protocol: regha_model::Protocol::Tcp,
                    },
                    addr: "[2001:db8::11]:5000".parse().unwrap(),
                },
                report: HealthReport {
                    state: Health::Up,
                    ..HealthReport::new()
                },
            },
        )
        .report(300, v4(), Backup, none)
        .report(300, v6(), Backup, none)
        .note("v4's down timer runs out first: it waits for v6")
        .report(3600, v4(), Backup, wants())
        .report(3610, v6(), Backup, wants())
        .report(3611, v4(), Master, none)
        .report(3611, v6(), Master, none)
        .status()
        .note("a higher priority takes v6: v4 follows it out of master")
        .report(9000, v6(), Backup, none)
        .report(9001, v4(), Backup, none)
        .note("back: both want, both go")
        .report(13000, v6(), Backup, wants())
        .report(13000, v4(), Backup, wants())
        .report(13001, v6(), Master, none)
        .report(13001, v4(), Master, none)
        .note("v6's link goes: the whole group is in FAULT until it comes back")
        .report(20000, v6(), Fault, faulted())
        .report(20001, v4(), Fault, none)
        .status()
        .report(25000, v6(), Fault, none)
        .report(25001, v6(), Backup, none)
        .report(25001, v4(), Backup, none)
        .admin(
            26000,
            "vrrp resign v6",
            Request::VrrpResign {
                instance: Some("v6".into()),
            },
        )
        .status()
        .admin(
            26100,
            "vrrp resume nope",
            Request::VrrpResume {
                instance: Some("nope".into()),
            },
        )
        .admin(
            26200,
            "vrrp resume v4",
            Request::VrrpResume {
                instance: Some("v4".into()),
            },
        )
        .golden("sync_group");
}

/// A single-instance config reloaded into the dual-stack one: the IPv4
/// instance stays (its name and sync group change in place), the IPv6 one
/// starts.
#[test]
fn a_reload_adds_an_ipv6_instance() {
    use VrrpState::Master;
    let mut run = Run::new(VRRP);
    run.start()
        .both_up(100)
        .vrrp(3000, 51, Master)
        .reload(5000, "dual stack", DUAL)
        .status()
        .reload(6000, "back to one instance", VRRP)
        .golden("reload_dual_stack");
}

#[test]
fn signals_make_a_backend_suspect_and_fast_checks_take_it_down() {
    Run::new(STATIC)
        .start()
        .both_up(100)
        .signals(1000, BE1, (100, 0, 100))
        .signals(1000, BE2, (50, 0, 50))
        .note("be1 stops completing handshakes; be2 serves on")
        .signals(1200, BE1, (104, 0, 100))
        .signals(1200, BE2, (60, 0, 60))
        .status()
        .note("suspect: more signals change nothing, the checks decide")
        .check(1210, BE1, false, Health::Up, 2, 0)
        .signals(1400, BE1, (110, 1, 100))
        .check(1710, BE1, false, Health::Up, 3, 0)
        .check(2210, BE1, false, Health::Down, 4, 0)
        .status()
        .note("down: out of the ring, no new signals, never suspect while down")
        .signals(2400, BE1, (110, 1, 100))
        .signals(2600, BE1, (115, 1, 100))
        .status()
        .golden("suspect_then_down");
}

#[test]
fn a_flood_makes_backends_suspect_and_passing_checks_clear_them() {
    Run::new(STATIC)
        .start()
        .both_up(100)
        .signals(1000, BE1, (100, 0, 100))
        .note("SYNs from spoofed sources: attempts that never complete")
        .signals(1200, BE1, (5100, 0, 100))
        .check(1210, BE1, true, Health::Up, 2, 2)
        .signals(1400, BE1, (10_100, 0, 100))
        .note("rise (2) passes after the suspicion began clear it")
        .check(1460, BE1, true, Health::Up, 3, 3)
        .status()
        .note("the flood goes on: the evidence before the clearing is spent, new evidence makes it suspect again")
        .signals(1600, BE1, (15_100, 0, 100))
        .check(1610, BE1, true, Health::Up, 4, 4)
        .check(1860, BE1, true, Health::Up, 5, 5)
        .note("the flood ends: real clients complete again, nothing more")
        .signals(2000, BE1, (15_110, 0, 110))
        .signals(2200, BE1, (15_120, 0, 120))
        .signals(2400, BE1, (15_130, 0, 130))
        .status()
        .golden("suspect_cleared");
}

#[test]
fn retransmissions_that_dominate_make_a_backend_suspect() {
    Run::new(STATIC)
        .start()
        .both_up(100)
        .signals(1000, BE2, (100, 0, 100))
        .note("a host that drops most SYNs: retransmissions outnumber completions")
        .signals(1200, BE2, (110, 4, 103))
        .check(1210, BE2, true, Health::Up, 2, 2)
        .check(1460, BE2, true, Health::Up, 3, 3)
        .golden("suspect_retransmits");
}

/// A restart under load: be2's first check times out. The adopted ring
/// keeps it until the checker has had `fall` tries (3), by which time it
/// has passed again: nothing is written without it, so its clients keep
/// their backend (in BGP mode every LB steers, and a ring without be2 on
/// one of them reset its connections).
#[test]
fn after_adoption_one_failed_check_does_not_drop_a_backend() {
    Run::new(STATIC)
        .start_adopting()
        .mac(5, "192.0.2.11", 0x11)
        .mac(5, "192.0.2.12", 0x12)
        .health(40, BE1, Health::Up)
        .check(45, BE2, false, Health::Down, 1, 0)
        .note("be2 down after one try: still held, the adopted ring steers")
        .check(545, BE2, true, Health::Down, 2, 1)
        .check(1045, BE2, true, Health::Up, 3, 2)
        .golden("adoption_needs_fall_tries");
}

const BGP: &str = "
interface: eth0
stats: null
bgp: { min_healthy: 2, warmup: 1s, frr: null }
services:
  - name: registry
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
";

/// BGP mode: the route goes in once warm, settled and with `min_healthy`
/// backends up; out when one falls, on drain (kept through undrain only),
/// and at the stop. The VIP is never an address.
#[test]
fn bgp_announces_when_ready_and_withdraws_on_drain_failure_and_stop() {
    Run::new(BGP)
        .start()
        .both_up(100)
        .note("both up; announced once warm (1 s) and settled (quiet for the check interval, 5 s)")
        .at(5500, "tick", Event::Tick)
        .admin(6000, "drain", Request::Drain)
        .admin(6500, "drain again", Request::Drain)
        .admin(7000, "undrain", Request::Undrain)
        .health(8000, BE2, Health::Down)
        .note("one backend up, min_healthy 2: withdrawn")
        .health(9000, BE2, Health::Up)
        .note("announced again at once: the view settled before")
        .at(12000, "SIGTERM", Event::Stop)
        .golden("bgp_lifecycle");
}

/// A restart finds the route an earlier run left, with the dataplane
/// steering: it stays through the warm-up and the first results.
#[test]
fn bgp_adopts_a_route_left_by_a_crash() {
    Run::new(BGP)
        .at(
            0,
            "start (adopting a steering dataplane and its route)",
            Event::Start {
                routes: vec!["192.0.2.100".parse().unwrap()],
                adopting: true,
                hold: std::time::Duration::from_millis(2500),
            },
        )
        .note("the route stays: no withdrawal at a restart")
        .both_up(100)
        .note("warm at 1 s, settled at 5.1 s: ready, so the route simply stays")
        .at(6000, "tick", Event::Tick)
        .golden("bgp_adopts_route");
}
