//! regha-agent as operators run it, in a namespace lab with real registries
//! (Debian's `docker-registry`): health checks take backends out and back,
//! reloads change exactly what they should, the VIP follows the role with a
//! gratuitous ARP on the wire, and a restarted agent never unsteers traffic.

use regha_model::{BackendState, Health};
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use regha_config::Config;
use regha_model::Role;
use regha_tests::{
    agent::find_backend,
    client::http_get,
    lab::{Lab, LabSpec, VIP, capture, config},
    wait::{seen, wait_for},
};

/// A static `role` over the backends `backends` (indexes).
fn static_role(lab: &Lab, role: Role, backends: &[u8]) -> Config {
    config::with_role(role, vec![lab.service_over(backends)])
}

/// Every source of client1 gets `200` for `GET /v2/` through the VIP.
fn assert_all_ok(lab: &Lab, when: &str) {
    let results = lab.get_all();
    assert!(
        results.iter().all(|r| r == &Ok(200)),
        "{when}: not every client got 200: {results:?}\n{}",
        lab.logs()
    );
}

/// Whether backend `addr` is listed with `health`.
/// Whether backend `addr` has `health`; up also means up in the dataplane
/// (checked and its MAC known).
fn health_is(state: &regha_agent::status::AgentStatus, addr: &str, health: Health) -> bool {
    find_backend(state, addr).is_some_and(|b| {
        b.health == health && (health != Health::Up || b.state == Some(BackendState::Up))
    })
}

fn holds_vip(lab: &Lab) -> bool {
    lab.lbs[0].holds(IpAddr::V4(VIP), 32)
}

/// Kill a registry: its checks are refused, which takes it out of the ring
/// at once (a refused connection is definite, not one of `fall`), its
/// established flows kept for `DOWN_GRACE` (draining in the maps), and
/// every client still gets answers (from the other); start it again: after
/// `rise` good checks it is back.
#[test]
fn a_dead_registry_leaves_after_fall_checks_and_returns_after_rise() {
    let mut lab = LabSpec::one_lb(2).build();
    lab.start_agent(0, &static_role(&lab, Role::Master, &[0, 1]), &[]);
    let (be1, be2) = (lab.backend_addr(0), lab.backend_addr(1));
    lab.agent(0)
        .wait_for("both backends up", Duration::from_secs(10), |s| {
            health_is(s, &be1, Health::Up) && health_is(s, &be2, Health::Up)
        });
    assert_all_ok(&lab, "both up");

    lab.registries[0].kill();
    let killed = Instant::now();
    let agent = lab.agent(0);
    let state = agent.wait_for("be1 down", Duration::from_secs(5), |s| {
        health_is(s, &be1, Health::Down)
    });
    let took = killed.elapsed();
    let last = state.services[0].backends[0].last_check.clone();
    eprintln!("be1 down {took:?} after the kill: {last:?}");
    assert!(
        last.as_deref().is_some_and(|l| l.contains("refused")),
        "a killed registry refuses: {last:?}"
    );
    let be1_id = state.services[0].backends[0].id.expect("id");
    let ring = |agent: &regha_tests::agent::Agent| {
        agent
            .maps()
            .ring(state.services[0].id.expect("service id"))
            .unwrap()
            .unwrap()
    };
    wait_for("be1 out of the ring", Duration::from_secs(2))
        .until(|| seen(!ring(agent).contains(&be1_id), "in the ring"));
    assert_eq!(
        agent.maps().backend(be1_id).unwrap().state,
        regha_common::BACKEND_DRAINING,
        "out of the ring, its established flows kept for DOWN_GRACE"
    );
    assert_all_ok(&lab, "be1 dead");
    assert!(
        agent.log().contains("decision_to_map_us"),
        "the agent reports how long a decision took to reach the maps"
    );

    lab.registries[0].resume();
    let agent = lab.agent(0);
    agent.wait_for("be1 up again", Duration::from_secs(5), |s| {
        health_is(s, &be1, Health::Up)
    });
    assert_eq!(
        agent.maps().backend(be1_id).unwrap().state,
        regha_common::BACKEND_UP
    );
    assert_all_ok(&lab, "be1 back");

    // What a health decision took to reach the maps (logged per apply).
    let delays: Vec<u64> = agent
        .log()
        .lines()
        .filter_map(|l| l.split("decision_to_map_us=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    eprintln!("decision_to_map_us per applied change: {delays:?}");
    for l in agent
        .log()
        .lines()
        .filter(|l| l.contains("service applied"))
    {
        eprintln!("{l}");
    }
    assert!(
        delays.len() >= 3,
        "initial, down and up were applied: {delays:?}"
    );

    // `status --json` sees the same, from the pins and the state file.
    let out = std::process::Command::new(regha_tests::agent::agent_bin())
        .args(["status", "--json", "--iface", "eth0", "--bpffs-root"])
        .arg(agent.pin_dir().parent().unwrap())
        .arg("--state-dir")
        .arg(agent.state_dir())
        .output()
        .expect("run regha-agent status");
    assert!(
        out.status.success(),
        "status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    assert_eq!(doc["agent_running"], true);
    let backends = doc["services"][0]["backends"].as_array().expect("backends");
    assert_eq!(backends.len(), 2);
    assert!(
        backends
            .iter()
            .all(|b| b["health"] == "up" && b["state"] == "up"),
        "{doc:#}"
    );
    assert!(
        doc["services"][0]["packets"].as_u64().unwrap() > 0,
        "traffic counted: {doc:#}"
    );
}

/// An invalid config on SIGHUP changes nothing; a valid one adding a
/// backend brings it in.
#[test]
fn reload_rejects_an_invalid_config_and_applies_a_valid_one() {
    let mut lab = LabSpec::one_lb(3).build();
    lab.start_agent(0, &static_role(&lab, Role::Master, &[0, 1]), &[]);
    let be3 = lab.backend_addr(2);
    let agent = lab.agent(0);
    agent.wait_for("two backends up", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(BackendState::Up))
    });
    let maps = agent.maps();
    let ring_before = maps.ring(0).unwrap();
    let entries_before = maps.service_entries().unwrap();

    agent.write_invalid_config(&config::invalid_port(
        IpAddr::V4(VIP),
        IpAddr::V4(lab.backends[0].ip),
        70000,
    ));
    agent.signal(libc::SIGHUP);
    wait_for("the rejection logged", Duration::from_secs(5))
        .every(Duration::from_millis(50))
        .context(|| agent.log())
        .until(|| agent.log().contains("reload rejected"));
    assert!(
        agent.log().contains("services[0].port"),
        "the error names the field:\n{}",
        agent.log()
    );
    assert_eq!(maps.ring(0).unwrap(), ring_before, "ring unchanged");
    assert_eq!(
        maps.service_entries().unwrap(),
        entries_before,
        "services unchanged"
    );
    assert_all_ok(&lab, "after the rejected reload");

    agent.rewrite_config(&static_role(&lab, Role::Master, &[0, 1, 2]));
    agent.signal(libc::SIGHUP);
    let state = agent.wait_for("be3 up", Duration::from_secs(5), |s| {
        health_is(s, &be3, Health::Up)
    });
    let be3_id = state.services[0].backends[2].id.expect("be3 has an id");
    let ring = agent.maps().ring(0).unwrap().unwrap();
    assert!(ring.contains(&be3_id), "be3 is in the ring");
    assert_ne!(Some(ring), ring_before);
    assert_all_ok(&lab, "three backends");

    // A setting only a restart changes: check-config names it against the
    // running agent, and the reload names it in the log, applying the rest.
    let mut resized = static_role(&lab, Role::Master, &[0, 1, 2]);
    resized.flow_table_size = 4096;
    agent.rewrite_config(&resized);
    let config = agent.config_path();
    let out = agent.cli(&[], &["--config", config.to_str().unwrap(), "check-config"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && said.contains("note: flow_table_size: changes only when the agent restarts"),
        "check-config names the restart-only change:\n{said}"
    );
    agent.signal(libc::SIGHUP);
    wait_for("the reload names flow_table_size", Duration::from_secs(5))
        .every(Duration::from_millis(50))
        .context(|| agent.log())
        .until(|| {
            agent
                .log()
                .lines()
                .any(|l| l.contains("not applied by a reload") && l.contains("flow_table_size"))
        });
    assert_all_ok(&lab, "after a reload with a restart-only change");
}

/// Backup holds no VIP; master adds it and announces it with gratuitous
/// ARPs seen on the wire; SIGTERM removes it and the dataplane's pins.
#[test]
fn the_vip_follows_the_role_and_is_announced() {
    let mut lab = LabSpec::one_lb(1).build();
    lab.start_agent(0, &static_role(&lab, Role::Backup, &[0]), &[]);
    lab.agent(0)
        .wait_for("backup running", Duration::from_secs(10), |s| {
            s.role == Role::Backup
        });
    assert!(!holds_vip(&lab), "a backup holds no VIP");

    // Listen for ARP on the client's segment, then promote.
    let listener = lab.clients[0]
        .ns
        .spawn(|| capture::capture_arp(Duration::from_secs(4)));
    std::thread::sleep(Duration::from_millis(200));
    let agent = lab.agent(0);
    agent.rewrite_config(&static_role(&lab, Role::Master, &[0]));
    agent.signal(libc::SIGHUP);
    agent.wait_for("master", Duration::from_secs(5), |s| s.role == Role::Master);
    assert!(holds_vip(&lab), "a master holds the VIP");
    let arps = listener.join().unwrap();
    let garps: Vec<_> = arps
        .iter()
        .filter(|f| f.len() >= 42 && f[28..32] == VIP.octets() && f[38..42] == VIP.octets())
        .collect();
    assert!(
        garps.len() >= 5,
        "expected a burst of gratuitous ARPs for {VIP}, saw {} ARP frames",
        arps.len()
    );
    assert!(
        garps.iter().all(|f| f[22..28] == lab.lbs[0].mac),
        "announced with the LB's MAC"
    );

    lab.agent(0).signal(libc::SIGTERM);
    let exit = lab.agent_mut(0).wait_exit(Duration::from_secs(5));
    assert!(exit.success(), "exit 0 on SIGTERM:\n{}", lab.logs());
    assert!(!holds_vip(&lab), "SIGTERM releases the VIP");
    assert!(
        !lab.agent(0).pin_dir().join("link").exists(),
        "SIGTERM detaches and unpins"
    );
}

/// A push in flight through the VIP survives the agent being killed
/// (SIGKILL, as a crash) and restarted: the pinned dataplane steers while no
/// agent runs, and the new agent adopts it without unsteering a packet.
#[test]
fn a_push_in_flight_survives_an_agent_crash_and_restart() {
    let mut lab = LabSpec::one_lb(2).build();
    lab.start_agent(0, &static_role(&lab, Role::Master, &[0, 1]), &[]);
    lab.agent(0)
        .wait_for("backends up", Duration::from_secs(10), |s| {
            s.services[0]
                .backends
                .iter()
                .all(|b| b.health == Health::Up && b.state == Some(BackendState::Up))
        });
    // 12 MiB in 192 chunks, 15 ms apart: about 3 s in flight.
    let blob: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let src = IpAddr::V4(lab.sources[0]);
    let push = {
        let blob = blob.clone();
        lab.clients[0].ns.spawn(move || {
            regha_tests::client::push_blob(
                src,
                SocketAddr::new(IpAddr::V4(VIP), 5000),
                "lab/restart",
                &blob,
                Duration::from_millis(15),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    lab.agent_mut(0).kill();
    assert!(
        lab.agent(0).pin_dir().join("link").exists(),
        "a killed agent leaves the dataplane pinned"
    );
    std::thread::sleep(Duration::from_millis(500));
    lab.agent_mut(0).restart();
    let agent = lab.agent(0);
    agent.wait_for("restarted agent serving", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(BackendState::Up))
    });
    let (status, digest) = push
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("push broke: {e}\nagent log:\n{}", agent.log()));
    assert_eq!(
        status,
        201,
        "the registry stored the blob\nagent log:\n{}",
        agent.log()
    );
    assert!(
        agent.log().contains("adopting=true"),
        "the second start adopted the pins"
    );
    // And it is there, whole: HEAD through the VIP.
    let head = lab.clients[0].ns.run(move || {
        http_get(
            src,
            SocketAddr::new(IpAddr::V4(VIP), 5000),
            &format!("/v2/lab/restart/blobs/{digest}"),
        )
    });
    assert_eq!(head, Ok(200));
    assert_eq!(agent.starts(), 2);
}

/// `--keep-dataplane`: SIGTERM releases the VIP but leaves the program
/// attached and steering (clients whose ARP caches still point here keep
/// being served), and the next start adopts it.
#[test]
fn keep_dataplane_leaves_it_steering_for_the_next_start() {
    let mut lab = LabSpec::one_lb(1).build();
    lab.start_agent(
        0,
        &static_role(&lab, Role::Master, &[0]),
        &["--keep-dataplane"],
    );
    lab.agent(0)
        .wait_for("backend up", Duration::from_secs(10), |s| {
            s.services[0]
                .backends
                .iter()
                .all(|b| b.health == Health::Up && b.state == Some(BackendState::Up))
        });
    assert_all_ok(&lab, "running");
    lab.agent(0).signal(libc::SIGTERM);
    assert!(lab.agent_mut(0).wait_exit(Duration::from_secs(5)).success());
    assert!(
        lab.agent(0).pin_dir().join("link").exists(),
        "the link stays pinned"
    );
    assert!(!holds_vip(&lab), "the VIP is released");
    // The clients' ARP caches still name the LB: the pinned program serves them.
    assert_all_ok(&lab, "no agent running, dataplane kept");
    lab.agent_mut(0).restart();
    let agent = lab.agent(0);
    agent.wait_for("adopted", Duration::from_secs(10), |s| {
        s.role == Role::Master
    });
    assert!(agent.log().contains("adopting=true"));
    assert_all_ok(&lab, "after the restart");
}
