//! The registry HA lab end to end (issue 5): real registries (Debian's
//! `docker-registry`, one shared storage), a real client (`skopeo`) pushing
//! and pulling generated images through the VIP, regha-agent on lb1 and lb2
//! (or keepalived + HAProxy on lb2), and the faults operators fear: a dead
//! registry, a master LB killed or stopped mid-push, a partition, a restart
//! mid-pull, a reload mid-push. Every pulled image is compared with what
//! was pushed, digest by digest.
//!
//! `REGHA_LAB_BIG_LAYER_MIB` sets the size of the big layer pushed through
//! the failovers (default 200, as the issue asks).

use std::time::{Duration, Instant};

use regha_tests::{
    lab::{self, Holders, Lab, LabSpec, LbKind},
    wait::{seen, wait_for},
};

const MIB: u64 = 1 << 20;
const COPY_LIMIT: Duration = Duration::from_secs(300);

/// A lab with lb1 the VRRP master and every backend up.
fn ready(spec: LabSpec) -> Lab {
    let lab = Lab::new(spec);
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));
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
#[test]
fn push_and_pull_through_the_vip_each_client_on_one_backend() {
    let lab = ready(LabSpec {
        clients: 4,
        ..LabSpec::default()
    });
    let img = lab.image("small", &[MIB, 256 * 1024], 1);
    let mut landed = Vec::new();
    for c in 0..lab.clients.len() {
        let before = lab.backend_packets();
        lab.round_trip(c, &img, &format!("lab/c{c}"), COPY_LIMIT);
        let after = lab.backend_packets();
        let be = the_one_that_moved(&before, &after)
            .unwrap_or_else(|e| panic!("client {c} was not kept on one backend: {e}"));
        eprintln!("client {} -> be{}", lab.clients[c].ip, be + 1);
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
#[test]
fn a_dead_registry_is_taken_out_and_pushes_go_on() {
    let mut lab = ready(LabSpec::default());
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
fn master_fails_during_a_push(signal: i32, repo: &str) {
    let mut lab = ready(LabSpec::default());
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
    eprintln!("signal {signal}: lb2 holds the VIP {took:?} after the fault");
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

#[test]
fn master_agent_sigkilled_during_a_big_push() {
    master_fails_during_a_push(libc::SIGKILL, "lab/kill");
}

#[test]
fn master_agent_stopped_during_a_big_push() {
    master_fails_during_a_push(libc::SIGTERM, "lab/term");
}

/// 4. lb1 is cut off the segment (both become master), then restored: exactly one
///    master remains (lb1, the higher priority), the client's ARP entry
///    points at it, and client traffic resumes.
#[test]
fn a_partition_heals_to_one_master() {
    let lab = ready(LabSpec::default());
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
#[test]
fn agent_restarted_on_the_master_during_a_pull() {
    let mut lab = ready(LabSpec::default());
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
#[test]
fn a_reload_adds_a_backend_during_a_push() {
    let lab = ready(LabSpec {
        backends: 3,
        configured_backends: Some(2),
        // New clients for after the reload: sixteen more source addresses
        // on client1.
        ..LabSpec::default().sources(40, 16)
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
#[test]
fn a_mixed_cluster_fails_over_both_ways() {
    let mut lab = ready(LabSpec {
        lbs: vec![LbKind::Regha, LbKind::OldStack],
        ..LabSpec::default()
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
