//! The client side of the lab: requests through the VIP from the clients
//! and client1's extra sources, images pushed and pulled with skopeo, and
//! the stats listener of lb1. Each takes the family it goes over (`v6`:
//! IPv6) or uses the stack's own (IPv6 in an IPv6 lab, else IPv4); skopeo
//! reaches the IPv6 VIP by name ([`VIP6_NAME`]), through a hosts file
//! private to its mount namespace.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use super::{Lab, PORT, VIP, VIP6, VIP6_NAME, ip6_of};
use crate::{
    client::{HttpAnswer, http_fetch, http_get},
    oci::Image,
    skopeo,
    wait::{seen, wait_for},
};

/// The VIP and the registry port, as clients connect to it.
pub fn vip_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(VIP), PORT)
}

/// The VIP of a family and the registry port.
pub fn vip_port_of(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::new(IpAddr::V6(VIP6), PORT)
    } else {
        vip_port()
    }
}

impl Lab {
    /// `GET /v2/` through the VIP from client `c`, over the stack's family.
    pub fn get_v2(&self, c: usize) -> Result<u16, String> {
        self.get_v2_over(self.spec.stack.primary_v6(), c)
    }

    /// `GET /v2/` through the VIP of a family from client `c`.
    pub fn get_v2_over(&self, v6: bool, c: usize) -> Result<u16, String> {
        let src = self.clients[c].addr(v6);
        self.clients[c]
            .ns
            .run(move || http_get(src, vip_port_of(v6), "/v2/"))
    }

    /// `GET /v2/` through the VIP from `src`, one of client1's addresses.
    pub fn get_from(&self, src: std::net::Ipv4Addr) -> Result<u16, String> {
        self.clients[0]
            .ns
            .run(move || http_get(IpAddr::V4(src), vip_port(), "/v2/"))
    }

    /// `GET /v2/` through the VIP from every extra source of client1, one
    /// connection each, over the stack's family.
    pub fn get_all(&self) -> Vec<Result<u16, String>> {
        let v6 = self.spec.stack.primary_v6();
        let sources: Vec<IpAddr> = (self.sources.iter())
            .map(|s| {
                if v6 {
                    IpAddr::V6(ip6_of(*s))
                } else {
                    IpAddr::V4(*s)
                }
            })
            .collect();
        self.clients[0].ns.run(move || {
            sources
                .iter()
                .map(|s| http_get(*s, vip_port_of(v6), "/v2/"))
                .collect()
        })
    }

    /// `GET path` on lb1's stats listener (its default address), from
    /// inside lb1's namespace, with extra header lines.
    pub fn stats(&self, path: &str, headers: &[&str]) -> Result<HttpAnswer, String> {
        let path = path.to_owned();
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        self.lbs[0].ns.run(move || {
            let h: Vec<&str> = headers.iter().map(String::as_str).collect();
            http_fetch(regha_config::DEFAULT_STATS_LISTEN, &path, &h)
        })
    }

    /// The MAC client `c` has for the VIP (its ARP entry), if any.
    pub fn client_vip_mac(&self, c: usize) -> Option<String> {
        self.client_vip_mac_over(self.spec.stack.primary_v6(), c)
    }

    /// The MAC client `c` has for the VIP of a family (its ARP or
    /// neighbour entry), if any.
    pub fn client_vip_mac_over(&self, v6: bool, c: usize) -> Option<String> {
        self.clients[c].neigh_mac(vip_port_of(v6).ip())
    }

    /// Waits until client1's ARP (and, with IPv6, neighbour) entry for
    /// every VIP of the stack names LB `lb`.
    #[track_caller]
    pub fn wait_client_arp(&self, lb: usize, limit: Duration) {
        let want = self.lb_mac(lb);
        for &v6 in self.spec.stack.families() {
            wait_for(
                format!(
                    "client1's {} entry for the VIP to point at lb{}",
                    if v6 { "neighbour" } else { "ARP" },
                    lb + 1
                ),
                limit,
            )
            .context(|| self.logs())
            .until(|| {
                let mac = self.client_vip_mac_over(v6, 0);
                seen(mac.as_deref() == Some(want.as_str()), mac)
            });
        }
    }

    /// `docker://VIP:5000/repo:tag`, as clients name it over IPv4.
    pub fn registry_ref(repo: &str, tag: &str) -> String {
        skopeo::docker_ref(&format!("{VIP}:{PORT}"), repo, tag)
    }

    /// The same over a family: the IPv6 VIP by its name ([`VIP6_NAME`]).
    pub fn registry_ref_over(v6: bool, repo: &str, tag: &str) -> String {
        if v6 {
            skopeo::docker_ref(&format!("{VIP6_NAME}:{PORT}"), repo, tag)
        } else {
            Self::registry_ref(repo, tag)
        }
    }

    /// Makes an image with layers of `sizes` bytes in the lab directory.
    pub fn image(&self, name: &str, sizes: &[u64], seed: u64) -> Image {
        crate::oci::generate(&self.path(&format!("img-{name}")), "1", sizes, seed)
    }

    /// Starts pushing `image` from client `c` to `repo:1` through the VIP,
    /// over the stack's family.
    pub fn push(&self, c: usize, image: &Image, repo: &str) -> skopeo::Copy {
        self.push_over(self.spec.stack.primary_v6(), c, image, repo)
    }

    /// Starts pushing over a family.
    pub fn push_over(&self, v6: bool, c: usize, image: &Image, repo: &str) -> skopeo::Copy {
        let log = self.path(&format!("push-{repo}-{c}.log").replace('/', "_"));
        skopeo::Copy::start_resolving(
            &self.clients[c].ns,
            &self.hosts_file(),
            &image.reference(),
            &Self::registry_ref_over(v6, repo, &image.tag),
            &log,
        )
    }

    /// Starts pulling `repo:1` from client `c` through the VIP into a new
    /// layout `dest` in the lab directory, over the stack's family.
    pub fn pull(&self, c: usize, repo: &str, dest: &str) -> (skopeo::Copy, PathBuf) {
        self.pull_over(self.spec.stack.primary_v6(), c, repo, dest)
    }

    /// Starts pulling over a family.
    pub fn pull_over(&self, v6: bool, c: usize, repo: &str, dest: &str) -> (skopeo::Copy, PathBuf) {
        let dir = self.path(dest);
        let _ = std::fs::remove_dir_all(&dir);
        let log = self.path(&format!("pull-{dest}.log"));
        let copy = skopeo::Copy::start_resolving(
            &self.clients[c].ns,
            &self.hosts_file(),
            &Self::registry_ref_over(v6, repo, "1"),
            &format!("oci:{}:1", dir.display()),
            &log,
        );
        (copy, dir)
    }

    /// Starts a push of a big image from client 0 and waits until it is
    /// well under way (a few MiB reached a backend), so that a fault lands
    /// mid-push.
    pub fn push_under_way(&self, img: &Image, repo: &str) -> skopeo::Copy {
        let before: u64 = self.backend_packets().iter().sum();
        let mut push = self.push(0, img, repo);
        // ~3000 full-size frames are about 4 MiB.
        wait_for("the push to get going", Duration::from_secs(60))
            .context(|| self.logs())
            .until(|| {
                assert!(!push.done(), "the push ended before it got going");
                let sent: u64 = self.backend_packets().iter().sum();
                seen(sent >= before + 3000, format!("{} packets", sent - before))
            });
        assert!(
            !push.done(),
            "the push finished before the fault: the test would prove nothing; raise REGHA_LAB_BIG_LAYER_MIB"
        );
        push
    }

    /// Pushes, pulls back and compares, from client `c`, over the stack's
    /// family.
    pub fn round_trip(&self, c: usize, image: &Image, repo: &str, limit: Duration) {
        self.round_trip_over(self.spec.stack.primary_v6(), c, image, repo, limit);
    }

    /// Pushes, pulls back and compares over a family.
    pub fn round_trip_over(&self, v6: bool, c: usize, image: &Image, repo: &str, limit: Duration) {
        self.push_over(v6, c, image, repo)
            .wait(limit)
            .unwrap_or_else(|e| panic!("push: {e}\n{}", self.logs()));
        let dest = format!("pulled-{}-{c}", repo.replace('/', "_"));
        let (pull, dir) = self.pull_over(v6, c, repo, &dest);
        pull.wait(limit)
            .unwrap_or_else(|e| panic!("pull: {e}\n{}", self.logs()));
        crate::oci::verify_pulled(&dir, &image.tag, image).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A client's egress limited to a rate (a `tbf` qdisc on its link), until
/// dropped: a push then lasts long enough for a fault to land in its
/// middle on any machine.
pub struct Shaped<'a> {
    host: &'a crate::lab::Host,
}

impl Drop for Shaped<'_> {
    fn drop(&mut self) {
        let _ = self
            .host
            .ns
            .command("tc")
            .args(["qdisc", "del", "dev", crate::lab::HOST_IFACE, "root"])
            .output();
    }
}

impl Lab {
    /// Limits client `c`'s egress to `mbit` Mbit/s until the guard drops.
    pub fn shape_client(&self, c: usize, mbit: u32) -> Shaped<'_> {
        Self::shape(&self.clients[c], mbit)
    }

    /// Limits backend `be`'s egress (what clients pull: direct server
    /// return sends it straight to them) to `mbit` Mbit/s until the guard
    /// drops.
    pub fn shape_backend(&self, be: usize, mbit: u32) -> Shaped<'_> {
        Self::shape(&self.backends[be], mbit)
    }

    fn shape(host: &crate::lab::Host, mbit: u32) -> Shaped<'_> {
        host.ns.exec(
            "tc",
            &[
                "qdisc",
                "replace",
                "dev",
                crate::lab::HOST_IFACE,
                "root",
                "tbf",
                "rate",
                &format!("{mbit}mbit"),
                "burst",
                "256kb",
                "latency",
                "100ms",
            ],
        );
        Shaped { host }
    }
}
