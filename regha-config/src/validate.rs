//! The rules: the raw YAML in, the typed [`Config`] out, or every problem.
//!
//! Each check records its problem in [`Check`] and carries on, so that one run
//! of `check-config` lists them all. A field that fails yields `None`; the
//! typed config is assembled only when nothing was recorded. Rules across
//! fields (duplicates, VIPs held by VRRP, totals) look at whatever parsed, so
//! a bad address neither hides an unrelated duplicate nor causes a second,
//! derived complaint.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regha_common::{
    DEFAULT_FLOW_TABLE_SIZE, DEFAULT_RING_SIZE, MAX_BACKENDS, MAX_RING_SIZE, MAX_SERVICES,
};

use regha_model::{Forwarding, HashMode, Protocol, Role, VrrpVersion, Word, XdpMode};

use super::{
    BackendConfig, Config, ConfigError, ConfigErrors, DEFAULT_STATS_LISTEN, HealthConfig,
    HealthKind, MAX_BACKENDS_PER_SERVICE, NotifyScripts, PasswordSource, ServiceConfig, StatsAuth,
    StatsConfig, TrackBackends, VrrpConfig, duration, raw,
};
use super::{GarpConfig, TrackInterface, TrackScript};
use crate::primes::{is_prime, next_prime};

/// Below 1024 entries the LRU evicts live flows under any real load; above
/// 2^24 the map costs gigabytes of kernel memory.
const FLOW_TABLE_SIZES: RangeInclusive<i64> = 1024..=16_777_216;
const MAX_HEALTH_INTERVAL: Duration = Duration::from_secs(3600);
/// keepalived's limit.
const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// The advert's "Count IP Addrs" field is one byte.
const MAX_VRRP_ADDRESSES: usize = 255;

pub(super) fn validate(raw: raw::Config) -> Result<Config, ConfigErrors> {
    let mut c = Check::default();
    let interface = maybe(raw.interface, |n| {
        c.result("interface", check_ifname(&n).map(|()| n))
    });
    let xdp_mode = c.word::<XdpMode>("xdp_mode", raw.xdp_mode.as_deref());
    let flow_table_size = c.int(
        "flow_table_size",
        raw.flow_table_size,
        Some(DEFAULT_FLOW_TABLE_SIZE),
        FLOW_TABLE_SIZES,
    );
    let hash_seed = c.int("hash_seed", raw.hash_seed, Some(0), 0..=u32::MAX.into());
    let role = maybe(raw.role.as_deref(), |r| c.word::<Role>("role", Some(r)));
    if raw.role.is_none() && raw.vrrp.is_none() {
        c.fail::<()>("role", "set `role: master|backup` or configure `vrrp`");
    }
    let vrrp = maybe(raw.vrrp.as_ref(), |v| vrrp(&mut c, v));
    let services = services(&mut c, raw.services.as_deref());
    if let (Some(v), Some(list)) = (&raw.vrrp, &raw.services) {
        vrrp_against_services(&mut c, v, list);
    }
    let stats = match raw.stats {
        None => Some(Some(StatsConfig {
            listen: DEFAULT_STATS_LISTEN,
            auth: None,
        })),
        Some(s) => maybe(s.as_ref(), |s| stats(&mut c, s)),
    };

    let config = (|| {
        Some(Config {
            interface: interface?,
            xdp_mode: xdp_mode?,
            flow_table_size: flow_table_size?,
            hash_seed: hash_seed?,
            role: role?,
            vrrp: vrrp?,
            services: services?,
            stats: stats?,
        })
    })();
    match config {
        Some(config) if c.0.is_empty() => Ok(config),
        _ => {
            debug_assert!(!c.0.is_empty(), "a field failed without saying why");
            Err(ConfigErrors(c.0))
        }
    }
}

/// The kernel's `dev_valid_name()`: 1..=15 bytes, not `.` or `..`, no `/`,
/// `:` or whitespace.
pub(super) fn check_ifname(name: &str) -> Result<(), String> {
    let bad = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace());
    match name.len() {
        0 => Err("empty: expected an interface name such as eth0".into()),
        16.. => Err(format!(
            "{name:?} is longer than 15 bytes, the limit of Linux"
        )),
        _ if name == "." || name == ".." => Err(format!("{name:?} is not an interface name")),
        _ => match bad {
            Some(c) => Err(format!(
                "{name:?} contains {c:?}, which no interface name can"
            )),
            None => Ok(()),
        },
    }
}

fn vrrp(c: &mut Check, v: &raw::Vrrp) -> Option<VrrpConfig> {
    let vrid = c.int("vrrp.virtual_router_id", v.virtual_router_id, None, 1..=255);
    let priority = c.int("vrrp.priority", v.priority, Some(100), 1..=255);
    let version = match v.version {
        None | Some(2) => Some(VrrpVersion::V2),
        Some(3) => Some(VrrpVersion::V3),
        Some(n) => c.fail(
            "vrrp.version",
            format!("{n} is not a VRRP version: expected 2 or 3"),
        ),
    };
    let advert_text = v.advert_interval.as_deref();
    let advert = c.dur("vrrp.advert_interval", advert_text, Duration::from_secs(1));
    let advert = advert
        .zip(version)
        .and_then(|(d, ver)| c.result("vrrp.advert_interval", check_advert(d, ver)));
    let auth_pass = maybe(v.auth_pass.as_deref(), |pass| {
        c.result("vrrp.auth_pass", check_auth_pass(pass, version))
    });
    let delay_text = v.preempt_delay.as_deref();
    let preempt_delay = c.dur("vrrp.preempt_delay", delay_text, Duration::ZERO);
    let preempt_delay = preempt_delay.and_then(|d| {
        if d > MAX_PREEMPT_DELAY {
            let text = duration::format(d);
            return c.fail("vrrp.preempt_delay", format!("{text} is longer than 1000s"));
        }
        Some(d)
    });

    let vips = virtual_ipaddresses(c, v.virtual_ipaddresses.as_deref());
    let family_v4 = vips
        .as_ref()
        .and_then(|v| v.first())
        .map(|&(ip, _)| ip.is_ipv4());
    if family_v4 == Some(false) && version == Some(VrrpVersion::V2) {
        c.fail::<()>(
            "vrrp.version",
            "2 is IPv4-only (RFC 3768) and virtual_ipaddresses are IPv6: set `version: 3`",
        );
    }
    // An address VRRP speaks from: the VIPs' family, and not a VIP.
    let speaker = |c: &mut Check, path: &str, text: &str| {
        let ip = c.ip(path, text)?;
        if family_v4.is_some_and(|v4| v4 != ip.is_ipv4()) {
            c.fail(
                path,
                format!("{ip} is not of the family of virtual_ipaddresses"),
            )
        } else if vips.iter().flatten().any(|&(vip, _)| vip == ip) {
            c.fail(
                path,
                format!("{ip} is in virtual_ipaddresses: it moves with the role"),
            )
        } else {
            Some(ip)
        }
    };
    let unicast_src = maybe(v.unicast_src.as_deref(), |t| {
        speaker(c, "vrrp.unicast_src", t)
    });
    let mut seen: Vec<(IpAddr, String)> = Vec::new();
    let unicast_peers = each(
        c,
        "vrrp.unicast_peers",
        &v.unicast_peers,
        |c, path, text| {
            let ip = speaker(c, path, text)?;
            if unicast_src == Some(Some(ip)) {
                return c.fail(path, format!("{ip} is unicast_src: a peer is another host"));
            }
            if let Some((_, other)) = seen.iter().find(|(s, _)| *s == ip) {
                return c.fail(path, format!("{ip} is listed twice (also {other})"));
            }
            seen.push((ip, path.to_owned()));
            Some(ip)
        },
    );
    let track_backends = maybe(v.track_backends.as_ref(), |t| {
        let at = "vrrp.track_backends";
        let max = MAX_BACKENDS.into();
        let min_healthy = c.int(
            &format!("{at}.min_healthy"),
            t.min_healthy,
            Some(1),
            1..=max,
        );
        let weight = c.int(&format!("{at}.weight"), t.weight, Some(0), TRACK_WEIGHTS);
        Some(TrackBackends {
            min_healthy: min_healthy?,
            weight: weight?,
        })
    });
    let peer_priorities = each(c, "vrrp.peer_priorities", &v.peer_priorities, |c, p, &n| {
        c.int::<u8>(p, Some(n), None, 1..=255)
    });
    let garp = garp(c, v);
    let track_scripts = track_scripts(c, &v.track_scripts);
    let track_interfaces = track_interfaces(c, &v.track_interfaces);
    let none = raw::Notify::default();
    let n = v.notify.as_ref().unwrap_or(&none);
    let mut script = |key: &str, text: &Option<String>| {
        maybe(text.as_deref(), |t| {
            c.absolute(&format!("vrrp.notify.{key}"), t)
        })
    };
    let (master, backup) = (script("master", &n.master), script("backup", &n.backup));
    let (fault, stop) = (script("fault", &n.fault), script("stop", &n.stop));
    let notify = NotifyScripts {
        master: master?,
        backup: backup?,
        fault: fault?,
        stop: stop?,
    };
    Some(VrrpConfig {
        virtual_router_id: vrid?,
        priority: priority?,
        advert_interval: advert?,
        version: version?,
        auth_pass: auth_pass?.map(super::Secret::new),
        preempt: v.preempt.unwrap_or(true),
        preempt_delay: preempt_delay?,
        unicast_src: unicast_src?,
        unicast_peers: unicast_peers?,
        virtual_ipaddresses: vips?,
        track_backends: track_backends?,
        track_scripts: track_scripts?,
        track_interfaces: track_interfaces?,
        peer_priorities: peer_priorities?,
        garp: garp?,
        notify,
    })
}

/// keepalived's `garp_master_*` keys (its defaults; delays up to 1000s).
fn garp(c: &mut Check, v: &raw::Vrrp) -> Option<GarpConfig> {
    let d = GarpConfig::default();
    let mut delay = |key: &str, text: Option<&str>, default: Duration| {
        let path = format!("vrrp.{key}");
        c.dur(&path, text, default).and_then(|t| {
            if t > MAX_PREEMPT_DELAY {
                let text = duration::format(t);
                return c.fail(&path, format!("{text} is longer than 1000s"));
            }
            Some(t)
        })
    };
    let delay_ = delay("garp_master_delay", v.garp_master_delay.as_deref(), d.delay);
    let refresh = delay(
        "garp_master_refresh",
        v.garp_master_refresh.as_deref(),
        d.refresh,
    );
    let repeat = c.int(
        "vrrp.garp_master_repeat",
        v.garp_master_repeat,
        Some(d.repeat),
        1..=255,
    );
    let refresh_repeat = c.int(
        "vrrp.garp_master_refresh_repeat",
        v.garp_master_refresh_repeat,
        Some(d.refresh_repeat),
        1..=255,
    );
    Some(GarpConfig {
        delay: delay_?,
        repeat: repeat?,
        refresh: refresh?,
        refresh_repeat: refresh_repeat?,
    })
}

/// Trackers whose weight cannot change who is master, given
/// `peer_priorities` (the reasoning is on [`VrrpConfig::peer_priorities`]).
pub(super) fn vrrp_warnings(v: &VrrpConfig) -> Vec<ConfigError> {
    let mut trackers: Vec<(String, i32)> = Vec::new();
    if let Some(t) = v.track_backends {
        trackers.push(("vrrp.track_backends.weight".into(), t.weight));
    }
    for (i, s) in v.track_scripts.iter().enumerate() {
        trackers.push((format!("vrrp.track_scripts[{i}].weight"), s.weight));
    }
    for (i, t) in v.track_interfaces.iter().enumerate() {
        trackers.push((format!("vrrp.track_interfaces[{i}].weight"), t.weight));
    }
    let mut out = Vec::new();
    for (path, weight) in trackers.into_iter().filter(|(_, w)| *w != 0) {
        if v.priority == 255 {
            out.push(ConfigError::new(
                path,
                format!("{weight} does nothing: priority 255 (the address owner) is never changed by tracking; use weight 0 to hand over on failure"),
            ));
            continue;
        }
        let Some(gap) = v
            .peer_priorities
            .iter()
            .map(|&p| i32::from(v.priority).abs_diff(i32::from(p)))
            .min()
        else {
            continue;
        };
        if weight.unsigned_abs() <= gap {
            let peers: Vec<String> = v.peer_priorities.iter().map(u8::to_string).collect();
            out.push(ConfigError::new(
                path,
                format!(
                    "{weight} cannot change who is master: priority {} is at least {gap} away from every peer in vrrp.peer_priorities ({}); use a weight above {gap} in size, or 0 for FAULT",
                    v.priority,
                    peers.join(", ")
                ),
            ));
        }
    }
    out
}

/// The weight of a tracked object, as keepalived bounds it.
const TRACK_WEIGHTS: RangeInclusive<i64> = -254..=254;

fn track_scripts(c: &mut Check, list: &[raw::TrackScript]) -> Option<Vec<TrackScript>> {
    let mut names: Vec<(String, String)> = Vec::new();
    each(c, "vrrp.track_scripts", list, |c, at, s| {
        let path = |key: &str| format!("{at}.{key}");
        let name = c.required(&path("name"), s.name.as_deref(), "a name for logs");
        let name = name.and_then(|n| c.result(&path("name"), check_name(n).map(|()| n.to_owned())));
        if let Some(n) = &name {
            if let Some((_, other)) = names.iter().find(|(m, _)| m == n) {
                c.fail::<()>(path("name"), format!("{n:?} is also the name of {other}"));
            }
            names.push((n.clone(), at.to_owned()));
        }
        let script = c.required(
            &path("script"),
            s.script.as_deref(),
            "an absolute path, then arguments (run without a shell)",
        );
        let command = script.and_then(|text| {
            let mut words = text.split_whitespace();
            let Some(program) = words.next() else {
                return c.fail(path("script"), "empty: expected an absolute path");
            };
            let program = c.absolute(&path("script"), program)?;
            Some((program, words.map(str::to_owned).collect::<Vec<_>>()))
        });
        let interval = c.dur(
            &path("interval"),
            s.interval.as_deref(),
            Duration::from_secs(1),
        );
        let interval = interval
            .and_then(|i| c.result(&path("interval"), at_most(i, MAX_HEALTH_INTERVAL, "1h")));
        let timeout = match s.timeout.as_deref() {
            None => interval,
            Some(t) => c
                .dur(&path("timeout"), Some(t), Duration::ZERO)
                .and_then(|t| c.result(&path("timeout"), at_most(t, MAX_HEALTH_INTERVAL, "1h"))),
        };
        let weight = c.int(&path("weight"), s.weight, Some(0), TRACK_WEIGHTS);
        let rise = c.int(&path("rise"), s.rise, Some(1), 1..=100);
        let fall = c.int(&path("fall"), s.fall, Some(1), 1..=100);
        let (program, args) = command?;
        Some(TrackScript {
            name: name?,
            program,
            args,
            interval: interval?,
            timeout: timeout?,
            weight: weight?,
            rise: rise?,
            fall: fall?,
        })
    })
}

fn track_interfaces(c: &mut Check, list: &[raw::TrackInterface]) -> Option<Vec<TrackInterface>> {
    let mut names: Vec<(String, String)> = Vec::new();
    each(c, "vrrp.track_interfaces", list, |c, at, t| {
        let path = |key: &str| format!("{at}.{key}");
        let name = c.required(&path("name"), t.name.as_deref(), "an interface name");
        let name =
            name.and_then(|n| c.result(&path("name"), check_ifname(n).map(|()| n.to_owned())));
        if let Some(n) = &name {
            if let Some((_, other)) = names.iter().find(|(m, _)| m == n) {
                c.fail::<()>(
                    path("name"),
                    format!("{n:?} is listed twice (also {other})"),
                );
            }
            names.push((n.clone(), at.to_owned()));
        }
        let weight = c.int(&path("weight"), t.weight, Some(0), TRACK_WEIGHTS);
        Some(TrackInterface {
            name: name?,
            weight: weight?,
        })
    })
}

/// RFC 3768 section 5.3.7 (seconds, one byte); RFC 5798 section 5.2.7
/// (centiseconds, twelve bits).
fn check_advert(d: Duration, version: VrrpVersion) -> Result<Duration, String> {
    let text = duration::format(d);
    match version {
        VrrpVersion::V2 if d.subsec_nanos() != 0 || !(1..=255).contains(&d.as_secs()) => {
            Err(format!(
                "{text}: VRRP version 2 advertises whole seconds, 1s to 255s (sub-second adverts need `version: 3`)"
            ))
        }
        VrrpVersion::V3
            if !d.as_nanos().is_multiple_of(10_000_000)
                || !(Duration::from_millis(10)..=Duration::from_millis(40_950)).contains(&d) =>
        {
            Err(format!(
                "{text}: VRRP version 3 advertises centiseconds: a multiple of 10ms, 10ms to 40.95s"
            ))
        }
        _ => Ok(d),
    }
}

fn check_auth_pass(pass: &str, version: Option<VrrpVersion>) -> Result<String, String> {
    if version == Some(VrrpVersion::V3) {
        return Err("VRRP version 3 has no authentication (RFC 5798 removed it): remove auth_pass or set `version: 2`".into());
    }
    match pass.len() {
        0 => Err("empty: remove auth_pass for no authentication".into()),
        1..=8 => Ok(pass.to_owned()),
        n => Err(format!(
            "{n} bytes long: VRRP version 2 carries at most 8 (keepalived would silently cut it to 8)"
        )),
    }
}

fn virtual_ipaddresses(c: &mut Check, list: Option<&[String]>) -> Option<Vec<(IpAddr, u8)>> {
    let at = "vrrp.virtual_ipaddresses";
    let list = match list {
        None => return c.fail(at, "required: the addresses VRRP moves (IP or IP/prefix)"),
        Some([]) => return c.fail(at, "empty: give at least one address"),
        Some(l) if l.len() > MAX_VRRP_ADDRESSES => {
            return c.fail(
                at,
                format!("{} addresses: an advert carries at most 255", l.len()),
            );
        }
        Some(list) => list,
    };
    let mut seen: Vec<(IpAddr, String)> = Vec::new();
    each(c, at, list, |c, path, text| {
        let (ip, prefix) = c.result(path, parse_cidr(text))?;
        c.unicast(path, ip)?;
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == ip) {
            return c.fail(path, format!("{ip} is listed twice (also {other})"));
        }
        if let Some((first, _)) = seen.first().filter(|(f, _)| f.is_ipv4() != ip.is_ipv4()) {
            let msg =
                format!("{ip} is not of the family of {first}: one VRRP instance, one family");
            return c.fail(path, msg);
        }
        seen.push((ip, path.to_owned()));
        Some((ip, prefix))
    })
}

/// Every service VIP must be one VRRP moves, and tracking must be satisfiable.
fn vrrp_against_services(c: &mut Check, v: &raw::Vrrp, services: &[raw::Service]) {
    if let Some(vips) = v.virtual_ipaddresses.as_ref().filter(|v| !v.is_empty()) {
        let held: Vec<IpAddr> = vips.iter().filter_map(|t| leading_ip(t)).collect();
        for (i, s) in services.iter().enumerate() {
            if let Some(vip) = s.vip.as_deref().and_then(leading_ip)
                && !held.contains(&vip)
            {
                let msg =
                    format!("{vip} is not in vrrp.virtual_ipaddresses: the LB would never hold it");
                c.fail::<()>(format!("services[{i}].vip"), msg);
            }
        }
    }
    let total: usize = services
        .iter()
        .map(|s| s.backends.as_ref().map_or(0, Vec::len))
        .sum();
    if let Some(min) = v.track_backends.as_ref().and_then(|t| t.min_healthy)
        && total > 0
        && usize::try_from(min).is_ok_and(|min| min > total)
    {
        let msg = format!("{min} is more than the {total} backends configured: never satisfied");
        c.fail::<()>("vrrp.track_backends.min_healthy", msg);
    }
}

fn services(c: &mut Check, list: Option<&[raw::Service]>) -> Option<Vec<ServiceConfig>> {
    let list = match list {
        None => return c.fail("services", "required: at least one service"),
        Some([]) => return c.fail("services", "empty: at least one service is required"),
        Some(list) => list,
    };
    if list.len() > MAX_SERVICES as usize {
        c.fail::<()>(
            "services",
            format!("{} services: at most {MAX_SERVICES}", list.len()),
        );
    }
    let total: usize = list
        .iter()
        .map(|s| s.backends.as_ref().map_or(0, Vec::len))
        .sum();
    if total > MAX_BACKENDS as usize {
        let msg = format!("{total} backends in all: the dataplane holds at most {MAX_BACKENDS}");
        c.fail::<()>("services", msg);
    }
    let mut names: HashMap<&str, String> = HashMap::new();
    let mut keys: HashMap<(IpAddr, i64, &str), String> = HashMap::new();
    each(c, "services", list, |c, at, s| {
        let service = service(c, at, s);
        if let Some(name) = s.name.as_deref().filter(|n| !n.is_empty())
            && let Some(other) = names.insert(name, at.to_owned())
        {
            c.fail::<()>(
                format!("{at}.name"),
                format!("{name:?} is also the name of {other}"),
            );
        }
        let protocol = s.protocol.as_deref().unwrap_or("tcp");
        if let Some(vip) = s.vip.as_deref().and_then(leading_ip)
            && let Some(port) = s.port
            && let Some(other) = keys.insert((vip, port, protocol), at.to_owned())
        {
            let msg = format!(
                "{vip} port {port}/{protocol} is also {other}: packets could not tell them apart"
            );
            c.fail::<()>(at, msg);
        }
        service
    })
}

fn service(c: &mut Check, at: &str, s: &raw::Service) -> Option<ServiceConfig> {
    let path = |key: &str| format!("{at}.{key}");
    let name = c.required(
        &path("name"),
        s.name.as_deref(),
        "a name for logs and stats",
    );
    let name = name.and_then(|n| c.result(&path("name"), check_name(n).map(|()| n.to_owned())));
    let vip = c.required(
        &path("vip"),
        s.vip.as_deref(),
        "the address clients connect to",
    );
    let vip = vip.and_then(|t| c.ip(&path("vip"), t));
    let port = c.int(&path("port"), s.port, None, 1..=65535);
    let protocol = c.word::<Protocol>(&path("protocol"), s.protocol.as_deref());
    let hash = c.word::<HashMode>(&path("hash"), s.hash.as_deref());
    let forwarding = match s.forwarding.as_deref() {
        None | Some("dsr") => Some(Forwarding::Dsr),
        Some(other) => c.fail(
            path("forwarding"),
            format!(
                "{other:?} is not implemented: only `dsr` (direct server return at L2) is, for now"
            ),
        ),
    };
    let n_backends = s.backends.as_ref().map_or(0, Vec::len);
    let ring_size = c.int(
        &path("ring_size"),
        s.ring_size,
        Some(DEFAULT_RING_SIZE),
        1..=MAX_RING_SIZE.into(),
    );
    let ring_size = ring_size.and_then(|r| c.result(&path("ring_size"), check_ring(r, n_backends)));
    let health = health(c, &path("health"), s.health.as_ref());
    let backends = backends(c, &path("backends"), s.backends.as_deref(), vip, port);
    Some(ServiceConfig {
        name: name?,
        vip: vip?,
        port: port?,
        protocol: protocol?,
        hash: hash?,
        forwarding: forwarding?,
        ring_size: ring_size?,
        health: health?,
        backends: backends?,
    })
}

/// `[A-Za-z0-9_.-]{1,63}`: safe as a Prometheus label value and a file name.
fn check_name(name: &str) -> Result<(), String> {
    let bad = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-".contains(c)));
    match (name.len(), bad) {
        (0, _) => Err("empty: expected 1 to 63 of A-Z a-z 0-9 _ . -".into()),
        (64.., _) => Err(format!("{name:?} is longer than 63 bytes")),
        (_, Some(c)) => Err(format!(
            "{name:?} contains {c:?}: use only A-Z a-z 0-9 _ . -"
        )),
        (_, None) => Ok(()),
    }
}

/// Maglev needs a prime table size (its permutations step through every slot
/// only then), and a slot for each backend.
fn check_ring(size: u32, backends: usize) -> Result<u32, String> {
    if !is_prime(size) {
        let next = next_prime(size);
        let suggestion = if next <= MAX_RING_SIZE {
            next
        } else {
            (2..=MAX_RING_SIZE)
                .rev()
                .find(|&n| is_prime(n))
                .unwrap_or(2)
        };
        return Err(format!(
            "{size} is not prime: Maglev needs a prime size; try {suggestion}"
        ));
    }
    if (size as usize) < backends {
        return Err(format!(
            "{size} is smaller than the {backends} backends: each needs a slot"
        ));
    }
    Ok(size)
}

fn health(c: &mut Check, at: &str, h: Option<&raw::Health>) -> Option<HealthConfig> {
    let d = HealthConfig::default();
    let Some(h) = h else { return Some(d) };
    let path = |key: &str| format!("{at}.{key}");
    let kind = match (&h.http, &h.tcp) {
        (Some(_), Some(_)) => c.fail(at, "set one of `http` or `tcp`, not both"),
        (None, Some(_)) => Some(HealthKind::Tcp),
        (Some(http), None) => http_check(c, &path("http"), http.as_ref()),
        (None, None) => Some(d.kind),
    };
    let interval = c.dur(&path("interval"), h.interval.as_deref(), d.interval);
    let interval =
        interval.and_then(|i| c.result(&path("interval"), at_most(i, MAX_HEALTH_INTERVAL, "1h")));
    let timeout = c.dur(&path("timeout"), h.timeout.as_deref(), d.timeout);
    let timeout = timeout.and_then(|t| {
        let max = interval.unwrap_or(t);
        let max_text = format!("the interval, {}", duration::format(max));
        c.result(&path("timeout"), at_most(t, max, &max_text))
    });
    let rise = c.int(&path("rise"), h.rise, Some(d.rise), 1..=100);
    let fall = c.int(&path("fall"), h.fall, Some(d.fall), 1..=100);
    Some(HealthConfig {
        kind: kind?,
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
    })
}

/// `0 < d <= max`.
fn at_most(d: Duration, max: Duration, max_text: &str) -> Result<Duration, String> {
    if d.is_zero() {
        Err("0s: must be more than zero".into())
    } else if d > max {
        Err(format!("{} is longer than {max_text}", duration::format(d)))
    } else {
        Ok(d)
    }
}

fn http_check(c: &mut Check, at: &str, h: Option<&raw::Http>) -> Option<HealthKind> {
    let none = raw::Http::default();
    let h = h.unwrap_or(&none);
    let path = |key: &str| format!("{at}.{key}");
    let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    let url = h.path.as_deref().unwrap_or("/v2/");
    let url = if url.starts_with('/') && visible(url) {
        Some(url.to_owned())
    } else {
        c.fail(
            path("path"),
            format!("{url:?}: must start with '/' and hold no spaces or control characters"),
        )
    };
    let host = maybe(h.host.as_deref(), |host| {
        if !visible(host) {
            let msg = format!("{host:?} is not a Host value: no spaces or control characters");
            return c.fail(path("host"), msg);
        }
        Some(host.to_owned())
    });
    let expect = match h.expect.as_deref() {
        None => Some(vec![200, 401]),
        Some([]) => c.fail(path("expect"), "empty: no answer could pass"),
        Some(codes) => each(c, &path("expect"), codes, |c, p, &code| {
            c.int(p, Some(code), None, 100..=599)
        }),
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let expect_header = maybe(h.expect_header.as_deref(), |name| {
        if !token(name) {
            return c.fail(
                path("expect_header"),
                format!("{name:?} is not an HTTP header name"),
            );
        }
        Some(name.to_owned())
    });
    Some(HealthKind::Http {
        path: url?,
        host: host?,
        expect: expect?,
        expect_header: expect_header?,
    })
}

fn backends(
    c: &mut Check,
    at: &str,
    list: Option<&[raw::Backend]>,
    vip: Option<IpAddr>,
    service_port: Option<u16>,
) -> Option<Vec<BackendConfig>> {
    let list = match list {
        None => return c.fail(at, "required: at least one backend"),
        Some([]) => return c.fail(at, "empty: at least one backend is required"),
        Some(l) if l.len() > MAX_BACKENDS_PER_SERVICE => {
            let n = l.len();
            return c.fail(
                at,
                format!("{n} backends: at most {MAX_BACKENDS_PER_SERVICE} per service"),
            );
        }
        Some(list) => list,
    };
    let mut seen: Vec<(SocketAddr, String)> = Vec::new();
    each(c, at, list, |c, bp, b| {
        let path = |key: &str| format!("{bp}.{key}");
        let address = c.required(
            &path("address"),
            b.address.as_deref(),
            "the backend's IP address",
        );
        let address = address.and_then(|t| c.ip(&path("address"), t)).and_then(|a| match vip {
            Some(vip) if vip.is_ipv4() != a.is_ipv4() => c.fail(
                path("address"),
                format!("{a} is not of the family of the service vip {vip}: DSR at L2 needs the same family"),
            ),
            Some(vip) if vip == a => c.fail(path("address"), format!("{a} is the service vip: a backend needs an address of its own")),
            _ => Some(a),
        });
        let port = match b.port {
            Some(_) => c.int(&path("port"), b.port, None, 1..=65535),
            None => service_port,
        };
        let dsr_mismatch = port.zip(service_port).filter(|(port, sp)| port != sp);
        if let Some((port, sp)) = dsr_mismatch {
            c.fail::<()>(
                path("port"),
                format!("{port} is not the service port {sp}: DSR forwards packets unchanged, so the backend receives them on {sp} (omit `port`)"),
            );
        }
        let weight = c.int(&path("weight"), b.weight, Some(1), 1..=65535);
        let mac = maybe(b.mac.as_deref(), |t| c.result(&path("mac"), parse_mac(t)));
        if let (Some(a), Some(port)) = (address, port) {
            let sa = SocketAddr::new(a, port);
            if let Some((_, other)) = seen.iter().find(|(s, _)| *s == sa) {
                return c.fail(bp, format!("{sa} is listed twice (also {other})"));
            }
            seen.push((sa, bp.to_owned()));
        }
        Some(BackendConfig {
            address: address?,
            port: port.filter(|_| dsr_mismatch.is_none())?,
            weight: weight?,
            mac: mac?,
        })
    })
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let hex = |b: &&str| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit());
    if parts.len() != 6 || !parts.iter().all(hex) {
        return Err(format!(
            "{text:?} is not a MAC address: expected six hex bytes like 02:00:00:00:00:11"
        ));
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|e| e.to_string())?;
    }
    match mac {
        [0, 0, 0, 0, 0, 0] => Err(format!("{text} is all zeros: not a host's MAC")),
        [first, ..] if first & 1 == 1 => Err(format!(
            "{text} is a multicast MAC: a backend has a unicast one"
        )),
        mac => Ok(mac),
    }
}

fn stats(c: &mut Check, s: &raw::Stats) -> Option<StatsConfig> {
    let listen = match s.listen.as_deref().map(str::trim) {
        None => Some(DEFAULT_STATS_LISTEN),
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(sa) if sa.port() == 0 => c.fail("stats.listen", format!("{text}: port 0 is not a port to listen on")),
            Ok(sa) => Some(sa),
            Err(_) => c.fail(
                "stats.listen",
                format!("{text:?} is not a socket address: expected IP:port, e.g. 127.0.0.1:1158 or [::1]:1158"),
            ),
        },
    };
    let auth = maybe(s.auth.as_ref(), |a| {
        let user = c.required(
            "stats.auth.user",
            a.user.as_deref(),
            "the basic auth user name",
        );
        let user = user.and_then(|u| {
            if u.is_empty() || u.contains(':') {
                let msg =
                    format!("{u:?}: must be non-empty, without ':' (basic auth splits on it)");
                return c.fail("stats.auth.user", msg);
            }
            Some(u.to_owned())
        });
        let password = match (a.password_file.as_deref(), a.password_env.as_deref()) {
            (Some(f), None) => c
                .absolute("stats.auth.password_file", f)
                .map(PasswordSource::File),
            (None, Some(v)) => {
                let valid = v.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    Some(PasswordSource::Env(v.to_owned()))
                } else {
                    c.fail(
                        "stats.auth.password_env",
                        format!("{v:?} is not an environment variable name: letters, digits and '_', not starting with a digit"),
                    )
                }
            }
            (Some(_), Some(_)) => c.fail(
                "stats.auth",
                "password_file and password_env are both set: keep one",
            ),
            (None, None) => c.fail(
                "stats.auth.password_file",
                "required: password_file (a file holding the password) or password_env (a variable holding it)",
            ),
        };
        Some(StatsAuth {
            user: user?,
            password: password?,
        })
    });
    Some(StatsConfig {
        listen: listen?,
        auth: auth?,
    })
}

/// The problems found so far. Every method returns `None` after recording one.
#[derive(Default)]
struct Check(Vec<ConfigError>);

impl Check {
    fn fail<T>(&mut self, path: impl Into<String>, message: impl Into<String>) -> Option<T> {
        self.0.push(ConfigError::new(path, message));
        None
    }

    fn result<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.fail::<()>(path, message))
            .ok()
    }

    fn required<'a>(&mut self, path: &str, value: Option<&'a str>, what: &str) -> Option<&'a str> {
        value.or_else(|| self.fail(path, format!("required: {what}")))
    }

    /// An integer in `range`; absent means `default`, or is a problem without one.
    fn int<T: TryFrom<i64>>(
        &mut self,
        path: &str,
        value: Option<i64>,
        default: Option<T>,
        range: RangeInclusive<i64>,
    ) -> Option<T> {
        let (lo, hi) = range.clone().into_inner();
        match value {
            None if default.is_none() => {
                self.fail(path, format!("required: an integer in {lo}..={hi}"))
            }
            None => default,
            Some(v) if !range.contains(&v) => {
                self.fail(path, format!("{v} is out of range {lo}..={hi}"))
            }
            Some(v) => T::try_from(v).ok(),
        }
    }

    /// One of `words`; absent means the first.
    /// One of a model enum's words; absent, its first value (the default).
    fn word<T: Word>(&mut self, path: &str, value: Option<&str>) -> Option<T> {
        let Some(value) = value else {
            return T::ALL.first().copied();
        };
        match T::from_word(value) {
            Some(t) => Some(t),
            None => self.fail(
                path,
                format!("{value:?} is not one of: {}", T::WORDS.join(", ")),
            ),
        }
    }

    fn dur(&mut self, path: &str, text: Option<&str>, default: Duration) -> Option<Duration> {
        match text {
            None => Some(default),
            Some(text) => self.result(path, duration::parse(text).map_err(|e| e.to_string())),
        }
    }

    /// One host's address: not unspecified, multicast, loopback or broadcast.
    fn ip(&mut self, path: &str, text: &str) -> Option<IpAddr> {
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => self.unicast(path, ip),
            Err(_) => self.fail(path, format!("{text:?} is not an IP address")),
        }
    }

    fn unicast(&mut self, path: &str, ip: IpAddr) -> Option<IpAddr> {
        let what = match ip {
            _ if ip.is_unspecified() => "the unspecified address",
            _ if ip.is_multicast() => "a multicast address",
            _ if ip.is_loopback() => "a loopback address",
            IpAddr::V4(v4) if v4.is_broadcast() => "the broadcast address",
            _ => return Some(ip),
        };
        self.fail(
            path,
            format!("{ip} is {what}: expected a host's unicast address"),
        )
    }

    fn absolute(&mut self, path: &str, text: &str) -> Option<PathBuf> {
        if !Path::new(text).is_absolute() {
            return self.fail(path, format!("{text:?} is not an absolute path"));
        }
        Some(PathBuf::from(text))
    }
}

/// An optional field: `Some(None)` when absent, `None` when present and bad.
fn maybe<T, U>(value: Option<T>, check: impl FnOnce(T) -> Option<U>) -> Option<Option<U>> {
    match value {
        None => Some(None),
        Some(v) => check(v).map(Some),
    }
}

/// Checks every item of a list (at `{at}[i]`), all of them even after a bad one.
fn each<'a, T, U>(
    c: &mut Check,
    at: &str,
    items: &'a [T],
    mut check: impl FnMut(&mut Check, &str, &'a T) -> Option<U>,
) -> Option<Vec<U>> {
    let checked: Vec<Option<U>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| check(c, &format!("{at}[{i}]"), item))
        .collect();
    checked.into_iter().collect()
}

/// `IP` or `IP/prefix`; the prefix defaults to the full length.
fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match text.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text.trim(), None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?}: {addr:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.map(|p| p.parse::<u8>().ok().filter(|n| (1..=max).contains(n))) {
        None => Ok((ip, max)),
        Some(Some(n)) => Ok((ip, n)),
        Some(None) => Err(format!("{text:?}: the prefix length must be 1..={max}")),
    }
}

/// The address of `IP` or `IP/prefix`, for rules across fields.
fn leading_ip(text: &str) -> Option<IpAddr> {
    text.trim().split('/').next()?.parse().ok()
}
