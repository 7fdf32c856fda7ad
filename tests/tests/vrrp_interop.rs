//! VRRP against a real keepalived 2.2 on the same VRID, in a namespace lab
//! with one bridge: regha must be a peer keepalived accepts as one of its
//! own, both ways, for v2 with PASS authentication and for v3.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use regha_tests::{
    agent::{Agent, remove_stale_agent_pins},
    keepalived::{Keepalived, KeepalivedInstance},
    lab::{HOST_IFACE, Host, Switch},
    registry::Registry,
    tempdir::TempDir,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

struct VrrpLab {
    lb1: Host,
    lb2: Host,
    backend: Host,
    _registry: Registry,
    _dir: TempDir,
    _sw: Switch,
}

impl VrrpLab {
    fn new() -> Self {
        regha_tests::require_root();
        remove_stale_agent_pins();
        let sw = Switch::new();
        let dir = TempDir::new("vrrp");
        let lb1 = sw.plug("lb1", Ipv4Addr::new(192, 0, 2, 2), [2, 0, 0, 0, 0, 2]);
        let lb2 = sw.plug("lb2", Ipv4Addr::new(192, 0, 2, 3), [2, 0, 0, 0, 0, 3]);
        let backend = sw.plug("be1", Ipv4Addr::new(192, 0, 2, 11), [2, 0, 0, 0, 0, 11]);
        backend.dsr_backend(VIP);
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let registry = Registry::start(&backend, dir.path(), &storage);
        Self {
            lb1,
            lb2,
            backend,
            _registry: registry,
            _dir: dir,
            _sw: sw,
        }
    }

    /// The regha config for an LB with `priority`, VRRP `version`, interval.
    fn regha_config(
        &self,
        priority: u8,
        version: u8,
        interval: &str,
        auth: Option<&str>,
    ) -> String {
        let auth = auth
            .map(|p| format!("  auth_pass: \"{p}\"\n"))
            .unwrap_or_default();
        format!(
            "interface: eth0\nxdp_mode: generic\nvrrp:\n  virtual_router_id: 51\n  priority: {priority}\n  version: {version}\n  advert_interval: {interval}\n{auth}  virtual_ipaddresses: [{VIP}/32]\nservices:\n  - name: registry\n    vip: {VIP}\n    port: 5000\n    health: {{ interval: 500ms, timeout: 300ms }}\n    backends:\n      - {{ address: {} }}\n",
            self.backend.ip
        )
    }
}

fn holds_vip(h: &Host) -> bool {
    h.ns.ip(&["-4", "addr", "show", "dev", HOST_IFACE])
        .contains(&format!("{VIP}/32"))
}

/// Waits until `holder` holds the VIP and, if `other` is given, `other`
/// does not; returns how long that took.
fn wait_holder(
    holder: &Host,
    other: Option<&Host>,
    limit: Duration,
    what: &str,
    logs: &dyn Fn() -> String,
) -> Duration {
    let start = Instant::now();
    loop {
        if holds_vip(holder) && !other.is_some_and(holds_vip) {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            panic!(
                "{what}: after {limit:?} holder has VIP: {}, other has VIP: {:?}\n{}",
                holds_vip(holder),
                other.map(holds_vip),
                logs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// v2 with PASS auth, regha priority 101 and keepalived 100 (the reference
/// deployment's numbers): regha becomes master; SIGKILL regha and
/// keepalived takes over within Master_Down_Interval (3 s + skew 0.61 s)
/// plus an advertisement; regha restarted preempts back.
#[test]
fn v2_regha_master_keepalived_takes_over_on_crash_and_regha_preempts_back() {
    let lab = VrrpLab::new();
    let ka = Keepalived::start(
        &lab.lb2,
        &KeepalivedInstance {
            vrid: 51,
            priority: 100,
            advert_int: 1.0,
            version: 2,
            auth_pass: Some("1111"),
            vips: &["192.0.2.100/32"],
            nopreempt: false,
            unicast_peers: &[],
        },
    );
    let mut agent = Agent::start(&lab.lb1, &lab.regha_config(101, 2, "1s", Some("1111")), &[]);
    let logs = || {
        format!(
            "--- regha ---\n{}\n--- keepalived ---\n{}",
            agent.log(),
            ka.log()
        )
    };
    wait_holder(
        &lab.lb1,
        Some(&lab.lb2),
        Duration::from_secs(8),
        "regha (101) becomes master",
        &logs,
    );
    assert!(
        ka.log().contains("Entering BACKUP STATE") || !holds_vip(&lab.lb2),
        "keepalived is backup:\n{}",
        ka.log()
    );

    agent.kill();
    // A crashed agent leaves its VIP behind (as a killed keepalived does);
    // the next start releases it. What counts is the peer taking it.
    let takeover = wait_holder(
        &lab.lb2,
        None,
        Duration::from_secs(6),
        "keepalived takes over",
        &|| ka.log(),
    );
    eprintln!("v2: keepalived took over {takeover:?} after regha was killed");
    // Master_Down_Interval 3.61 s plus one advertisement (1 s).
    assert!(
        takeover < Duration::from_millis(4700),
        "takeover {takeover:?}"
    );

    agent.restart();
    let back = wait_holder(
        &lab.lb1,
        Some(&lab.lb2),
        Duration::from_secs(8),
        "regha preempts back",
        &|| agent.log(),
    );
    eprintln!("v2: regha preempted back {back:?} after its restart");
    drop(ka);
}
