//! `cargo xtask bench-e2e`: regha against the stack it replaces, on the same
//! lab, in one run.
//!
//! For each stack (regha on lb1+lb2; keepalived + HAProxy on lb1+lb2, as
//! configured in `../shared/reference/haproxy-keepalived-registry/`):
//!
//! - `GET /v2/` and a 16 MiB blob pulled through the VIP with wrk:
//!   requests/s, p50, p99, throughput;
//! - LB CPU time per GiB pulled during the blob run: for HAProxy its
//!   process's user+system time; for regha the XDP program's run time
//!   (`kernel.bpf_stats_enabled`) plus the agent's user+system time; and,
//!   for both, the whole machine's busy time (client, registries and all);
//! - failover: time from the master's failure to the VIP answering again,
//!   median and max over `--runs`, for two failures: the LB processes
//!   SIGKILLed, and the host lost (cut off the segment);
//! - a backend failing (issue 12): the longest gap a client probing
//!   `GET /v2/` every 20 ms sees when the registry it hashes to is killed,
//!   and when that registry's host is cut off (its link down), median and
//!   max over `--runs` (HAProxy at the reference `inter 5000 fall 3`, regha
//!   at its defaults: `interval: 5s, fall: 3`, suspicion and fast checks);
//!   `--backends-only` measures these alone;
//! - whether a push in flight survives the host loss: `--runs` valid runs
//!   (the client shaped to 400 Mbit/s so the cut lands mid-push; a run
//!   where it did not is reported as invalid and tried again).
//!
//! Prints a table and writes `target/bench/e2e.json`.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use regha_tests::{
    client::answers_200,
    lab::{Lab, LabSpec, LbKind, PORT, VIP, probe::Prober},
};
use serde_json::json;

const MIB: u64 = 1 << 20;
const BLOB_MIB: u64 = 16;
/// The client's rate during the push cut by the host loss: 200 MiB take
/// about 4 s, so the cut at 1.5 s always lands mid-push.
const PUSH_MBIT: u32 = 400;

struct Args {
    runs: usize,
    secs: u32,
    push_mib: u64,
    /// Only the backend failures (issue 12): no wrk, no LB failover, no push.
    backends_only: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        runs: 3,
        secs: 10,
        push_mib: 200,
        backends_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64> {
            it.next()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--runs" => a.runs = num("--runs")? as usize,
            "--secs" => a.secs = num("--secs")? as u32,
            "--push-mib" => a.push_mib = num("--push-mib")?,
            "--backends-only" => a.backends_only = true,
            other => bail!(
                "unknown argument {other:?} (--runs N, --secs N, --push-mib N, --backends-only)"
            ),
        }
    }
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(a)
}

/// What wrk reported.
#[derive(Clone, Debug, Default)]
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(out: &str) -> Result<Wrk> {
    let mut w = Wrk::default();
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => w.p50_ms = parse_duration_ms(v).context("p50")?,
            ["99%", v] => w.p99_ms = parse_duration_ms(v).context("p99")?,
            ["Requests/sec:", v] => w.rps = v.parse()?,
            [n, "requests", "in", ..] => w.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => w.non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                w.socket_errors = rest
                    .iter()
                    .filter_map(|x| x.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if w.requests == 0 {
        bail!("wrk made no requests:\n{out}");
    }
    Ok(w)
}

fn wrk(lab: &Lab, path: &str, conns: u32, secs: u32) -> Result<Wrk> {
    let out = lab.clients[0]
        .ns
        .command("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            &format!("http://{VIP}:{PORT}{path}"),
        ])
        .output()
        .context("run wrk (cargo xtask setup installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// user+system seconds of a process.
fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / clock_ticks()
}

/// Busy seconds of the whole machine (every state but idle and iowait).
fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let busy: f64 = f
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / clock_ticks()
}

/// Cumulative run time (ns) of the XDP program attached to lb's eth0.
fn xdp_run_time_ns(lab: &Lab, lb: usize) -> Result<u64> {
    let net = lab.lbs[lb]
        .ns
        .exec("bpftool", &["-j", "net", "show", "dev", "eth0"]);
    let v: serde_json::Value = serde_json::from_str(&net).context("bpftool net show")?;
    let id = v[0]["xdp"][0]["id"]
        .as_u64()
        .with_context(|| format!("no XDP program on lb{}: {net}", lb + 1))?;
    let out = Command::new("bpftool")
        .args(["-j", "prog", "show", "id", &id.to_string()])
        .output()?;
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).context("bpftool prog show")?;
    Ok(p["run_time_ns"].as_u64().unwrap_or(0))
}

/// LB CPU seconds so far, by the definition in the module comment.
fn lb_cpu(lab: &Lab, lb: usize) -> Result<f64> {
    Ok(match lab.spec.lbs[lb] {
        LbKind::Regha => {
            xdp_run_time_ns(lab, lb)? as f64 / 1e9
                + lab.agents[lb]
                    .as_ref()
                    .and_then(|a| a.pid())
                    .map(process_cpu)
                    .unwrap_or(0.0)
        }
        LbKind::OldStack => lab.haproxy[lb]
            .as_ref()
            .and_then(|h| h.pid())
            .map(process_cpu)
            .unwrap_or(0.0),
        LbKind::Bare => 0.0,
    })
}

/// One probe: a new connection and `GET /v2/` with short timeouts.
fn probe(src: IpAddr) -> bool {
    answers_200(
        src,
        SocketAddr::new(IpAddr::V4(VIP), PORT),
        Duration::from_millis(200),
    )
}

/// Starts probing the VIP from client 0 every 10 ms, for `window` from the
/// instant sent on the returned channel (taken just before the fault). The
/// thread returns the time from that instant to the end of the last failed
/// probe (zero if none failed), and how many failed.
fn prober(
    lab: &Lab,
    window: Duration,
) -> (
    std::sync::mpsc::Sender<Instant>,
    std::thread::JoinHandle<(Duration, u32)>,
) {
    let src = IpAddr::V4(lab.clients[0].ip);
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let handle = lab.clients[0].ns.spawn(move || {
        let t0 = rx.recv().expect("start");
        let mut last_fail = None;
        let mut fails = 0;
        while t0.elapsed() < window {
            if !probe(src) {
                fails += 1;
                last_fail = Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (last_fail.unwrap_or_default(), fails)
    });
    (tx, handle)
}

/// Runs `fault` on the lab while probing: see [`prober`].
fn outage(lab: &mut Lab, fault: impl FnOnce(&mut Lab)) -> (Duration, u32) {
    let (tx, handle) = prober(lab, Duration::from_secs(8));
    tx.send(Instant::now()).expect("prober");
    fault(lab);
    handle.join().expect("prober thread")
}

fn kill_master(lab: &mut Lab) {
    match lab.spec.lbs[0] {
        LbKind::Regha => lab.agent_mut(0).kill(),
        LbKind::OldStack => {
            if let Some(k) = lab.keepalived[0].as_mut() {
                k.kill();
            }
            if let Some(h) = lab.haproxy[0].as_mut() {
                h.kill();
            }
        }
        LbKind::Bare => {}
    }
}

fn restart_master(lab: &mut Lab) {
    match lab.spec.lbs[0] {
        LbKind::Regha => lab.agent_mut(0).restart(),
        LbKind::OldStack => {
            if let Some(h) = lab.haproxy[0].as_mut() {
                h.resume();
            }
            if let Some(k) = lab.keepalived[0].as_mut() {
                k.restart();
            }
        }
        LbKind::Bare => {}
    }
}

/// lb1 alone holds the VIP, and the VIP answers.
fn settle(lab: &Lab) -> Result<()> {
    lab.wait_sole_master(0, Duration::from_secs(30));
    let start = Instant::now();
    let src = IpAddr::V4(lab.clients[0].ip);
    while !lab.clients[0].ns.run(move || probe(src)) {
        if start.elapsed() > Duration::from_secs(30) {
            bail!(
                "the VIP does not answer after the master came back\n{}",
                lab.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the client's ARP entry and the backup settle too.
    std::thread::sleep(Duration::from_secs(1));
    Ok(())
}

/// Packets received by each backend host (its lab interface), for either
/// stack: HAProxy's connections come from the LB, regha's from the client.
fn backend_rx_packets(lab: &Lab) -> Vec<u64> {
    lab.backends
        .iter()
        .map(|b| {
            let out = b.ns.exec(
                "ip",
                &[
                    "-j",
                    "-s",
                    "link",
                    "show",
                    "dev",
                    regha_tests::lab::HOST_IFACE,
                ],
            );
            serde_json::from_str::<serde_json::Value>(&out)
                .ok()
                .and_then(|v| v[0]["stats64"]["rx"]["packets"].as_u64())
                .unwrap_or(0)
        })
        .collect()
}

/// The backend client 0's probes reach: the one whose packet count grows
/// most over 20 probes.
fn client_backend(lab: &Lab) -> usize {
    let before = backend_rx_packets(lab);
    let src = IpAddr::V4(lab.clients[0].ip);
    for _ in 0..20 {
        lab.clients[0].ns.run(move || probe(src));
    }
    let after = backend_rx_packets(lab);
    (0..after.len())
        .max_by_key(|&i| after[i].saturating_sub(before[i]))
        .unwrap_or(0)
}

/// One backend failure: the registry client 0 hashes to is killed (or its
/// host cut off), and the longest gap between two answered probes (every
/// 20 ms) over the next 16 s (HAProxy at `inter 5000 fall 3` needs up to
/// 15 s). Then the backend is restored and the lab settles.
fn backend_outage(lab: &mut Lab, cut: bool) -> Result<(Duration, u32)> {
    let b = client_backend(lab);
    let prober = Prober::start(
        lab,
        0,
        Duration::from_millis(20),
        Duration::from_millis(200),
    );
    std::thread::sleep(Duration::from_millis(500));
    if cut {
        lab.switch.set_port(&lab.backends[b], false);
    } else {
        lab.registries[b].kill();
    }
    std::thread::sleep(Duration::from_secs(16));
    let g = prober.stop();
    if cut {
        lab.switch.set_port(&lab.backends[b], true);
    } else {
        lab.registries[b].resume();
    }
    // Back up: `rise` (2) checks at up to 5 s apart.
    if lab.spec.lbs[0] == LbKind::Regha {
        lab.wait_backends_up(Duration::from_secs(30));
    } else {
        std::thread::sleep(Duration::from_secs(12));
    }
    settle(lab)?;
    Ok((g.longest, g.failed))
}

fn median_max(v: &[Duration]) -> (f64, f64) {
    let mut s: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], *s.last().unwrap_or(&0.0))
}

fn bench_stack(kind: LbKind, args: &Args) -> Result<serde_json::Value> {
    let name = match kind {
        LbKind::Regha => "regha",
        LbKind::OldStack => "haproxy+keepalived",
        LbKind::Bare => bail!("bench-e2e compares regha with the old stack, not bare LBs"),
    };
    eprintln!("== {name}: bringing the lab up");
    let mut lab = Lab::new(LabSpec {
        clients: 1,
        lbs: vec![kind, kind],
        check_interval: Duration::from_secs(5),
        ..LabSpec::default()
    });
    if kind == LbKind::Regha {
        lab.wait_backends_up(Duration::from_secs(30));
    }
    settle(&lab)?;

    let mut be_killed = Vec::new();
    let mut be_cut = Vec::new();
    for run in 0..args.runs {
        eprintln!(
            "== {name}: backend run {} of {}: the client's registry killed",
            run + 1,
            args.runs
        );
        let (gap, fails) = backend_outage(&mut lab, false)?;
        eprintln!("   longest gap {gap:?} ({fails} failed probes)");
        be_killed.push(gap);
        eprintln!(
            "== {name}: backend run {} of {}: the client's registry host cut off",
            run + 1,
            args.runs
        );
        let (gap, fails) = backend_outage(&mut lab, true)?;
        eprintln!("   longest gap {gap:?} ({fails} failed probes)");
        be_cut.push(gap);
    }
    let (bk_med, bk_max) = median_max(&be_killed);
    let (bc_med, bc_max) = median_max(&be_cut);
    let backend_rows = json!({
        "backend_registry_killed_gap_s": { "median": bk_med, "max": bk_max, "runs": be_killed.iter().map(Duration::as_secs_f64).collect::<Vec<_>>() },
        "backend_host_cut_gap_s": { "median": bc_med, "max": bc_max, "runs": be_cut.iter().map(Duration::as_secs_f64).collect::<Vec<_>>() },
    });
    if args.backends_only {
        let mut v = backend_rows;
        v["stack"] = json!(name);
        return Ok(v);
    }

    let img = lab.image("blob", &[BLOB_MIB * MIB], 11);
    lab.push(0, &img, "bench/blob")
        .wait(Duration::from_secs(120))
        .map_err(anyhow::Error::msg)?;
    let blob_path = format!("/v2/bench/blob/blobs/{}", img.layers[0].digest);

    eprintln!("== {name}: wrk GET /v2/ for {}s", args.secs);
    let v2 = wrk(&lab, "/v2/", 16, args.secs)?;
    eprintln!("== {name}: wrk {BLOB_MIB} MiB blob for {}s", args.secs);
    let (lb0, m0) = (lb_cpu(&lab, 0)?, machine_cpu());
    let blob = wrk(&lab, &blob_path, 4, args.secs)?;
    let (lb1, m1) = (lb_cpu(&lab, 0)?, machine_cpu());
    let gib = (blob.requests * img.layers[0].size) as f64 / (1u64 << 30) as f64;
    let blob_mib_s = blob.rps * img.layers[0].size as f64 / MIB as f64;

    let mut killed = Vec::new();
    let mut cut = Vec::new();
    for run in 0..args.runs {
        eprintln!(
            "== {name}: failover run {} of {}: processes killed",
            run + 1,
            args.runs
        );
        let (gap, fails) = outage(&mut lab, kill_master);
        eprintln!("   VIP answered again after {gap:?} ({fails} failed probes)");
        killed.push(gap);
        restart_master(&mut lab);
        settle(&lab)?;

        eprintln!(
            "== {name}: failover run {} of {}: host lost (cut off)",
            run + 1,
            args.runs
        );
        let (gap, fails) = outage(&mut lab, |lab| lab.switch.partition(&lab.lbs[0], true));
        eprintln!("   VIP answered again after {gap:?} ({fails} failed probes)");
        cut.push(gap);
        lab.switch.partition(&lab.lbs[0], false);
        settle(&lab)?;
    }

    // A push in flight when the master host is lost. The client's rate is
    // shaped so that the push lasts about 4 s: the cut at 1.5 s lands in
    // its middle on any machine. A run where the push ended before the cut
    // measured nothing: it is counted as invalid, never as a result, and
    // another is tried, until `runs` valid ones (at most twice as many
    // attempts).
    let (mut valid, mut survived, mut attempts) = (0, 0, 0);
    while valid < args.runs && attempts < 2 * args.runs {
        attempts += 1;
        eprintln!(
            "== {name}: a {} MiB push at {PUSH_MBIT} Mbit/s while the master is cut off (attempt {attempts})",
            args.push_mib
        );
        let big = lab.image("big", &[args.push_mib * MIB], 12 + attempts as u64);
        let shaped = lab.shape_client(0, PUSH_MBIT);
        let mut push = lab.push(0, &big, "bench/big");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) && !push.done() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mid_push = !push.done();
        lab.switch.partition(&lab.lbs[0], true);
        let pushed = push.wait(Duration::from_secs(300));
        lab.switch.partition(&lab.lbs[0], false);
        drop(shaped);
        if !mid_push {
            eprintln!("   the push ended before the cut: not a valid run");
        } else {
            valid += 1;
            match &pushed {
                Ok(_) => {
                    survived += 1;
                    eprintln!("   push survived");
                }
                Err(e) => eprintln!("   push failed: {}", e.lines().last().unwrap_or("")),
            }
        }
        settle(&lab)?;
    }
    if valid < args.runs {
        eprintln!("   only {valid} valid runs out of {attempts} attempts");
    }

    let (k_med, k_max) = median_max(&killed);
    let (c_med, c_max) = median_max(&cut);
    Ok(json!({
        "stack": name,
        "v2": { "rps": v2.rps, "p50_ms": v2.p50_ms, "p99_ms": v2.p99_ms, "non_2xx": v2.non_2xx, "socket_errors": v2.socket_errors },
        "blob": { "size_mib": BLOB_MIB, "rps": blob.rps, "mib_per_s": blob_mib_s, "p50_ms": blob.p50_ms, "p99_ms": blob.p99_ms, "non_2xx": blob.non_2xx, "socket_errors": blob.socket_errors },
        "lb_cpu_s_per_gib": (lb1 - lb0) / gib,
        "machine_cpu_s_per_gib": (m1 - m0) / gib,
        "gib_pulled": gib,
        "failover_processes_killed_s": { "median": k_med, "max": k_max, "runs": killed.iter().map(Duration::as_secs_f64).collect::<Vec<_>>() },
        "failover_host_lost_s": { "median": c_med, "max": c_max, "runs": cut.iter().map(Duration::as_secs_f64).collect::<Vec<_>>() },
        "push_host_loss": { "valid_runs": valid, "attempts": attempts, "survived": survived, "mib": args.push_mib, "mbit_per_s": PUSH_MBIT },
        "backend_registry_killed_gap_s": backend_rows["backend_registry_killed_gap_s"],
        "backend_host_cut_gap_s": backend_rows["backend_host_cut_gap_s"],
    }))
}

fn main() -> Result<()> {
    let args = args()?;
    regha_tests::require_root();
    // The XDP program's run time is counted only with bpf_stats on.
    let old_stats = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .unwrap_or_else(|_| "0".into());
    std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1")
        .context("enable kernel.bpf_stats_enabled")?;
    let results: Result<Vec<serde_json::Value>> = [LbKind::OldStack, LbKind::Regha]
        .into_iter()
        .map(|k| bench_stack(k, &args))
        .collect();
    let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", old_stats.trim());
    let results = results?;

    let row = |label: &str, f: &dyn Fn(&serde_json::Value) -> String| {
        println!("| {label} | {} | {} |", f(&results[0]), f(&results[1]));
    };
    let n = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    println!("\n| measure | HAProxy + keepalived | regha |");
    println!("|---|---|---|");
    let gap_row = |label: &str, key: &'static str| {
        row(label, &|r| {
            format!("{:.2} / {:.2}", n(&r[key]["median"]), n(&r[key]["max"]))
        });
    };
    gap_row(
        "a client's registry killed → longest gap, median / max s",
        "backend_registry_killed_gap_s",
    );
    gap_row(
        "a client's registry host cut off → longest gap, median / max s",
        "backend_host_cut_gap_s",
    );
    if args.backends_only {
        return write_results(&args, &results);
    }
    row("`GET /v2/` requests/s", &|r| {
        format!("{:.0}", n(&r["v2"]["rps"]))
    });
    row("`GET /v2/` p50 / p99 ms", &|r| {
        format!(
            "{:.2} / {:.2}",
            n(&r["v2"]["p50_ms"]),
            n(&r["v2"]["p99_ms"])
        )
    });
    row(&format!("{BLOB_MIB} MiB blob pulls/s (MiB/s)"), &|r| {
        format!(
            "{:.1} ({:.0})",
            n(&r["blob"]["rps"]),
            n(&r["blob"]["mib_per_s"])
        )
    });
    row("blob p50 / p99 ms", &|r| {
        format!(
            "{:.1} / {:.1}",
            n(&r["blob"]["p50_ms"]),
            n(&r["blob"]["p99_ms"])
        )
    });
    row("LB CPU s per GiB pulled", &|r| {
        format!("{:.3}", n(&r["lb_cpu_s_per_gib"]))
    });
    row("machine CPU s per GiB pulled", &|r| {
        format!("{:.2}", n(&r["machine_cpu_s_per_gib"]))
    });
    row(
        "master processes killed → VIP answers, median / max s",
        &|r| {
            format!(
                "{:.2} / {:.2}",
                n(&r["failover_processes_killed_s"]["median"]),
                n(&r["failover_processes_killed_s"]["max"])
            )
        },
    );
    row("master host lost → VIP answers, median / max s", &|r| {
        format!(
            "{:.2} / {:.2}",
            n(&r["failover_host_lost_s"]["median"]),
            n(&r["failover_host_lost_s"]["max"])
        )
    });
    row(
        &format!(
            "{} MiB push in flight survives the host loss (survived / valid runs / attempts)",
            args.push_mib
        ),
        &|r| {
            let p = &r["push_host_loss"];
            format!(
                "{} / {} / {}",
                p["survived"], p["valid_runs"], p["attempts"]
            )
        },
    );
    write_results(&args, &results)
}

fn write_results(args: &Args, results: &[serde_json::Value]) -> Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir)?;
    let doc = json!({ "runs": args.runs, "secs": args.secs, "backends_only": args.backends_only, "stacks": results });
    std::fs::write(dir.join("e2e.json"), serde_json::to_string_pretty(&doc)?)?;
    println!("\nwritten to {}", dir.join("e2e.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let out = "Running 10s test @ http://192.0.2.100:5000/v2/\n  2 threads and 16 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   845.12us  300.00us  10.00ms   90.00%\n  Latency Distribution\n     50%  800.00us\n     75%    1.00ms\n     90%    1.20ms\n     99%    2.50ms\n  187654 requests in 10.00s, 50.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:  18765.40\nTransfer/sec:      5.00MB\n";
        let w = parse_wrk(out).unwrap();
        assert_eq!(w.requests, 187_654);
        assert!((w.p50_ms - 0.8).abs() < 1e-9);
        assert!((w.p99_ms - 2.5).abs() < 1e-9);
        assert!((w.rps - 18765.4).abs() < 1e-9);
        assert_eq!(w.non_2xx, 4);
        assert_eq!(w.socket_errors, 3);
        assert!(parse_wrk("nothing").is_err());
    }
}
