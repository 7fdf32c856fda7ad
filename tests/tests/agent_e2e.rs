//! regha-agent as operators run it, in a namespace lab with real registries
//! (Debian's `docker-registry`): health checks take backends out and back,
//! reloads change exactly what they should, the VIP follows the role with a
//! gratuitous ARP on the wire, and a restarted agent never unsteers traffic.

use regha_model::Health;
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use regha_tests::{
    agent::Agent,
    client::http_get,
    lab::{HOST_IFACE, Host},
};

mod ops_lab;

use ops_lab::{OpsLab, VIP};

/// The operating tests' lab (one LB, a client with 16 sources, registries
/// as DSR backends), with this file's configs and checks on top.
struct RegistryLab(OpsLab);

impl std::ops::Deref for RegistryLab {
    type Target = OpsLab;
    fn deref(&self) -> &OpsLab {
        &self.0
    }
}

impl std::ops::DerefMut for RegistryLab {
    fn deref_mut(&mut self) -> &mut OpsLab {
        &mut self.0
    }
}

impl RegistryLab {
    fn new(n_backends: u8) -> Self {
        Self(OpsLab::new(n_backends))
    }

    fn config(&self, role: &str, backends: &[&Host]) -> String {
        let list: String = backends
            .iter()
            .map(|b| format!("      - {{ address: {} }}\n", b.ip))
            .collect();
        format!(
            "interface: eth0\nrole: {role}\nxdp_mode: generic\nhash_seed: 7\nservices:\n  - name: registry\n    vip: {VIP}\n    port: 5000\n    health: {{ http: {{ path: /v2/ }}, interval: 200ms, timeout: 150ms, rise: 2, fall: 3 }}\n    backends:\n{list}"
        )
    }

    /// `GET /v2/` from every client source through the VIP.
    fn get_all(&self) -> Vec<Result<u16, String>> {
        let sources = self.sources.clone();
        self.client.ns.run(move || {
            sources
                .iter()
                .map(|s| {
                    http_get(
                        IpAddr::V4(*s),
                        SocketAddr::new(IpAddr::V4(VIP), 5000),
                        "/v2/",
                    )
                })
                .collect()
        })
    }

    fn assert_all_ok(&self, when: &str, agent: &Agent) {
        let results = self.get_all();
        assert!(
            results.iter().all(|r| r == &Ok(200)),
            "{when}: not every client got 200: {results:?}\nagent log:\n{}",
            agent.log()
        );
    }
}

/// Up in the checks and in the dataplane (checked, MAC known).
fn serving(state: &regha_agent::status::AgentStatus, addr: &str) -> bool {
    state.services[0].backends.iter().any(|b| {
        b.address.to_string() == addr
            && b.health == Health::Up
            && b.state == Some(regha_model::BackendState::Up)
    })
}

fn health_of(state: &regha_agent::status::AgentStatus, addr: &str) -> Health {
    state.services[0]
        .backends
        .iter()
        .find(|b| b.address.to_string() == addr)
        .map(|b| b.health)
        .unwrap_or_default()
}

/// Kill a registry: after `fall` failed checks it is out of the ring and
/// every client still gets answers (from the other); start it again: after
/// `rise` good checks it is back.
#[test]
fn a_dead_registry_leaves_after_fall_checks_and_returns_after_rise() {
    let mut lab = RegistryLab::new(2);
    let config = lab.config("master", &[&lab.backends[0], &lab.backends[1]]);
    let agent = Agent::start(&lab.lb, &config, &[]);
    let be1 = format!("{}:5000", lab.backends[0].ip);
    let be2 = format!("{}:5000", lab.backends[1].ip);
    agent.wait_for("both backends up", Duration::from_secs(10), |s| {
        serving(s, &be1) && serving(s, &be2)
    });
    lab.assert_all_ok("both up", &agent);

    lab.registries[0].kill();
    let killed = Instant::now();
    let state = agent.wait_for("be1 down", Duration::from_secs(5), |s| {
        health_of(s, &be1) == Health::Down
    });
    let took = killed.elapsed();
    // fall 3 at 200ms: three failed checks, so at least ~400ms after the kill.
    assert!(
        took >= Duration::from_millis(300),
        "down after {took:?}: sooner than fall=3 allows"
    );
    let be1_id = state.services[0].backends[0].id.expect("id");
    assert_eq!(
        agent.maps().backend(be1_id).unwrap().state,
        regha_common::BACKEND_DOWN
    );
    lab.assert_all_ok("be1 dead", &agent);
    assert!(
        agent.log().contains("decision_to_map_us"),
        "the agent reports how long a decision took to reach the maps"
    );

    lab.registries[0].resume();
    agent.wait_for("be1 up again", Duration::from_secs(5), |s| serving(s, &be1));
    assert_eq!(
        agent.maps().backend(be1_id).unwrap().state,
        regha_common::BACKEND_UP
    );
    lab.assert_all_ok("be1 back", &agent);

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
    let lab = RegistryLab::new(3);
    let two = lab.config("master", &[&lab.backends[0], &lab.backends[1]]);
    let agent = Agent::start(&lab.lb, &two, &[]);
    let be3 = format!("{}:5000", lab.backends[2].ip);
    agent.wait_for("two backends up", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(regha_model::BackendState::Up))
    });
    let maps = agent.maps();
    let ring_before = maps.ring(0).unwrap();
    let entries_before = maps.service_entries().unwrap();

    agent.rewrite_config(&two.replace("port: 5000", "port: 70000"));
    agent.signal(libc::SIGHUP);
    let start = Instant::now();
    while !agent.log().contains("reload rejected") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no rejection logged:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    lab.assert_all_ok("after the rejected reload", &agent);

    let three = lab.config(
        "master",
        &[&lab.backends[0], &lab.backends[1], &lab.backends[2]],
    );
    agent.rewrite_config(&three);
    agent.signal(libc::SIGHUP);
    let state = agent.wait_for("be3 up", Duration::from_secs(5), |s| serving(s, &be3));
    let be3_id = state.services[0].backends[2].id.expect("be3 has an id");
    let ring = agent.maps().ring(0).unwrap().unwrap();
    assert!(ring.contains(&be3_id), "be3 is in the ring");
    assert_ne!(Some(ring), ring_before);
    lab.assert_all_ok("three backends", &agent);
}

/// Backup holds no VIP; master adds it and announces it with gratuitous
/// ARPs seen on the wire; SIGTERM removes it and the dataplane's pins.
#[test]
fn the_vip_follows_the_role_and_is_announced() {
    let lab = RegistryLab::new(1);
    let agent = Agent::start(&lab.lb, &lab.config("backup", &[&lab.backends[0]]), &[]);
    agent.wait_for("backup running", Duration::from_secs(10), |s| {
        s.role == regha_model::Role::Backup
    });
    let has_vip = || {
        lab.lb
            .ns
            .ip(&["-4", "addr", "show", "dev", HOST_IFACE])
            .contains(&format!("{VIP}/32"))
    };
    assert!(!has_vip(), "a backup holds no VIP");

    // Listen for ARP on the client's segment, then promote.
    let listener = lab
        .client
        .ns
        .spawn(|| regha_tests::lab::capture_arp(Duration::from_secs(4)));
    std::thread::sleep(Duration::from_millis(200));
    let mut agent = agent;
    agent.rewrite_config(&lab.config("master", &[&lab.backends[0]]));
    agent.signal(libc::SIGHUP);
    agent.wait_for("master", Duration::from_secs(5), |s| {
        s.role == regha_model::Role::Master
    });
    assert!(has_vip(), "a master holds the VIP");
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
        garps.iter().all(|f| f[22..28] == lab.lb.mac),
        "announced with the LB's MAC"
    );

    agent.signal(libc::SIGTERM);
    assert!(
        agent.wait_exit(Duration::from_secs(5)).success(),
        "exit 0 on SIGTERM:\n{}",
        agent.log()
    );
    assert!(!has_vip(), "SIGTERM releases the VIP");
    assert!(
        !agent.pin_dir().join("link").exists(),
        "SIGTERM detaches and unpins"
    );
}

/// A push in flight through the VIP survives the agent being killed
/// (SIGKILL, as a crash) and restarted: the pinned dataplane steers while no
/// agent runs, and the new agent adopts it without unsteering a packet.
#[test]
fn a_push_in_flight_survives_an_agent_crash_and_restart() {
    let lab = RegistryLab::new(2);
    let mut agent = Agent::start(
        &lab.lb,
        &lab.config("master", &[&lab.backends[0], &lab.backends[1]]),
        &[],
    );
    agent.wait_for("backends up", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(regha_model::BackendState::Up))
    });
    // 12 MiB in 192 chunks, 15 ms apart: about 3 s in flight.
    let blob: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let src = IpAddr::V4(lab.sources[0]);
    let push = {
        let blob = blob.clone();
        lab.client.ns.spawn(move || {
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
    agent.kill();
    assert!(
        agent.pin_dir().join("link").exists(),
        "a killed agent leaves the dataplane pinned"
    );
    std::thread::sleep(Duration::from_millis(500));
    agent.restart();
    agent.wait_for("restarted agent serving", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(regha_model::BackendState::Up))
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
    let head = lab.client.ns.run(move || {
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
    let lab = RegistryLab::new(1);
    let mut agent = Agent::start(
        &lab.lb,
        &lab.config("master", &[&lab.backends[0]]),
        &["--keep-dataplane"],
    );
    agent.wait_for("backend up", Duration::from_secs(10), |s| {
        s.services[0]
            .backends
            .iter()
            .all(|b| b.health == Health::Up && b.state == Some(regha_model::BackendState::Up))
    });
    lab.assert_all_ok("running", &agent);
    agent.signal(libc::SIGTERM);
    assert!(agent.wait_exit(Duration::from_secs(5)).success());
    assert!(
        agent.pin_dir().join("link").exists(),
        "the link stays pinned"
    );
    let vip_held = lab
        .lb
        .ns
        .ip(&["-4", "addr", "show", "dev", HOST_IFACE])
        .contains(&format!("{VIP}/32"));
    assert!(!vip_held, "the VIP is released");
    // The clients' ARP caches still name the LB: the pinned program serves them.
    lab.assert_all_ok("no agent running, dataplane kept", &agent);
    agent.restart();
    agent.wait_for("adopted", Duration::from_secs(10), |s| {
        s.role == regha_model::Role::Master
    });
    assert!(agent.log().contains("adopting=true"));
    lab.assert_all_ok("after the restart", &agent);
}
