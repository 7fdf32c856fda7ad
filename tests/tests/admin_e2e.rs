//! Runtime admin of a running agent over its root-only socket, in the
//! registry lab: a drain keeps a live connection on its backend while new
//! ones go elsewhere, disable moves everything at once, enable brings it
//! back, the choice survives a restart of the agent, and nobody but root is
//! heard. `vrrp resign` hands the VIP to a keepalived peer at once.

use std::{net::IpAddr, os::unix::fs::PermissionsExt, time::Duration};

use regha_config::{Config, Secret, VrrpConfig};
use regha_model::Role;
use regha_tests::{
    agent::{Agent, backend_state},
    client::KeepAlive,
    keepalived::KeepalivedInstance,
    lab::{AUTH_PASS, Lab, LabSpec, LbKind, VIP, config, vip_port},
    wait::wait_for,
};

const NOBODY: &[&str] = &[
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

fn run(agent: &Agent, args: &[&str]) -> (bool, String, String) {
    let out = agent.cli(&[], args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `regha-agent <args>` must succeed; its answer.
fn ok(agent: &Agent, args: &[&str]) -> String {
    let (success, stdout, stderr) = run(agent, args);
    assert!(success, "{args:?} failed: {stderr}\n{}", agent.log());
    stdout
}

fn new_flows(agent: &Agent, id: u32) -> u64 {
    agent.maps().backend_counters(id).unwrap().new_flows
}

/// A static master over every backend.
fn master(lab: &Lab) -> Config {
    config::with_role(Role::Master, vec![lab.service()])
}

/// Waits until backend `id` has `state` in the maps and the ring agrees
/// (only up backends are in it). The agent writes a backend before it
/// swaps the ring, so a check of the backend alone can pass while new
/// flows still follow the old ring.
fn wait_applied(agent: &Agent, what: &str, id: u32, state: u8) {
    let service = agent
        .state()
        .and_then(|s| s.services[0].id)
        .expect("service id");
    eventually(what, Duration::from_secs(2), || {
        let maps = agent.maps();
        let in_ring = maps.ring(service).unwrap().is_some_and(|r| r.contains(&id));
        maps.backend(id).unwrap().state == state && in_ring == (state == regha_common::BACKEND_UP)
    });
}

/// Polls `cond` every 50 ms for up to `limit`.
fn eventually(what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    wait_for(what, limit)
        .every(Duration::from_millis(50))
        .until(cond);
}

#[test]
fn drain_keeps_live_flows_disable_moves_them_and_both_survive_a_restart() {
    let mut lab = LabSpec::one_lb(2).build();
    lab.start_agent(0, &master(&lab), &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);

    // A live connection, as a long pull holds one.
    let src = lab.sources[0];
    let mut live = lab.clients[0]
        .ns
        .run(move || KeepAlive::open(IpAddr::V4(src), vip_port()))
        .expect("connect through the VIP");
    // The socket lives in the client's namespace; any thread may use it.
    let get = |c: &mut KeepAlive| c.get("/v2/");
    assert_eq!(get(&mut live), Ok(200));
    let b = lab
        .holder(live.local())
        .expect("a backend holds the connection");
    let other = 1 - b;
    let (b_addr, b_ip) = (lab.backend_addr(b), lab.backends[b].ip.to_string());
    let state = agent.state().unwrap();
    let (b_id, other_id) = (
        backend_state(&state, &b_addr).id.unwrap(),
        backend_state(&state, &lab.backend_addr(other)).id.unwrap(),
    );

    // Drain (by address alone): the live connection stays, new ones move.
    let said = ok(agent, &["backend", "drain", "registry", &b_ip]);
    assert_eq!(
        said.trim(),
        format!("registry {b_addr}: drain (was enabled)")
    );
    agent.wait_for("drain applied", Duration::from_secs(5), |s| {
        backend_state(s, &b_addr).admin == regha_model::AdminState::Drain
    });
    wait_applied(
        agent,
        "draining in the maps and the ring",
        b_id,
        regha_common::BACKEND_DRAINING,
    );
    let (b_flows, other_flows) = (new_flows(agent, b_id), new_flows(agent, other_id));
    for _ in 0..3 {
        assert_eq!(get(&mut live), Ok(200), "the live connection keeps working");
    }
    assert_eq!(lab.holder(live.local()), Some(b), "still on its backend");
    assert!(lab.get_all().iter().all(|r| r == &Ok(200)));
    assert_eq!(
        new_flows(agent, b_id),
        b_flows,
        "no new flow to a drained backend"
    );
    assert_eq!(
        new_flows(agent, other_id),
        other_flows + 16,
        "every new connection went to the other backend"
    );
    let status = agent.cli(&[], &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let row = doc["services"][0]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == b_addr.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (row["state"].as_str(), row["admin"].as_str()),
        (Some("draining"), Some("drain"))
    );
    let table = ok(agent, &["status"]);
    let line = table
        .lines()
        .find(|l| l.contains(&b_addr))
        .unwrap_or_else(|| panic!("{b_addr} not in:\n{table}"));
    assert!(
        line.contains("draining") && line.contains("drain "),
        "{line}"
    );
    // No DRAIN_PERIOD for an operator's drain: it lasts until enable.
    assert!(agent.log().contains("admin state changed"));

    // The drain survives a full restart (SIGTERM unpins everything).
    agent.signal(libc::SIGTERM);
    assert!(lab.agent_mut(0).wait_exit(Duration::from_secs(5)).success());
    assert!(lab.agent(0).state_dir().join("eth0.admin.json").exists());
    lab.agent_mut(0).restart();
    let agent = lab.agent(0);
    let state = agent.wait_for("restarted with the drain", Duration::from_secs(10), |s| {
        s.services[0].backends.iter().all(|b| {
            b.health == regha_model::Health::Up
                && b.state
                    .is_some_and(|st| st != regha_model::BackendState::Down)
        }) && backend_state(s, &b_addr).admin == regha_model::AdminState::Drain
    });
    let b_id = backend_state(&state, &b_addr).id.unwrap();
    let other_id = backend_state(&state, &lab.backend_addr(other)).id.unwrap();
    wait_applied(
        agent,
        "draining after the restart in the maps and the ring",
        b_id,
        regha_common::BACKEND_DRAINING,
    );
    assert!(agent.log().contains("admin state kept from the last run"));
    let b_flows = new_flows(agent, b_id);
    assert_eq!(lab.get_from(src), Ok(200));
    assert_eq!(
        new_flows(agent, b_id),
        b_flows,
        "still drained after the restart"
    );

    // Enable: the source that hashed to it lands there again.
    let said = ok(agent, &["backend", "enable", "registry", &b_addr]);
    assert_eq!(
        said.trim(),
        format!("registry {b_addr}: enabled (was drain)")
    );
    wait_applied(
        agent,
        "up in the maps and the ring",
        b_id,
        regha_common::BACKEND_UP,
    );
    assert_eq!(lab.get_from(src), Ok(200));
    assert_eq!(
        new_flows(agent, b_id),
        b_flows + 1,
        "new flows reach it again"
    );

    // Disable: a live connection's packets move at once (the other backend
    // knows nothing of it and resets it), new ones go to the other.
    let mut live = lab.clients[0]
        .ns
        .run(move || KeepAlive::open(IpAddr::V4(src), vip_port()))
        .unwrap();
    assert_eq!(get(&mut live), Ok(200));
    assert_eq!(lab.holder(live.local()), Some(b));
    ok(agent, &["backend", "disable", "registry", &b_ip]);
    wait_applied(
        agent,
        "down in the maps and the ring",
        b_id,
        regha_common::BACKEND_DOWN,
    );
    assert!(get(&mut live).is_err(), "a disabled backend keeps no flow");
    let other_flows = new_flows(agent, other_id);
    assert!(lab.get_all().iter().all(|r| r == &Ok(200)));
    assert_eq!(new_flows(agent, other_id), other_flows + 16);
    let table = std::fs::read_to_string(agent.state_dir().join("eth0.admin.json")).unwrap();
    assert!(
        table.contains("disabled") && table.contains(&b_addr),
        "{table}"
    );

    // Unknown names change nothing and say why.
    let before = std::fs::read_to_string(agent.state_dir().join("eth0.admin.json")).unwrap();
    let (success, _, stderr) = run(agent, &["backend", "drain", "regsitry", &b_ip]);
    assert!(!success);
    assert!(
        stderr.contains("no service named \"regsitry\" (services: registry)"),
        "{stderr}"
    );
    let (success, _, stderr) = run(agent, &["backend", "enable", "registry", "192.0.2.99"]);
    assert!(!success);
    assert!(stderr.contains("has no backend 192.0.2.99"), "{stderr}");
    let (success, _, stderr) = run(agent, &["vrrp", "resign"]);
    assert!(!success && stderr.contains("no VRRP instance"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(agent.state_dir().join("eth0.admin.json")).unwrap(),
        before
    );
    assert_eq!(
        agent.maps().backend(b_id).unwrap().state,
        regha_common::BACKEND_DOWN
    );
    ok(agent, &["backend", "enable", "registry", &b_ip]);
}

#[test]
fn the_admin_socket_hears_root_only() {
    let mut lab = LabSpec::one_lb(1).build();
    lab.start_agent(0, &master(&lab), &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);
    let sock = agent.state_dir().join("eth0.sock");
    let meta = std::fs::metadata(&sock).expect("the admin socket exists");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.mode() & 0o777, meta.uid(), meta.gid()), (0o600, 0, 0));
    let be = lab.backend_addr(0);
    let args = ["backend", "disable", "registry", be.as_str()];

    // The file's mode keeps nobody out...
    let out = agent.cli(NOBODY, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("permission denied") && stderr.contains("root only"),
        "a clear refusal: {stderr}"
    );
    // ...and with the mode loosened, the server's SO_PEERCRED check does.
    for dir in [
        agent.state_dir(),
        agent.state_dir().parent().unwrap().to_owned(),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = agent.cli(NOBODY, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("root only (you are uid 65534)"),
        "the server refuses uid 65534: {stderr}"
    );
    assert!(agent.log().contains("admin command refused: not root"));
    std::thread::sleep(Duration::from_millis(300));
    let s = agent.state().unwrap();
    assert_eq!(
        backend_state(&s, &be).admin,
        regha_model::AdminState::Enabled,
        "nothing changed"
    );
    assert!(lab.get_all().iter().all(|r| r == &Ok(200)));
}

/// regha master (101) beside a keepalived backup (100), the reference
/// deployment's pair: `vrrp resign` hands the VIP over at once (priority 0,
/// as on shutdown) and keeps regha out even though its priority is higher;
/// `vrrp resume` brings it back in, and it preempts as configured.
#[test]
fn vrrp_resign_hands_over_to_keepalived_and_resume_takes_back() {
    let mut lab = LabSpec {
        lbs: vec![LbKind::Bare, LbKind::Bare],
        ..LabSpec::one_lb(1)
    }
    .build();
    let vips = ["192.0.2.100/32"];
    lab.start_keepalived(
        1,
        &KeepalivedInstance {
            auth_pass: Some(AUTH_PASS),
            ..KeepalivedInstance::new(51, 100, &vips)
        },
    );
    // v2 with the reference's password, which keepalived requires.
    let vrrp = VrrpConfig {
        auth_pass: Some(Secret::new(AUTH_PASS)),
        ..lab.vrrp(101)
    };
    lab.start_agent(0, &config::with_vrrp(vrrp, vec![lab.service()]), &[]);
    let holds_vip = |lb: usize| lab.lbs[lb].holds(IpAddr::V4(VIP), 32);
    eventually("regha master", Duration::from_secs(10), || {
        holds_vip(0) && !holds_vip(1)
    });

    let agent = lab.agent(0);
    let said = ok(agent, &["vrrp", "resign"]);
    assert!(said.contains("resigned (was master)"), "{said}");
    assert!(!holds_vip(0), "the VIP is released before the answer");
    let start = std::time::Instant::now();
    eventually("keepalived takes over", Duration::from_secs(3), || {
        holds_vip(1)
    });
    assert!(
        start.elapsed() < Duration::from_millis(1600),
        "took {:?}: the priority 0 advert was not heard\n{}",
        start.elapsed(),
        lab.logs()
    );
    let s = agent.wait_for("resigned in the state", Duration::from_secs(2), |s| {
        s.vrrp.first().is_some_and(|v| v.resigned) && s.role == Role::Backup
    });
    assert_eq!(s.vrrp[0].priority, 0);
    // Out of the election: keepalived keeps it although regha outranks it.
    std::thread::sleep(Duration::from_secs(4));
    assert!(holds_vip(1) && !holds_vip(0), "{}", lab.logs());
    assert!(ok(agent, &["vrrp", "resign"]).contains("already resigned"));
    let page = lab.stats("/", &[]).unwrap();
    assert!(page.body.contains("resigned"), "the page says so");

    let said = ok(agent, &["vrrp", "resume"]);
    assert!(said.contains("resumed"), "{said}");
    eventually("regha preempts back", Duration::from_secs(10), || {
        holds_vip(0) && !holds_vip(1)
    });
    agent.wait_for("master again", Duration::from_secs(2), |s| {
        s.role == Role::Master
            && s.vrrp
                .first()
                .is_some_and(|v| !v.resigned && v.state == regha_model::VrrpState::Master)
    });
}
