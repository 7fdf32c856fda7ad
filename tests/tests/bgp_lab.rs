//! BGP mode (issue 14): three regha LBs announce one VIP to a router
//! running FRR, which spreads 200 long-lived connections from 50 client
//! addresses over them by ECMP. Every LB computes the same ring, so a
//! connection keeps its backend whichever LB its packets cross; the test
//! moves connections between LBs every way the issue names and checks
//! that none breaks:
//! - `regha-agent drain` on lb1: the route leaves the router's FIB and the
//!   drain reports the VIP's packets stopped;
//! - SIGKILL of lb2's agent, then a restart: the route never leaves (the
//!   pinned program steers on; the restart adopts the route);
//! - `undrain`: lb1 is back in the ECMP group;
//! - lb3's link cut: BFD (100 ms x 3) takes it out of the FIB.
//!
//! Also: FRR's configurations are those `regha-agent bgp-setup` prints,
//! and the agents show their FRR sessions (read with vtysh after dropping
//! their capabilities) and equal ring fingerprints.
//! Bounds are loose (a shared 2-CPU machine); the figures are printed.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use regha_agent::status::AgentStatus;
use regha_tests::lab::bgp::{BGP_VIP, BgpLab, Conns};

fn announced(s: &AgentStatus) -> bool {
    s.bgp
        .iter()
        .any(|b| b.vip == IpAddr::V4(BGP_VIP) && b.announced)
}

fn session_up(s: &AgentStatus) -> bool {
    s.routing
        .as_ref()
        .is_some_and(|r| r.bgp.iter().any(|b| b.state == "Established"))
}

/// `regha-agent <args>` against LB `lb`'s agent; stdout, or a panic with
/// stderr.
fn cli(lab: &BgpLab, lb: usize, args: &[&str]) -> String {
    let out = lab.cli(lb, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "regha-agent {args:?} on lb{} failed: {stdout}{}\n{}",
        lb + 1,
        String::from_utf8_lossy(&out.stderr),
        lab.logs()
    );
    stdout
}

#[test]
fn connections_survive_drain_crash_and_a_cut_lb() {
    let mut lab = BgpLab::new(3, 3, 50, 100);
    for lb in 0..3 {
        lab.start_lb(lb);
    }
    lab.wait_next_hops(&[0, 1, 2], Duration::from_secs(40));
    for lb in 0..3 {
        lab.lab.agent(lb).wait_for(
            "the VIP announced and FRR's session shown",
            Duration::from_secs(20),
            |s| announced(s) && session_up(s),
        );
    }
    let prints: Vec<Option<String>> = (0..3)
        .map(|lb| {
            let s = lab.lab.agent(lb).state().expect("state");
            s.services[0].ring_fingerprint.clone()
        })
        .collect();
    assert!(prints[0].is_some(), "no fingerprint: {prints:?}");
    assert!(
        prints.iter().all(|p| *p == prints[0]),
        "the LBs' rings differ: {prints:?}"
    );

    let conns = Conns::start(&lab, 4, Duration::from_millis(100));
    std::thread::sleep(Duration::from_secs(3));

    // 1. Drain lb1: withdrawn, gone from the router's FIB.
    let t = Instant::now();
    let fib = lab.watch_next_hops(&[1, 2], Duration::from_secs(5));
    let out = cli(&lab, 0, &["drain", "--timeout", "15s"]);
    let drain_fib = fib
        .join()
        .expect("watcher")
        .unwrap_or_else(|| panic!("lb1 still in the router's FIB: {:?}", lab.fib_next_hops()));
    assert!(out.contains("drained:"), "{out}");
    let s = lab.lab.agent(0).state().expect("state");
    assert!(s.bgp[0].drained && !s.bgp[0].announced, "{:?}", s.bgp);
    eprintln!(
        "drain: route out of the router's FIB {} ms after the command started (the command took {} ms): {out}",
        drain_fib.as_millis(),
        t.elapsed().as_millis()
    );

    // 2. SIGKILL lb2's agent: the route stays (the program steers on),
    // and the restart adopts it without a withdrawal.
    lab.lab.agent_mut(1).kill();
    let watch_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < watch_until {
        assert_eq!(
            lab.fib_next_hops(),
            vec![lab.lab.lbs[1].ip, lab.lab.lbs[2].ip],
            "a crashed agent's route must stay"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.lab.agent_mut(1).restart();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(
            lab.fib_next_hops(),
            vec![lab.lab.lbs[1].ip, lab.lab.lbs[2].ip],
            "a restart must adopt the route, not withdraw it\n{}",
            lab.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.lab.agent(1).wait_for(
        "announced after the restart",
        Duration::from_secs(10),
        announced,
    );
    assert!(
        lab.lab.agent(1).log().contains("VIP route adopted"),
        "{}",
        lab.logs()
    );

    // 3. Undrain lb1: back in the group.
    cli(&lab, 0, &["undrain"]);
    lab.wait_next_hops(&[0, 1, 2], Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));

    // 4. Cut lb3's link: BFD takes it out.
    lab.lab.switch.set_port(&lab.lab.lbs[2], false);
    let cut_fib = lab.wait_next_hops(&[0, 1], Duration::from_secs(5));
    eprintln!(
        "cut: lb3 out of the router's FIB {} ms after its link went down (BFD 100 ms x 3)",
        cut_fib.as_millis()
    );
    std::thread::sleep(Duration::from_secs(2));

    // 5. SIGTERM lb2's agent: it withdraws, steers on while the router
    // moves the flows, then stops.
    lab.lab.agent(1).signal(libc::SIGTERM);
    let term_fib = lab.wait_next_hops(&[0], Duration::from_secs(5));
    lab.lab.agent_mut(1).wait_exit(Duration::from_secs(10));
    eprintln!(
        "SIGTERM: lb2 out of the router's FIB {} ms after the signal",
        term_fib.as_millis()
    );
    std::thread::sleep(Duration::from_secs(2));

    let report = conns.stop();
    eprintln!(
        "{} connections, {} broken, longest stall {} ms, {} answers",
        report.connections,
        report.broken.len(),
        report.max_stall.as_millis(),
        report.answered
    );
    assert_eq!(report.connections, 200);
    assert!(
        report.broken.is_empty(),
        "connections broke: {:?}\n{}",
        &report.broken[..report.broken.len().min(10)],
        lab.logs()
    );
    assert!(
        report.max_stall < Duration::from_secs(4),
        "longest stall {:?}",
        report.max_stall
    );
}
