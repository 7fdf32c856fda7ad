//! No host traffic from a VIP (issue 17): a master's own traffic to the
//! backends never leaves from a VIP, which the backends hold on `lo` and
//! would answer to themselves. Two guards, one test each, so that either
//! failing shows:
//!
//! - IPv6: the VIP is added deprecated (`preferred_lft 0`, as keepalived
//!   2.2 adds it), on every add, so that the kernel itself never picks it;
//!   a `/128` VIP otherwise wins source selection against the host's `/64`
//!   (RFC 6724 rule 8). The master's health checks must pass, and `ip -6
//!   route get` towards a backend must name the host's own address, after
//!   the first takeover and after a re-acquisition.
//! - IPv4: the kernel ignores `preferred_lft` there, and a VIP whose subnet
//!   holds no address of the host's own is that subnet's primary address
//!   and the kernel's source towards the backends. The agent's checks bind
//!   to the interface's own address: they pass even though `ip route get`
//!   names the VIP.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use regha_config::{Config, VrrpConfig};
use regha_model::{Health, Role, VrrpVersion};
use regha_tests::{
    client::http_get,
    lab::{HOST_IFACE, Holders, Lab, LabSpec, PORT, VIP, VIP6, config},
    wait::{seen, wait_for},
};

/// One LB and two registries, checked every 200 ms (fall 3: a master whose
/// checks fail marks its backends down within a second).
fn lab(spec: LabSpec) -> Lab {
    spec.registries(2)
        .check_interval(Duration::from_millis(200))
        .build()
}

/// The kernel's source address on `lb` towards `dst` (`ip route get`).
fn kernel_source(lab: &Lab, dst: IpAddr) -> String {
    let out = lab.lbs[0].ns.ip(&["route", "get", &dst.to_string()]);
    out.split_whitespace()
        .skip_while(|w| *w != "src")
        .nth(1)
        .unwrap_or_else(|| panic!("no src in `ip route get {dst}`: {out}"))
        .to_owned()
}

/// `ip -6 addr` line of `vip` on lb1.
fn address_line(lab: &Lab, vip: IpAddr) -> String {
    let out = lab.lbs[0].ns.ip(&["-o", "addr", "show", "dev", HOST_IFACE]);
    out.lines()
        .find(|l| l.contains(&format!(" {vip}/")))
        .unwrap_or_else(|| panic!("{vip} is not on lb1: {out}"))
        .to_owned()
}

/// Every backend of lb1's agent is up now, and stays up for `hold` (its
/// checks, made on the master, keep passing).
#[track_caller]
fn backends_stay_up(lab: &Lab, hold: Duration) {
    lab.wait_backends_up(Duration::from_secs(10));
    let before = lab.agent(0).state().expect("state");
    std::thread::sleep(hold);
    let after = lab.agent(0).state().expect("state");
    for (b, a) in before.services[0]
        .backends
        .iter()
        .zip(&after.services[0].backends)
    {
        assert!(
            a.health == Health::Up && a.transitions == b.transitions,
            "{} went down on the master (its checks left from a VIP?): {a:?}\n{}",
            a.address,
            lab.logs()
        );
    }
}

/// `GET /v2/` through the VIP from client1.
fn get_through(lab: &Lab, vip: IpAddr) -> Result<u16, String> {
    let src = lab.clients[0].addr(vip.is_ipv6());
    lab.clients[0]
        .ns
        .run(move || http_get(src, SocketAddr::new(vip, PORT), "/v2/"))
}

/// The setup: VRRP v3 over IPv6 (100 ms adverts) for a `/128` VIP,
/// real registries set up with `backend-setup --vip 2001:db8::100`. The
/// master's checks pass, the VIP is `nodad deprecated`, the kernel's route
/// towards a backend names the host's own address, and clients reach the
/// registries through the VIP; all of it again after the instance resigns
/// and takes the VIP back (a re-acquisition adds it afresh).
#[test]
fn an_ipv6_master_never_sources_from_its_vip() {
    let mut lab = lab(LabSpec::bare(1).ipv6());
    let vip6 = IpAddr::V6(VIP6);
    let backends = lab.backends.iter().map(|b| b.addr(true));
    let service = config::registry(vip6, backends, lab.spec.check_interval);
    let vrrp = VrrpConfig {
        priority: 101,
        version: VrrpVersion::V3,
        advert_interval: Duration::from_millis(100),
        ..config::vrrp(52, &[(vip6, 128)])
    };
    wait_for(
        "a usable link-local address on lb1",
        Duration::from_secs(10),
    )
    .every(Duration::from_millis(50))
    .until(|| lab.lbs[0].link_local_ready());
    lab.start_agent(0, &config::with_vrrp(vrrp, vec![service]), &[]);
    let be1 = lab.backends[0].addr(true);
    let own = lab.lbs[0].addr(true).to_string();
    for round in ["first takeover", "re-acquisition after resigning"] {
        lab.wait_address(round, (vip6, 128), 0, Holders::Only, Duration::from_secs(8));
        let line = address_line(&lab, vip6);
        assert!(
            line.contains("deprecated") && line.contains("nodad"),
            "{round}: the VIP is not deprecated without DAD: {line}"
        );
        assert_eq!(
            kernel_source(&lab, be1),
            own,
            "{round}: the kernel picks the VIP towards {be1}"
        );
        backends_stay_up(&lab, Duration::from_secs(2));
        assert_eq!(get_through(&lab, vip6), Ok(200), "{round}\n{}", lab.logs());
        if round == "first takeover" {
            for command in ["resign", "resume"] {
                let out = lab.agent(0).cli(&[], &["vrrp", command]);
                assert!(out.status.success(), "vrrp {command}: {out:?}");
            }
        }
    }
}

/// A VIP already on the interface as a preferred address (a crashed peer's,
/// or one added by hand) is made deprecated when the agent takes it: the
/// static master's add finds it and replaces it in place.
#[test]
fn an_ipv6_vip_found_preferred_is_made_deprecated() {
    let mut lab = lab(LabSpec::bare(1).ipv6());
    let vip6 = IpAddr::V6(VIP6);
    lab.lbs[0].add_address(vip6, 128);
    let be1 = lab.backends[0].addr(true);
    assert_eq!(
        kernel_source(&lab, be1),
        VIP6.to_string(),
        "the trap: a preferred /128 VIP is the kernel's source"
    );
    let backends = lab.backends.iter().map(|b| b.addr(true));
    let service = config::registry(vip6, backends, lab.spec.check_interval);
    lab.start_agent(0, &config::with_role(Role::Master, vec![service]), &[]);
    wait_for("the VIP to be deprecated", Duration::from_secs(10))
        .context(|| lab.logs())
        .until(|| {
            let line = address_line(&lab, vip6);
            seen(line.contains("deprecated"), line)
        });
    assert_eq!(kernel_source(&lab, be1), lab.lbs[0].addr(true).to_string());
    backends_stay_up(&lab, Duration::from_secs(1));
}

/// The IPv4 trap: lb1's own address is in another subnet (192.0.2.128/25)
/// than the backends and the VIP (192.0.2.100/25), so the VIP is its
/// subnet's primary address and the kernel's source towards the backends.
/// The master's checks bind to 192.0.2.130 and pass; the agent warns that
/// the host's other traffic to the backends leaves from the VIP.
#[test]
fn an_ipv4_master_checks_from_its_own_address_when_the_kernel_would_use_the_vip() {
    let mut lab = lab(LabSpec::bare(1));
    let own = Ipv4Addr::new(192, 0, 2, 130);
    let lb = &lab.lbs[0];
    lb.ns
        .ip(&["addr", "del", &format!("{}/24", lb.ip), "dev", HOST_IFACE]);
    lb.add_address(IpAddr::V4(own), 25);
    let vip = (IpAddr::V4(VIP), 25);
    let backends = lab.backends.iter().map(|b| b.addr(false));
    let service = config::registry(vip.0, backends, lab.spec.check_interval);
    let vrrp = VrrpConfig {
        version: VrrpVersion::V3,
        advert_interval: Duration::from_millis(100),
        ..config::vrrp(51, &[vip])
    };
    let config: Config = config::with_vrrp(vrrp, vec![service]);
    lab.start_agent(0, &config, &[]);
    lab.wait_address("lb1 master", vip, 0, Holders::Only, Duration::from_secs(8));
    let be1 = lab.backends[0].addr(false);
    assert_eq!(
        kernel_source(&lab, be1),
        VIP.to_string(),
        "the trap is set: the kernel's source towards the backends is the VIP"
    );
    backends_stay_up(&lab, Duration::from_secs(2));
    assert_eq!(get_through(&lab, vip.0), Ok(200), "{}", lab.logs());
    let log = lab.agent(0).log();
    assert!(
        log.contains("the kernel sends this host's traffic to the backend from a VIP"),
        "no warning about the host's other traffic:\n{log}"
    );
}
