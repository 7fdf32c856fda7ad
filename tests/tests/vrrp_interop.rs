//! VRRP against a real keepalived 2.2 on the same VRID, in a namespace lab
//! with one bridge: regha must be a peer keepalived accepts as one of its
//! own, both ways, for v2 with PASS authentication and for v3.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use regha_config::{Config, GarpConfig, Secret, TrackInterface, TrackScript, VrrpConfig};
use regha_model::VrrpVersion;
use regha_tests::{
    keepalived::{Keepalived, KeepalivedInstance},
    lab::{AUTH_PASS, Holders, Lab, LabSpec, Stack, VIP, capture, config},
    tempdir::TempDir,
    wait::wait_for,
};

/// The VIP as the keepalived peers hold it.
const KEEPALIVED_VIPS: &[&str] = &["192.0.2.100/32"];

/// A client, lb1 and lb2 (bare: each test starts regha or keepalived on
/// them) and one registry; the VIP held as /32.
fn vrrp_lab() -> Lab {
    LabSpec::bare(2)
        .registries(1)
        .vip_prefix(32)
        .check_interval(Duration::from_millis(500))
        .build()
}

/// regha with `vrrp` in front of the lab's registry.
fn regha(lab: &Lab, vrrp: VrrpConfig) -> Config {
    config::with_vrrp(vrrp, vec![lab.service()])
}

/// regha as a peer of the reference pair: v2, adverts every second, the
/// reference password (keepalived's instance requires it).
fn regha_v2(lab: &Lab, priority: u8) -> Config {
    regha(
        lab,
        VrrpConfig {
            auth_pass: Some(Secret::new(AUTH_PASS)),
            ..lab.vrrp(priority)
        },
    )
}

/// VRRP v3 with adverts every 100 ms, no password.
fn vrrp_v3(lab: &Lab, priority: u8) -> VrrpConfig {
    VrrpConfig {
        version: VrrpVersion::V3,
        advert_interval: Duration::from_millis(100),
        ..lab.vrrp(priority)
    }
}

/// keepalived as the reference deployment's backup LB runs it: VRID 51,
/// v2, advert 1 s, PASS "1111", the lab VIP.
fn reference_peer(priority: u8) -> KeepalivedInstance<'static> {
    KeepalivedInstance {
        auth_pass: Some(AUTH_PASS),
        ..KeepalivedInstance::new(51, priority, KEEPALIVED_VIPS)
    }
}

/// keepalived with v3 adverts every 100 ms, no password.
fn v3_peer(priority: u8) -> KeepalivedInstance<'static> {
    KeepalivedInstance {
        advert_int: 0.1,
        version: 3,
        ..KeepalivedInstance::new(51, priority, KEEPALIVED_VIPS)
    }
}

fn holds_vip(lab: &Lab, lb: usize) -> bool {
    lab.lbs[lb].holds(IpAddr::V4(VIP), 32)
}

/// v2 with PASS auth, regha priority 101 and keepalived 100 (the reference
/// deployment's numbers): regha becomes master; SIGKILL regha and
/// keepalived takes over within Master_Down_Interval (3 s + skew 0.61 s)
/// plus an advertisement; regha restarted preempts back.
#[test]
fn v2_regha_master_keepalived_takes_over_on_crash_and_regha_preempts_back() {
    let mut lab = vrrp_lab();
    lab.start_keepalived(1, &reference_peer(100));
    lab.start_agent(0, &regha_v2(&lab, 101), &[]);
    lab.wait_vip(
        "regha (101) becomes master",
        0,
        Holders::Only,
        Duration::from_secs(8),
    );
    assert!(
        lab.keepalived(1).log().contains("Entering BACKUP STATE") || !holds_vip(&lab, 1),
        "keepalived is backup:\n{}",
        lab.keepalived(1).log()
    );

    lab.agent_mut(0).kill();
    // A crashed agent leaves its VIP behind (as a killed keepalived does);
    // the next start releases it. What counts is the peer taking it.
    let takeover = lab.wait_vip(
        "keepalived takes over",
        1,
        Holders::Including,
        Duration::from_secs(6),
    );
    eprintln!("v2: keepalived took over {takeover:?} after regha was killed");
    // Master_Down_Interval 3.61 s plus one advertisement (1 s).
    assert!(
        takeover < Duration::from_millis(4700),
        "takeover {takeover:?}"
    );

    lab.agent_mut(0).restart();
    let back = lab.wait_vip(
        "regha preempts back",
        0,
        Holders::Only,
        Duration::from_secs(8),
    );
    eprintln!("v2: regha preempted back {back:?} after its restart");
}

/// v3 at 100 ms, keepalived priority 150 and regha 100: keepalived stays
/// master; SIGTERM keepalived (it sends priority 0) and regha takes over
/// within Skew_Time plus a margin; keepalived back preempts regha.
#[test]
fn v3_keepalived_master_regha_takes_over_on_priority_zero_and_yields_back() {
    let mut lab = vrrp_lab();
    lab.start_keepalived(1, &v3_peer(150));
    lab.start_agent(0, &regha(&lab, vrrp_v3(&lab, 100)), &[]);
    lab.wait_vip(
        "keepalived (150) is master",
        1,
        Holders::Only,
        Duration::from_secs(5),
    );
    // regha stays backup while keepalived advertises.
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !holds_vip(&lab, 0),
        "regha took the VIP from a higher-priority master:\n{}",
        lab.logs()
    );
    assert_eq!(
        lab.agent(0).state().map(|s| s.role),
        Some(regha_model::Role::Backup)
    );

    lab.keepalived(1).terminate();
    let takeover = lab.wait_vip(
        "regha takes over",
        0,
        Holders::Including,
        Duration::from_secs(3),
    );
    lab.keepalived_mut(1).stop();
    eprintln!("v3 100ms: regha took over {takeover:?} after keepalived's SIGTERM (priority 0)");
    // Skew_Time at priority 100 and 100 ms is 60 ms; allow for process exit and scheduling.
    assert!(
        takeover < Duration::from_millis(1000),
        "takeover {takeover:?}"
    );

    lab.keepalived_mut(1).restart();
    let back = lab.wait_vip(
        "keepalived preempts back",
        1,
        Holders::Only,
        Duration::from_secs(5),
    );
    eprintln!("v3 100ms: keepalived preempted back {back:?} after its restart");
}

/// SIGTERM regha as master: it releases the VIP and sends priority 0, and
/// keepalived takes over within Skew_Time (0.61 s at priority 100) plus a
/// margin, rather than waiting out Master_Down_Interval.
#[test]
fn v2_sigterm_regha_master_hands_over_at_once() {
    let mut lab = vrrp_lab();
    lab.start_keepalived(1, &reference_peer(100));
    lab.start_agent(0, &regha_v2(&lab, 101), &[]);
    lab.wait_vip("regha is master", 0, Holders::Only, Duration::from_secs(8));
    let stopped = Instant::now();
    lab.agent(0).signal(libc::SIGTERM);
    assert!(lab.agent_mut(0).wait_exit(Duration::from_secs(5)).success());
    assert!(!holds_vip(&lab, 0), "the VIP is released on SIGTERM");
    lab.wait_vip(
        "keepalived takes over",
        1,
        Holders::Including,
        Duration::from_secs(3),
    );
    let takeover = stopped.elapsed();
    eprintln!("v2: keepalived took over {takeover:?} after regha's SIGTERM (priority 0)");
    assert!(
        takeover < Duration::from_millis(1600),
        "takeover {takeover:?}: priority 0 was not heard"
    );
}

/// Golden bytes: the adverts a real keepalived sends (v2 with PASS, v3) are
/// byte for byte what regha's encoder makes for the same instance.
#[test]
fn keepalived_adverts_match_our_encoder() {
    use regha_agent::vrrp::packet::{Advert, V3Checksum};
    let mut lab = vrrp_lab();
    for (version, auth) in [(2u8, Some(AUTH_PASS)), (3u8, None)] {
        lab.start_keepalived(
            1,
            &KeepalivedInstance {
                version,
                auth_pass: auth,
                ..KeepalivedInstance::new(51, 100, KEEPALIVED_VIPS)
            },
        );
        // Capture VRRP frames on the switch side of the segment (lb1 sees them).
        let frames = lab.lbs[0]
            .ns
            .run(|| capture::capture_ipv4_proto(112, Duration::from_millis(5500)));
        lab.keepalived_mut(1).stop();
        let advert = frames
            .iter()
            .map(|f| &f[14..])
            .find(|ip| ip[12..16] == lab.lbs[1].ip.octets())
            .unwrap_or_else(|| {
                panic!(
                    "no VRRP v{version} advert from keepalived captured:\n{}",
                    lab.logs()
                )
            });
        let ihl = usize::from(advert[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([advert[2], advert[3]]));
        let theirs = &advert[ihl..total];
        let ours = Advert {
            version: if version == 2 {
                VrrpVersion::V2
            } else {
                VrrpVersion::V3
            },
            vrid: 51,
            priority: theirs[2],
            interval: if version == 2 { 1 } else { 100 },
            addrs: vec![VIP.into()],
            auth: auth.map(regha_agent::vrrp::packet::auth_bytes),
        }
        .encode(
            lab.lbs[1].ip.into(),
            Ipv4Addr::new(224, 0, 0, 18).into(),
            V3Checksum::WithPseudoHeader,
        );
        assert_eq!(
            theirs,
            ours.as_slice(),
            "v{version}: keepalived's advert differs from ours"
        );
        assert_eq!(advert[8], 255, "keepalived sends TTL 255");
    }
}

/// Two regha agents (v3, 100 ms; priorities 101 and 100). A partition (lb1's
/// bridge port stops forwarding) makes both master; restored, exactly one master remains
/// (the higher priority), and the client's ARP entry for the VIP points at it.
#[test]
fn two_reghas_survive_a_partition_with_one_master_and_the_right_arp_entry() {
    let mut lab = vrrp_lab();
    lab.start_agent(0, &regha(&lab, vrrp_v3(&lab, 101)), &[]);
    lab.start_agent(1, &regha(&lab, vrrp_v3(&lab, 100)), &[]);
    lab.wait_vip(
        "lb1 (101) is master",
        0,
        Holders::Only,
        Duration::from_secs(5),
    );
    // The client talks to the VIP: its ARP entry names lb1.
    assert_eq!(lab.get_v2(0), Ok(200));
    assert_eq!(lab.client_vip_mac(0).as_deref(), Some("02:00:00:00:00:02"));
    assert_eq!(lab.lb_mac(0), "02:00:00:00:00:02", "lb1's MAC");

    lab.switch.partition(&lab.lbs[0], true);
    lab.wait_vip(
        "lb2 takes over while lb1 is cut off",
        1,
        Holders::Including,
        Duration::from_secs(3),
    );
    assert!(
        holds_vip(&lab, 0),
        "cut off, lb1 still believes it is master"
    );
    // lb2's gratuitous ARP reaches the client.
    lab.wait_client_arp(1, Duration::from_secs(3));
    assert_eq!(
        lab.get_v2(0),
        Ok(200),
        "served through lb2 during the partition"
    );

    lab.switch.partition(&lab.lbs[0], false);
    let healed = lab.wait_vip(
        "one master after the partition",
        0,
        Holders::Only,
        Duration::from_secs(3),
    );
    eprintln!("partition healed: one master again after {healed:?}");
    // The client's ARP entry for the VIP points at the survivor.
    lab.wait_client_arp(0, Duration::from_secs(3));
    assert_eq!(lab.get_v2(0), Ok(200));
    // The state file follows the VRRP transition asynchronously (the agent
    // loop writes it when the instance reports), so wait for it briefly.
    lab.agent(1)
        .wait_for("lb2 reports backup", Duration::from_secs(2), |s| {
            s.role == regha_model::Role::Backup
        });
}

/// Unicast peers with multicast blocked: the bridge floods no multicast
/// (not even 224.0.0.18) to either LB, so only unicast adverts can keep
/// lb2 a backup; killing lb1 then hands the VIP to lb2.
#[test]
fn two_reghas_with_unicast_peers_need_no_multicast() {
    let mut lab = vrrp_lab();
    for lb in &lab.lbs {
        lab.switch.block_multicast(lb);
    }
    let unicast = |priority: u8, peer: usize| {
        let vrrp = VrrpConfig {
            unicast_peers: vec![IpAddr::V4(lab.lbs[peer].ip)],
            ..vrrp_v3(&lab, priority)
        };
        regha(&lab, vrrp)
    };
    let (lb1, lb2) = (unicast(101, 1), unicast(100, 0));
    lab.start_agent(0, &lb1, &[]);
    lab.start_agent(1, &lb2, &[]);
    lab.wait_vip(
        "lb1 (101) is master",
        0,
        Holders::Only,
        Duration::from_secs(5),
    );
    // Master_Down_Interval is 360 ms: a second of lb2 staying backup means
    // it hears lb1's unicast adverts.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !holds_vip(&lab, 1),
        "lb2 does not hear lb1 over unicast:\n{}",
        lab.logs()
    );
    assert_eq!(
        lab.agent(1).state().map(|s| s.role),
        Some(regha_model::Role::Backup)
    );

    lab.agent_mut(0).kill();
    let takeover = lab.wait_vip(
        "lb2 takes over",
        1,
        Holders::Including,
        Duration::from_secs(3),
    );
    eprintln!("unicast v3 100ms: lb2 took over {takeover:?} after lb1 was killed");
}

/// Tracking against keepalived (v3, 100 ms; regha 101, keepalived 100):
/// - a tracked script with weight 0 failing puts regha in FAULT: it
///   releases the VIP and sends priority 0, keepalived takes over at once;
///   the script passing again brings regha back, and it preempts;
/// - a tracked interface with weight -50 losing its carrier drops regha to 51:
///   keepalived preempts; up again, regha preempts back;
/// - the VRRP interface losing its carrier is FAULT.
#[test]
fn v3_tracked_script_and_interfaces_move_the_vip_to_keepalived_and_back() {
    let mut lab = vrrp_lab();
    let dir = TempDir::new("track");
    let flag = dir.path().join("healthy");
    std::fs::write(&flag, "").unwrap();
    // The tracked interface: one end of a veth pair inside lb1; taking
    // the other end down takes its carrier away (up, but not running).
    let lb1 = &lab.lbs[0].ns;
    lb1.ip(&[
        "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    lb1.ip(&["link", "set", "trk0", "up"]);
    lb1.ip(&["link", "set", "trk1", "up"]);
    let vrrp = VrrpConfig {
        // `test -e FLAG` every 100 ms; weight 0: failing is FAULT.
        track_scripts: vec![TrackScript {
            name: "chk_flag".into(),
            program: "/usr/bin/test".into(),
            args: vec!["-e".into(), flag.display().to_string()],
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            weight: 0,
            rise: 1,
            fall: 1,
        }],
        track_interfaces: vec![TrackInterface {
            name: "trk0".into(),
            weight: -50,
        }],
        ..vrrp_v3(&lab, 101)
    };
    let config = regha(&lab, vrrp);
    lab.start_keepalived(1, &v3_peer(100));
    lab.start_agent(0, &config, &[]);
    let regha_master = |what: &str| lab.wait_vip(what, 0, Holders::Only, Duration::from_secs(5));
    let keepalived_master =
        |what: &str| lab.wait_vip(what, 1, Holders::Only, Duration::from_secs(5));
    regha_master("regha (101) is master");

    std::fs::remove_file(&flag).unwrap();
    let t = keepalived_master("the script fails: regha in FAULT, keepalived master");
    eprintln!("tracked script failed: keepalived master after {t:?}");
    assert!(
        lab.agent(0).log().contains("to=Fault"),
        "no FAULT transition:\n{}",
        lab.agent(0).log()
    );
    std::fs::write(&flag, "").unwrap();
    regha_master("the script passes again: regha preempts");

    let lb1 = &lab.lbs[0].ns;
    lb1.ip(&["link", "set", "trk1", "down"]);
    keepalived_master("trk0 without carrier: regha at 51, keepalived preempts");
    lb1.ip(&["link", "set", "trk1", "up"]);
    regha_master("trk0 running again: regha at 101 preempts back");

    // The VRRP interface loses its carrier (the bridge port goes down).
    lab.switch.set_port(&lab.lbs[0], false);
    wait_for(
        "regha to release the VIP: the VRRP interface is down",
        Duration::from_secs(2),
    )
    .context(|| lab.logs())
    .until(|| !holds_vip(&lab, 0));
    lab.wait_vip(
        "keepalived master",
        1,
        Holders::Including,
        Duration::from_secs(3),
    );
    lab.switch.set_port(&lab.lbs[0], true);
    regha_master("the link is back: regha preempts");
}

/// `garp_master_refresh`: a master re-announces its VIP every refresh
/// period (`garp_master_refresh_repeat` frames), and `garp_master_delay: 0s`
/// leaves out the second burst.
#[test]
fn garp_master_refresh_re_announces_while_master() {
    let mut lab = vrrp_lab();
    let vrrp = VrrpConfig {
        garp: GarpConfig {
            delay: Duration::ZERO,
            repeat: 2,
            refresh: Duration::from_millis(500),
            refresh_repeat: 1,
        },
        ..vrrp_v3(&lab, 101)
    };
    let config = regha(&lab, vrrp);
    let vip = VIP.octets();
    let from_vip = move |f: &[u8]| f.len() >= 42 && f[28..32] == vip;
    lab.start_agent(0, &config, &[]);
    lab.wait_vip(
        "regha is master",
        0,
        Holders::Including,
        Duration::from_secs(5),
    );
    let refreshes = lab.clients[0]
        .ns
        .spawn(move || capture::capture(0x0806, Duration::from_millis(2600), from_vip).len())
        .join()
        .unwrap();
    eprintln!("garp refresh 500ms: {refreshes} announcements in 2.6 s");
    assert!(
        (4..=6).contains(&refreshes),
        "{refreshes} announcements in 2.6 s, expected one per 500 ms:\n{}",
        lab.logs()
    );
}

const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

/// The IPv6 VIP as LBs hold it.
fn vip6() -> (IpAddr, u8) {
    (IpAddr::V6(VIP6), 64)
}

/// VRRPv3 over IPv6 against keepalived 2.2 (100 ms, regha 101, keepalived
/// 100): adverts from the link-local address to ff02::12 with hop limit 255
/// and the IPv6 pseudo-header checksum. regha becomes master and keepalived
/// backup (keepalived accepts regha's adverts); SIGKILL regha and keepalived
/// takes the VIP; restarted, regha preempts back, and never rejected one of
/// keepalived's adverts.
#[test]
fn v3_ipv6_regha_master_keepalived_takes_over_on_crash() {
    let mut lab = vrrp_lab();
    // VRRP over IPv6 speaks from the link-local address, which must have
    // passed duplicate address detection (the veths come up with DAD on,
    // ~1-2 s).
    for (i, h) in lab.lbs.iter().enumerate() {
        wait_for(
            format!("a usable link-local address on lb{}", i + 1),
            Duration::from_secs(10),
        )
        .every(Duration::from_millis(50))
        .until(|| h.link_local_ready());
    }
    let lab_ip6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last));
    lab.lbs[0].add_address(lab_ip6(0x2), 64);
    lab.lbs[1].add_address(lab_ip6(0x3), 64);
    lab.backends[0].add_address(lab_ip6(0x11), 64);
    let ipv6 = |priority: u8| {
        let vrrp = VrrpConfig {
            priority,
            version: VrrpVersion::V3,
            advert_interval: Duration::from_millis(100),
            ..config::vrrp(52, &[vip6()])
        };
        let service = config::registry(IpAddr::V6(VIP6), [lab_ip6(0x11)], lab.spec.check_interval);
        config::with_vrrp(vrrp, vec![service])
    };
    let (at_101, at_99) = (ipv6(101), ipv6(99));
    let vips = ["2001:db8::100/64"];
    lab.start_keepalived(
        1,
        &KeepalivedInstance {
            advert_int: 0.1,
            version: 3,
            ..KeepalivedInstance::new(52, 100, &vips)
        },
    );
    lab.start_agent(0, &at_101, &[]);
    let holds_vip6 = |lab: &Lab, lb: usize| lab.lbs[lb].holds(vip6().0, vip6().1);
    lab.wait_address(
        "regha (101) becomes master over IPv6",
        vip6(),
        0,
        Holders::Only,
        Duration::from_secs(8),
    );
    // keepalived hears regha: it stays backup for many Master_Down_Intervals.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !holds_vip6(&lab, 1) && lab.keepalived(1).log().contains("Entering BACKUP STATE"),
        "keepalived is not a backup:\n{}",
        lab.logs()
    );
    let line = lab.lbs[0]
        .ns
        .ip(&["-6", "addr", "show", "dev", regha_tests::lab::HOST_IFACE]);
    assert!(
        !line.contains("tentative") && !line.contains("dadfailed"),
        "the VIP is usable at once (no DAD): {line}"
    );

    lab.agent_mut(0).kill();
    let takeover = lab.wait_address(
        "keepalived takes over over IPv6",
        vip6(),
        1,
        Holders::Including,
        Duration::from_secs(3),
    );
    eprintln!("v3 IPv6 100ms: keepalived took over {takeover:?} after regha was killed");

    lab.agent_mut(0).restart();
    lab.wait_address(
        "regha preempts back over IPv6",
        vip6(),
        0,
        Holders::Only,
        Duration::from_secs(8),
    );
    assert!(
        !lab.agent(0).log().contains("VRRP packet rejected"),
        "regha rejected keepalived's IPv6 adverts:\n{}",
        lab.agent(0).log()
    );

    // regha at 99 hears keepalived's IPv6 adverts: it stays a backup for
    // many Master_Down_Intervals (363 ms) and keepalived keeps the VIP.
    lab.agent_mut(0).kill();
    lab.agent(0).rewrite_config(&at_99);
    lab.agent_mut(0).restart();
    lab.wait_address(
        "keepalived (100) is master over regha (99)",
        vip6(),
        1,
        Holders::Only,
        Duration::from_secs(8),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        holds_vip6(&lab, 1) && !holds_vip6(&lab, 0),
        "regha (99) does not hear keepalived's IPv6 adverts:\n{}",
        lab.logs()
    );
}

/// How many takeovers each measurement test times: 3 (CI), or
/// `REGHA_TAKEOVER_RUNS` (e.g. `REGHA_TAKEOVER_RUNS=20 cargo test -p
/// regha-tests --test vrrp_interop takeover_ -- --nocapture` for the
/// closing note's figures).
fn takeover_runs() -> usize {
    std::env::var("REGHA_TAKEOVER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// Prints `TAKEOVER <what> median=..ms max=..ms runs=N` (grep-able) and
/// returns (median, max). The VIP is polled every 20 ms (plus an `ip`
/// call), so each figure is late by up to ~25 ms.
fn report_takeovers(what: &str, times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    };
    let max = times[n - 1];
    let all: Vec<String> = times.iter().map(|t| t.as_millis().to_string()).collect();
    eprintln!(
        "TAKEOVER {what} median={}ms max={}ms runs={n} all_ms=[{}]",
        median.as_millis(),
        max.as_millis(),
        all.join(",")
    );
    (median, max)
}

/// The lab of the takeover measurements over `stack`: `vrrp_lab`, with
/// the hosts dual-stack and their link-local addresses usable when IPv6 is
/// in it (VRRP over IPv6 speaks from them).
fn vrrp_lab_over(stack: Stack) -> Lab {
    let lab = LabSpec::bare(2)
        .registries(1)
        .vip_prefix(32)
        .check_interval(Duration::from_millis(500))
        .stack(stack)
        .build();
    if stack != Stack::V4 {
        lab.wait_link_local();
    }
    lab
}

/// The lab's VIPs as keepalived's `virtual_ipaddress` lists them.
fn keepalived_vips(lab: &Lab) -> Vec<Vec<String>> {
    lab.vips()
        .iter()
        .map(|(ip, prefix)| vec![format!("{ip}/{prefix}")])
        .collect()
}

/// `what` for the grep-able line: `ipv6 v3-100ms`, `v2-1s`.
fn measured(stack: Stack, version: u8, advert_int: f64) -> String {
    let interval = if advert_int < 1.0 {
        format!("{}ms", (advert_int * 1000.0).round())
    } else {
        format!("{advert_int}s")
    };
    let family = match stack {
        Stack::V4 => "",
        Stack::V6 => "ipv6 ",
        Stack::Dual => "dual ",
    };
    format!("{family}v{version}-{interval}")
}

/// regha 101 master, keepalived 100 backup (v3 at `advert_int`, over
/// `stack`'s family): SIGKILL regha, time until keepalived holds the VIP;
/// restart regha, let it preempt back; repeat. Expected: Master_Down_Interval
/// (3 adverts + Skew_Time at 100) less the part of an advert interval that
/// had run when regha died.
fn keepalived_takes_over_when_regha_is_killed(stack: Stack, advert_int: f64) {
    let mut lab = vrrp_lab_over(stack);
    let vips = keepalived_vips(&lab);
    let vips: Vec<&str> = vips[0].iter().map(String::as_str).collect();
    lab.start_keepalived(
        1,
        &KeepalivedInstance {
            advert_int,
            version: 3,
            ..KeepalivedInstance::new(51, 100, &vips)
        },
    );
    let vrrp = VrrpConfig {
        version: VrrpVersion::V3,
        advert_interval: Duration::from_secs_f64(advert_int),
        ..lab.vrrp(101)
    };
    lab.start_agent(0, &regha(&lab, vrrp), &[]);
    let limit = Duration::from_secs_f64(advert_int * 12.0 + 5.0);
    let mut times = Vec::new();
    for run in 0..takeover_runs() {
        if run > 0 {
            lab.agent_mut(0).restart();
        }
        lab.wait_vip("regha (101) is master", 0, Holders::Only, limit);
        // Let keepalived hear a few adverts as a backup.
        std::thread::sleep(Duration::from_secs_f64((advert_int * 5.0).max(0.5)));
        lab.agent_mut(0).kill();
        times.push(lab.wait_vip("keepalived takes over", 1, Holders::Including, limit));
    }
    let what = format!("{} regha-killed", measured(stack, 3, advert_int));
    let (_, max) = report_takeovers(&what, &mut times);
    // Master_Down_Interval (3 adverts + Skew_Time at 100) plus one advert.
    let bound = Duration::from_secs_f64(advert_int * 4.0 + 0.61 * advert_int + 0.3);
    assert!(max < bound, "{what}: takeover {max:?} over {bound:?}");
}

/// keepalived (priority 101) master, regha (100) backup: SIGKILL keepalived
/// (no priority 0 advert), time until regha holds the VIP; restart
/// keepalived, let it preempt back; repeat.
fn regha_takes_over_when_keepalived_is_killed(stack: Stack, version: u8, advert_int: f64) {
    let mut lab = vrrp_lab_over(stack);
    let auth = (version == 2).then_some(AUTH_PASS);
    let vips = keepalived_vips(&lab);
    let vips: Vec<&str> = vips[0].iter().map(String::as_str).collect();
    lab.start_keepalived(
        1,
        &KeepalivedInstance {
            advert_int,
            version,
            auth_pass: auth,
            ..KeepalivedInstance::new(51, 101, &vips)
        },
    );
    let vrrp = VrrpConfig {
        version: if version == 2 {
            VrrpVersion::V2
        } else {
            VrrpVersion::V3
        },
        advert_interval: Duration::from_millis((advert_int * 1000.0).round() as u64),
        auth_pass: auth.map(Secret::new),
        ..lab.vrrp(100)
    };
    lab.start_agent(0, &regha(&lab, vrrp), &[]);
    let limit = Duration::from_secs_f64(advert_int * 12.0 + 5.0);
    let mut times = Vec::new();
    for run in 0..takeover_runs() {
        if run > 0 {
            // keepalived removes the VIP its killed predecessor left, then
            // preempts regha.
            lab.keepalived_mut(1).restart();
        }
        lab.wait_vip("keepalived (101) is master", 1, Holders::Only, limit);
        std::thread::sleep(Duration::from_secs_f64(advert_int * 5.0));
        lab.keepalived_mut(1).kill();
        times.push(lab.wait_vip("regha takes over", 0, Holders::Including, limit));
    }
    let what = format!("{} keepalived-killed", measured(stack, version, advert_int));
    let (_, max) = report_takeovers(&what, &mut times);
    // Master_Down_Interval (3 adverts + Skew_Time at priority 100) plus one advert.
    let bound = Duration::from_secs_f64(advert_int * 4.0 + 0.61 * advert_int.max(0.1) + 0.3);
    assert!(max < bound, "{what}: takeover {max:?} over {bound:?}");
}

#[test]
fn takeover_v3_100ms_keepalived_takes_over_when_regha_is_killed() {
    keepalived_takes_over_when_regha_is_killed(Stack::V4, 0.1);
}

#[test]
fn takeover_v3_1s_keepalived_takes_over_when_regha_is_killed() {
    keepalived_takes_over_when_regha_is_killed(Stack::V4, 1.0);
}

#[test]
fn takeover_v2_1s_regha_takes_over_when_keepalived_is_killed() {
    regha_takes_over_when_keepalived_is_killed(Stack::V4, 2, 1.0);
}

#[test]
fn takeover_v3_1s_regha_takes_over_when_keepalived_is_killed() {
    regha_takes_over_when_keepalived_is_killed(Stack::V4, 3, 1.0);
}

#[test]
fn takeover_v3_100ms_regha_takes_over_when_keepalived_is_killed() {
    regha_takes_over_when_keepalived_is_killed(Stack::V4, 3, 0.1);
}

/// The same over IPv6 (VRRP v3 from the link-local addresses to ff02::12,
/// the VIP 2001:db8::100/128 added deprecated).
#[test]
fn takeover_ipv6_v3_100ms_keepalived_takes_over_when_regha_is_killed() {
    keepalived_takes_over_when_regha_is_killed(Stack::V6, 0.1);
}

#[test]
fn takeover_ipv6_v3_1s_keepalived_takes_over_when_regha_is_killed() {
    keepalived_takes_over_when_regha_is_killed(Stack::V6, 1.0);
}

#[test]
fn takeover_ipv6_v3_100ms_regha_takes_over_when_keepalived_is_killed() {
    regha_takes_over_when_keepalived_is_killed(Stack::V6, 3, 0.1);
}

#[test]
fn takeover_ipv6_v3_1s_regha_takes_over_when_keepalived_is_killed() {
    regha_takes_over_when_keepalived_is_killed(Stack::V6, 3, 1.0);
}

/// keepalived's `vrrp_sync_group` of an IPv4 and an IPv6 instance (v3,
/// 100 ms, VRID 51 in both families) against regha's sync group of the
/// same two: keepalived (101) master of both; SIGKILL it: regha takes both
/// VIPs, the group as one; keepalived restarted preempts both back. Timed
/// like the single-instance takeovers, until regha holds both.
#[test]
fn takeover_dual_v3_100ms_regha_takes_both_vips_when_keepalived_is_killed() {
    let mut lab = vrrp_lab_over(Stack::Dual);
    let vips = keepalived_vips(&lab);
    let group: Vec<Vec<&str>> = vips
        .iter()
        .map(|v| v.iter().map(String::as_str).collect())
        .collect();
    let instances: Vec<KeepalivedInstance> = group
        .iter()
        .map(|v| KeepalivedInstance {
            advert_int: 0.1,
            version: 3,
            ..KeepalivedInstance::new(51, 101, v)
        })
        .collect();
    lab.keepalived[1] = Some(Keepalived::start_group(&lab.lbs[1], &instances, "registry"));
    let instances = lab
        .instances(100)
        .into_iter()
        .map(|v| VrrpConfig {
            version: VrrpVersion::V3,
            advert_interval: Duration::from_millis(100),
            ..v
        })
        .collect();
    let config = config::with_instances(instances, lab.services_over(&[0]));
    lab.start_agent(0, &config, &[]);
    let limit = Duration::from_secs(8);
    let mut times = Vec::new();
    for run in 0..takeover_runs() {
        if run > 0 {
            lab.keepalived_mut(1).restart();
        }
        lab.wait_vip(
            "keepalived (101) is master of both",
            1,
            Holders::Only,
            limit,
        );
        std::thread::sleep(Duration::from_millis(500));
        lab.keepalived_mut(1).kill();
        times.push(lab.wait_vip("regha takes both", 0, Holders::Including, limit));
    }
    let (_, max) = report_takeovers("dual v3-100ms keepalived-killed (both VIPs)", &mut times);
    assert!(max < Duration::from_millis(1000), "takeover {max:?}");
    assert!(
        lab.agent(0).log().contains("sync group decision"),
        "the group took over without its sync group deciding:\n{}",
        lab.agent(0).log()
    );
}

/// A fault of one member moves the whole group, across implementations:
/// regha (101) master of both instances, keepalived's sync group (100)
/// backup; regha's IPv6 instance tracks a script at weight 0 that starts
/// failing: that instance goes to FAULT, its group follows (the IPv4 one
/// too, both advertising priority 0), and keepalived's group takes both
/// VIPs; the script passes again and regha's group preempts both back.
#[test]
fn a_fault_of_one_member_moves_the_sync_group_to_keepalived_and_back() {
    let mut lab = vrrp_lab_over(Stack::Dual);
    let dir = TempDir::new("track");
    let flag = dir.path().join("healthy");
    std::fs::write(&flag, "").unwrap();
    let vips = keepalived_vips(&lab);
    let group: Vec<Vec<&str>> = vips
        .iter()
        .map(|v| v.iter().map(String::as_str).collect())
        .collect();
    let instances: Vec<KeepalivedInstance> = group
        .iter()
        .map(|v| KeepalivedInstance {
            advert_int: 0.1,
            version: 3,
            ..KeepalivedInstance::new(51, 100, v)
        })
        .collect();
    lab.keepalived[1] = Some(Keepalived::start_group(&lab.lbs[1], &instances, "registry"));
    let check = TrackScript {
        name: "chk_flag".into(),
        program: "/usr/bin/test".into(),
        args: vec!["-e".into(), flag.display().to_string()],
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        weight: 0,
        rise: 1,
        fall: 1,
    };
    let instances = lab
        .instances(101)
        .into_iter()
        .map(|v| VrrpConfig {
            version: VrrpVersion::V3,
            advert_interval: Duration::from_millis(100),
            track_scripts: if v.family() == regha_model::IpFamily::Ipv6 {
                vec![check.clone()]
            } else {
                Vec::new()
            },
            ..v
        })
        .collect();
    let config = config::with_instances(instances, lab.services_over(&[0]));
    lab.start_agent(0, &config, &[]);
    let limit = Duration::from_secs(5);
    lab.wait_vip("regha (101) is master of both", 0, Holders::Only, limit);

    std::fs::remove_file(&flag).unwrap();
    let t = lab.wait_vip(
        "the IPv6 instance faults: keepalived takes both",
        1,
        Holders::Only,
        limit,
    );
    eprintln!("one member in FAULT: keepalived holds both VIPs after {t:?}");
    let state = lab.agent(0).state().expect("state");
    let states: Vec<String> = state
        .vrrp
        .iter()
        .map(|v| format!("{} {}", v.name, v.state))
        .collect();
    assert_eq!(
        states,
        ["registry-v4 fault", "registry-v6 fault"],
        "the whole group is in FAULT"
    );
    std::fs::write(&flag, "").unwrap();
    lab.wait_vip(
        "the script passes: regha's group preempts both",
        0,
        Holders::Only,
        limit,
    );
}
