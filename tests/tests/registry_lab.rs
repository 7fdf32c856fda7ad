//! The registry HA lab end to end (issue 5): real registries (Debian's
//! `docker-registry`, one shared storage), a real client (`skopeo`) pushing
//! and pulling generated images through the VIP, regha-agent on lb1 and lb2
//! (or keepalived + HAProxy on lb2), and the faults operators fear: a dead
//! registry, a master LB killed or stopped mid-push, a partition, a restart
//! mid-pull, a reload mid-push. Every pulled image is compared with what
//! was pushed, digest by digest.
//!
//! Every scenario runs twice (issue 17): over IPv4, as the reference
//! deployment, and over IPv6 alone (one VRRP v3 instance over IPv6 for a
//! `/128` VIP, IPv6 backends, clients naming the VIP through a hosts file
//! of their own: skopeo refuses an IPv6 literal). A dual-stack lab (an
//! IPv4 and an IPv6 instance in one sync group) has one client use both
//! families at once, then loses its master under a push on each.
//!
//! `REGHA_LAB_BIG_LAYER_MIB` sets the size of the big layer pushed through
//! the failovers (default 200, as the issue asks).

use std::time::{Duration, Instant};

use regha_tests::{
    lab::{self, Holders, Lab, LabSpec, LbKind, Stack},
    wait::{seen, wait_for},
};

/// Each scenario as a test over IPv4 (its historical name) and one over
/// IPv6.
macro_rules! over_both_families {
    ($($(#[$doc:meta])* $v4:ident, $v6:ident => $scenario:expr;)+) => {
        $(
            $(#[$doc])*
            #[test]
            fn $v4() {
                $scenario(Stack::V4)
            }

            $(#[$doc])*
            #[test]
            fn $v6() {
                $scenario(Stack::V6)
            }
        )+
    };
}

const MIB: u64 = 1 << 20;
const COPY_LIMIT: Duration = Duration::from_secs(300);

/// A lab with lb1 the VRRP master and every backend up.
fn ready(spec: LabSpec) -> Lab {
    let lab = Lab::new(spec);
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));
    // The mode the LBs really attached in, as the kernel reports it
    // (`ip link` says "xdpgeneric" for generic, "xdp" for the driver).
    for (i, lb) in lab.lbs.iter().enumerate() {
        if lab.agents.get(i).is_some_and(Option::is_some) {
            let link = lb.ns.exec("ip", &["link", "show", lab::HOST_IFACE]);
            let generic = link.contains(" xdpgeneric");
            let native = !generic && link.contains(" xdp");
            let want_native = lab.spec.xdp_mode == regha_model::XdpMode::Native;
            assert!(
                (want_native && native) || (!want_native && generic),
                "lb{} should attach in {} mode: {link}",
                i + 1,
                lab.spec.xdp_mode
            );
        }
    }
    lab
}

/// Index of the one backend whose counter moved between two readings.
fn the_one_that_moved(before: &[u64], after: &[u64]) -> Result<usize, String> {
    let moved: Vec<usize> = (0..before.len())
        .filter(|&i| after[i] > before[i])
        .collect();
    match moved[..] {
        [one] => Ok(one),
        _ => Err(format!(
            "backends that got packets: {moved:?} ({before:?} -> {after:?})"
        )),
    }
}

/// 1. Push and pull through the VIP; each client lands on one backend (the
///    source hash), and different clients spread over both.
fn each_client_on_one_backend(stack: Stack) {
    each_client_on_one_backend_of(LabSpec::default().stack(stack));
}

fn each_client_on_one_backend_of(spec: LabSpec) {
    let stack = spec.stack;
    let lab = ready(LabSpec { clients: 4, ..spec });
    let img = lab.image("small", &[MIB, 256 * 1024], 1);
    let mut landed = Vec::new();
    for c in 0..lab.clients.len() {
        let before = lab.backend_packets();
        lab.round_trip(c, &img, &format!("lab/c{c}"), COPY_LIMIT);
        let after = lab.backend_packets();
        let be = the_one_that_moved(&before, &after)
            .unwrap_or_else(|e| panic!("client {c} was not kept on one backend: {e}"));
        let src = lab.clients[c].addr(stack.primary_v6());
        eprintln!("client {src} -> be{}", be + 1);
        landed.push(be);
    }
    landed.sort_unstable();
    landed.dedup();
    assert_eq!(
        landed.len(),
        2,
        "four clients should spread over both backends (hash_seed 7 is fixed, so this is deterministic)"
    );
}

/// 2. A backend's registry is killed: after `fall` checks it is out, pushes
///    go on (to the other); it comes back after `rise`.
fn a_dead_registry(stack: Stack) {
    let mut lab = ready(LabSpec::default().stack(stack));
    let img = lab.image("a", &[MIB], 2);
    let before = lab.backend_packets();
    lab.round_trip(0, &img, "lab/a", COPY_LIMIT);
    let served = the_one_that_moved(&before, &lab.backend_packets()).unwrap();

    lab.registries[served].kill();
    lab.wait_backend_health(served, regha_model::Health::Down, Duration::from_secs(10));
    let img2 = lab.image("b", &[2 * MIB], 3);
    let before = lab.backend_packets();
    lab.round_trip(0, &img2, "lab/b", COPY_LIMIT);
    let now = the_one_that_moved(&before, &lab.backend_packets()).unwrap();
    assert_ne!(now, served, "the client still went to the dead backend");

    lab.registries[served].resume();
    lab.wait_backend_health(served, regha_model::Health::Up, Duration::from_secs(10));
    let before = lab.backend_packets();
    let (pull, dir) = lab.pull(0, "lab/b", "pulled-b-again");
    pull.wait(COPY_LIMIT).unwrap();
    regha_tests::oci::verify_pulled(&dir, "1", &img2).unwrap();
    assert_eq!(
        the_one_that_moved(&before, &lab.backend_packets()).unwrap(),
        served,
        "back after rise: the client's hash leads to its first backend again"
    );
}

/// 3. The master LB fails during a big push: the push completes without
///    error or retry (skopeo runs with `--retry-times 0`), the VIP moved to
///    lb2, the client's ARP entry follows it, and the pulled image matches.
fn master_fails_during_a_push(spec: LabSpec, signal: i32, repo: &str) {
    let stack = spec.stack;
    let mut lab = ready(spec);
    let img = lab.image("big", &[MIB, lab::big_layer()], 4);
    let push = lab.push_under_way(&img, repo);
    let t_fault = Instant::now();
    lab.agent(0).signal(signal);
    lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    // After SIGKILL lb1 keeps the VIP address (nobody removes it), so wait
    // for lb2 to take it rather than for it to be alone.
    lab.wait_vip(
        "lb2 to take the VIP",
        1,
        Holders::Including,
        Duration::from_secs(10),
    );
    let took = t_fault.elapsed();
    eprintln!(
        "{}, signal {signal}: lb2 holds the VIP {took:?} after the fault",
        stack.name()
    );
    let pushed = push
        .wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("the push did not survive the failover: {e}\n{}", lab.logs()));
    eprintln!("the push took {pushed:?} in all");
    assert_eq!(
        lab.client_vip_mac(0).as_deref(),
        Some(lab.lb_mac(1).as_str()),
        "the client's ARP entry for the VIP points at lb2"
    );
    let (pull, dir) = lab.pull(0, repo, "pulled-after-failover");
    pull.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("pull after failover: {e}\n{}", lab.logs()));
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
}

over_both_families! {
    master_agent_sigkilled_during_a_big_push, master_agent_sigkilled_during_a_big_ipv6_push
        => |stack| master_fails_during_a_push(LabSpec::default().stack(stack), libc::SIGKILL, "lab/kill");
    master_agent_stopped_during_a_big_push, master_agent_stopped_during_a_big_ipv6_push
        => |stack| master_fails_during_a_push(LabSpec::default().stack(stack), libc::SIGTERM, "lab/term");
}

/// 4. lb1 is cut off the segment (both become master), then restored: exactly one
///    master remains (lb1, the higher priority), the client's ARP entry
///    points at it, and client traffic resumes.
fn a_partition_heals(stack: Stack) {
    let lab = ready(LabSpec::default().stack(stack));
    lab.switch.partition(&lab.lbs[0], true);
    // lb2 hears nothing and takes over: both hold the VIP now.
    wait_for(
        "lb2 to become master during the partition",
        Duration::from_secs(10),
    )
    .context(|| lab.logs())
    .until(|| {
        let holders = lab.vip_holders();
        seen(holders == [0, 1], holders)
    });
    assert_eq!(lab.get_v2(0), Ok(200), "lb2 serves the client meanwhile");
    lab.switch.partition(&lab.lbs[0], false);
    let healed = lab.wait_sole_master(0, Duration::from_secs(10));
    eprintln!("one master again {healed:?} after the link came back");
    lab.wait_client_arp(0, Duration::from_secs(10));
    assert_eq!(lab.get_v2(0), Ok(200));
    let img = lab.image("p", &[MIB], 5);
    lab.round_trip(0, &img, "lab/p", COPY_LIMIT);
}

/// 5. The agent on the master is restarted during a pull: the pull
///    completes and the image matches.
fn agent_restarted_during_a_pull(stack: Stack) {
    let mut lab = ready(LabSpec::default().stack(stack));
    let img = lab.image("r", &[lab::big_layer()], 6);
    lab.round_trip(0, &img, "lab/r", COPY_LIMIT);
    let (mut pull, dir) = lab.pull(0, "lab/r", "pulled-during-restart");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pull.done(), "the pull ended before the restart");
    lab.agent_mut(0).kill();
    lab.agent_mut(0).restart();
    pull.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("the pull did not survive the restart: {e}\n{}", lab.logs()));
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
    lab.wait_sole_master(0, Duration::from_secs(15));
}

/// 6. A reload that adds be3 while a client pushes: the push completes,
///    and new clients reach be3.
fn a_reload_adds_a_backend(stack: Stack) {
    let lab = ready(LabSpec {
        backends: 3,
        configured_backends: Some(2),
        // New clients for after the reload: sixteen more source addresses
        // on client1.
        ..LabSpec::default().sources(40, 16).stack(stack)
    });
    let img = lab.image("big", &[lab::big_layer()], 7);
    let push = lab.push_under_way(&img, "lab/reload");
    for lb in 0..2 {
        lab.agent(lb)
            .rewrite_config(&lab.regha_config(lb, &[0, 1, 2]));
        lab.agent(lb).signal(libc::SIGHUP);
    }
    lab.wait_backends_up(Duration::from_secs(15));
    push.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("the push did not survive the reload: {e}\n{}", lab.logs()));
    let before = lab.backend_packets();
    let answers = lab.get_all();
    assert!(answers.iter().all(|a| a == &Ok(200)), "{answers:?}");
    let after = lab.backend_packets();
    assert!(
        after[2] > before[2],
        "no new client reached be3: {before:?} -> {after:?}"
    );
    let (pull, dir) = lab.pull(0, "lab/reload", "pulled-after-reload");
    pull.wait(COPY_LIMIT).unwrap();
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
}

/// 7. A mixed cluster halfway through the migration: lb1 runs regha, lb2
///    still runs keepalived (the reference `keepalived-backup.conf`
///    instance) and HAProxy (the reference `haproxy.cfg`). Failover works
///    both ways: regha stops, keepalived takes the VIP and HAProxy serves;
///    regha comes back and preempts.
fn a_mixed_cluster(stack: Stack) {
    let mut lab = ready(LabSpec {
        lbs: vec![LbKind::Regha, LbKind::OldStack],
        ..LabSpec::default().stack(stack)
    });
    let img = lab.image("m", &[MIB], 8);
    lab.round_trip(0, &img, "lab/m1", COPY_LIMIT);

    lab.agent(0).signal(libc::SIGTERM);
    lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    let took = lab.wait_sole_master(1, Duration::from_secs(10));
    eprintln!("keepalived holds the VIP {took:?} after regha stopped");
    wait_for(
        "HAProxy on lb2 to answer through the VIP",
        Duration::from_secs(15),
    )
    .every(Duration::from_millis(100))
    .context(|| lab.logs())
    .until(|| {
        let answer = lab.get_v2(0);
        seen(answer == Ok(200), answer)
    });
    lab.round_trip(0, &img, "lab/m2", COPY_LIMIT);

    lab.agent_mut(0).restart();
    let took = lab.wait_sole_master(0, Duration::from_secs(15));
    eprintln!("regha preempted back {took:?} after its restart");
    lab.wait_backends_up(Duration::from_secs(15));
    lab.wait_client_arp(0, Duration::from_secs(10));
    let (pull, dir) = lab.pull(0, "lab/m2", "pulled-m2");
    pull.wait(COPY_LIMIT).unwrap();
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
}

over_both_families! {
    push_and_pull_through_the_vip_each_client_on_one_backend,
    push_and_pull_through_the_ipv6_vip_each_client_on_one_backend => each_client_on_one_backend;
    a_dead_registry_is_taken_out_and_pushes_go_on,
    a_dead_ipv6_registry_is_taken_out_and_pushes_go_on => a_dead_registry;
    a_partition_heals_to_one_master, an_ipv6_partition_heals_to_one_master => a_partition_heals;
    agent_restarted_on_the_master_during_a_pull,
    agent_restarted_on_the_master_during_an_ipv6_pull => agent_restarted_during_a_pull;
    a_reload_adds_a_backend_during_a_push,
    a_reload_adds_a_backend_during_an_ipv6_push => a_reload_adds_a_backend;
    a_mixed_cluster_fails_over_both_ways, a_mixed_ipv6_cluster_fails_over_both_ways => a_mixed_cluster;
}

/// 8. Dual stack, one lab for both parts: an IPv4 and an IPv6 instance in
///    one sync group on each LB, a service on each VIP. One client pushes
///    over both families at once, and each image pulled over the other
///    family matches (one registry cluster behind both VIPs). Then, with a
///    big push in flight on each family, lb1's agent is SIGKILLed: lb2
///    takes both VIPs (the sync group moves them together), both pushes
///    complete, and the client's ARP and neighbour entries name lb2.
#[test]
fn a_dual_stack_client_uses_both_families_and_a_failover_moves_both_vips() {
    let mut lab = ready(LabSpec::default().stack(Stack::Dual));
    let small4 = lab.image("d4", &[MIB, 256 * 1024], 9);
    let small6 = lab.image("d6", &[2 * MIB], 10);
    let (push4, push6) = (
        lab.push_over(false, 0, &small4, "lab/dual4"),
        lab.push_over(true, 0, &small6, "lab/dual6"),
    );
    for (push, what) in [(push4, "IPv4"), (push6, "IPv6")] {
        push.wait(COPY_LIMIT)
            .unwrap_or_else(|e| panic!("{what} push: {e}\n{}", lab.logs()));
    }
    for (v6, repo, img) in [(true, "lab/dual4", &small4), (false, "lab/dual6", &small6)] {
        let (pull, dir) = lab.pull_over(v6, 0, repo, &format!("pulled-{}", repo.replace('/', "_")));
        pull.wait(COPY_LIMIT).unwrap_or_else(|e| {
            panic!("pull of {repo} over the other family: {e}\n{}", lab.logs())
        });
        regha_tests::oci::verify_pulled(&dir, "1", img).unwrap();
    }

    let big4 = lab.image("big4", &[MIB, lab::big_layer()], 11);
    let big6 = lab.image("big6", &[MIB, lab::big_layer()], 12);
    let before: u64 = lab.backend_packets().iter().sum();
    let mut pushes = [
        lab.push_over(false, 0, &big4, "lab/big4"),
        lab.push_over(true, 0, &big6, "lab/big6"),
    ];
    wait_for("both pushes to get going", Duration::from_secs(60))
        .context(|| lab.logs())
        .until(|| {
            assert!(
                !pushes.iter_mut().any(regha_tests::skopeo::Copy::done),
                "a push ended before it got going"
            );
            let sent: u64 = lab.backend_packets().iter().sum();
            seen(sent >= before + 6000, format!("{} packets", sent - before))
        });
    let t_fault = Instant::now();
    lab.agent(0).signal(libc::SIGKILL);
    lab.agent_mut(0).wait_exit(Duration::from_secs(10));
    lab.wait_vip(
        "lb2 to take both VIPs",
        1,
        Holders::Including,
        Duration::from_secs(10),
    );
    eprintln!(
        "dual stack: lb2 holds both VIPs {:?} after the kill",
        t_fault.elapsed()
    );
    let [push4, push6] = pushes;
    for (push, what) in [(push4, "IPv4"), (push6, "IPv6")] {
        let took = push.wait(COPY_LIMIT).unwrap_or_else(|e| {
            panic!(
                "the {what} push did not survive the failover: {e}\n{}",
                lab.logs()
            )
        });
        eprintln!("the {what} push took {took:?} in all");
    }
    lab.wait_client_arp(1, Duration::from_secs(10));
    for (v6, repo, img) in [(false, "lab/big4", &big4), (true, "lab/big6", &big6)] {
        let (pull, dir) = lab.pull_over(v6, 0, repo, &format!("pulled-{}", repo.replace('/', "_")));
        pull.wait(COPY_LIMIT)
            .unwrap_or_else(|e| panic!("pull after the failover: {e}\n{}", lab.logs()));
        regha_tests::oci::verify_pulled(&dir, "1", img).unwrap();
    }
}

/// 9. Native XDP mode, the production default, end to end (issue 13): the
///    LBs attach in the driver and forward with `XDP_TX` (the lab's other
///    tests use generic mode; `LabSpec::native` says what the veths need).
///    Push and pull with every client on one backend, then the master's
///    agent SIGKILLed mid-push: the push completes through lb2.
#[test]
fn native_mode_push_and_pull_each_client_on_one_backend() {
    each_client_on_one_backend_of(LabSpec::default().native());
}

#[test]
fn native_mode_master_agent_sigkilled_during_a_big_push() {
    master_fails_during_a_push(
        LabSpec::default().native(),
        libc::SIGKILL,
        "lab/native-kill",
    );
}

/// 10. Registries serving HTTPS (issue 12), as most private registries do
///     (the registry's `http.tls`), checked over HTTPS (`http.tls`, HAProxy's
///     `check-ssl`): a lab CA signs be1's and be2's certificate, whose
///     subject alternative names are the backends' addresses, the VIP and
///     its name; be3's is signed by another CA. regha's checks trust the lab
///     CA: be1 and be2 are up, be3 is down with the TLS reason. A client
///     trusting the lab CA (skopeo with `ca.crt` in its certs directory,
///     verifying) pushes and pulls through the VIP. A reload whose CA file
///     holds no certificate is refused, naming the field, and changes
///     nothing; `check-config` warns about `verify: false`.
#[test]
fn tls_registries_checked_over_https_push_and_pull_through_the_vip() {
    use regha_config::{HealthKind, TlsCheck};
    use regha_model::{Health, Role};
    use regha_tests::{
        agent::backend_state,
        lab::{PORT, VIP, VIP_NAME, backend_ip, config},
        pki::Ca,
        registry::Registry,
        skopeo::{self, Copy},
    };
    use std::net::IpAddr;

    let mut lab = LabSpec::bare(1)
        .bare_backends(3)
        .check_interval(Duration::from_millis(200))
        .vip_prefix(32)
        .build();
    let ca = Ca::new(lab.dir(), "regha-lab-ca");
    let rogue = Ca::new(lab.dir(), "another-ca");
    let storage = lab.path("storage");
    for be in 0..3u8 {
        let issuer = if be < 2 { &ca } else { &rogue };
        let ip = IpAddr::V4(backend_ip(be));
        let cert = issuer.server(
            &format!("be{}", be + 1),
            &[ip, IpAddr::V4(VIP)],
            &[VIP_NAME],
        );
        let registry =
            Registry::start_tls(&lab.backends[usize::from(be)], lab.dir(), &storage, &cert);
        lab.registries.push(registry);
    }
    let with_tls = |tls: TlsCheck| {
        let mut service = lab.service();
        if let HealthKind::Http { tls: t, .. } = &mut service.health.kind {
            *t = Some(Box::new(tls));
        }
        config::with_role(Role::Master, vec![service])
    };
    let trusting = |ca_file: &std::path::Path| TlsCheck {
        ca_file: Some(ca_file.to_path_buf()),
        ..TlsCheck::verified()
    };
    let good = with_tls(trusting(&ca.cert));
    let no_certificate = with_tls(trusting(&lab.path("regha-lab-ca/be1.key")));
    let unverified = with_tls(TlsCheck {
        verify: false,
        ..TlsCheck::verified()
    });
    lab.start_agent(0, &good, &[]);
    for be in 0..2 {
        lab.wait_backend_health(be, Health::Up, Duration::from_secs(15));
    }
    lab.wait_backend_health(2, Health::Down, Duration::from_secs(15));
    let state = lab.agent(0).state().expect("the agent's state");
    for be in 0..2 {
        let b = backend_state(&state, &lab.backend_addr(be));
        let last = b.last_check.as_deref().unwrap_or_default();
        assert!(last.starts_with("HTTP 200 in "), "be{}: {last}", be + 1);
    }
    let rogue_be = backend_state(&state, &lab.backend_addr(2));
    let last = rogue_be.last_check.as_deref().unwrap_or_default();
    assert!(
        last.contains("TLS handshake: invalid peer certificate: UnknownIssuer"),
        "be3, whose certificate another CA signed, should fail its checks on TLS: {last}"
    );

    let certs = ca.certs_dir();
    let img = lab.image("tls", &[MIB, 256 * 1024], 13);
    let target = skopeo::docker_ref(&format!("{VIP_NAME}:{PORT}"), "lab/tls", &img.tag);
    let push = Copy::start_trusting(
        &lab.clients[0].ns,
        &lab.hosts_file(),
        &certs,
        &img.reference(),
        &target,
        &lab.path("push-tls.log"),
    );
    push.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("push over HTTPS: {e}\n{}", lab.logs()));
    let dir = lab.path("pulled-tls");
    let pull = Copy::start_trusting(
        &lab.clients[0].ns,
        &lab.hosts_file(),
        &certs,
        &target,
        &format!("oci:{}:1", dir.display()),
        &lab.path("pull-tls.log"),
    );
    pull.wait(COPY_LIMIT)
        .unwrap_or_else(|e| panic!("pull over HTTPS: {e}\n{}", lab.logs()));
    regha_tests::oci::verify_pulled(&dir, "1", &img).unwrap();
    // The client verified: trusting another CA, the same pull fails.
    let untrusting = Copy::start_trusting(
        &lab.clients[0].ns,
        &lab.hosts_file(),
        &rogue.certs_dir(),
        &target,
        &format!("oci:{}:1", lab.path("pulled-untrusted").display()),
        &lab.path("pull-untrusted.log"),
    );
    let refused = untrusting
        .wait(COPY_LIMIT)
        .expect_err("a client trusting another CA must refuse the registry");
    assert!(refused.contains("certificate"), "{refused}");

    // A reload whose CA file holds no certificate: refused at load, the
    // field named, the checks go on as they were.
    let agent = lab.agent(0);
    agent.rewrite_config(&no_certificate);
    agent.signal(libc::SIGHUP);
    wait_for("the reload to be rejected", Duration::from_secs(10))
        .context(|| agent.log())
        .until(|| agent.log().contains("reload rejected"));
    let log = agent.log();
    assert!(
        log.contains("services[0].health.http.tls.ca_file")
            && log.contains("holds no PEM certificate"),
        "the rejection should name the field and say what is wrong:\n{log}"
    );
    std::thread::sleep(Duration::from_millis(600));
    let state = agent.state().expect("the agent's state");
    for be in 0..2 {
        let b = backend_state(&state, &lab.backend_addr(be));
        assert_eq!(
            b.health,
            Health::Up,
            "be{} after the rejected reload",
            be + 1
        );
    }
    // check-config warns about verify: false.
    agent.rewrite_config(&unverified);
    let out = agent.cli(
        &[],
        &[
            "--config",
            &agent.config_path().display().to_string(),
            "check-config",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("warning: services[0].health.http.tls.verify: false"),
        "{stdout}"
    );
}
