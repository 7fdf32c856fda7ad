//! The stats page in a real browser: headless Chromium (`regha_tests::browser`)
//! in the LB's namespace, against a running agent in the registry lab.
//!
//! - The page loads without auth, then, once a reload turned auth on,
//!   refuses the browser (401) until it sends the credentials.
//! - It shows every backend with its weight, ring share and expected
//!   share, the packet and byte rates of the traffic the clients send, and
//!   a graph per service (inline SVG, drawn by the browser).
//! - A backend that goes down shows DOWN, and the change is listed, in the
//!   same open page: it reloads itself (no script).
//! - Its totals and ring slots are `/metrics`' numbers.
//!
//! Screenshots (before and after the backend goes down) are saved under
//! `target/tmp/screenshots/`; their paths are printed.

use std::time::{Duration, Instant};

use regha_config::{Config, VrrpConfig};
use regha_model::Health;
use regha_tests::{
    browser::Browser,
    lab::{Lab, LabSpec, VIP, config},
    metrics::{basic, parse_metrics, value},
    wait::wait_for,
};

const URL: &str = "http://127.0.0.1:1158/";
const USER: &str = "oncall";
const PASSWORD: &str = "not-in-the-page";

fn vrrp_master(lab: &Lab) -> Config {
    let vrrp = VrrpConfig {
        priority: 150,
        ..config::vrrp(51, &[(std::net::IpAddr::V4(VIP), 32)])
    };
    config::with_vrrp(vrrp, vec![lab.service()])
}

/// Where the screenshots go: under `target/` (cargo's directory for the
/// files of integration tests), kept after the run.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("screenshots")
        .join(name)
}

/// The rows of the service's table, each as its cells' text; the header
/// row first.
fn rows(browser: &mut Browser) -> Vec<Vec<String>> {
    let v = browser.eval(
        "Array.from(document.querySelectorAll('table.svc tr')).map(r => Array.from(r.cells).map(c => c.innerText.trim()))",
    );
    serde_json::from_value(v).expect("rows of cells")
}

/// The cell of `backend`'s row under `column`.
fn cell(rows: &[Vec<String>], backend: &str, column: &str) -> String {
    let col = rows[0]
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column:?} in {:?}", rows[0]));
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(backend))
        .unwrap_or_else(|| panic!("no row for {backend} in {rows:?}"))[col]
        .clone()
}

#[test]
fn the_page_in_chromium_shows_every_backend_its_rates_and_a_backend_going_down() {
    let mut lab = LabSpec::one_lb(2).build();
    let config = vrrp_master(&lab);
    lab.start_agent(0, &config, &[]);
    lab.wait_backends_up(Duration::from_secs(10));
    let (be1, be2) = (lab.backend_addr(0), lab.backend_addr(1));

    // Without auth, as configured: it loads.
    let mut browser = Browser::launch(&lab.lbs[0].ns);
    browser.navigate(URL);
    let text = browser.text();
    for want in [be1.as_str(), be2.as_str(), "service registry", "VRRP"] {
        assert!(text.contains(want), "{want} missing from the page:\n{text}");
    }

    // With auth, once a reload turned it on: 401 until the browser sends
    // the credentials, from then on with every reload of the page.
    let pass_file = lab.path("stats.pass");
    std::fs::write(&pass_file, format!("{PASSWORD}\n")).unwrap();
    let with_auth = Config {
        stats: Some(config::stats_with_auth(USER, &pass_file)),
        ..config.clone()
    };
    let agent = lab.agent(0);
    agent.rewrite_config(&with_auth);
    agent.signal(libc::SIGHUP);
    wait_for(
        "the listener to ask for credentials",
        Duration::from_secs(10),
    )
    .context(|| agent.log())
    .until(|| lab.stats("/", &[]).is_ok_and(|a| a.status == 401));
    // Headless Chromium answers a Basic challenge it has no credentials
    // for by showing no page at all.
    assert_eq!(
        browser.try_navigate(URL),
        Err("net::ERR_INVALID_AUTH_CREDENTIALS".to_owned()),
        "without credentials"
    );
    assert!(
        !browser.text().contains(&be1),
        "nothing shows without credentials"
    );
    let header = basic(USER, PASSWORD);
    let (name, credentials) = header.split_once(": ").expect("a header line");
    browser.set_header(name, credentials);
    browser.navigate(URL);
    assert!(browser.text().contains(&be1), "{}", browser.text());
    assert!(!browser.html().contains(PASSWORD));

    // Traffic from sixteen sources for three samples of the listener.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(13) {
        assert!(
            lab.get_all().iter().all(|r| *r == Ok(200)),
            "{}",
            lab.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    browser.navigate(URL);
    let r = rows(&mut browser);
    for be in [&be1, &be2] {
        let rate = cell(&r, be, "packets/s");
        assert!(
            rate.parse::<f64>().is_ok_and(|p| p > 0.0),
            "{be}: packets/s {rate:?}\n{r:?}"
        );
        assert!(cell(&r, be, "bytes/s").ends_with("/s"));
        assert_eq!(cell(&r, be, "weight"), "1");
        assert_eq!(cell(&r, be, "expected"), "50.0%");
        let share: f64 = cell(&r, be, "ring share")
            .trim_end_matches('%')
            .parse()
            .unwrap();
        assert!((share - 50.0).abs() < 2.0, "{be}: ring share {share}");
    }
    let lines = browser.eval("document.querySelectorAll('svg.graph polyline').length");
    assert_eq!(
        lines,
        serde_json::json!(2),
        "a line per backend in the graph"
    );
    let drawn = browser.eval("document.querySelector('svg.graph').getBoundingClientRect().width");
    assert!(
        drawn.as_f64().is_some_and(|w| w > 100.0),
        "the graph is drawn: {drawn}"
    );
    let before = screenshot_path("stats-page-up.png");
    browser.screenshot(&before);
    eprintln!("screenshot: {}", before.display());

    // The same numbers as /metrics (no traffic now: the counters hold).
    let metrics = lab.stats("/metrics", &[&header]).expect("/metrics");
    let samples = parse_metrics(&metrics.body);
    browser.navigate(URL);
    let r = rows(&mut browser);
    for be in [&be1, &be2] {
        let labels = [("service", "registry"), ("backend", be.as_str())];
        let packets = value(&samples, "regha_backend_packets_total", &labels);
        assert_eq!(cell(&r, be, "packets"), format!("{packets}"), "{be}");
        let slots = value(&samples, "regha_backend_ring_slots", &labels);
        let title = browser.eval(&format!(
            "Array.from(document.querySelectorAll('table.svc tr')).find(r => r.cells[0].innerText.trim() == '{be}').cells[8].title"
        ));
        assert_eq!(title, serde_json::json!(format!("{slots} slots")), "{be}");
    }

    // be2 goes down: the open page shows it by itself.
    lab.registries[1].kill();
    lab.wait_backend_health(1, Health::Down, Duration::from_secs(10));
    let seen = std::cell::RefCell::new(String::new());
    wait_for("the open page to show be2 down", Duration::from_secs(15))
        .context(|| format!("the page showed:\n{}", seen.borrow()))
        .until(|| {
            let r = rows(&mut browser);
            let text = browser.text();
            // The dataplane keeps its flows for DOWN_GRACE (DRAINING),
            // then DOWN; either way out of the ring.
            let down = matches!(cell(&r, &be2, "state").as_str(), "DRAINING" | "DOWN")
                && cell(&r, &be2, "health") == "down"
                && text.contains("health up \u{2192} down")
                && cell(&r, &be1, "expected") == "100.0%";
            *seen.borrow_mut() = text;
            down
        });
    let after = screenshot_path("stats-page-be2-down.png");
    browser.screenshot(&after);
    eprintln!("screenshot: {}", after.display());
}
