//! The lab the operating tests share (stats listener, admin commands): a
//! client with 16 source addresses, one LB, and real registries as DSR
//! backends of one service on the VIP, all on one bridge.

#![allow(dead_code, reason = "each test file uses a part of it")]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use regha_tests::{
    agent::{Agent, remove_stale_agent_pins},
    client::{HttpAnswer, http_fetch, http_get},
    lab::{HOST_IFACE, Host, Switch},
    registry::Registry,
    tempdir::TempDir,
};

pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const STATS: &str = "127.0.0.1:1158";

pub struct OpsLab {
    pub client: Host,
    pub lb: Host,
    pub backends: Vec<Host>,
    pub registries: Vec<Registry>,
    pub sources: Vec<Ipv4Addr>,
    pub dir: TempDir,
    pub sw: Switch,
}

impl OpsLab {
    pub fn new(n_backends: u8) -> Self {
        regha_tests::require_root();
        remove_stale_agent_pins();
        let sw = Switch::new();
        let dir = TempDir::new("ops");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let client = sw.plug("client", Ipv4Addr::new(192, 0, 2, 1), [2, 0, 0, 0, 0, 1]);
        let lb = sw.plug("lb1", Ipv4Addr::new(192, 0, 2, 2), [2, 0, 0, 0, 0, 2]);
        let mut backends = Vec::new();
        let mut registries = Vec::new();
        for i in 0..n_backends {
            let last = 11 + i;
            let be = sw.plug(
                &format!("be{}", i + 1),
                Ipv4Addr::new(192, 0, 2, last),
                [2, 0, 0, 0, 0, last],
            );
            be.dsr_backend(VIP);
            registries.push(Registry::start(&be, dir.path(), &storage));
            backends.push(be);
        }
        let sources: Vec<Ipv4Addr> = (20..36).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect();
        for s in &sources {
            client
                .ns
                .ip(&["addr", "add", &format!("{s}/24"), "dev", HOST_IFACE]);
        }
        Self {
            client,
            lb,
            backends,
            registries,
            sources,
            dir,
            sw,
        }
    }

    /// A config: `head` (the role or a vrrp section), the registry service
    /// over every backend, and `tail` (e.g. a stats section).
    pub fn config(&self, head: &str, tail: &str) -> String {
        let list: String = self
            .backends
            .iter()
            .map(|b| format!("      - {{ address: {} }}\n", b.ip))
            .collect();
        format!(
            "interface: eth0\n{head}xdp_mode: generic\nhash_seed: 7\nservices:\n  - name: registry\n    vip: {VIP}\n    port: 5000\n    health: {{ http: {{ path: /v2/ }}, interval: 200ms, timeout: 150ms, rise: 2, fall: 3 }}\n    backends:\n{list}{tail}"
        )
    }

    /// `192.0.2.1x:5000` of backend `i`.
    pub fn backend_addr(&self, i: usize) -> String {
        format!("{}:5000", self.backends[i].ip)
    }

    /// `GET /v2/` from every client source through the VIP, one connection each.
    pub fn get_all(&self) -> Vec<Result<u16, String>> {
        let sources = self.sources.clone();
        self.client.ns.run(move || {
            sources
                .iter()
                .map(|s| http_get(IpAddr::V4(*s), vip_port(), "/v2/"))
                .collect()
        })
    }

    pub fn get_from(&self, src: Ipv4Addr) -> Result<u16, String> {
        self.client
            .ns
            .run(move || http_get(IpAddr::V4(src), vip_port(), "/v2/"))
    }

    /// `GET path` on the stats listener, from inside the LB's namespace.
    pub fn stats(&self, path: &str, headers: &[&str]) -> Result<HttpAnswer, String> {
        let path = path.to_owned();
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        self.lb.ns.run(move || {
            let h: Vec<&str> = headers.iter().map(String::as_str).collect();
            http_fetch(STATS.parse().unwrap(), &path, &h)
        })
    }
}

pub fn vip_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(VIP), 5000)
}

/// `Authorization: Basic ...` for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The named backend's entry in the agent's state.
pub fn backend_state<'a>(
    s: &'a regha_agent::status::AgentStatus,
    addr: &str,
) -> &'a regha_agent::status::BackendStatus {
    s.services[0]
        .backends
        .iter()
        .find(|b| b.address.to_string() == addr)
        .unwrap_or_else(|| panic!("{addr} not in the state: {s:#?}"))
}

pub fn wait_all_up(agent: &Agent) {
    agent.wait_for("every backend up", Duration::from_secs(10), |s| {
        s.services[0].backends.iter().all(|b| {
            b.health == regha_model::Health::Up && b.state == Some(regha_model::BackendState::Up)
        })
    });
}

/// Samples of a Prometheus text page, by name and labels.
pub type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses `/metrics` with a Prometheus text parser, strictly: every sample
/// line must parse, counters must be typed as counters.
pub fn parse_metrics(text: &str) -> Samples {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"));
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "every sample line parses:\n{text}"
    );
    let mut out = Samples::new();
    for s in scrape.samples {
        let value = match s.value {
            prometheus_parse::Value::Counter(v) => {
                assert!(
                    s.metric.ends_with("_total"),
                    "counter {} without _total",
                    s.metric
                );
                v
            }
            prometheus_parse::Value::Gauge(v) => {
                assert!(
                    !s.metric.ends_with("_total"),
                    "gauge {} named like a counter",
                    s.metric
                );
                v
            }
            other => panic!("{}: unexpected type {other:?}", s.metric),
        };
        assert!(s.metric.starts_with("regha_"), "{}", s.metric);
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert((s.metric, labels), value);
    }
    out
}

/// The value of `name{labels}`; panics when it is missing.
pub fn value(m: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = (
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    *m.get(&key)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} among {:#?}", m.keys()))
}

/// Polls `cond` every 50 ms for up to `limit`.
pub fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
