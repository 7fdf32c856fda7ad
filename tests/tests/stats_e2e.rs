//! The stats listener of a running agent, in the registry lab: `/metrics`
//! read by a Prometheus text parser and checked against the packets the
//! backends actually received through the VIP, the page for every backend,
//! `/status` as `regha-agent status --json`, and basic auth enforced.

use std::time::Duration;

use regha_config::Config;
use regha_model::Role;
use regha_tests::{
    lab::{Lab, LabSpec, VIP, capture, config},
    metrics::{basic, parse_metrics, value},
};

const USER: &str = "admin";
const PASSWORD: &str = "pa55-w0rd not logged";

/// Frames for VIP:5000/tcp (client to backend) seen in a backend's namespace.
fn vip_frames(how_long: Duration) -> Vec<Vec<u8>> {
    capture::capture(0x0800, how_long, |f| {
        if f.len() < 14 + 20 + 4 || f[14 + 9] != 6 || f[30..34] != VIP.octets() {
            return false;
        }
        let ihl = usize::from(f[14] & 0x0f) * 4;
        f.len() >= 14 + ihl + 4 && u16::from_be_bytes([f[14 + ihl + 2], f[14 + ihl + 3]]) == 5000
    })
}

/// A static master over every backend.
fn master(lab: &Lab) -> Config {
    config::with_role(Role::Master, vec![lab.service()])
}

#[test]
fn metrics_match_the_traffic_the_backends_received_and_auth_guards_every_page() {
    let mut lab = LabSpec::one_lb(2).build();
    let pass_file = lab.path("stats.pass");
    std::fs::write(&pass_file, format!("{PASSWORD}\n")).unwrap();
    let config = Config {
        stats: Some(config::stats_with_auth(USER, &pass_file)),
        ..master(&lab)
    };
    lab.start_agent(0, &config, &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let agent = lab.agent(0);
    let auth = basic(USER, PASSWORD);
    let scrape = || {
        let a = lab
            .stats("/metrics", &[&auth])
            .unwrap_or_else(|e| panic!("/metrics: {e}\n{}", agent.log()));
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            a.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        parse_metrics(&a.body)
    };

    // Capture what each backend receives for the VIP while clients talk to it.
    let captures: Vec<_> = lab
        .backends
        .iter()
        .map(|b| b.ns.spawn(|| vip_frames(Duration::from_secs(5))))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = scrape();
    let results = lab.get_all();
    assert!(
        results.iter().all(|r| r == &Ok(200)),
        "through the VIP: {results:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let after = scrape();
    let seen: Vec<Vec<Vec<u8>>> = captures.into_iter().map(|c| c.join().unwrap()).collect();

    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let mut flows = 0.0;
    let mut packets = 0.0;
    for (i, frames) in seen.iter().enumerate() {
        let be = lab.backend_addr(i);
        let labels = [("service", "registry"), ("backend", be.as_str())];
        let bytes: usize = frames.iter().map(Vec::len).sum();
        assert_eq!(
            delta("regha_backend_packets_total", &labels),
            frames.len() as f64,
            "{be}: packets counted = packets received"
        );
        assert_eq!(
            delta("regha_backend_bytes_total", &labels),
            bytes as f64,
            "{be}: bytes counted = bytes received"
        );
        flows += delta("regha_backend_new_flows_total", &labels);
        packets += delta("regha_backend_packets_total", &labels);
        assert_eq!(value(&after, "regha_backend_up", &labels), 1.0);
        let state = |s: &str| {
            value(
                &after,
                "regha_backend_state",
                &[labels[0], labels[1], ("state", s)],
            )
        };
        assert_eq!(
            (state("up"), state("draining"), state("down")),
            (1.0, 0.0, 0.0)
        );
        assert_eq!(
            value(
                &after,
                "regha_backend_admin_state",
                &[labels[0], labels[1], ("state", "enabled")]
            ),
            1.0
        );
        assert_eq!(value(&after, "regha_backend_check_success", &labels), 1.0);
        let latency = value(&after, "regha_backend_check_duration_seconds", &labels);
        assert!(
            latency > 0.0 && latency < 0.15,
            "{be}: last check took {latency} s (timeout 150ms)"
        );
        assert!(value(&after, "regha_backend_checks_total", &labels) >= 2.0);
    }
    assert!(
        seen.iter().all(|f| !f.is_empty()),
        "both backends served some of the 16 sources"
    );
    assert_eq!(flows, 16.0, "one new flow per connection");
    let svc = [("service", "registry")];
    assert_eq!(delta("regha_service_new_flows_total", &svc), 16.0);
    assert_eq!(delta("regha_service_packets_total", &svc), packets);
    for reason in ["not_ip", "not_service", "no_backend", "malformed"] {
        value(
            &after,
            "regha_dataplane_not_forwarded_packets_total",
            &[("reason", reason)],
        );
    }
    assert!(value(&after, "regha_ring_swaps_total", &[]) >= 1.0);
    let swap = value(&after, "regha_ring_swap_last_duration_seconds", &[]);
    assert!(swap > 0.0 && swap < 1.0, "last swap {swap} s");
    assert_eq!(value(&after, "regha_holds_vips", &[]), 1.0);

    // The page: one row per backend, with state and traffic.
    let page = lab.stats("/", &[&auth]).unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.body
            .contains("<h2>service registry &mdash; 192.0.2.100:5000/tcp</h2>")
    );
    assert!(page.body.contains("http-equiv=\"refresh\""));
    for i in 0..2 {
        let row = page
            .body
            .lines()
            .find(|l| l.contains(&format!("<td>{}</td>", lab.backend_addr(i))))
            .unwrap_or_else(|| panic!("no row for backend {i}:\n{}", page.body));
        assert!(row.starts_with("<tr class=\"up\">"), "{row}");
        assert!(row.contains("OK HTTP 200"), "{row}");
    }

    // /status is the CLI's document.
    let status = lab.stats("/status", &[&auth]).unwrap();
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    let out = agent.cli(&[], &["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shape = |d: &serde_json::Value| {
        let mut keys: Vec<String> = d.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let backends: Vec<(String, String, String)> = d["services"][0]["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["address"].as_str().unwrap().to_owned(),
                    b["state"].as_str().unwrap().to_owned(),
                    b["admin"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (keys, backends, d["agent"]["pid"].clone())
    };
    assert_eq!(shape(&doc), shape(&cli), "/status is `status --json`");
    assert_eq!(doc["agent_running"], true);

    // Basic auth: 401 without, with a wrong password or user; 200 with.
    for path in ["/", "/metrics", "/status"] {
        let none = lab.stats(path, &[]).unwrap();
        assert_eq!(none.status, 401, "{path} without credentials");
        assert!(
            none.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Basic ")),
            "{path}: a Basic challenge"
        );
        assert!(!none.body.contains("registry"), "{path}: nothing leaks");
        for (u, p) in [(USER, "wrong"), ("root", PASSWORD), (USER, "")] {
            assert_eq!(
                lab.stats(path, &[&basic(u, p)]).unwrap().status,
                401,
                "{path} as {u}:{p}"
            );
        }
        assert_eq!(
            lab.stats(path, &[&auth]).unwrap().status,
            200,
            "{path} with credentials"
        );
    }
    assert_eq!(lab.stats("/nope", &[&auth]).unwrap().status, 404);
    assert!(
        !agent.log().contains(PASSWORD),
        "the password is never logged"
    );
}

/// Without a `stats` key the listener is on 127.0.0.1:1158 without auth;
/// `stats: null` turns it off.
#[test]
fn stats_default_listens_without_auth_and_null_turns_it_off() {
    let mut lab = LabSpec::one_lb(1).build();
    lab.start_agent(0, &master(&lab), &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let m = lab
        .stats("/metrics", &[])
        .unwrap_or_else(|e| panic!("default listener: {e}\n{}", lab.logs()));
    assert_eq!(m.status, 200);
    let samples = parse_metrics(&m.body);
    let be = lab.backend_addr(0);
    assert_eq!(
        value(
            &samples,
            "regha_backend_up",
            &[("service", "registry"), ("backend", &be)]
        ),
        1.0
    );

    let agent = lab.agent(0);
    agent.rewrite_config(&Config {
        stats: None,
        ..master(&lab)
    });
    agent.signal(libc::SIGTERM);
    assert!(lab.agent_mut(0).wait_exit(Duration::from_secs(5)).success());
    lab.agent_mut(0).restart();
    lab.wait_backends_up(Duration::from_secs(10));
    let refused = lab.stats("/metrics", &[]);
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("refused")),
        "stats: null listens nowhere: {refused:?}"
    );
}
