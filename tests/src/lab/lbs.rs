//! The LB side of the lab: what runs on the LB hosts (regha-agent, or
//! keepalived and HAProxy), their configs, who holds the VIP, and the
//! waits on them.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use regha_config::{Config, FlowSyncConfig, Secret, ServiceConfig, TrackBackends, VrrpConfig};
use regha_model::{BackendState, Health};

use super::{AUTH_PASS, Lab, LbKind, PORT, Stack, VIP, VIP6, VIP6_PREFIX, VRID, config};
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
        self.service_of(self.spec.stack.primary_v6(), backends)
    }

    /// The registry service on the VIP of a family (IPv6: `true`) over
    /// the backends `backends` (indexes), at their addresses of that
    /// family. In a dual-stack lab the IPv6 one is `registry6`.
    pub fn service_of(&self, v6: bool, backends: &[u8]) -> ServiceConfig {
        let vip = if v6 {
            IpAddr::V6(VIP6)
        } else {
            IpAddr::V4(VIP)
        };
        let addrs = backends
            .iter()
            .map(|&b| self.backends[usize::from(b)].addr(v6));
        let service = config::registry(vip, addrs, self.spec.check_interval);
        if v6 && self.spec.stack == Stack::Dual {
            ServiceConfig {
                name: "registry6".to_owned(),
                ..service
            }
        } else {
            service
        }
    }

    /// The registry service over every backend.
    pub fn service(&self) -> ServiceConfig {
        let all: Vec<u8> = (0..self.spec.backends).collect();
        self.service_over(&all)
    }

    /// The stack's services (one per family) over the backends `backends`.
    pub fn services_over(&self, backends: &[u8]) -> Vec<ServiceConfig> {
        (self.spec.stack.families().iter())
            .map(|&v6| self.service_of(v6, backends))
            .collect()
    }

    /// The lab's VRRP instance for an LB of `priority`: the reference
    /// pair's VRID and VIP, the spec's advert interval, no password. In an
    /// IPv6 lab, the same over IPv6 (version 3).
    pub fn vrrp(&self, priority: u8) -> VrrpConfig {
        self.vrrp_of(self.spec.stack.primary_v6(), priority)
    }

    /// The lab's VRRP instance of a family: VRID 51 for both (IPv4 and
    /// IPv6 virtual routers are apart), IPv6 over version 3.
    pub fn vrrp_of(&self, v6: bool, priority: u8) -> VrrpConfig {
        let vip = if v6 {
            (IpAddr::V6(VIP6), VIP6_PREFIX)
        } else {
            (IpAddr::V4(VIP), self.spec.vip_prefix)
        };
        VrrpConfig {
            priority,
            advert_interval: self.spec.advert_interval,
            ..config::vrrp(VRID, &[vip])
        }
    }

    /// The stack's VRRP instances for an LB of `priority`: one, or in a
    /// dual-stack lab `registry-v4` and `registry-v6` in the sync group
    /// `registry` (they fail over together).
    pub fn instances(&self, priority: u8) -> Vec<VrrpConfig> {
        let dual = self.spec.stack == Stack::Dual;
        (self.spec.stack.families().iter())
            .map(|&v6| {
                let v = self.vrrp_of(v6, priority);
                if dual {
                    VrrpConfig {
                        name: if v6 { "registry-v6" } else { "registry-v4" }.to_owned(),
                        sync_group: Some("registry".to_owned()),
                        ..v
                    }
                } else {
                    v
                }
            })
            .collect()
    }

    /// The regha config of LB `lb` (0-based) in the registry HA lab, with
    /// backends `backends` (indexes): the reference pair's VRRP instance
    /// (priority 101 on lb1, 100 on the others, tracking the backends) and
    /// frontend, with the lab's addresses, and no stats listener; in an
    /// IPv6 or dual-stack lab the stack's instances and services. It has
    /// the reference's password only when a keepalived peer needs it.
    pub fn regha_config(&self, lb: usize, backends: &[u8]) -> Config {
        let with_keepalived = self.spec.lbs.contains(&LbKind::OldStack);
        let instances = self
            .instances(if lb == 0 { 101 } else { 100 })
            .into_iter()
            .map(|v| VrrpConfig {
                auth_pass: (with_keepalived && v.family() == regha_model::IpFamily::Ipv4)
                    .then(|| Secret::new(AUTH_PASS)),
                track_backends: Some(TrackBackends {
                    min_healthy: 1,
                    weight: -50,
                }),
                ..v
            })
            .collect();
        Config {
            stats: None,
            flow_table_size: self.spec.flow_table_size,
            xdp_mode: self.spec.xdp_mode,
            flow_sync: self.spec.flow_sync.then(|| FlowSyncConfig {
                peers: if self.spec.flow_sync_multicast {
                    Vec::new()
                } else {
                    (0..self.lbs.len() as u8)
                        .filter(|&i| usize::from(i) != lb)
                        .map(|i| IpAddr::V4(super::lb_ip(i)))
                        .collect()
                },
                ..FlowSyncConfig::new(self.flow_sync_key())
            }),
            ..config::with_instances(instances, self.services_over(backends))
        }
    }

    /// The backend LB `lb`'s ring gives a new connection from `client` to
    /// the registry service (as `regha-agent explain` reads it from the
    /// LB's pinned maps).
    pub fn ring_backend(&self, lb: usize, client: IpAddr) -> std::net::SocketAddr {
        use regha_agent::explain::{Query, ServiceFilter, read};
        let q = Query {
            client,
            port: None,
            service: Some(ServiceFilter::Address {
                vip: self.vip().0,
                port: PORT,
                protocol: None,
            }),
        };
        let x = read::from_pins(&self.agent(lb).pin_dir(), None, &q)
            .unwrap_or_else(|e| panic!("explain on lb{}: {e}", lb + 1));
        x.services[0]
            .ring_backend
            .as_ref()
            .and_then(|b| b.address)
            .unwrap_or_else(|| panic!("lb{} has no ring backend for {client}", lb + 1))
    }

    /// The lab's flow sync key file (written when the lab starts with
    /// `flow_sync`).
    pub fn flow_sync_key(&self) -> std::path::PathBuf {
        self.path("flow-sync.key")
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
    /// addresses) and HAProxy (the reference `haproxy.cfg`) on LB `lb`; in
    /// an IPv6 lab, the same instance over IPv6 (version 3) and HAProxy
    /// binding and checking over IPv6.
    pub fn start_old_stack(&mut self, lb: usize) {
        let v6 = self.spec.stack.primary_v6();
        let host = &self.lbs[lb];
        let ips: Vec<IpAddr> = self.backends.iter().map(|b| b.addr(v6)).collect();
        let haproxy = Haproxy::start(host, self.dir.path(), &ips);
        let vip = if v6 {
            format!("{VIP6}/{VIP6_PREFIX}")
        } else {
            format!("{VIP}/{}", self.spec.vip_prefix)
        };
        let vips = [vip.as_str()];
        let instance = KeepalivedInstance {
            advert_int: self.spec.advert_interval.as_secs_f64(),
            auth_pass: (!v6).then_some(AUTH_PASS),
            version: if v6 { 3 } else { 2 },
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

    /// The LBs whose interface holds every VIP of the stack now.
    pub fn vip_holders(&self) -> Vec<usize> {
        let each: Vec<Vec<usize>> = self
            .vips()
            .into_iter()
            .map(|v| self.holders_of(v))
            .collect();
        (0..self.lbs.len())
            .filter(|lb| each.iter().all(|h| h.contains(lb)))
            .collect()
    }

    /// The VIP with its prefix, as the LBs hold it (the IPv6 one in an
    /// IPv6 lab; the IPv4 one in a dual-stack lab).
    pub fn vip(&self) -> (IpAddr, u8) {
        self.vips()[0]
    }

    /// Every VIP of the stack with its prefix, IPv4 first.
    pub fn vips(&self) -> Vec<(IpAddr, u8)> {
        (self.spec.stack.families().iter())
            .map(|&v6| {
                if v6 {
                    (IpAddr::V6(VIP6), VIP6_PREFIX)
                } else {
                    (IpAddr::V4(VIP), self.spec.vip_prefix)
                }
            })
            .collect()
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

    /// [`Lab::wait_address`] for every VIP of the stack (in a dual-stack
    /// lab both move: the instances fail over together); how long the
    /// last one took.
    #[track_caller]
    pub fn wait_vip(&self, what: &str, lb: usize, holders: Holders, limit: Duration) -> Duration {
        let start = Instant::now();
        for vip in self.vips() {
            self.wait_address(
                what,
                vip,
                lb,
                holders,
                limit.saturating_sub(start.elapsed()),
            );
        }
        start.elapsed()
    }

    /// Waits until exactly LB `lb` holds the VIPs.
    #[track_caller]
    pub fn wait_sole_master(&self, lb: usize, limit: Duration) -> Duration {
        self.wait_vip(
            &format!("lb{} alone to hold the VIP", lb + 1),
            lb,
            Holders::Only,
            limit,
        )
    }

    /// Waits until every LB's link-local IPv6 address has passed duplicate
    /// address detection: VRRP over IPv6 speaks from it, and a tentative
    /// address cannot be bound (the veths come up with DAD on, ~1-2 s).
    #[track_caller]
    pub fn wait_link_local(&self) {
        for (i, h) in self.lbs.iter().enumerate() {
            wait_for(
                format!("a usable link-local address on lb{}", i + 1),
                Duration::from_secs(10),
            )
            .every(Duration::from_millis(50))
            .until(|| h.link_local_ready());
        }
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
    /// with `health`, in each service it is in (both families in a
    /// dual-stack lab), and has written it to the dataplane accordingly:
    /// in the ring for `up`, out of it otherwise. The health flips a
    /// coalescing window (`settle::COALESCE`) before the ring is written, so
    /// a test that starts traffic on the health alone races the write.
    #[track_caller]
    pub fn wait_backend_health(&self, be: usize, health: Health, limit: Duration) {
        let host = &self.backends[be];
        let addrs: Vec<std::net::SocketAddr> =
            [Some(IpAddr::V4(host.ip)), host.ip6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
                .map(|ip| std::net::SocketAddr::new(ip, PORT))
                .collect();
        for a in self.agents.iter().flatten() {
            a.wait_for(&format!("be{} {health}", be + 1), limit, |s| {
                let listed: Vec<_> = (s.services.iter())
                    .flat_map(|svc| &svc.backends)
                    .filter(|b| addrs.contains(&b.address))
                    .collect();
                let in_ring = health == Health::Up;
                !listed.is_empty()
                    && listed.iter().all(|b| {
                        b.health == health && (b.state == Some(BackendState::Up)) == in_ring
                    })
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
    /// so far, from the pinned per-CPU counters (both families summed).
    pub fn backend_packets(&self) -> Vec<u64> {
        let mut out = vec![0u64; self.backends.len()];
        for a in self.agents.iter().flatten() {
            if !a.pin_dir().join("link").exists() {
                continue;
            }
            let maps = a.maps();
            for (addr, id) in maps.backend_entries().expect("backend entries") {
                if let Some(i) = self.backends.iter().position(|b| {
                    IpAddr::V4(b.ip) == addr.ip() || b.ip6.map(IpAddr::V6) == Some(addr.ip())
                }) {
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
