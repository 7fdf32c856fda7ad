//! `vrrp:`: each instance, its addresses and its gratuitous ARP, at its
//! own path (`vrrp` for the map form, `vrrp[i]` in a list). The trackers
//! are in [`super::track`]; the rules between instances (names, VRIDs,
//! VIPs, sync groups) in [`super::cross`].

use std::net::IpAddr;
use std::time::Duration;

use regha_common::MAX_BACKENDS;
use regha_model::VrrpVersion;

use super::check::{Check, each, maybe};
use super::names::check_name;
use super::track::{TRACK_WEIGHTS, track_interfaces, track_scripts};
use crate::duration;
use crate::raw;
use crate::types::{
    GarpConfig, NotifyScripts, Secret, TrackBackends, VrrpConfig, default_instance_name,
};

/// keepalived's limit.
const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// The advert's "Count IP Addrs" field is one byte.
const MAX_VRRP_ADDRESSES: usize = 255;

/// Instance `v`, written at `at` (`vrrp` or `vrrp[i]`).
pub(super) fn vrrp(c: &mut Check, at: &str, v: &raw::Vrrp) -> Option<VrrpConfig> {
    let p = |key: &str| format!("{at}.{key}");
    let vrid = c.int::<u8>(&p("virtual_router_id"), v.virtual_router_id, None, 1..=255);
    let name = match &v.name {
        None => vrid.map(default_instance_name),
        Some(n) => c.result(&p("name"), check_name(n).map(|()| n.clone())),
    };
    let sync_group = maybe(v.sync_group.as_ref(), |g| {
        c.result(&p("sync_group"), check_name(g).map(|()| g.clone()))
    });
    let priority = c.int(&p("priority"), v.priority, Some(100), 1..=255);
    let version = match v.version {
        None | Some(2) => Some(VrrpVersion::V2),
        Some(3) => Some(VrrpVersion::V3),
        Some(n) => c.fail(
            p("version"),
            format!("{n} is not a VRRP version: expected 2 or 3"),
        ),
    };
    let advert_text = v.advert_interval.as_deref();
    let advert = c.dur(&p("advert_interval"), advert_text, Duration::from_secs(1));
    let advert = advert
        .zip(version)
        .and_then(|(d, ver)| c.result(&p("advert_interval"), check_advert(d, ver)));
    let auth_pass = maybe(v.auth_pass.as_deref(), |pass| {
        c.result(&p("auth_pass"), check_auth_pass(pass, version))
    });
    let delay_text = v.preempt_delay.as_deref();
    let preempt_delay = c.dur(&p("preempt_delay"), delay_text, Duration::ZERO);
    let preempt_delay = preempt_delay.and_then(|d| {
        if d > MAX_PREEMPT_DELAY {
            let text = duration::format(d);
            return c.fail(p("preempt_delay"), format!("{text} is longer than 1000s"));
        }
        Some(d)
    });

    let vips = virtual_ipaddresses(
        c,
        &p("virtual_ipaddresses"),
        v.virtual_ipaddresses.as_deref(),
    );
    let family_v4 = vips
        .as_ref()
        .and_then(|v| v.first())
        .map(|&(ip, _)| ip.is_ipv4());
    if family_v4 == Some(false) && version == Some(VrrpVersion::V2) {
        c.fail::<()>(
            p("version"),
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
        speaker(c, &p("unicast_src"), t)
    });
    let mut seen: Vec<(IpAddr, String)> = Vec::new();
    let unicast_peers = each(c, &p("unicast_peers"), &v.unicast_peers, |c, path, text| {
        let ip = speaker(c, path, text)?;
        if unicast_src == Some(Some(ip)) {
            return c.fail(path, format!("{ip} is unicast_src: a peer is another host"));
        }
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == ip) {
            return c.fail(path, format!("{ip} is listed twice (also {other})"));
        }
        seen.push((ip, path.to_owned()));
        Some(ip)
    });
    let track_backends = maybe(v.track_backends.as_ref(), |t| {
        let at = p("track_backends");
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
    let peer_priorities = each(c, &p("peer_priorities"), &v.peer_priorities, |c, p, &n| {
        c.int::<u8>(p, Some(n), None, 1..=255)
    });
    let garp = garp(c, at, v);
    let track_scripts = track_scripts(c, &p("track_scripts"), &v.track_scripts);
    let track_interfaces = track_interfaces(c, &p("track_interfaces"), &v.track_interfaces);
    let none = raw::Notify::default();
    let n = v.notify.as_ref().unwrap_or(&none);
    let mut script = |key: &str, text: &Option<String>| {
        maybe(text.as_deref(), |t| {
            c.absolute(&p(&format!("notify.{key}")), t)
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
        name: name?,
        sync_group: sync_group?,
        virtual_router_id: vrid?,
        priority: priority?,
        advert_interval: advert?,
        version: version?,
        auth_pass: auth_pass?.map(Secret::new),
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
fn garp(c: &mut Check, at: &str, v: &raw::Vrrp) -> Option<GarpConfig> {
    let d = GarpConfig::default();
    let mut delay = |key: &str, text: Option<&str>, default: Duration| {
        let path = format!("{at}.{key}");
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
        &format!("{at}.garp_master_repeat"),
        v.garp_master_repeat,
        Some(d.repeat),
        1..=255,
    );
    let refresh_repeat = c.int(
        &format!("{at}.garp_master_refresh_repeat"),
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

fn virtual_ipaddresses(
    c: &mut Check,
    at: &str,
    list: Option<&[String]>,
) -> Option<Vec<(IpAddr, u8)>> {
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
