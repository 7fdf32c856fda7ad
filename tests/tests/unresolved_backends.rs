//! Nothing blocks a decision on its way to the maps (issue 12): 50
//! configured backends whose addresses no host holds (their MACs never
//! resolve) beside 2 real registries, checked every second. The service is
//! written with its two real backends soon after start, and a health
//! decision (a registry killed) reaches the maps promptly
//! (`decision_to_map_us`, logged with each applied service).
//!
//! The issue asks for 100 ms and 1 s. This debug build on the shared
//! 2-core machine measured 62-76 ms (50 ms of it the window that gathers
//! decisions of the same event into one write) and 357-462 ms, five runs
//! on 2026-12-01; an earlier run under load measured about 185 ms. With
//! checks every 200 ms it measured 119-141 ms (an earlier build of
//! 2026-11-30 measured about 920 ms there). So the bounds below are loose
//! and the figures printed.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use regha_model::{BackendState, Health};
use regha_tests::lab::{self, Lab, LabSpec};

/// From spawning the agent to the service written with both real backends
/// up: the issue asks for 1 s; the bound is loose for a shared machine
/// (the agent's own start, BPF load included, is in it). Printed.
const WRITTEN_WITHIN: Duration = Duration::from_secs(2);
const DECISION_TO_MAP_US: u64 = 500_000;

/// `decision_to_map_us` of the last "service applied" line with `up=1`.
fn last_decision_us(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .filter(|l| l.contains("service applied") && l.contains(" up=1 "))
        .filter_map(|l| {
            let v = l.split("decision_to_map_us=").nth(1)?;
            v.split_whitespace().next()?.parse().ok()
        })
        .next()
}

#[test]
fn fifty_unresolved_backends_hold_back_neither_the_service_nor_a_decision() {
    let mut lab = Lab::new(LabSpec::one_lb(2).check_interval(Duration::from_secs(1)));
    let mut config = lab.regha_config(0, &[0, 1]);
    config.services[0]
        .backends
        .extend((150..200).map(|i| lab::config::backend(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))));
    let started = Instant::now();
    lab.start_agent(0, &config, &[]);
    lab.agent(0).wait_for(
        "the service written with its two real backends up",
        Duration::from_secs(30),
        |s| {
            s.services[0]
                .backends
                .iter()
                .filter(|b| b.state == Some(BackendState::Up))
                .count()
                == 2
        },
    );
    let took = started.elapsed();
    eprintln!("service written with both real backends up {took:?} after the agent was started");
    assert!(
        took <= WRITTEN_WITHIN,
        "the service took {took:?} to be written\n{}",
        lab.logs()
    );

    // A decision: be1's registry is killed (refused: down at its next check).
    lab.registries[0].kill();
    lab.agent(0).wait_for(
        "be1 down and out of the ring",
        Duration::from_secs(10),
        |s| {
            // Draining: out of the ring, its flows kept for DOWN_GRACE.
            s.services[0].backends[0].health == Health::Down
                && s.services[0].backends[0].state == Some(BackendState::Draining)
        },
    );
    std::thread::sleep(Duration::from_millis(200));
    let log = lab.agent(0).log();
    let us = last_decision_us(&log).unwrap_or_else(|| panic!("no decision logged\n{log}"));
    eprintln!("be1 down: decision_to_map_us={us}");
    assert!(
        us <= DECISION_TO_MAP_US,
        "the decision took {us} µs to reach the maps\n{log}"
    );
}
