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

use regha_config::{GarpConfig, VrrpConfig};

use super::{addresses, advert, track};
use crate::keepalived::{At, Instance, Keepalived, seconds};
use crate::notes::Notes;
use crate::warning::{Diag, Warning, group_note};
use crate::{ImportError, ImportOptions};

/// The `vrrp:` section, its notes (paths relative to `vrrp`), and what
/// else the instance says.
pub(crate) struct Vrrp {
    pub config: VrrpConfig,
    pub notes: Notes,
    /// The instance's name, for the output's header.
    pub instance: String,
    /// keepalived's `interface` and the note on it.
    pub interface: Option<(String, String)>,
}

/// Picks the instance and maps it.
pub(crate) fn vrrp(
    file: &str,
    conf: &Keepalived,
    bound: &[IpAddr],
    options: &ImportOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Vrrp, ImportError> {
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
                other.name, chosen.name, why
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

    let track_scripts = track::scripts(i, conf, diag, &mut notes);
    let track_interfaces = track::interfaces(i, diag, &mut notes);
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
            Some((a.v.clone(), diag.at(a.line)))
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
