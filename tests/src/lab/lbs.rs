//! The LB side of the lab: what runs on the LB hosts (regha-agent, or
//! keepalived and HAProxy), their configs, who holds the VIP, and the
//! waits on them.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use regha_config::{Config, Secret, ServiceConfig, TrackBackends, VrrpConfig};
use regha_model::{BackendState, Health};

use super::{AUTH_PASS, Lab, LbKind, PORT, VIP, VRID, config};
use crate::{
    agent::Agent,
    haproxy::Haproxy,
    keepalived::{Keepalived, KeepalivedInstance},
    wait::{seen, wait_for},
};

/// Which LBs may hold an address when a wait is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holders {
    /// The LB waited for, and no other.
    Only,
    /// The LB waited for, whoever else does (a SIGKILLed master keeps its
    /// VIP: nobody removes it).
    Including,
}

impl Lab {
    /// The registry service on the VIP over the backends `backends`
    /// (indexes), checked every `check_interval`.
    pub fn service_over(&self, backends: &[u8]) -> ServiceConfig {
        config::registry(
            IpAddr::V4(VIP),
            backends
                .iter()
                .map(|&b| IpAddr::V4(self.backends[usize::from(b)].ip)),
            self.spec.check_interval,
        )
    }

    /// The registry service over every backend.
    pub fn service(&self) -> ServiceConfig {
        let all: Vec<u8> = (0..self.spec.backends).collect();
        self.service_over(&all)
    }

    /// The lab's VRRP instance for an LB of `priority`: the reference
    /// pair's VRID and VIP, the spec's advert interval, no password.
    pub fn vrrp(&self, priority: u8) -> VrrpConfig {
        VrrpConfig {
            priority,
            advert_interval: self.spec.advert_interval,
            ..config::vrrp(VRID, &[(IpAddr::V4(VIP), self.spec.vip_prefix)])
        }
    }

    /// The regha config of LB `lb` (0-based) in the registry HA lab, with
    /// backends `backends` (indexes): the reference pair's VRRP instance
    /// (priority 101 on lb1, 100 on the others, tracking the backends) and
    /// frontend, with the lab's addresses, and no stats listener. It has
    /// the reference's password only when a keepalived peer needs it.
    pub fn regha_config(&self, lb: usize, backends: &[u8]) -> Config {
        let with_keepalived = self.spec.lbs.contains(&LbKind::OldStack);
        let vrrp = VrrpConfig {
            auth_pass: with_keepalived.then(|| Secret::new(AUTH_PASS)),
            track_backends: Some(TrackBackends {
                min_healthy: 1,
                weight: -50,
            }),
            ..self.vrrp(if lb == 0 { 101 } else { 100 })
        };
        Config {
            stats: None,
            flow_table_size: self.spec.flow_table_size,
            ..config::with_vrrp(vrrp, vec![self.service_over(backends)])
        }
    }

    /// Starts regha-agent on LB `lb` with `config` (and `extra` flags);
    /// the lab stops it.
    pub fn start_agent(&mut self, lb: usize, config: &Config, extra: &[&str]) {
        assert!(
            self.agents[lb].is_none(),
            "lb{} already runs regha-agent",
            lb + 1
        );
        self.agents[lb] = Some(Agent::start(&self.lbs[lb], config, extra));
    }

    /// Starts keepalived on LB `lb` with `instance`, in place of one that
    /// ran there; the lab stops it.
    pub fn start_keepalived(&mut self, lb: usize, instance: &KeepalivedInstance) {
        self.keepalived[lb] = None;
        self.keepalived[lb] = Some(Keepalived::start(&self.lbs[lb], instance));
    }

    /// Starts keepalived (the reference instance, with the lab's
    /// addresses) and HAProxy (the reference `haproxy.cfg`) on LB `lb`.
    pub fn start_old_stack(&mut self, lb: usize) {
        let host = &self.lbs[lb];
        let ips: Vec<_> = self.backends.iter().map(|b| b.ip).collect();
        let haproxy = Haproxy::start(host, self.dir.path(), &ips);
        let vip = format!("{VIP}/{}", self.spec.vip_prefix);
        let vips = [vip.as_str()];
        let instance = KeepalivedInstance {
            advert_int: self.spec.advert_interval.as_secs_f64(),
            auth_pass: Some(AUTH_PASS),
            ..KeepalivedInstance::new(VRID, if lb == 0 { 101 } else { 100 }, &vips)
        };
        self.haproxy[lb] = Some(haproxy);
        self.start_keepalived(lb, &instance);
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

    /// The keepalived on LB `lb`.
    pub fn keepalived(&self, lb: usize) -> &Keepalived {
        self.keepalived[lb]
            .as_ref()
            .unwrap_or_else(|| panic!("lb{} runs no keepalived now", lb + 1))
    }

    pub fn keepalived_mut(&mut self, lb: usize) -> &mut Keepalived {
        self.keepalived[lb]
            .as_mut()
            .unwrap_or_else(|| panic!("lb{} runs no keepalived now", lb + 1))
    }

    /// The LBs whose interface holds `ip/prefix` now.
    pub fn holders_of(&self, (ip, prefix): (IpAddr, u8)) -> Vec<usize> {
        (0..self.lbs.len())
            .filter(|&i| self.lbs[i].holds(ip, prefix))
            .collect()
    }

    /// The LBs whose interface holds the VIP now.
    pub fn vip_holders(&self) -> Vec<usize> {
        self.holders_of(self.vip())
    }

    /// The VIP with its prefix, as the LBs hold it.
    pub fn vip(&self) -> (IpAddr, u8) {
        (IpAddr::V4(VIP), self.spec.vip_prefix)
    }

    /// Waits until LB `lb` holds `address` (alone, or not, as `holders`
    /// says); returns how long that took. Fails with every LB's log.
    #[track_caller]
    pub fn wait_address(
        &self,
        what: &str,
        address: (IpAddr, u8),
        lb: usize,
        holders: Holders,
        limit: Duration,
    ) -> Duration {
        let start = Instant::now();
        wait_for(
            format!("{what} (lb{} holding {}/{})", lb + 1, address.0, address.1),
            limit,
        )
        .context(|| self.logs())
        .until(|| {
            let now = self.holders_of(address);
            let done = match holders {
                Holders::Only => now == [lb],
                Holders::Including => now.contains(&lb),
            };
            seen(done, format!("holders (0-based): {now:?}"))
        });
        start.elapsed()
    }

    /// [`Lab::wait_address`] for the VIP.
    #[track_caller]
    pub fn wait_vip(&self, what: &str, lb: usize, holders: Holders, limit: Duration) -> Duration {
        self.wait_address(what, self.vip(), lb, holders, limit)
    }

    /// Waits until exactly LB `lb` holds the VIP.
    #[track_caller]
    pub fn wait_sole_master(&self, lb: usize, limit: Duration) -> Duration {
        self.wait_vip(
            &format!("lb{} alone to hold the VIP", lb + 1),
            lb,
            Holders::Only,
            limit,
        )
    }

    /// Waits until every running regha agent sees every backend it has
    /// configured as up.
    #[track_caller]
    pub fn wait_backends_up(&self, limit: Duration) {
        for a in self.agents.iter().flatten() {
            a.wait_for("every backend up", limit, |s| {
                s.services.iter().all(|svc| {
                    svc.backends
                        .iter()
                        .all(|b| b.health == Health::Up && b.state == Some(BackendState::Up))
                })
            });
        }
    }

    /// Waits until every running regha agent reports backend `be` (index)
    /// with `health`.
    #[track_caller]
    pub fn wait_backend_health(&self, be: usize, health: Health, limit: Duration) {
        let addr = std::net::SocketAddr::new(self.backends[be].ip.into(), PORT);
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

    /// The backend (by index) holding `client`'s TCP connection, as the
    /// backends' own sockets say (`ss`): the ground truth of where a
    /// connection went, whatever the dataplane's counters say. The
    /// registry listens dual-stack, so `ss` may show the peer IPv4-mapped.
    pub fn holder(&self, client: std::net::SocketAddr) -> Option<usize> {
        let names = [
            client.to_string(),
            format!("[::ffff:{}]:{}", client.ip(), client.port()),
        ];
        self.backends.iter().position(|b| {
            b.ns.exec("ss", &["-Htn", "state", "established"])
                .lines()
                .any(|l| l.split_whitespace().any(|w| names.iter().any(|n| n == w)))
        })
    }

    /// The MAC of LB `lb`, as `ip` prints it.
    pub fn lb_mac(&self, lb: usize) -> String {
        self.lbs[lb].mac_str()
    }
}
