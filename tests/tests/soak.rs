//! Fault soak (issue 7): clients push and pull through the VIP without a
//! pause while a seeded fault injector kills and restarts agents (SIGKILL
//! and SIGTERM), replaces the XDP program through its link (a restart that
//! adopts the pins), cuts LBs off the segment and restores them, kills and
//! restarts registries, and reloads valid and invalid configs.
//!
//! The goal, asserted: no push or pull fails unless it overlapped the loss
//! of the backend serving its client, and every pulled layer matches its
//! digest. At the end: exactly one master, every backend up and in the
//! ring, and after teardown no namespace, process, pin or address left.
//!
//! `REGHA_SOAK_SECS` (default 150 per seed) and `REGHA_SOAK_SEEDS`
//! (default `1,2`: CI runs 300 s over two schedules) or `REGHA_SOAK_SEED`
//! (one) set the length and the schedules; the report prints both so a
//! failing schedule can be replayed.

use regha_model::Role;
use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use regha_tests::{
    client::answers_200,
    lab::{Lab, LabSpec, PORT, PREFIX, VIP, config},
    oci::Image,
    rng::SplitMix64,
    skopeo::Copy,
    wait::{seen, wait_for},
};

const KIB: u64 = 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A pause of `lo..=hi` milliseconds, drawn from the schedule's only
/// source of randomness.
fn millis(rng: &mut SplitMix64, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(lo + rng.below(hi - lo + 1))
}

/// One push-then-pull by a client.
struct Op {
    client: usize,
    start: Duration,
    end: Duration,
    result: Result<(), String>,
}

/// A fault and when it was in effect.
struct Fault {
    what: String,
    /// For a registry kill: the backend index.
    backend: Option<usize>,
    start: Duration,
    end: Duration,
}

/// Everything a client thread needs, owned.
struct ClientJob {
    index: usize,
    ns: String,
    images: Vec<Image>,
    dir: PathBuf,
}

fn client_loop(job: ClientJob, t0: Instant, stop: Arc<AtomicBool>, ops: Arc<Mutex<Vec<Op>>>) {
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let img = &job.images[n % job.images.len()];
        let repo = format!("soak/c{}-{n}", job.index);
        let start = t0.elapsed();
        let result = (|| -> Result<(), String> {
            Copy::start_in(
                &job.ns,
                &img.reference(),
                &Lab::registry_ref(&repo, "1"),
                &job.dir.join(format!("push-c{}.log", job.index)),
            )
            .wait(Duration::from_secs(120))
            .map_err(|e| format!("push: {}", last_line(&e)))?;
            let dest = job.dir.join(format!("pulled-c{}", job.index));
            let _ = std::fs::remove_dir_all(&dest);
            Copy::start_in(
                &job.ns,
                &Lab::registry_ref(&repo, "1"),
                &format!("oci:{}:1", dest.display()),
                &job.dir.join(format!("pull-c{}.log", job.index)),
            )
            .wait(Duration::from_secs(120))
            .map_err(|e| format!("pull: {}", last_line(&e)))?;
            regha_tests::oci::verify_pulled(&dest, "1", img)
                .map_err(|e| format!("DIGEST MISMATCH: {e}"))
        })();
        ops.lock().unwrap().push(Op {
            client: job.index,
            start,
            end: t0.elapsed(),
            result,
        });
        n += 1;
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(240)
        .collect()
}

/// `GET /v2/` through the VIP every 50 ms from a source of its own: the
/// longest run of failures is the longest gap a client could see.
fn prober(
    lab: &Lab,
    src: IpAddr,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Duration, Duration, u64, u64)> {
    lab.clients[0].ns.spawn(move || {
        let (mut longest, mut at, mut fails, mut probes) = (Duration::ZERO, Duration::ZERO, 0, 0);
        let mut failing_since: Option<Duration> = None;
        while !stop.load(Ordering::SeqCst) {
            probes += 1;
            let ok = answers_200(
                src,
                SocketAddr::new(IpAddr::V4(VIP), PORT),
                Duration::from_millis(300),
            );
            let now = t0.elapsed();
            if ok {
                if let Some(since) = failing_since.take()
                    && now - since > longest
                {
                    longest = now - since;
                    at = since;
                }
            } else {
                fails += 1;
                failing_since.get_or_insert(now);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (longest, at, fails, probes)
    })
}

/// A valid reload of LB `lb`: its config with the health interval of
/// variant 0 (500 ms, as at start) or 1 (400 ms).
fn reload(lab: &Lab, lb: usize, variant: u8) -> regha_config::Config {
    let mut c = lab.regha_config(lb, &[0, 1]);
    if variant == 1 {
        c.services[0].health.interval = Duration::from_millis(400);
    }
    c
}

/// Waits until lb1 alone has held the VIP, with lb1's agent reporting
/// master and lb2's backup, for `hold` without a break; returns how long
/// that took.
fn stable_master(lab: &Lab, hold: Duration, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut since: Option<Instant> = None;
    wait_for("a stable master (lb1)", limit)
        .every(Duration::from_millis(50))
        .context(|| lab.logs())
        .until(|| {
            let roles: Vec<Option<Role>> = lab
                .agents
                .iter()
                .map(|a| a.as_ref().and_then(|a| a.state()).map(|s| s.role))
                .collect();
            let holders = lab.vip_holders();
            let good = holders == [0] && roles == [Some(Role::Master), Some(Role::Backup)];
            let held = match (good, since) {
                (true, None) => {
                    since = Some(Instant::now());
                    false
                }
                (true, Some(t)) => t.elapsed() >= hold,
                (false, _) => {
                    since = None;
                    false
                }
            };
            seen(held, format!("holders {holders:?}, roles {roles:?}"))
        });
    start.elapsed()
}

/// The seeds to run, one after the other: `REGHA_SOAK_SEED` alone if set,
/// else `REGHA_SOAK_SEEDS` (comma-separated), else 1 and 2.
fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("REGHA_SOAK_SEED") {
        return vec![one.parse().expect("REGHA_SOAK_SEED: a number")];
    }
    std::env::var("REGHA_SOAK_SEEDS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("REGHA_SOAK_SEEDS: numbers, comma-separated")
        })
        .collect()
}

#[test]
fn soak_under_seeded_fault_schedules() {
    let secs = env_u64("REGHA_SOAK_SECS", 150);
    for seed in seeds() {
        soak(seed, secs);
    }
}

fn soak(seed: u64, secs: u64) {
    eprintln!("soak: {secs} s, seed {seed} (REGHA_SOAK_SECS, REGHA_SOAK_SEED, REGHA_SOAK_SEEDS)");
    let mut rng = SplitMix64(seed);
    let mut lab = Lab::new(LabSpec {
        clients: 3,
        ..LabSpec::default()
    });
    lab.wait_sole_master(0, Duration::from_secs(15));
    lab.wait_backends_up(Duration::from_secs(15));
    let run_pid = std::process::id();
    let lab_dir = lab.dir().to_path_buf();

    // Which backend serves each client (source hash, both backends up).
    let warm = lab.image("warm", &[64 * KIB], 99);
    let mut serving = Vec::new();
    for c in 0..lab.clients.len() {
        let before = lab.backend_packets();
        lab.round_trip(c, &warm, &format!("soak/warm{c}"), Duration::from_secs(60));
        let after = lab.backend_packets();
        let moved: Vec<usize> = (0..before.len())
            .filter(|&i| after[i] > before[i])
            .collect();
        assert_eq!(moved.len(), 1, "client {c} on one backend: {moved:?}");
        serving.push(moved[0]);
    }
    eprintln!("soak: clients' backends {serving:?}");

    let images: Vec<Image> = (0..3)
        .map(|i| {
            lab.image(
                &format!("soak{i}"),
                &[(256 + 256 * i) * KIB, 32 * KIB],
                100 + i,
            )
        })
        .collect();
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..lab.clients.len())
        .map(|c| {
            let job = ClientJob {
                index: c,
                ns: lab.clients[c].ns.name().to_owned(),
                images: images.clone(),
                dir: lab_dir.clone(),
            };
            let (stop, ops) = (stop.clone(), ops.clone());
            std::thread::spawn(move || client_loop(job, t0, stop, ops))
        })
        .collect();
    let probe_src = "192.0.2.60".parse::<IpAddr>().unwrap();
    lab.clients[0].add_address(probe_src, PREFIX);
    let prober = prober(&lab, probe_src, t0, stop.clone());

    let mut faults: Vec<Fault> = Vec::new();
    let deadline = Duration::from_secs(secs);
    while t0.elapsed() < deadline {
        std::thread::sleep(millis(&mut rng, 3000, 6000));
        let start = t0.elapsed();
        let lb = rng.below(2) as usize;
        let (what, backend) = match rng.below(7) {
            0 => {
                lab.agent_mut(lb).kill();
                std::thread::sleep(millis(&mut rng, 500, 3000));
                lab.agent_mut(lb).restart();
                (format!("SIGKILL lb{} agent, restart", lb + 1), None)
            }
            1 => {
                lab.agent(lb).signal(libc::SIGTERM);
                lab.agent_mut(lb).wait_exit(Duration::from_secs(10));
                std::thread::sleep(millis(&mut rng, 500, 3000));
                lab.agent_mut(lb).restart();
                (format!("SIGTERM lb{} agent, restart", lb + 1), None)
            }
            2 => {
                // The new agent replaces the program behind the pinned link.
                lab.agent_mut(lb).kill();
                lab.agent_mut(lb).restart();
                (
                    format!("replace lb{} XDP program through its link", lb + 1),
                    None,
                )
            }
            3 => {
                lab.switch.partition(&lab.lbs[lb], true);
                std::thread::sleep(millis(&mut rng, 1000, 5000));
                lab.switch.partition(&lab.lbs[lb], false);
                (format!("partition lb{}", lb + 1), None)
            }
            4 => {
                let be = rng.below(2) as usize;
                lab.registries[be].kill();
                std::thread::sleep(millis(&mut rng, 2000, 6000));
                lab.registries[be].resume();
                lab.wait_backend_health(be, regha_model::Health::Up, Duration::from_secs(20));
                (format!("kill be{} registry, restart", be + 1), Some(be))
            }
            5 => {
                // Alternate the health interval between 500 and 400 ms.
                let variant = (faults.len() % 2) as u8;
                let a = lab.agent(lb);
                a.rewrite_config(&reload(&lab, lb, variant));
                a.signal(libc::SIGHUP);
                (format!("valid reload on lb{}", lb + 1), None)
            }
            _ => {
                let a = lab.agent(lb);
                a.write_invalid_config(&config::invalid_port(
                    IpAddr::V4(VIP),
                    IpAddr::V4(lab.backends[0].ip),
                    0,
                ));
                a.signal(libc::SIGHUP);
                std::thread::sleep(Duration::from_millis(500));
                a.rewrite_config(&reload(&lab, lb, 0));
                (format!("invalid reload on lb{}", lb + 1), None)
            }
        };
        let end = t0.elapsed();
        eprintln!(
            "soak: [{:7.2}s - {:7.2}s] {what}",
            start.as_secs_f64(),
            end.as_secs_f64()
        );
        faults.push(Fault {
            what,
            backend,
            start,
            end,
        });
    }

    // Converge, then stop the clients. The last fault may have just
    // restarted an agent, which starts as backup: lb1 must hold the VIP,
    // alone, for longer than a Master_Down_Interval before it counts.
    let converged = stable_master(&lab, Duration::from_secs(5), Duration::from_secs(40));
    lab.wait_backends_up(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client thread");
    }
    let (gap, gap_at, probe_fails, probes) = prober.join().expect("prober");
    eprintln!("soak: lb1 alone and master for 5 s, {converged:?} after the last fault");

    // Final state: one master, every backend up and in the ring.
    assert_eq!(lab.vip_holders(), [0], "exactly one master at the end");
    for (i, a) in lab.agents.iter().enumerate() {
        let a = a.as_ref().expect("every agent runs at the end");
        let st = a.state().expect("state");
        let ids: Vec<u32> = st.services[0]
            .backends
            .iter()
            .map(|b| b.id.expect("id"))
            .collect();
        let ring = a
            .maps()
            .ring(st.services[0].id.expect("service id"))
            .unwrap()
            .unwrap();
        for id in ids {
            assert!(
                ring.contains(&id),
                "lb{}: backend {id} missing from the ring",
                i + 1
            );
        }
    }

    // The report.
    let ops = ops.lock().unwrap();
    let excused = |op: &Op| {
        faults.iter().any(|f| {
            f.backend == Some(serving[op.client])
                && op.start < f.end + Duration::from_secs(2)
                && op.end > f.start
        })
    };
    let failed: Vec<&Op> = ops.iter().filter(|o| o.result.is_err()).collect();
    let unexcused: Vec<&&Op> = failed.iter().filter(|o| !excused(o)).collect();
    eprintln!("\nSOAK seed={seed} secs={secs} faults={}", faults.len());
    for kind in [
        "SIGKILL",
        "SIGTERM",
        "replace",
        "partition",
        "kill be",
        "valid reload",
        "invalid reload",
    ] {
        eprintln!(
            "  {kind}: {}",
            faults.iter().filter(|f| f.what.starts_with(kind)).count()
        );
    }
    eprintln!(
        "SOAK ops={} failed={} (during the loss of the client's backend: {}, otherwise: {})",
        ops.len(),
        failed.len(),
        failed.len() - unexcused.len(),
        unexcused.len()
    );
    for o in &failed {
        eprintln!(
            "  client {} [{:.2}s - {:.2}s] {}{}",
            o.client,
            o.start.as_secs_f64(),
            o.end.as_secs_f64(),
            o.result.as_ref().unwrap_err(),
            if excused(o) { "" } else { "  <- NOT EXCUSED" }
        );
    }
    eprintln!(
        "SOAK longest_gap={:.2}s at {:.2}s probe_failures={probe_fails}/{probes}",
        gap.as_secs_f64(),
        gap_at.as_secs_f64()
    );
    let digest_failures = ops
        .iter()
        .filter(|o| matches!(&o.result, Err(e) if e.starts_with("DIGEST")))
        .count();
    let logs = if unexcused.is_empty() {
        String::new()
    } else {
        lab.logs()
    };
    assert_eq!(
        digest_failures, 0,
        "a pulled layer did not match its digest"
    );
    assert!(
        unexcused.is_empty(),
        "{} operations failed outside the loss of their backend (seed {seed})\n{logs}",
        unexcused.len()
    );
    assert!(
        ops.len() >= 10,
        "too few operations to mean anything: {}",
        ops.len()
    );
    drop(ops);

    // Teardown leaves nothing behind.
    drop(lab);
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !netns.contains(&format!("regha-t-{run_pid}-")),
        "namespaces left: {netns}"
    );
    let lab_dir = lab_dir.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(
                !cmd.contains(&lab_dir),
                "a process of the lab is still running: {cmd}"
            );
        }
    }
    if let Ok(pins) = std::fs::read_dir("/sys/fs/bpf/regha-test") {
        for p in pins.flatten() {
            let name = p.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(&format!("a{run_pid}-")),
                "pins left: {name}"
            );
        }
    }
    let root_addrs = regha_tests::netns::ip(&["-o", "addr"]);
    assert!(
        !root_addrs.contains(&format!("{VIP}/")),
        "the VIP leaked into the root namespace"
    );
}
