//! Least privilege, on a running agent in the registry lab:
//! - after setup every thread holds exactly CAP_NET_ADMIN, CAP_NET_RAW and
//!   CAP_BPF (effective, permitted, bounding), nothing inheritable or
//!   ambient, and `no_new_privs`; a notify script holds no more;
//! - the agent still does its work without the rest: ring swaps on a
//!   health change and on a reload, VIPs released and taken on a role
//!   change (raw sockets reopened), SIGTERM's clean-up;
//! - in unicast mode a stranger's advert, even with the right password and
//!   a higher priority, is dropped and counted (`unknown_peer`);
//! - the VRRP password appears in none of the log, `status --json`,
//!   `/status`, `/metrics` and the page.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::Path,
    time::Duration,
};

use regha_agent::{
    privileges::{KEPT, ProcCaps, mask},
    vrrp::packet::{Advert, V3Checksum, auth_bytes},
};
use regha_config::{Config, NotifyScripts, Secret, VrrpConfig};
use regha_tests::{
    agent::backend_state,
    lab::{Lab, LabSpec, VIP, config},
    metrics::{parse_metrics, value},
    tempdir::TempDir,
    wait::wait_for,
};

/// The VRRP password: what these tests check never shows.
const PASSWORD: &str = "s3cr3t!x";

fn has_vip(lab: &Lab) -> bool {
    lab.lbs[0].holds(IpAddr::V4(VIP), 24)
}

/// Waits for `cond`, polling every 50 ms; fails with the agent's log.
fn wait(what: &str, lab: &Lab, limit: Duration, cond: impl FnMut() -> bool) {
    wait_for(what, limit)
        .every(Duration::from_millis(50))
        .context(|| lab.logs())
        .until(cond);
}

/// Every thread of process `pid`: (tid, its capability lines).
fn threads(pid: u32) -> Vec<(String, ProcCaps)> {
    let dir = format!("/proc/{pid}/task");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .filter_map(|t| {
            let text = std::fs::read_to_string(t.path().join("status")).ok()?;
            let caps = ProcCaps::parse(&text).expect("capability lines");
            Some((t.file_name().to_string_lossy().into_owned(), caps))
        })
        .collect()
}

/// VRRP at priority 150 (it becomes master alone), with the password and
/// a notify script on becoming master, the VIP as /24.
fn vrrp_master(scripts: &Path) -> VrrpConfig {
    VrrpConfig {
        priority: 150,
        auth_pass: Some(Secret::new(PASSWORD)),
        notify: NotifyScripts {
            master: Some(scripts.join("master.sh")),
            ..NotifyScripts::default()
        },
        ..config::vrrp(51, &[(IpAddr::V4(VIP), 24)])
    }
}

fn with_vrrp(lab: &Lab, vrrp: VrrpConfig) -> Config {
    config::with_vrrp(vrrp, vec![lab.service()])
}

/// A notify script that records its own capabilities (`cat` is its child,
/// with the same credentials).
fn write_notify_script(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("master.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat /proc/self/status > {}/master.status.tmp && mv {0}/master.status.tmp {0}/master.status\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_agent_keeps_three_capabilities_on_every_thread_and_still_works() {
    let mut lab = LabSpec::one_lb(2).build();
    let scripts = TempDir::root_only("scripts");
    write_notify_script(scripts.path());
    let config = with_vrrp(&lab, vrrp_master(scripts.path()));
    lab.start_agent(0, &config, &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);
    let state = agent.wait_for("master", Duration::from_secs(10), |s| {
        s.role == regha_model::Role::Master
    });
    wait("the VIP on eth0", &lab, Duration::from_secs(2), || {
        has_vip(&lab)
    });

    // Exactly the kept set, on every thread.
    let keep = mask(&KEPT);
    assert_eq!(keep, 0x0000_0080_0000_3000);
    assert!(
        agent.log().contains("capabilities dropped"),
        "{}",
        agent.log()
    );
    let all = threads(state.pid);
    assert!(all.len() >= 3, "the runtime's threads: {all:?}");
    for (tid, caps) in &all {
        assert_eq!(caps.mismatch(keep), None, "thread {tid}: {caps:x?}");
    }
    // The notify script ran as root with no more than the agent holds.
    let status = scripts.path().join("master.status");
    wait("the notify script", &lab, Duration::from_secs(5), || {
        status.exists()
    });
    let script = ProcCaps::parse(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert_eq!(
        script.mismatch(keep),
        None,
        "the notify script: {script:x?}"
    );

    // Ring swaps (BPF_MAP_CREATE) after the drop: a reload that changes a
    // weight, then a backend going down.
    let swaps = state.ring_swaps;
    let mut reweighted = config.clone();
    reweighted.services[0].backends[1].weight = 3;
    agent.rewrite_config(&reweighted);
    agent.signal(libc::SIGHUP);
    let s = agent.wait_for("the reload's ring swap", Duration::from_secs(5), |s| {
        s.ring_swaps > swaps
    });
    assert!(agent.log().contains("configuration reloaded"));
    assert!(
        lab.get_all().iter().all(|r| r == &Ok(200)),
        "{}",
        agent.log()
    );
    let swaps = s.ring_swaps;
    lab.registries[0].kill();
    let agent = lab.agent(0);
    let be1 = lab.backend_addr(0);
    agent.wait_for("be1 down and swapped out", Duration::from_secs(5), |s| {
        s.ring_swaps > swaps && backend_state(s, &be1).health == regha_model::Health::Down
    });
    let results = lab.get_all();
    assert!(
        results.iter().all(|r| r == &Ok(200)),
        "every client on be2 after the swap: {results:?}\n{}",
        agent.log()
    );

    // A role change both ways: resign releases the VIP, resume reopens the
    // raw sockets and takes it back.
    let out = agent.cli(&[], &["vrrp", "resign"]);
    assert!(out.status.success(), "{out:?}");
    wait("the VIP released", &lab, Duration::from_secs(3), || {
        !has_vip(&lab)
    });
    let out = agent.cli(&[], &["vrrp", "resume"]);
    assert!(out.status.success(), "{out:?}");
    agent.wait_for("master again", Duration::from_secs(10), |s| {
        s.role == regha_model::Role::Master
    });
    wait("the VIP back", &lab, Duration::from_secs(2), || {
        has_vip(&lab)
    });
    for (tid, caps) in threads(state.pid) {
        assert_eq!(caps.mismatch(keep), None, "thread {tid} later: {caps:x?}");
    }

    // SIGTERM: VIP released, program detached, pins removed, exit 0.
    agent.signal(libc::SIGTERM);
    let exit = lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    let agent = lab.agent(0);
    assert!(exit.success(), "{exit:?}\n{}", agent.log());
    assert!(!has_vip(&lab), "SIGTERM releases the VIP");
    assert!(!agent.pin_dir().exists(), "{}", agent.log());
    let log = agent.log();
    for bad in ["Operation not permitted", "cannot apply", "ERROR"] {
        assert!(!log.contains(bad), "{bad} in the log:\n{log}");
    }
}

/// Sends a VRRP v2 advert from `src` (an address of the client namespace)
/// to `dst`, TTL 255, with the right password and priority 254.
fn send_advert(lab: &Lab, src: Ipv4Addr, dst: Ipv4Addr) {
    let advert = Advert {
        version: regha_model::VrrpVersion::V2,
        vrid: 51,
        priority: 254,
        interval: 1,
        addrs: vec![VIP.into()],
        auth: Some(auth_bytes(PASSWORD)),
    };
    let payload = advert.encode(src.into(), dst.into(), V3Checksum::WithPseudoHeader);
    lab.clients[0].ns.run(move || {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.bind(&SockAddr::from(std::net::SocketAddrV4::new(src, 0)))
            .unwrap();
        s.set_ttl_v4(255).unwrap();
        let to = SockAddr::from(std::net::SocketAddrV4::new(dst, 0));
        for _ in 0..5 {
            s.send_to(&payload, &to).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

#[test]
fn unicast_strangers_are_dropped_and_the_password_is_never_shown() {
    let mut lab = LabSpec::one_lb(1).build();
    let scripts = TempDir::root_only("scripts");
    write_notify_script(scripts.path());
    let peer = Ipv4Addr::new(192, 0, 2, 3);
    let vrrp = VrrpConfig {
        unicast_peers: vec![IpAddr::V4(peer)],
        ..vrrp_master(scripts.path())
    };
    lab.start_agent(0, &with_vrrp(&lab, vrrp), &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);
    let before = agent.wait_for("master", Duration::from_secs(10), |s| {
        s.role == regha_model::Role::Master
    });
    let transitions = before.vrrp.first().unwrap().transitions;

    // The client (192.0.2.1) is not a peer: its better advert changes nothing.
    send_advert(&lab, Ipv4Addr::new(192, 0, 2, 1), lab.lbs[0].ip);
    let s = agent.wait_for("the stranger counted", Duration::from_secs(3), |s| {
        s.vrrp
            .first()
            .is_some_and(|v| v.rejected.get("unknown_peer") == Some(&5))
    });
    assert_eq!(
        s.role,
        regha_model::Role::Master,
        "a stranger cannot take over: {s:#?}"
    );
    std::thread::sleep(Duration::from_millis(3500));
    let s = agent.state().unwrap();
    assert_eq!(
        (s.role.as_str(), s.vrrp[0].transitions),
        ("master", transitions),
        "no transition since"
    );
    let metrics = lab.stats("/metrics", &[]).unwrap();
    assert_eq!(
        value(
            &parse_metrics(&metrics.body),
            "regha_vrrp_rejected_packets_total",
            &[
                ("vrrp_instance", "VI_51"),
                ("vrid", "51"),
                ("family", "ipv4"),
                ("reason", "unknown_peer")
            ]
        ),
        5.0
    );

    // The password: nowhere to be read.
    let status = agent.cli(&[], &["status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let texts = [
        ("the log", agent.log()),
        (
            "status --json",
            String::from_utf8_lossy(&status.stdout).into_owned(),
        ),
        (
            "status",
            String::from_utf8_lossy(&agent.cli(&[], &["status"]).stdout).into_owned(),
        ),
        ("/status", lab.stats("/status", &[]).unwrap().body),
        ("/metrics", metrics.body),
        ("/", lab.stats("/", &[]).unwrap().body),
    ];
    for (what, text) in texts {
        assert!(
            text.len() > 100,
            "{what} is too short to prove anything: {text}"
        );
        assert!(
            !text.contains(PASSWORD),
            "{what} shows the password:\n{text}"
        );
        assert!(
            !text.contains("s3cr3t"),
            "{what} shows part of the password:\n{text}"
        );
    }
}
