//! keepalived's `vrrp_instance` (and the `vrrp_script`s it tracks) as
//! regha's `vrrp:` section.
//!
//! Differences the output explains: regha has no `state` (the highest
//! priority wins, and every host starts as backup); `mcast_src_ip` becomes
//! `unicast_src`, which regha uses as the source of *every* advert,
//! multicast ones included (adverts stay multicast while `unicast_peers` is
//! empty); a password longer than 8 bytes is cut as keepalived cut it.

use std::net::IpAddr;
use std::time::Duration;

use super::emit::{Noted, TrackScriptDraft, VrrpDraft};
use super::keepalived::{At, Instance, Keepalived, Script};
use super::{Diag, ImportError, ImportOptions, Warning, lines_list, sanitize_name};

/// Characters that need a shell: regha runs scripts without one.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '$', '`', '(', ')', '*', '?', '\'', '"', '~',
];

/// Picks the instance and turns it into the draft.
pub(super) fn draft(
    file: &str,
    conf: &Keepalived,
    bound: &[IpAddr],
    options: &ImportOptions,
    warnings: &mut Vec<Warning>,
) -> Result<VrrpDraft, ImportError> {
    let mut diag = Diag::new(file, warnings);
    let inst = pick(file, conf, bound, options, &mut diag)?;
    instance(inst, conf, options, &mut diag)
}

fn pick<'a>(
    file: &str,
    conf: &'a Keepalived,
    bound: &[IpAddr],
    options: &ImportOptions,
    diag: &mut Diag<'_>,
) -> Result<&'a Instance, ImportError> {
    let list = &conf.instances;
    let Some(first) = list.first() else {
        return Err(ImportError::NoInstance {
            file: file.to_owned(),
        });
    };
    let mut why = " (--instance)";
    let chosen = if let Some(name) = &options.instance {
        list.iter()
            .find(|i| &i.name == name)
            .ok_or_else(|| ImportError::InstanceNotFound {
                file: file.to_owned(),
                name: name.clone(),
                available: list
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?
    } else {
        // The instance holding an address HAProxy binds, else the first.
        let matching = list.iter().find(|i| {
            i.vips.iter().any(|v| {
                let a = v.v.address.split('/').next().unwrap_or_default();
                a.parse::<IpAddr>().is_ok_and(|a| bound.contains(&a))
            })
        });
        why = if matching.is_some() {
            " (it holds an address HAProxy binds)"
        } else {
            " (the first: HAProxy binds no address of any instance; choose with --instance NAME)"
        };
        matching.unwrap_or(first)
    };
    for other in list
        .iter()
        .filter(|i| i.name != chosen.name || i.line != chosen.line)
    {
        diag.warn(
            other.line,
            format!(
                "vrrp_instance {} not imported: regha runs one VRRP instance and {} was chosen{}",
                other.name,
                chosen.name,
                why
            ),
            Some("import it with --instance NAME into a second file if it carries regha's VIPs; an instance for something else stays with keepalived"),
        );
    }
    Ok(chosen)
}

fn instance(
    i: &Instance,
    conf: &Keepalived,
    options: &ImportOptions,
    diag: &mut Diag<'_>,
) -> Result<VrrpDraft, ImportError> {
    let name = &i.name;
    let bad = |line: usize, message: String| ImportError::Instance {
        file: diag.file.to_owned(),
        line,
        message,
    };
    let mut intro = vec![
        format!(
            "keepalived's `vrrp_instance {name}` ({}). regha speaks VRRP on the wire",
            diag.at(i.line)
        ),
        "as keepalived does: the two can share this VRID while the cluster migrates.".to_owned(),
    ];

    let vrid = match &i.virtual_router_id {
        None => {
            return Err(bad(
                i.line,
                format!(
                    "vrrp_instance {name} has no virtual_router_id: set it (1..=255) and import again"
                ),
            ));
        }
        Some(a) => match a.v.parse::<u8>() {
            Ok(n) if n >= 1 => Noted::new(n, diag.at(a.line)),
            _ => {
                return Err(bad(
                    a.line,
                    format!(
                        "virtual_router_id {:?} is not in 1..=255: fix it and import again",
                        a.v
                    ),
                ));
            }
        },
    };

    let priority = match &i.priority {
        None => {
            if i.state
                .as_ref()
                .is_some_and(|s| s.v.eq_ignore_ascii_case("MASTER"))
            {
                diag.warn(i.line, format!("vrrp_instance {name}: state MASTER without a priority: keepalived versions differ on the default (100 or 255); the import uses 100"), Some("set `vrrp.priority` higher than the other host's"));
            }
            Noted::new(100u8, "keepalived's default")
        }
        Some(a) => match a.v.parse::<u8>() {
            Ok(n) if n >= 1 => Noted::new(n, diag.at(a.line)),
            _ => {
                diag.warn(
                    a.line,
                    format!("priority {:?} is not in 1..=255: the import uses 100", a.v),
                    Some("set `vrrp.priority` by hand"),
                );
                Noted::new(100, "priority was invalid; keepalived's default")
            }
        },
    };

    if let Some(s) = &i.state {
        state(s, priority.value, i.nopreempt.is_some(), diag);
        intro.push(format!(
            "`state {}` ({}) has no equivalent: every regha host starts as backup and the",
            s.v,
            diag.at(s.line)
        ));
        intro.push("highest priority takes the VIP within 3 advert intervals.".to_owned());
    }

    let (version, version_line) = match i.version.as_ref().or(conf.default_version.as_ref()) {
        Some(a) if a.v == "3" => (3u8, Some(a.line)),
        Some(a) if a.v == "2" => (2, Some(a.line)),
        Some(a) => {
            diag.warn(
                a.line,
                format!(
                    "vrrp_version {:?} is neither 2 nor 3: the import uses 2",
                    a.v
                ),
                None,
            );
            (2, None)
        }
        None => (2, None),
    };

    let vips = vips(i, diag)?;
    let v6 = vips.iter().any(|v| v.value.0.is_ipv6());
    let version = if v6 && version == 2 {
        diag.note(
            i.line,
            "IPv6 virtual addresses need VRRP version 3: the import uses 3",
            None,
        );
        Noted::new(3, "IPv6 needs version 3")
    } else {
        let note = version_line
            .map(|l| diag.at(l))
            .unwrap_or_else(|| "keepalived's default".to_owned());
        Noted::new(version, note)
    };
    if v6 {
        diag.warn(
            i.line,
            "IPv6 VRRP is validated but not implemented in regha yet: the instance would not run",
            Some("keep keepalived for this instance until regha supports IPv6 VRRP"),
        );
    }

    let advert_interval = advert(i, version.value, diag);
    let auth_pass = auth(i, version.value, diag);

    let preempt = match i.nopreempt {
        Some(l) => Noted::new(false, format!("nopreempt, {}", diag.at(l))),
        None => Noted::new(true, "keepalived's default"),
    };
    let preempt_delay = i.preempt_delay.as_ref().and_then(|a| match seconds(&a.v) {
        Some(d) if d <= Duration::from_secs(1000) => Some(Noted::new(d, diag.at(a.line))),
        _ => {
            diag.warn(
                a.line,
                format!("preempt_delay {:?} is not 0..=1000 seconds: left out", a.v),
                None,
            );
            None
        }
    });

    let garp = garp(i, diag);

    let family_ok = |a: &IpAddr| a.is_ipv6() == v6;
    let addr = |a: &At<String>, what: &str, diag: &mut Diag<'_>| -> Option<IpAddr> {
        match a.v.parse::<IpAddr>() {
            Ok(ip) if family_ok(&ip) && !vips.iter().any(|v| v.value.0 == ip) => Some(ip),
            _ => {
                diag.warn(a.line, format!("{what} {:?} is not an address of the VIPs' family (and not a VIP): left out", a.v), None);
                None
            }
        }
    };
    let mut unicast_src = None;
    if let Some(a) = &i.unicast_src_ip {
        unicast_src = addr(a, "unicast_src_ip", diag).map(|ip| Noted::new(ip, diag.at(a.line)));
    }
    if let Some(a) = &i.mcast_src_ip {
        if unicast_src.is_some() {
            diag.warn(a.line, "mcast_src_ip and unicast_src_ip both set: regha has one source address, unicast_src_ip is kept", None);
        } else if let Some(ip) = addr(a, "mcast_src_ip", diag) {
            diag.note(
                a.line,
                "mcast_src_ip becomes `vrrp.unicast_src`: regha sends every advert, multicast ones included, from that address (adverts stay multicast while unicast_peers is empty)",
                Some("leave it out if it is the interface's primary address: that is regha's default"),
            );
            unicast_src = Some(Noted::new(
                ip,
                format!(
                    "mcast_src_ip, {}: the source of every advert, multicast too",
                    diag.at(a.line)
                ),
            ));
        }
    }
    let mut unicast_peers: Vec<Noted<IpAddr>> = Vec::new();
    for p in &i.unicast_peers {
        if let Some(ip) = addr(p, "unicast_peer", diag) {
            if unicast_src.as_ref().is_some_and(|s| s.value == ip)
                || unicast_peers.iter().any(|q| q.value == ip)
            {
                diag.warn(p.line, format!("unicast_peer {ip} is listed twice or is this host's own source address: left out"), None);
            } else {
                unicast_peers.push(Noted::new(ip, diag.at(p.line)));
            }
        }
    }

    let mut left_out = Vec::new();
    let (track_scripts, track_backends_hint) = track_scripts(i, conf, &mut left_out, diag);
    let track_interfaces = track_interfaces(i, diag);
    let notify = notify(i, &mut left_out, diag);

    if let Some((line, _)) = i.minor.first() {
        let keys: Vec<&str> = i.minor.iter().map(|(_, k)| k.as_str()).collect();
        let lines: Vec<usize> = i.minor.iter().map(|(l, _)| *l).collect();
        diag.note(
            *line,
            format!(
                "settings with no regha equivalent, ignored ({}): {}",
                lines_list(&lines),
                keys.join(", ")
            ),
            None,
        );
    }

    let interface = match &i.interface {
        Some(a) => {
            if options.interface.as_ref().is_some_and(|o| o != &a.v) {
                diag.note(
                    a.line,
                    format!("interface {} replaced by --interface", a.v),
                    None,
                );
            }
            Some(Noted::new(a.v.clone(), diag.at(a.line)))
        }
        None => {
            diag.warn(
                i.line,
                format!("vrrp_instance {name} has no interface"),
                Some("set `interface:` or pass --iface to the agent"),
            );
            None
        }
    };

    Ok(VrrpDraft {
        instance: name.clone(),
        interface,
        intro,
        virtual_router_id: vrid,
        priority,
        advert_interval,
        version,
        auth_pass,
        preempt,
        preempt_delay,
        garp,
        unicast_src,
        unicast_peers,
        virtual_ipaddresses: vips,
        track_scripts,
        track_interfaces,
        track_backends_hint,
        notify,
        left_out,
    })
}

/// `garp_master_delay`/`_refresh` (seconds, 0..=1000) and `_repeat`/
/// `_refresh_repeat` (1..=255): regha has the same keys and defaults.
fn garp(i: &Instance, diag: &mut Diag<'_>) -> Vec<(String, Noted<String>)> {
    let mut out: Vec<(String, Noted<String>)> = Vec::new();
    for g in &i.garp {
        let (key, text) = &g.v;
        let value = if key.ends_with("repeat") {
            text.parse::<u32>()
                .ok()
                .filter(|n| (1..=255).contains(n))
                .map(|n| n.to_string())
        } else {
            text.parse::<u64>()
                .ok()
                .filter(|n| *n <= 1000)
                .map(|n| format!("{n}s"))
        };
        match value {
            Some(v) => {
                out.retain(|(k, _)| k != key);
                out.push((key.clone(), Noted::new(v, diag.at(g.line))));
            }
            None => diag.warn(
                g.line,
                format!("{key} {text:?} is out of range: keepalived's default is used"),
                None,
            ),
        }
    }
    out
}

/// `state` only informs; warns when it says something the priority contradicts.
fn state(s: &At<String>, priority: u8, nopreempt: bool, diag: &mut Diag<'_>) {
    let master = s.v.eq_ignore_ascii_case("MASTER");
    if !master && !s.v.eq_ignore_ascii_case("BACKUP") {
        diag.warn(
            s.line,
            format!("state {:?} is neither MASTER nor BACKUP: ignored", s.v),
            None,
        );
        return;
    }
    if master && priority < 100 {
        diag.warn(
            s.line,
            format!("state MASTER with priority {priority}, below keepalived's default 100: regha elects by priority only, so this host is master only if the other's priority is lower"),
            Some("give the intended master the highest `vrrp.priority`"),
        );
    } else if !master && priority == 255 {
        diag.warn(
            s.line,
            "state BACKUP with priority 255 (the address owner): with regha this host always becomes master",
            Some("lower `vrrp.priority` below the master's"),
        );
    } else if master && nopreempt {
        diag.warn(
            s.line,
            "state MASTER with nopreempt: keepalived ignores nopreempt unless the state is BACKUP; regha honours `preempt: false`",
            Some("keep `preempt: false` only if the master should not take the VIP back after a failover"),
        );
    } else {
        diag.note(
            s.line,
            format!("`state {}` only informs: regha starts every host as backup and the highest priority ({priority} here) wins", s.v),
            None,
        );
    }
}

/// keepalived seconds, possibly fractional (`0.5`).
fn seconds(text: &str) -> Option<Duration> {
    let f: f64 = text.parse().ok()?;
    (f.is_finite() && (0.0..=1.0e6).contains(&f))
        .then(|| Duration::from_millis((f * 1000.0).round() as u64))
}

fn advert(i: &Instance, version: u8, diag: &mut Diag<'_>) -> Noted<Duration> {
    let Some(a) = &i.advert_int else {
        return Noted::new(Duration::from_secs(1), "keepalived's default");
    };
    let Some(d) = seconds(&a.v) else {
        diag.warn(
            a.line,
            format!(
                "advert_int {:?} is not a number of seconds: the import uses 1s",
                a.v
            ),
            None,
        );
        return Noted::new(Duration::from_secs(1), "advert_int was invalid; default");
    };
    let note = format!("advert_int {}, {}", a.v, diag.at(a.line));
    if version == 2 {
        let secs = (d.as_millis().div_ceil(1000) as u64).clamp(1, 255);
        if Duration::from_secs(secs) != d {
            diag.warn(a.line, format!("advert_int {} is not whole seconds in 1..=255, which VRRP version 2 needs: the import uses {secs}s", a.v), Some("use `version: 3` on every host for sub-second adverts"));
        }
        Noted::new(Duration::from_secs(secs), note)
    } else {
        let cs = (d.as_millis().div_ceil(10) as u64).clamp(1, 4095);
        if Duration::from_millis(cs * 10) != d {
            diag.warn(a.line, format!("advert_int {} is not a multiple of 10ms in 10ms..=40.95s (VRRP version 3): the import uses {}ms", a.v, cs * 10), None);
        }
        Noted::new(Duration::from_millis(cs * 10), note)
    }
}

fn auth(i: &Instance, version: u8, diag: &mut Diag<'_>) -> Option<Noted<String>> {
    let kind = i.auth_type.as_ref();
    match kind.map(|k| k.v.to_ascii_uppercase()) {
        None if i.auth_pass.is_some() => {
            let line = i.auth_pass.as_ref().map_or(0, |p| p.line);
            diag.warn(
                line,
                "auth_pass without auth_type: keepalived sends no authentication; left out",
                None,
            );
            None
        }
        None => None,
        Some(k) if k == "AH" => {
            let line = kind.map_or(0, |k| k.line);
            diag.warn(
                line,
                "auth_type AH (IPsec authentication header) is not supported by regha (RFC 3768 dropped it): no authentication is imported",
                Some("use `auth_pass` (PASS) on every host during the migration, or nothing: VRRP authentication is not security, only a guard against misconfiguration"),
            );
            None
        }
        Some(k) if k == "PASS" => {
            let Some(p) = &i.auth_pass else {
                diag.warn(
                    kind.map_or(0, |k| k.line),
                    "auth_type PASS without auth_pass: left out",
                    None,
                );
                return None;
            };
            if version == 3 {
                diag.warn(p.line, "authentication with VRRP version 3: keepalived ignores it and RFC 5798 has none; left out", None);
                return None;
            }
            let mut pass = p.v.clone();
            if pass.len() > 8 {
                let mut cut = 8;
                while !pass.is_char_boundary(cut) {
                    cut -= 1;
                }
                pass.truncate(cut);
                diag.warn(
                    p.line,
                    "auth_pass is longer than 8 bytes: keepalived silently sent only the first 8, the import keeps those (regha refuses longer ones)",
                    None,
                );
            }
            if pass.is_empty() {
                return None;
            }
            Some(Noted::new(
                pass,
                format!("auth_type PASS, {}", diag.at(p.line)),
            ))
        }
        Some(_) => {
            let k = kind.map(|k| (k.line, k.v.clone())).unwrap_or_default();
            diag.warn(
                k.0,
                format!(
                    "auth_type {:?} is neither PASS nor AH: no authentication is imported",
                    k.1
                ),
                None,
            );
            None
        }
    }
}

fn vips(i: &Instance, diag: &mut Diag<'_>) -> Result<Vec<Noted<(IpAddr, u8)>>, ImportError> {
    let iface = i.interface.as_ref().map(|a| a.v.as_str());
    let mut out: Vec<Noted<(IpAddr, u8)>> = Vec::new();
    for v in &i.vips {
        let (addr, prefix) = match v.v.address.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (v.v.address.as_str(), None),
        };
        let Ok(ip) = addr.parse::<IpAddr>() else {
            continue;
        };
        let max = if ip.is_ipv6() { 128 } else { 32 };
        let prefix = match prefix.map(str::parse::<u8>) {
            None => max,
            Some(Ok(p)) if (1..=max).contains(&p) => p,
            Some(_) => {
                diag.warn(
                    v.line,
                    format!(
                        "virtual_ipaddress {}: bad prefix, the import uses /{max}",
                        v.v.address
                    ),
                    None,
                );
                max
            }
        };
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
            diag.warn(
                v.line,
                format!("virtual_ipaddress {ip} is not a host's unicast address: left out"),
                None,
            );
            continue;
        }
        if let Some(first) = out.first()
            && first.value.0.is_ipv6() != ip.is_ipv6()
        {
            diag.warn(v.line, format!("virtual_ipaddress {ip}: one VRRP instance carries one address family (the first address's): left out"), Some("keepalived splits mixed families itself; run a second regha config, or keep keepalived for them"));
            continue;
        }
        if out.iter().any(|o| o.value.0 == ip) {
            diag.warn(
                v.line,
                format!("virtual_ipaddress {ip} is listed twice: once is kept"),
                None,
            );
            continue;
        }
        let mut note = diag.at(v.line);
        if let Some(dev) = &v.v.dev
            && Some(dev.as_str()) != iface
        {
            diag.warn(v.line, format!("virtual_ipaddress {ip} is on `dev {dev}`: regha adds every VIP to the LB interface"), Some("regha steers only traffic arriving on its interface; keep this VIP with keepalived if it belongs elsewhere"));
            note.push_str(&format!(" (was dev {dev})"));
        }
        if let Some(label) = &v.v.label {
            diag.note(v.line, format!("virtual_ipaddress {ip}: `label {label}` dropped, regha adds the address without a label"), Some("`ip addr show` lists it under the interface without the alias name"));
        }
        if !v.v.other.is_empty() {
            diag.note(
                v.line,
                format!(
                    "virtual_ipaddress {ip}: options ignored: {}",
                    v.v.other.join(" ")
                ),
                None,
            );
        }
        out.push(Noted::new((ip, prefix), note));
    }
    if out.is_empty() {
        return Err(ImportError::Instance {
            file: diag.file.to_owned(),
            line: i.line,
            message: format!(
                "vrrp_instance {} has no usable virtual_ipaddress: regha needs at least one VIP",
                i.name
            ),
        });
    }
    if out.len() > 255 {
        diag.warn(
            i.line,
            "more than 255 virtual addresses: only the first 255 are kept (one advert carries 255)",
            None,
        );
        out.truncate(255);
    }
    Ok(out)
}

/// Whether a script looks like a check of HAProxy (`killall -0 haproxy`,
/// `chk_haproxy.sh`, `pidof haproxy`, ...).
fn checks_haproxy(name: &str, script: &str) -> bool {
    name.to_ascii_lowercase().contains("haproxy") || script.to_ascii_lowercase().contains("haproxy")
}

fn track_scripts(
    i: &Instance,
    conf: &Keepalived,
    left_out: &mut Vec<String>,
    diag: &mut Diag<'_>,
) -> (Vec<TrackScriptDraft>, Option<String>) {
    let mut out: Vec<TrackScriptDraft> = Vec::new();
    let mut hint = None;
    for t in &i.track_scripts {
        let (name, weight_override) = &t.v;
        let Some(s) = conf.scripts.iter().find(|s| &s.name == name) else {
            diag.warn(
                t.line,
                format!("track_script {name}: no `vrrp_script {name}` in the file: left out"),
                None,
            );
            continue;
        };
        let Some(d) = script(
            s,
            weight_override.as_ref().map(|w| (w.as_str(), t.line)),
            left_out,
            diag,
        ) else {
            continue;
        };
        if out.iter().any(|o| o.name == d.name) {
            diag.warn(
                t.line,
                format!("track_script {name} is listed twice: once is kept"),
                None,
            );
            continue;
        }
        if checks_haproxy(&s.name, &d.script) {
            let weight = d.weight.unwrap_or(0);
            diag.warn(
                s.line,
                format!("vrrp_script {} checks HAProxy, which regha replaces: once HAProxy is gone it fails (or restarts a proxy that is no longer used), {}", s.name,
                    match weight {
                        0 => "and with weight 0 it holds the instance in FAULT".to_owned(),
                        w if w > 0 => format!("so this host loses its +{w} and may give up the VIP"),
                        w => format!("so this host's priority drops by {}", -w),
                    }),
                Some("remove it from `vrrp.track_scripts` after the migration and track what HAProxy was for, the backends: `track_backends: { min_healthy: 1, weight: -50 }` (suggested, commented out, in the output)"),
            );
            hint = Some(format!(
                "Instead of {}, track the backends themselves: with fewer than min_healthy\n\
                 healthy backends this host's priority drops by 50 and a peer takes the VIP.\n\
                 track_backends: {{ min_healthy: 1, weight: -50 }}",
                s.name
            ));
        }
        out.push(d);
    }
    (out, hint)
}

/// One `vrrp_script` as a track script, or None (with a comment in
/// `left_out`) when regha could not run its command.
fn script(
    s: &Script,
    weight_override: Option<(&str, usize)>,
    left_out: &mut Vec<String>,
    diag: &mut Diag<'_>,
) -> Option<TrackScriptDraft> {
    let name = sanitize_name(&s.name, "script");
    let mut notes = vec![format!("vrrp_script {} ({})", s.name, diag.at(s.line))];
    let Some(cmd) = &s.script else {
        diag.warn(
            s.line,
            format!("vrrp_script {} has no `script`: left out", s.name),
            None,
        );
        return None;
    };
    let text = cmd.v.trim();
    if text.contains(SHELL_CHARS) {
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: `{text}` needs a shell, and regha runs track scripts without one: left out (kept as a comment)", s.name),
            Some("put the command in an executable script file and give its absolute path"),
        );
        left_out.push(format!(
            "vrrp_script {} ({}) needs a shell: `{text}`",
            s.name,
            diag.at(cmd.line)
        ));
        return None;
    }
    let mut words = text.split_whitespace();
    let Some(program) = words.next() else {
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: empty `script`: left out", s.name),
            None,
        );
        return None;
    };
    let rest: Vec<&str> = words.collect();
    let program = if program.starts_with('/') {
        program.to_owned()
    } else {
        let guess = format!("/usr/bin/{program}");
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: `{program}` is not an absolute path and regha does not search PATH: the import guessed {guess}", s.name),
            Some("check it with `command -v` on the LB host"),
        );
        notes.push(format!(
            "{program} was found through PATH by keepalived: check {guess}"
        ));
        guess
    };
    let script = std::iter::once(program.as_str())
        .chain(rest)
        .collect::<Vec<_>>()
        .join(" ");

    let dur = |v: &Option<At<String>>, key: &str, diag: &mut Diag<'_>| -> Option<Duration> {
        let a = v.as_ref()?;
        match seconds(&a.v) {
            Some(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => Some(d),
            _ => {
                diag.warn(a.line, format!("vrrp_script {} {key} {:?} is not 1..=3600 seconds: regha's default is used", s.name, a.v), None);
                None
            }
        }
    };
    let interval = dur(&s.interval, "interval", diag);
    let timeout = dur(&s.timeout, "timeout", diag);
    let weight_text = match weight_override {
        Some((w, line)) => Some(At {
            v: w.to_owned(),
            line,
        }),
        None => s.weight.clone(),
    };
    let weight = weight_text.as_ref().and_then(|a| match a.v.parse::<i32>() {
        Ok(w) if (-254..=254).contains(&w) => Some(w),
        _ => {
            diag.warn(
                a.line,
                format!(
                    "weight {:?} is not in -254..=254: left out (0: FAULT on failure)",
                    a.v
                ),
                None,
            );
            None
        }
    });
    if s.reverse {
        diag.warn(s.line, format!("vrrp_script {}: `weight ... reverse` is not supported: the weight is applied the usual way", s.name), Some("negate the weight and invert the script's exit status"));
    }
    let count = |v: &Option<At<String>>, key: &str, diag: &mut Diag<'_>| -> Option<u32> {
        let a = v.as_ref()?;
        match a.v.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Some(n),
            _ => {
                diag.warn(
                    a.line,
                    format!(
                        "vrrp_script {} {key} {:?} is not in 1..=100: regha's default 1 is used",
                        s.name, a.v
                    ),
                    None,
                );
                None
            }
        }
    };
    let rise = count(&s.rise, "rise", diag);
    let fall = count(&s.fall, "fall", diag);
    if weight_override.is_some() {
        notes.push("weight from the instance's track_script line".to_owned());
    }
    Some(TrackScriptDraft {
        name,
        script,
        interval,
        timeout,
        weight,
        rise,
        fall,
        notes,
    })
}

fn track_interfaces(i: &Instance, diag: &mut Diag<'_>) -> Vec<Noted<(String, Option<i32>)>> {
    let mut out: Vec<Noted<(String, Option<i32>)>> = Vec::new();
    for t in &i.track_interfaces {
        let (name, weight) = &t.v;
        let ok = !name.is_empty()
            && name.len() <= 15
            && !name.contains(['/', ':'])
            && name != "."
            && name != "..";
        if !ok || out.iter().any(|o| &o.value.0 == name) {
            diag.warn(t.line, format!("track_interface {name:?}: not a valid interface name, or listed twice: left out"), None);
            continue;
        }
        let weight = match weight.as_ref().map(|w| w.parse::<i32>()) {
            None => None,
            Some(Ok(w)) if (-254..=254).contains(&w) => Some(w),
            Some(_) => {
                diag.warn(t.line, format!("track_interface {name}: weight not in -254..=254: 0 (FAULT when down) is used"), None);
                None
            }
        };
        out.push(Noted::new((name.clone(), weight), diag.at(t.line)));
    }
    out
}

fn notify(
    i: &Instance,
    left_out: &mut Vec<String>,
    diag: &mut Diag<'_>,
) -> Vec<(String, Noted<String>)> {
    let mut out: Vec<(String, Noted<String>)> = Vec::new();
    for n in &i.notify {
        let (kind, cmd) = &n.v;
        let cmd = cmd.trim();
        if kind.is_empty() {
            diag.warn(
                n.line,
                format!("`notify {cmd}`: regha has no catch-all notify script (keepalived passed it TYPE NAME STATE PRIORITY)"),
                Some("set `vrrp.notify.master`, `backup` and `fault` to small scripts that call it with the arguments it expects"),
            );
            left_out.push(format!(
                "notify (every transition): `{cmd}` ({})",
                diag.at(n.line)
            ));
            continue;
        }
        let single = !cmd.contains(char::is_whitespace) && !cmd.contains(SHELL_CHARS);
        if !single || !cmd.starts_with('/') {
            diag.warn(
                n.line,
                format!("notify_{kind} `{cmd}`: regha runs a notify script by absolute path, without arguments or a shell: left out (kept as a comment)"),
                Some("put the command in an executable script file and set its absolute path"),
            );
            left_out.push(format!("notify.{kind}: `{cmd}` ({})", diag.at(n.line)));
            continue;
        }
        if out.iter().any(|(k, _)| k == kind) {
            diag.warn(
                n.line,
                format!("notify_{kind} set twice: the last is kept"),
                None,
            );
            out.retain(|(k, _)| k != kind);
        }
        out.push((kind.clone(), Noted::new(cmd.to_owned(), diag.at(n.line))));
    }
    out
}
