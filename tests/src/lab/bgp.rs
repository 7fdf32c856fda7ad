//! BGP mode's lab (issue 14): the registry lab's LB segment with a router
//! in front of it, running FRR, and a client subnet behind the router.
//!
//! ```text
//!  client (198.51.100.2, + sources .10..)      router: FRR bgpd + bfdd, ECMP
//!        \__ veth __ router (198.51.100.1 | 192.0.2.254) __ switch (br0)
//!                                                       |       |       |
//!                                         lb1..lbN: regha (BGP mode) + FRR
//!                                         be1..beN: registries, VIP on lo
//! ```
//!
//! The VIP, [`BGP_VIP`], is on no segment: the router reaches it only
//! through the LBs' announcements. Each LB runs FRR with the configuration
//! `regha-agent bgp-setup --side lb` prints, the router the one of `--side
//! router`: the lab tests the shipped configuration. FRR's daemons are
//! started by hand per namespace (systemd is not PID 1 here), zebra
//! first, and stopped before the namespaces go (see [`Frr`]).

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use regha_config::{BgpConfig, Config, FrrConfig};

use super::{Host, Lab, LabSpec, config};
use crate::{
    agent::agent_bin,
    netns::{NetNs, VethSpec, veth},
    wait::wait_for,
};

/// The announced VIP (TEST-NET-3, on no segment).
pub const BGP_VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The router's address on the LB segment.
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
/// The router's address on the client subnet.
pub const ROUTER_CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The client's own address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const ROUTER_ASN: u32 = 65000;
/// Every LB's AS (one AS, so the router's paths are equal for ECMP).
pub const LB_ASN: u32 = 65010;

/// FRR (zebra, bfdd, bgpd) in one namespace, stopped on drop.
pub struct Frr {
    pathspace: String,
    run_dir: PathBuf,
}

const DAEMONS: [&str; 3] = ["zebra", "bfdd", "bgpd"];

impl Frr {
    /// Starts the daemons in `ns` and applies `conf` with vtysh.
    pub fn start(ns: &NetNs, conf: &Path) -> Self {
        let pathspace = ns.name().to_owned();
        let run_dir = PathBuf::from("/var/run/frr").join(&pathspace);
        std::fs::create_dir_all(&run_dir).expect("create FRR's run directory");
        let status = Command::new("chown")
            .args(["frr:frr", &run_dir.to_string_lossy()])
            .status()
            .expect("chown");
        assert!(status.success(), "chown frr:frr {}", run_dir.display());
        let frr = Self { pathspace, run_dir };
        for d in DAEMONS {
            let pid = frr.run_dir.join(format!("{d}.pid"));
            let out = ns
                .command(&format!("/usr/lib/frr/{d}"))
                .args(["-d", "-F", "datacenter", "-N", &frr.pathspace, "-P", "0"])
                .args(["-f", "/dev/null", "-i"])
                .arg(&pid)
                .output()
                .unwrap_or_else(|e| {
                    panic!("start {d}: {e} (is Debian's frr installed? `cargo xtask setup`)")
                });
            assert!(
                out.status.success(),
                "{d} did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if d == "zebra" {
                let api = frr.run_dir.join("zserv.api");
                wait_for("zebra's zserv.api", Duration::from_secs(10)).until(|| api.exists());
            }
        }
        for d in DAEMONS {
            let vty = frr.run_dir.join(format!("{d}.vty"));
            wait_for(format!("{d}'s vty socket"), Duration::from_secs(10)).until(|| vty.exists());
        }
        let out = Command::new("vtysh")
            .args(["-N", &frr.pathspace, "-f"])
            .arg(conf)
            .output()
            .expect("run vtysh");
        assert!(
            out.status.success(),
            "vtysh -f {} failed: {}{}",
            conf.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        frr
    }

    /// `vtysh -N <ns> -c <command>`'s output.
    pub fn vtysh(&self, command: &str) -> String {
        let out = Command::new("vtysh")
            .args(["-N", &self.pathspace, "-c", command])
            .output()
            .expect("run vtysh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pids(&self) -> Vec<i32> {
        DAEMONS
            .iter()
            .filter_map(|d| std::fs::read_to_string(self.run_dir.join(format!("{d}.pid"))).ok())
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        let pids = self.pids();
        for &pid in &pids {
            // SAFETY: kill(2) on a daemon this guard started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(4);
        // SAFETY: kill with signal 0 only checks the process exists.
        while pids.iter().any(|&p| unsafe { libc::kill(p, 0) } == 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for &pid in &pids {
            // SAFETY: as above; a daemon that did not stop in time.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// The lab. Field order is drop order: FRR first, then the client and
/// router namespaces, then the registry lab (agents, hosts, switch).
pub struct BgpLab {
    pub lb_frr: Vec<Option<Frr>>,
    pub router_frr: Option<Frr>,
    pub client: NetNs,
    pub router: Host,
    /// The client's source addresses (its own first).
    pub sources: Vec<Ipv4Addr>,
    /// The LBs sync their flows to every other LB (`flow_sync.peers`),
    /// for agents started after it is set.
    pub flow_sync: bool,
    /// BFD's interval on every session (ms, multiplier 3).
    bfd_ms: u32,
    pub lab: Lab,
}

/// `regha-agent bgp-setup` with `args`, its output.
fn bgp_setup(args: &[String]) -> String {
    let out = Command::new(agent_bin())
        .arg("bgp-setup")
        .args(args)
        .output()
        .expect("run regha-agent bgp-setup");
    assert!(
        out.status.success(),
        "bgp-setup {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

impl BgpLab {
    /// `lbs` bare LBs, `backends` registries checked every 500 ms, the
    /// router and a client with `sources` addresses; FRR on the router.
    pub fn new(lbs: u8, backends: u8, n_sources: u8, bfd_ms: u32) -> Self {
        let lab = LabSpec::bare(lbs)
            .registries(backends)
            .check_interval(Duration::from_millis(500))
            .build();
        for be in &lab.backends {
            be.dsr_backend(IpAddr::V4(BGP_VIP));
            be.ns.ip(&[
                "route",
                "add",
                "198.51.100.0/24",
                "via",
                &ROUTER_IP.to_string(),
            ]);
        }
        let router = lab
            .switch
            .plug("router", ROUTER_IP, super::mac_of(ROUTER_IP));
        let client = NetNs::new("bgpclient");
        veth(
            &VethSpec {
                ns: &router.ns,
                name: "eth1",
                mac: [2, 0, 0, 0, 0x64, 1],
            },
            &VethSpec {
                ns: &client,
                name: "eth0",
                mac: [2, 0, 0, 0, 0x64, 2],
            },
        );
        router.ns.ip(&[
            "addr",
            "add",
            &format!("{ROUTER_CLIENT_IP}/24"),
            "dev",
            "eth1",
        ]);
        for (k, v) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.fib_multipath_hash_policy", "1"),
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.default.rp_filter", "0"),
        ] {
            router.ns.sysctl(k, v);
        }
        let mut sources = vec![CLIENT_IP];
        sources
            .extend((0..n_sources.saturating_sub(1)).map(|i| Ipv4Addr::new(198, 51, 100, 10 + i)));
        for s in &sources {
            client.ip(&["addr", "add", &format!("{s}/24"), "dev", "eth0"]);
        }
        client.ip(&[
            "route",
            "add",
            "default",
            "via",
            &ROUTER_CLIENT_IP.to_string(),
        ]);
        let lb_ips: Vec<String> = lab.lbs.iter().map(|l| l.ip.to_string()).collect();
        let mut args: Vec<String> = [
            "--side",
            "router",
            "--hostname",
            "router",
            "--asn",
            &ROUTER_ASN.to_string(),
            "--peer-asn",
            &LB_ASN.to_string(),
            "--router-id",
            &ROUTER_IP.to_string(),
            "--vip",
            &BGP_VIP.to_string(),
            "--bfd-interval-ms",
            &bfd_ms.to_string(),
        ]
        .map(String::from)
        .to_vec();
        for ip in &lb_ips {
            args.extend(["--peer".to_owned(), ip.clone()]);
        }
        let conf = lab.path("frr-router.conf");
        std::fs::write(&conf, bgp_setup(&args)).expect("write the router's FRR config");
        let router_frr = Some(Frr::start(&router.ns, &conf));
        let n = lab.lbs.len();
        Self {
            lb_frr: (0..n).map(|_| None).collect(),
            router_frr,
            client,
            router,
            sources,
            flow_sync: false,
            bfd_ms,
            lab,
        }
    }

    /// Starts FRR on LB `lb` with `bgp-setup --side lb`'s config.
    pub fn start_lb_frr(&mut self, lb: usize) {
        let bfd_ms = self.bfd_ms.to_string();
        let host = &self.lab.lbs[lb];
        let args: Vec<String> = [
            "--side",
            "lb",
            "--hostname",
            &format!("lb{}", lb + 1),
            "--asn",
            &LB_ASN.to_string(),
            "--peer-asn",
            &ROUTER_ASN.to_string(),
            "--router-id",
            &host.ip.to_string(),
            "--peer",
            &ROUTER_IP.to_string(),
            "--vip",
            &BGP_VIP.to_string(),
            "--bfd-interval-ms",
            &bfd_ms,
        ]
        .map(String::from)
        .to_vec();
        let conf = self.lab.path(&format!("frr-lb{}.conf", lb + 1));
        std::fs::write(&conf, bgp_setup(&args)).expect("write the LB's FRR config");
        self.lb_frr[lb] = Some(Frr::start(&host.ns, &conf));
    }

    /// The agent config of LB `lb`: the registry service on [`BGP_VIP`]
    /// over every backend, announced over BGP.
    pub fn config(&self, lb: usize) -> Config {
        let all: Vec<usize> = (0..self.lab.backends.len()).collect();
        self.config_over(lb, &all)
    }

    /// [`BgpLab::config`] over the backends `backends` only.
    pub fn config_over(&self, lb: usize, backends: &[usize]) -> Config {
        let backends = backends
            .iter()
            .map(|&i| IpAddr::V4(self.lab.backends[i].ip));
        let pathspace = self.lab.lbs[lb].ns.name().to_owned();
        let flow_sync = self.flow_sync.then(|| {
            let key = self.lab.flow_sync_key();
            if !key.exists() {
                std::fs::write(&key, [7u8; 32]).expect("write the flow sync key");
            }
            regha_config::FlowSyncConfig {
                peers: (0..self.lab.lbs.len())
                    .filter(|&i| i != lb)
                    .map(|i| IpAddr::V4(self.lab.lbs[i].ip))
                    .collect(),
                ..regha_config::FlowSyncConfig::new(key)
            }
        });
        Config {
            flow_sync,
            stats: None,
            role: None,
            xdp_mode: self.lab.spec.xdp_mode,
            bgp: Some(BgpConfig {
                vips: vec![IpAddr::V4(BGP_VIP)],
                min_healthy: 1,
                warmup: Duration::from_millis(500),
                route_protocol: regha_config::DEFAULT_BGP_ROUTE_PROTOCOL,
                drain_timeout: Duration::from_secs(10),
                frr: Some(FrrConfig {
                    pathspace: Some(pathspace),
                    ..FrrConfig::default()
                }),
            }),
            ..config::with_role(
                regha_model::Role::Backup,
                vec![config::registry(
                    IpAddr::V4(BGP_VIP),
                    backends,
                    self.lab.spec.check_interval,
                )],
            )
        }
    }

    /// FRR and the agent on LB `lb`.
    pub fn start_lb(&mut self, lb: usize) {
        self.start_lb_frr(lb);
        let config = self.config(lb);
        self.lab.start_agent(lb, &config, &[]);
    }

    /// The router's next hops for the VIP in its kernel FIB (the LBs it
    /// sends the VIP's packets to), sorted.
    pub fn fib_next_hops(&self) -> Vec<Ipv4Addr> {
        let text = self
            .router
            .ns
            .ip(&["-4", "route", "show", &format!("{BGP_VIP}/32")]);
        next_hops(&text)
    }
}

/// The next hops in `ip route show` output, sorted.
fn next_hops(text: &str) -> Vec<Ipv4Addr> {
    {
        let mut hops: Vec<Ipv4Addr> = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "via")
            .filter_map(|w| w[1].parse().ok())
            .collect();
        hops.sort_unstable();
        hops.dedup();
        hops
    }
}

impl BgpLab {
    /// Waits until the router's FIB sends the VIP to exactly `lbs`; the
    /// time it took.
    #[track_caller]
    pub fn wait_next_hops(&self, lbs: &[usize], limit: Duration) -> Duration {
        let mut want: Vec<Ipv4Addr> = lbs.iter().map(|&i| self.lab.lbs[i].ip).collect();
        want.sort_unstable();
        let start = Instant::now();
        wait_for(
            format!("the router's next hops for {BGP_VIP} to be {want:?}"),
            limit,
        )
        .every(Duration::from_millis(10))
        .context(|| {
            format!(
                "router FIB: {:?}\nrouter BGP:\n{}",
                self.fib_next_hops(),
                self.router_frr
                    .as_ref()
                    .map(|f| f.vtysh("show bgp summary"))
                    .unwrap_or_default()
            )
        })
        .until(|| self.fib_next_hops() == want);
        start.elapsed()
    }

    /// `regha-agent <args> --config <lb's config>` against LB `lb`'s
    /// agent (drain, undrain).
    pub fn cli(&self, lb: usize, args: &[&str]) -> std::process::Output {
        let agent = self.lab.agent(lb);
        let config = agent.config_path().to_string_lossy().into_owned();
        let mut all = args.to_vec();
        all.extend(["--config", &config]);
        agent.cli(&[], &all)
    }

    /// Watches the router's FIB on a thread until it sends the VIP to
    /// exactly `lbs`: the time from now, or `None` after `limit`.
    pub fn watch_next_hops(
        &self,
        lbs: &[usize],
        limit: Duration,
    ) -> std::thread::JoinHandle<Option<Duration>> {
        let mut want: Vec<Ipv4Addr> = lbs.iter().map(|&i| self.lab.lbs[i].ip).collect();
        want.sort_unstable();
        let ns = self.router.ns.name().to_owned();
        let start = Instant::now();
        std::thread::spawn(move || {
            while start.elapsed() < limit {
                let out = Command::new("ip")
                    .args(["-n", &ns, "-4", "route", "show", &format!("{BGP_VIP}/32")])
                    .output()
                    .ok()?;
                if next_hops(&String::from_utf8_lossy(&out.stdout)) == want {
                    return Some(start.elapsed());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        })
    }

    /// The path of LB `lb`'s agent log, for failure messages.
    pub fn logs(&self) -> String {
        (0..self.lab.lbs.len())
            .filter_map(|i| {
                self.lab.agents[i]
                    .as_ref()
                    .map(|a| format!("--- lb{} ---\n{}", i + 1, tail(&a.log(), 40)))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the long-lived connections saw.
#[derive(Debug, Default)]
pub struct ConnReport {
    pub connections: usize,
    /// Connections that failed (reset, timed out), with why.
    pub broken: Vec<String>,
    /// The longest time any connection went without an answer.
    pub max_stall: Duration,
    /// Requests answered over all connections.
    pub answered: u64,
}

/// Long-lived connections through the VIP: `per_source` from each source,
/// each asking `GET /v2/` on the same keep-alive connection every `every`.
pub struct Conns {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<ConnEnd>>,
}

/// How one connection ended: why it broke (if it did), its longest stall,
/// its answered requests.
type ConnEnd = (Result<(), String>, Duration, u64);

/// How long one request may wait before its connection counts as broken.
const CONN_TIMEOUT: Duration = Duration::from_secs(5);

/// `read`, again when a signal interrupted it (the test process gets
/// SIGCHLD from the agents and daemons it starts).
fn read_some(s: &mut std::net::TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn one_request(s: &mut std::net::TcpStream) -> Result<(), String> {
    use std::io::Write;
    s.write_all(format!("GET /v2/ HTTP/1.1\r\nHost: {BGP_VIP}\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let head_end = loop {
        let n = read_some(s, &mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed by the server".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return Err(format!("answer: {:?}", head.lines().next()));
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = read_some(s, &mut chunk).map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err("closed mid-body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

impl Conns {
    pub fn start(lab: &BgpLab, per_source: usize, every: Duration) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dst = std::net::SocketAddr::new(IpAddr::V4(BGP_VIP), config::REGISTRY_PORT);
        let mut threads = Vec::new();
        for &src in &lab.sources {
            for _ in 0..per_source {
                let stop = stop.clone();
                threads.push(lab.client.spawn(move || {
                    let mut stall = Duration::ZERO;
                    let mut answered = 0u64;
                    let mut s =
                        match crate::client::connect_from(IpAddr::V4(src), dst, CONN_TIMEOUT) {
                            Ok(s) => s,
                            Err(e) => {
                                return (Err(format!("{src}: connect: {e}")), stall, answered);
                            }
                        };
                    let mut last = Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Err(e) = one_request(&mut s) {
                            let port = s.local_addr().map(|a| a.port()).unwrap_or(0);
                            return (Err(format!("{src}:{port}: {e}")), stall, answered);
                        }
                        answered += 1;
                        stall = stall.max(last.elapsed());
                        last = Instant::now();
                        std::thread::sleep(every);
                    }
                    (Ok(()), stall, answered)
                }));
            }
        }
        Self { stop, threads }
    }

    pub fn stop(self) -> ConnReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut r = ConnReport {
            connections: self.threads.len(),
            ..ConnReport::default()
        };
        for t in self.threads {
            let (result, stall, answered) = t.join().expect("connection thread");
            r.max_stall = r.max_stall.max(stall);
            r.answered += answered;
            if let Err(e) = result {
                r.broken.push(e);
            }
        }
        r
    }
}

/// New connections through the VIP while something happens: one every
/// `every` from the client's sources in turn, each `GET /v2/` within 1 s.
pub struct NewConns {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u32, u32)>,
}

impl NewConns {
    pub fn start(lab: &BgpLab, every: Duration) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dst = std::net::SocketAddr::new(IpAddr::V4(BGP_VIP), config::REGISTRY_PORT);
        let sources = lab.sources.clone();
        let flag = stop.clone();
        let thread = lab.client.spawn(move || {
            let (mut tried, mut failed) = (0u32, 0u32);
            let mut i = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let src = IpAddr::V4(sources[i % sources.len()]);
                i += 1;
                tried += 1;
                if !crate::client::answers_200(src, dst, Duration::from_secs(1)) {
                    failed += 1;
                }
                std::thread::sleep(every);
            }
            (tried, failed)
        });
        Self { stop, thread }
    }

    /// (tried, failed).
    pub fn stop(self) -> (u32, u32) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("new connections thread")
    }
}
