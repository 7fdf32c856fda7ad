//! keepalived's `vrrp_instance`s (and the `vrrp_script`s they track) as
//! regha's `vrrp:` section: one entry per instance, under its keepalived
//! name, as keepalived ran them all. An instance that cannot run beside
//! those before it (the same VRID and family, since regha runs them all on
//! one interface) is left out, and a VIP two instances list stays with the
//! first.
//!
//! Differences the output explains: regha has no `state` (the highest
//! priority wins, and every host starts as backup); `mcast_src_ip` becomes
//! `unicast_src`, which regha uses as the source of *every* advert,
//! multicast ones included (adverts stay multicast while `unicast_peers` is
//! empty); a password longer than 8 bytes is cut as keepalived cut it.

use std::net::IpAddr;
use std::time::Duration;

use regha_config::{GarpConfig, VrrpConfig};

use super::{addresses, advert, sync, track};
use crate::keepalived::{At, Instance, Keepalived, SyncGroup, seconds};
use crate::notes::Notes;
use crate::warning::{Diag, Warning, group_note};
use crate::{ImportError, ImportOptions};

/// One instance of the `vrrp:` section, its notes (paths relative to
/// the instance), and what else the instance says.
pub(crate) struct Vrrp {
    pub config: VrrpConfig,
    pub notes: Notes,
    /// The instance's keepalived name, for the output's header.
    pub instance: String,
    /// Its `vrrp_instance` line.
    pub line: usize,
    /// keepalived's `interface` and the note on it.
    pub interface: Option<(String, String, usize)>,
}

/// Maps every `vrrp_instance` (or only `--instance NAME`), as keepalived
/// ran them all; an instance regha cannot run beside the others is left
/// out with a warning, and `vrrp_sync_group`s become `sync_group`.
pub(crate) fn vrrp(
    file: &str,
    conf: &Keepalived,
    options: &ImportOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Vrrp>, ImportError> {
    let mut diag = Diag::new(file, warnings);
    let chosen = pick(file, conf, options, &mut diag)?;
    let groups = sync::membership(conf, &chosen, &mut diag);
    let mut out: Vec<Vrrp> = Vec::new();
    for i in chosen {
        let group = groups.iter().find(|(m, _)| *m == i.name).map(|(_, g)| *g);
        let v = instance(i, conf, options, group, &mut diag)?;
        if let Some(v) = beside_others(v, &out, &mut diag) {
            out.push(v);
        }
    }
    sync::apply(conf, &groups, &mut out, &mut diag);
    Ok(out)
}

/// Every instance, or the one `--instance` names.
fn pick<'a>(
    file: &str,
    conf: &'a Keepalived,
    options: &ImportOptions,
    diag: &mut Diag<'_>,
) -> Result<Vec<&'a Instance>, ImportError> {
    let list = &conf.instances;
    let Some(name) = &options.instance else {
        return Ok(list.iter().collect());
    };
    let chosen =
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
            })?;
    for other in list.iter().filter(|i| !std::ptr::eq(*i, chosen)) {
        diag.warn(
            other.line,
            format!(
                "vrrp_instance {} not imported: --instance {} chose one",
                other.name, chosen.name
            ),
            Some("import without --instance to take every instance, as keepalived ran them all"),
        );
    }
    Ok(vec![chosen])
}

/// `v` made to run beside the instances already kept: a unique name, its
/// own virtual router, VIPs no other instance holds, unicast addresses
/// that are no other instance's VIP. None (warned) when nothing is left.
fn beside_others(mut v: Vrrp, kept: &[Vrrp], diag: &mut Diag<'_>) -> Option<Vrrp> {
    let line = v.line;
    if let Some(o) = kept.iter().find(|o| o.config.router() == v.config.router()) {
        diag.warn(
            line,
            format!(
                "vrrp_instance {}: VRID {} ({}) is also vrrp_instance {}'s: regha runs one virtual router per VRID and family on its one interface; not imported",
                v.instance,
                v.config.virtual_router_id,
                v.config.family().as_str(),
                o.instance
            ),
            Some("keepalived ran them on different interfaces: give this one another VRID (on every host), or keep it with keepalived"),
        );
        return None;
    }
    let held = |ip: &IpAddr| kept.iter().find(|o| o.config.holds(*ip));
    let before = v.config.virtual_ipaddresses.len();
    v.config.virtual_ipaddresses.retain(|(ip, _)| match held(ip) {
        Some(o) => {
            diag.warn(
                line,
                format!(
                    "vrrp_instance {}: {ip} is also a virtual address of vrrp_instance {}, which keeps it: left out here",
                    v.instance, o.instance
                ),
                None,
            );
            false
        }
        None => true,
    });
    if v.config.virtual_ipaddresses.is_empty() {
        diag.warn(
            line,
            format!(
                "vrrp_instance {}: every virtual address belongs to another instance: not imported",
                v.instance
            ),
            None,
        );
        return None;
    }
    if v.config.virtual_ipaddresses.len() != before {
        // The per-address comments no longer line up with the list.
        v.notes.drop_within("virtual_ipaddresses[");
    }
    if let Some(src) = v.config.unicast_src
        && let Some(o) = held(&src)
    {
        diag.warn(line, format!("vrrp_instance {}: unicast source {src} is a virtual address of vrrp_instance {}: left out (it moves with that instance)", v.instance, o.instance), None);
        v.config.unicast_src = None;
    }
    let peers = v.config.unicast_peers.len();
    v.config.unicast_peers.retain(|p| held(p).is_none());
    if v.config.unicast_peers.len() != peers {
        diag.warn(line, format!("vrrp_instance {}: a unicast_peer is a virtual address of another instance: left out (it moves with that instance)", v.instance), None);
        v.notes.drop_within("unicast_peers[");
    }
    let base = v.config.name.clone();
    let mut n = 2;
    while kept.iter().any(|o| o.config.name == v.config.name) {
        v.config.name = format!("{base}-{n}");
        n += 1;
    }
    if v.config.name != v.instance {
        v.notes.beside(
            "name",
            format!("vrrp_instance {}: made a regha name", v.instance),
        );
    }
    Some(v)
}

fn instance(
    i: &Instance,
    conf: &Keepalived,
    options: &ImportOptions,
    group: Option<&SyncGroup>,
    diag: &mut Diag<'_>,
) -> Result<Vrrp, ImportError> {
    let name = &i.name;
    let mut notes = Notes::default();
    notes.gap("");
    notes.above(
        "",
        format!(
            "keepalived's `vrrp_instance {name}` ({}). regha speaks VRRP on the wire",
            diag.at(i.line)
        ),
    );
    notes.above(
        "",
        "as keepalived does: the two can share this VRID while the cluster migrates.",
    );

    let virtual_router_id = vrid(i, diag)?;
    notes.beside("virtual_router_id", diag.at(virtual_router_id.line));
    let priority = priority(i, diag, &mut notes);
    if let Some(s) = &i.state {
        state(s, priority, i.nopreempt.is_some(), diag);
        notes.above(
            "",
            format!(
                "`state {}` ({}) has no equivalent: every regha host starts as backup and the",
                s.v,
                diag.at(s.line)
            ),
        );
        notes.above(
            "",
            "highest priority takes the VIP within 3 advert intervals.",
        );
    }

    let declared = advert::declared_version(i, conf, diag);
    let virtual_ipaddresses = addresses::vips(i, diag, &mut notes)?;
    let v6 = virtual_ipaddresses.iter().any(|(ip, _)| ip.is_ipv6());
    let version = advert::version(i, declared, v6, diag, &mut notes);
    let advert_interval = advert::interval(i, version, diag, &mut notes);
    let auth_pass = advert::auth(i, version, diag, &mut notes);

    let preempt = match i.nopreempt {
        Some(l) => {
            notes.beside("preempt", format!("nopreempt, {}", diag.at(l)));
            false
        }
        None => {
            notes.beside("preempt", "keepalived's default");
            true
        }
    };
    let preempt_delay = match &i.preempt_delay {
        None => Duration::ZERO,
        Some(a) => match seconds(&a.v) {
            Some(d) if d <= Duration::from_secs(1000) => {
                notes.beside("preempt_delay", diag.at(a.line));
                d
            }
            _ => {
                diag.warn(
                    a.line,
                    format!("preempt_delay {:?} is not 0..=1000 seconds: left out", a.v),
                    None,
                );
                Duration::ZERO
            }
        },
    };
    let garp = garp(i, diag, &mut notes);
    let (unicast_src, unicast_peers) =
        addresses::unicast(i, &virtual_ipaddresses, diag, &mut notes);

    let track_scripts = track::scripts(i, conf, group, diag, &mut notes);
    let track_interfaces = track::interfaces(i, group, diag, &mut notes);
    let notify = track::notify(i, diag, &mut notes);
    group_note(diag, "settings with no regha equivalent, ignored", &i.minor);

    let interface = match &i.interface {
        Some(a) => {
            if options.interface.as_ref().is_some_and(|o| o != &a.v) {
                diag.note(
                    a.line,
                    format!("interface {} replaced by --interface", a.v),
                    None,
                );
            }
            Some((a.v.clone(), diag.at(a.line), a.line))
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

    let config = VrrpConfig {
        name: super::sanitize_name(
            name,
            &regha_config::default_instance_name(virtual_router_id.v),
        ),
        sync_group: None,
        virtual_router_id: virtual_router_id.v,
        priority,
        advert_interval,
        version,
        auth_pass,
        preempt,
        preempt_delay,
        unicast_src,
        unicast_peers,
        virtual_ipaddresses,
        track_backends: None,
        track_scripts,
        track_interfaces,
        garp,
        peer_priorities: Vec::new(),
        notify,
    };
    Ok(Vrrp {
        config,
        notes,
        instance: name.clone(),
        line: i.line,
        interface,
    })
}

/// `virtual_router_id`, required: without it there is no instance to join.
fn vrid(i: &Instance, diag: &Diag<'_>) -> Result<At<u8>, ImportError> {
    let bad = |line: usize, message: String| ImportError::Instance {
        file: diag.file.to_owned(),
        line,
        message,
    };
    let Some(a) = &i.virtual_router_id else {
        return Err(bad(
            i.line,
            format!(
                "vrrp_instance {} has no virtual_router_id: set it (1..=255) and import again",
                i.name
            ),
        ));
    };
    match a.v.parse::<u8>() {
        Ok(n) if n >= 1 => Ok(At { v: n, line: a.line }),
        _ => Err(bad(
            a.line,
            format!(
                "virtual_router_id {:?} is not in 1..=255: fix it and import again",
                a.v
            ),
        )),
    }
}

fn priority(i: &Instance, diag: &mut Diag<'_>, notes: &mut Notes) -> u8 {
    let Some(a) = &i.priority else {
        if i.state
            .as_ref()
            .is_some_and(|s| s.v.eq_ignore_ascii_case("MASTER"))
        {
            diag.warn(i.line, format!("vrrp_instance {}: state MASTER without a priority: keepalived versions differ on the default (100 or 255); the import uses 100", i.name), Some("set `vrrp.priority` higher than the other host's"));
        }
        notes.beside("priority", "keepalived's default");
        return 100;
    };
    match a.v.parse::<u8>() {
        Ok(n) if n >= 1 => {
            notes.beside("priority", diag.at(a.line));
            n
        }
        _ => {
            diag.warn(
                a.line,
                format!("priority {:?} is not in 1..=255: the import uses 100", a.v),
                Some("set `vrrp.priority` by hand"),
            );
            notes.beside("priority", "priority was invalid; keepalived's default");
            100
        }
    }
}

/// `garp_master_delay`/`_refresh` (seconds, 0..=1000) and `_repeat`/
/// `_refresh_repeat` (1..=255): regha has the same keys and defaults.
fn garp(i: &Instance, diag: &mut Diag<'_>, notes: &mut Notes) -> GarpConfig {
    let mut garp = GarpConfig::default();
    for g in &i.garp {
        let (key, text) = &g.v;
        let count = || text.parse::<u32>().ok().filter(|n| (1..=255).contains(n));
        let secs = || {
            text.parse::<u64>()
                .ok()
                .filter(|n| *n <= 1000)
                .map(Duration::from_secs)
        };
        let set = match key.as_str() {
            "garp_master_delay" => secs().map(|d| garp.delay = d),
            "garp_master_refresh" => secs().map(|d| garp.refresh = d),
            "garp_master_repeat" => count().map(|n| garp.repeat = n),
            "garp_master_refresh_repeat" => count().map(|n| garp.refresh_repeat = n),
            _ => None,
        };
        match set {
            Some(()) => notes.beside(key, diag.at(g.line)),
            None => diag.warn(
                g.line,
                format!("{key} {text:?} is out of range: keepalived's default is used"),
                None,
            ),
        }
    }
    garp
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
