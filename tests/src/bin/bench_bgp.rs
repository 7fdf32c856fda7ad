//! `cargo xtask bench-e2e --bgp`: BGP mode (issue 14) under the events the
//! issue names, on the lab of `regha_tests::lab::bgp` (a router running
//! FRR with BFD, three regha LBs each with FRR, three registries, 200
//! long-lived keep-alive connections from 50 client addresses, a request
//! on each every 100 ms, and a new connection every 20 ms beside them).
//!
//! Scenarios, each `--runs` times on a fresh lab:
//! 1. `add-lb`: a fourth LB starts (FRR and agent);
//! 2. `drain`: `regha-agent drain` on lb1;
//! 3. `sigkill`: lb1's agent SIGKILLed (the route must stay);
//! 4. `cut`: lb1's link down, BFD 100 ms x 3; `cut-bfd300`: the same with
//!    BFD 300 ms x 3;
//! 5. `cut+reload`: lb1's link down while be3 is removed from the others'
//!    config by reload; `cut+reload+sync`: the same with flow sync from
//!    every LB to every other (`flow_sync.peers`), so the others hold lb1's
//!    flows;
//!
//! and `baseline`: nothing happens (the stalls the loaded 2-CPU lab shows
//! without any event).
//!
//! Per run: connections, broken, the longest stall of any connection, the
//! time from the event to the router's FIB change (`fib_removal_ms`: lb1
//! gone; for `add-lb` the time until lb4 is in, for `sigkill` null: the
//! route stays), and new connections that failed. Prints a table and writes
//! `target/bench/bgp.json`.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use regha_tests::lab::bgp::{BgpLab, Conns, NewConns};
use serde_json::json;

const SCENARIOS: [&str; 8] = [
    "baseline",
    "add-lb",
    "drain",
    "sigkill",
    "cut",
    "cut-bfd300",
    "cut+reload",
    "cut+reload+sync",
];
/// Connections per source (50 sources: 200 connections).
const PER_SOURCE: usize = 4;
const SOURCES: u8 = 50;
/// A request on each connection this often: 800 requests/s over the 200.
const REQUEST_EVERY: Duration = Duration::from_millis(250);

struct Row {
    scenario: &'static str,
    run: usize,
    connections: usize,
    broken: usize,
    max_stall_ms: u128,
    fib_removal_ms: Option<u128>,
    failed_new: u32,
    tried_new: u32,
    note: String,
}

fn run_one(scenario: &'static str, run: usize) -> Result<Row> {
    let bfd = if scenario == "cut-bfd300" { 300 } else { 100 };
    let lbs = if scenario == "add-lb" { 4 } else { 3 };
    let mut lab = BgpLab::new(lbs, 3, SOURCES, bfd);
    lab.flow_sync = scenario.ends_with("+sync");
    for lb in 0..3 {
        lab.start_lb(lb);
    }
    lab.wait_next_hops(&[0, 1, 2], Duration::from_secs(60));
    for lb in 0..3 {
        lab.lab
            .agent(lb)
            .wait_for("the VIP announced", Duration::from_secs(30), |s| {
                s.bgp.iter().any(|b| b.announced)
            });
    }
    let conns = Conns::start(&lab, PER_SOURCE, REQUEST_EVERY);
    let new = NewConns::start(&lab, Duration::from_millis(20));
    std::thread::sleep(Duration::from_secs(3));
    let mut note = String::new();
    let fib = match scenario {
        "add-lb" => {
            let w = lab.watch_next_hops(&[0, 1, 2, 3], Duration::from_secs(30));
            lab.start_lb(3);
            w.join().expect("watcher")
        }
        "drain" => {
            let w = lab.watch_next_hops(&[1, 2], Duration::from_secs(10));
            let out = lab.cli(0, &["drain", "--timeout", "15s"]);
            note = String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned();
            w.join().expect("watcher")
        }
        "sigkill" => {
            lab.lab.agent_mut(0).kill();
            let until = Instant::now() + Duration::from_secs(3);
            let mut stayed = true;
            while Instant::now() < until {
                stayed &= lab.fib_next_hops().len() == 3;
                std::thread::sleep(Duration::from_millis(20));
            }
            note = format!("route stayed: {stayed}");
            None
        }
        "cut" | "cut-bfd300" => {
            let w = lab.watch_next_hops(&[1, 2], Duration::from_secs(10));
            lab.lab.switch.set_port(&lab.lab.lbs[0], false);
            w.join().expect("watcher")
        }
        "baseline" => None,
        "cut+reload" | "cut+reload+sync" => {
            let w = lab.watch_next_hops(&[1, 2], Duration::from_secs(10));
            for lb in 1..3 {
                let config = lab.config_over(lb, &[0, 1]);
                let agent = lab.lab.agent(lb);
                agent.rewrite_config(&config);
                agent.signal(libc::SIGHUP);
            }
            lab.lab.switch.set_port(&lab.lab.lbs[0], false);
            w.join().expect("watcher")
        }
        other => bail!("unknown scenario {other}"),
    };
    std::thread::sleep(Duration::from_secs(4));
    let report = conns.stop();
    let (tried_new, failed_new) = new.stop();
    if !report.broken.is_empty() && note.is_empty() {
        note = report
            .broken
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
    }
    Ok(Row {
        scenario,
        run,
        connections: report.connections,
        broken: report.broken.len(),
        max_stall_ms: report.max_stall.as_millis(),
        fib_removal_ms: fib.map(|d| d.as_millis()),
        failed_new,
        tried_new,
        note,
    })
}

fn main() -> Result<()> {
    regha_tests::require_root();
    let mut runs = 3usize;
    let mut only: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--runs needs a number")?;
            }
            "--scenario" => only = it.next(),
            other => bail!("unknown argument {other:?} (--runs N, --scenario NAME)"),
        }
    }
    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        if only.as_deref().is_some_and(|o| o != scenario) {
            continue;
        }
        for run in 1..=runs {
            let row = run_one(scenario, run)?;
            println!(
                "{:<11} run {}  connections {}  broken {}  longest stall {} ms  FIB {}  new failed {}/{}  {}",
                row.scenario,
                row.run,
                row.connections,
                row.broken,
                row.max_stall_ms,
                row.fib_removal_ms
                    .map_or("-".to_owned(), |v| format!("{v} ms")),
                row.failed_new,
                row.tried_new,
                row.note
            );
            rows.push(row);
        }
    }
    let doc: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "scenario": r.scenario,
                "run": r.run,
                "connections": r.connections,
                "broken": r.broken,
                "max_stall_ms": r.max_stall_ms,
                "fib_removal_ms": r.fib_removal_ms,
                "failed_new": r.failed_new,
                "tried_new": r.tried_new,
                "note": r.note,
            })
        })
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("bgp.json"), serde_json::to_string_pretty(&doc)?)?;
    println!("\nwritten to {}", dir.join("bgp.json").display());
    Ok(())
}
