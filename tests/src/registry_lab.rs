//! The registry HA lab: the whole product as users run it, in namespaces.
//!
//! ```text
//!            switch (bridge br0, its own namespace)
//!   +-----------+-----------+-----------+-----------+----------+
//! client1..   lb1          lb2         be1         be2        (be3...)
//! 192.0.2.1   192.0.2.2    192.0.2.3   192.0.2.11  192.0.2.12
//! (.21, .22)  regha 101    regha 100   registry    registry   VIP on lo
//!                          (or the old   \__ one shared storage __/
//!                          stack: keepalived + HAProxy)
//!                     VIP 192.0.2.100:5000 on the VRRP master
//! ```
//!
//! Requests to the VIP reach the master LB, whose XDP program sends them on
//! to a backend chosen by the client's address (DSR: the backend, holding
//! the VIP on `lo`, answers the client directly). Everything lives in
//! namespaces with names unique to the run; nothing touches the root
//! namespace. Dropping the lab stops every process and removes every
//! namespace and pin, also on panic; a lab left by a killed run is removed
//! by the next one (see `netns::remove_stale_namespaces` and
//! `agent::remove_stale_agent_pins`).

use regha_model::Health;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::{
    agent::{Agent, remove_stale_agent_pins},
    client::http_get,
    haproxy::Haproxy,
    keepalived::{Keepalived, KeepalivedInstance},
    lab::{HOST_IFACE, Host, Switch},
    oci::Image,
    registry::Registry,
    skopeo,
    tempdir::TempDir,
};

pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const PORT: u16 = 5000;
pub const VRID: u8 = 51;
/// The reference setup's `auth_pass`.
pub const AUTH_PASS: &str = "1111";

/// What runs on an LB host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbKind {
    /// regha-agent (priority 101 on lb1, 100 on lb2).
    Regha,
    /// The stack regha replaces: keepalived (the reference
    /// `keepalived-*.conf` instance, same priorities) and HAProxy (the
    /// reference `haproxy.cfg`). lb2 alone running it is a cluster halfway
    /// through its migration; both running it is the baseline of
    /// `bench-e2e`.
    OldStack,
}

/// The lab's shape.
#[derive(Clone, Debug)]
pub struct LabSpec {
    pub backends: u8,
    pub clients: u8,
    /// One entry per LB host: lb1, lb2, ...
    pub lbs: Vec<LbKind>,
    /// VRRP `advert_interval` (1 s, as the reference's `advert_int 1`).
    pub advert_interval: Duration,
    /// Health check `interval` (the reference's `inter 5000`; tests use
    /// less to run faster), `fall` 3 and `rise` 2 as HAProxy's.
    pub check_interval: Duration,
    /// How many of the backends (the first ones) the LBs' configs list at
    /// start; `None`: all. The others run, ready to be added by a reload.
    pub configured_backends: Option<u8>,
}

impl Default for LabSpec {
    fn default() -> Self {
        Self {
            backends: 2,
            clients: 2,
            lbs: vec![LbKind::Regha, LbKind::Regha],
            advert_interval: Duration::from_secs(1),
            check_interval: Duration::from_millis(500),
            configured_backends: None,
        }
    }
}

/// A running lab. Field order is drop order: processes first, then the
/// namespaces they run in, the bridge last.
pub struct RegistryLab {
    /// regha-agent per LB (`None` where it is stopped or not regha).
    pub agents: Vec<Option<Agent>>,
    /// keepalived and HAProxy per LB (`None` where regha runs).
    pub keepalived: Vec<Option<Keepalived>>,
    pub haproxy: Vec<Option<Haproxy>>,
    pub registries: Vec<Registry>,
    pub clients: Vec<Host>,
    pub lbs: Vec<Host>,
    pub backends: Vec<Host>,
    pub spec: LabSpec,
    pub switch: Switch,
    /// Configs, registry storage, logs, images. Removed last.
    pub dir: TempDir,
}

/// The lab address of client `i` (0-based): .1, then .21, .22, ...
pub fn client_ip(i: u8) -> Ipv4Addr {
    if i == 0 {
        Ipv4Addr::new(192, 0, 2, 1)
    } else {
        Ipv4Addr::new(192, 0, 2, 20 + i)
    }
}

/// The lab address of backend `i` (0-based): .11, .12, ...
pub fn backend_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 11 + i)
}

impl RegistryLab {
    /// Builds the topology, starts the registries, and starts the LBs.
    pub fn new(spec: LabSpec) -> Self {
        crate::require_root();
        remove_stale_agent_pins();
        let switch = Switch::new();
        let dir = TempDir::new("lab");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let clients: Vec<Host> = (0..spec.clients)
            .map(|i| {
                let ip = client_ip(i);
                switch.plug(
                    &format!("client{}", i + 1),
                    ip,
                    [2, 0, 0, 0, 1, ip.octets()[3]],
                )
            })
            .collect();
        let lbs: Vec<Host> = (0..spec.lbs.len() as u8)
            .map(|i| {
                switch.plug(
                    &format!("lb{}", i + 1),
                    Ipv4Addr::new(192, 0, 2, 2 + i),
                    [2, 0, 0, 0, 2, 2 + i],
                )
            })
            .collect();
        let mut backends = Vec::new();
        let mut registries = Vec::new();
        for i in 0..spec.backends {
            let ip = backend_ip(i);
            let be = switch.plug(&format!("be{}", i + 1), ip, [2, 0, 0, 0, 3, ip.octets()[3]]);
            be.dsr_backend(VIP);
            registries.push(Registry::start(&be, dir.path(), &storage));
            backends.push(be);
        }
        let mut lab = Self {
            agents: Vec::new(),
            keepalived: Vec::new(),
            haproxy: Vec::new(),
            registries,
            clients,
            lbs,
            backends,
            spec,
            switch,
            dir,
        };
        let all: Vec<u8> = (0..lab.spec.configured_backends.unwrap_or(lab.spec.backends)).collect();
        for lb in 0..lab.lbs.len() {
            if lab.spec.lbs[lb] == LbKind::OldStack {
                let (k, h) = lab.start_old_stack(lb);
                lab.keepalived.push(Some(k));
                lab.haproxy.push(Some(h));
                lab.agents.push(None);
            } else {
                lab.keepalived.push(None);
                lab.haproxy.push(None);
                let config = lab.regha_config(lb, &all);
                std::fs::write(lab.dir.path().join(format!("lb{}.yaml", lb + 1)), &config)
                    .expect("write lb config");
                let agent = Agent::start(&lab.lbs[lb], &config, &[]);
                lab.agents.push(Some(agent));
            }
        }
        lab
    }

    /// The regha config of LB `lb` (0-based) with backends `backends`
    /// (indexes): the reference pair's VRRP instance and frontend, with
    /// the lab's addresses.
    pub fn regha_config(&self, lb: usize, backends: &[u8]) -> String {
        let priority = if lb == 0 { 101 } else { 100 };
        let list: String = backends
            .iter()
            .map(|&b| format!("      - {{ address: {} }}\n", backend_ip(b)))
            .collect();
        format!(
            "# regha-agent on lb{n} ({ip}), written by the registry lab.\n\
             interface: {HOST_IFACE}\n\
             # veth in a lab: generic XDP (see the README, \"XDP on veth\").\n\
             xdp_mode: generic\n\
             hash_seed: 7\n\
             vrrp:\n  virtual_router_id: {VRID}\n  priority: {priority}\n  advert_interval: {adv}ms\n  auth_pass: \"{AUTH_PASS}\"\n  virtual_ipaddresses: [{VIP}/24]\n  track_backends: {{ min_healthy: 1, weight: -50 }}\n\
             services:\n  - name: registry\n    vip: {VIP}\n    port: {PORT}\n    health:\n      http: {{ path: /v2/ }}\n      interval: {ci}ms\n      timeout: {to}ms\n      rise: 2\n      fall: 3\n    backends:\n{list}\
             stats: null\n",
            n = lb + 1,
            ip = self.lbs[lb].ip,
            adv = self.spec.advert_interval.as_millis(),
            ci = self.spec.check_interval.as_millis(),
            to = (self.spec.check_interval.as_millis() * 3 / 4).max(100),
        )
    }

    /// Starts keepalived and HAProxy on LB `lb`.
    pub fn start_old_stack(&self, lb: usize) -> (Keepalived, Haproxy) {
        let host = &self.lbs[lb];
        let ips: Vec<Ipv4Addr> = self.backends.iter().map(|b| b.ip).collect();
        let haproxy = Haproxy::start(host, self.dir.path(), &ips);
        let vip = format!("{VIP}/24");
        let keepalived = Keepalived::start(
            host,
            &KeepalivedInstance {
                vrid: VRID,
                priority: if lb == 0 { 101 } else { 100 },
                advert_int: self.spec.advert_interval.as_secs_f64(),
                version: 2,
                auth_pass: Some(AUTH_PASS),
                vips: &[vip.as_str()],
                nopreempt: false,
                unicast_peers: &[],
            },
        );
        (keepalived, haproxy)
    }

    /// The regha agent on LB `lb`.
    pub fn agent(&self, lb: usize) -> &Agent {
        self.agents[lb]
            .as_ref()
            .unwrap_or_else(|| panic!("lb{} runs no regha-agent now", lb + 1))
    }

    pub fn agent_mut(&mut self, lb: usize) -> &mut Agent {
        self.agents[lb]
            .as_mut()
            .unwrap_or_else(|| panic!("lb{} runs no regha-agent now", lb + 1))
    }

    /// The LBs whose interface holds the VIP now.
    pub fn vip_holders(&self) -> Vec<usize> {
        self.lbs
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.ns.ip(&["-4", "-o", "addr", "show", "dev", HOST_IFACE])
                    .contains(&format!("inet {VIP}/"))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Waits until exactly LB `lb` holds the VIP.
    pub fn wait_sole_master(&self, lb: usize, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let holders = self.vip_holders();
            if holders == [lb] {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "waited {limit:?} for lb{} alone to hold the VIP; holders: {holders:?}\n{}",
                    lb + 1,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every running regha agent sees every backend it has
    /// configured as up.
    pub fn wait_backends_up(&self, limit: Duration) {
        for a in self.agents.iter().flatten() {
            a.wait_for("every backend up", limit, |s| {
                s.services.iter().all(|svc| {
                    svc.backends.iter().all(|b| {
                        b.health == Health::Up && b.state == Some(regha_model::BackendState::Up)
                    })
                })
            });
        }
    }

    /// Waits until every running regha agent reports backend `be` (index)
    /// with `health`.
    pub fn wait_backend_health(&self, be: usize, health: Health, limit: Duration) {
        let addr = SocketAddr::new(self.backends[be].ip.into(), PORT);
        for a in self.agents.iter().flatten() {
            a.wait_for(&format!("be{} {health}", be + 1), limit, |s| {
                s.services
                    .iter()
                    .flat_map(|svc| &svc.backends)
                    .any(|b| b.address == addr && b.health == health)
            });
        }
    }

    /// The log of every LB process, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, a) in self.agents.iter().enumerate() {
            if let Some(a) = a {
                out += &format!("--- lb{} regha-agent log ---\n{}\n", i + 1, a.log());
            }
        }
        for (i, k) in self.keepalived.iter().enumerate() {
            if let Some(k) = k {
                out += &format!("--- lb{} keepalived log ---\n{}\n", i + 1, k.log());
            }
        }
        for (i, h) in self.haproxy.iter().enumerate() {
            if let Some(h) = h {
                out += &format!("--- lb{} haproxy log ---\n{}\n", i + 1, h.log());
            }
        }
        out
    }

    /// `registry:port` of the VIP, as clients name it.
    pub fn registry_ref(repo: &str, tag: &str) -> String {
        skopeo::docker_ref(&format!("{VIP}:{PORT}"), repo, tag)
    }

    /// A path in the lab directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes an image with layers of `sizes` bytes in the lab directory.
    pub fn image(&self, name: &str, sizes: &[u64], seed: u64) -> Image {
        crate::oci::generate(&self.path(&format!("img-{name}")), "1", sizes, seed)
    }

    /// Starts pushing `image` from client `c` to `repo:1` through the VIP.
    pub fn push(&self, c: usize, image: &Image, repo: &str) -> skopeo::Copy {
        let log = self.path(&format!("push-{repo}-{c}.log").replace('/', "_"));
        skopeo::Copy::start(
            &self.clients[c].ns,
            &image.reference(),
            &Self::registry_ref(repo, &image.tag),
            &log,
        )
    }

    /// Starts pulling `repo:1` from client `c` through the VIP into a new
    /// layout `dest` in the lab directory.
    pub fn pull(&self, c: usize, repo: &str, dest: &str) -> (skopeo::Copy, PathBuf) {
        let dir = self.path(dest);
        let _ = std::fs::remove_dir_all(&dir);
        let log = self.path(&format!("pull-{dest}.log"));
        let copy = skopeo::Copy::start(
            &self.clients[c].ns,
            &Self::registry_ref(repo, "1"),
            &format!("oci:{}:1", dir.display()),
            &log,
        );
        (copy, dir)
    }

    /// Pushes, pulls back and compares, from client `c`.
    pub fn round_trip(&self, c: usize, image: &Image, repo: &str, limit: Duration) {
        self.push(c, image, repo)
            .wait(limit)
            .unwrap_or_else(|e| panic!("push: {e}\n{}", self.logs()));
        let (pull, dir) = self.pull(c, repo, &format!("pulled-{}-{c}", repo.replace('/', "_")));
        pull.wait(limit)
            .unwrap_or_else(|e| panic!("pull: {e}\n{}", self.logs()));
        crate::oci::verify_pulled(&dir, &image.tag, image).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `GET /v2/` through the VIP from client `c`.
    pub fn get_v2(&self, c: usize) -> Result<u16, String> {
        let src = IpAddr::V4(self.clients[c].ip);
        self.clients[c]
            .ns
            .run(move || http_get(src, SocketAddr::new(IpAddr::V4(VIP), PORT), "/v2/"))
    }

    /// Packets each backend (by index) got from every regha LB's dataplane
    /// so far, from the pinned per-CPU counters.
    pub fn backend_packets(&self) -> Vec<u64> {
        let mut out = vec![0u64; self.backends.len()];
        for a in self.agents.iter().flatten() {
            if !a.pin_dir().join("link").exists() {
                continue;
            }
            let maps = a.maps();
            for (addr, id) in maps.backend_entries().expect("backend entries") {
                if let Some(i) = self
                    .backends
                    .iter()
                    .position(|b| IpAddr::V4(b.ip) == addr.ip())
                {
                    out[i] += maps.backend_counters(id).expect("counters").packets;
                }
            }
        }
        out
    }

    /// The MAC client `c` has for the VIP (its ARP entry), if any.
    pub fn client_vip_mac(&self, c: usize) -> Option<String> {
        self.clients[c].neigh_mac(IpAddr::V4(VIP))
    }

    /// The MAC of LB `lb`, as `ip` prints it.
    pub fn lb_mac(&self, lb: usize) -> String {
        crate::netns::mac_str(self.lbs[lb].mac)
    }

    /// The lab directory (configs and logs), kept for a person to read.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
