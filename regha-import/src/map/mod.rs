//! The two inputs, read, mapped to one typed [`Config`], section by
//! section, with the [`Notes`] that say where each value came from:
//!
//! * [`vrrp`]: every `vrrp_instance` as an entry of `vrrp:`, with
//!   [`advert`] (version, interval, password), [`addresses`] and [`track`]
//!   (scripts, interfaces, notify), and [`sync`] (`vrrp_sync_group`);
//! * [`services`]: HAProxy's frontends and listens as `services`, with
//!   [`health`] and [`backends`]; [`stats`]: the stats page; [`unmapped`]:
//!   the notes on what nothing maps to;
//! * [`lvs`]: keepalived's `virtual_server`s as more `services`, with
//!   [`lvs_health`]; HAProxy's service wins a VIP and port both have;
//! * here: the top level (`interface`, `hash_seed`, `role`), and which
//!   instance holds each service's VIP.
//!
//! Being a `Config` by construction, the output cannot name a key regha
//! does not have; the values are checked here as check-config would, so
//! that it passes.

mod addresses;
mod advert;
mod backends;
mod health;
mod lvs;
mod lvs_health;
mod services;
mod stats;
mod sync;
mod track;
mod unmapped;
mod vrrp;

use std::net::IpAddr;

use regha_config::Config;
use regha_model::{Role, XdpMode};

use crate::notes::Notes;
use crate::warning::{Diag, Warning};
use crate::{ImportError, ImportOptions, haproxy, keepalived};

/// The imported config, its notes, and the sources for the header.
pub(crate) struct Mapped {
    pub config: Config,
    pub notes: Notes,
    /// `keepalived: file (vrrp_instance X, Y; 2 virtual_servers)`,
    /// `haproxy:    file`.
    pub sources: Vec<String>,
}

/// Reads the inputs and maps them. Each input is `(name, text)`.
pub(crate) fn config(
    keepalived: Option<(&str, &str)>,
    haproxy: Option<(&str, &str)>,
    options: &ImportOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Mapped, ImportError> {
    let proxies = haproxy.map(|(name, text)| (name, haproxy::read(name, text, warnings)));
    let kconf = match keepalived {
        Some((name, text)) => Some((name, keepalived::read(name, text, warnings)?)),
        None => None,
    };
    let has_lvs = kconf
        .as_ref()
        .is_some_and(|(_, c)| !c.virtual_servers.is_empty());
    let instances = match &kconf {
        Some((name, conf)) if conf.instances.is_empty() && !has_lvs => {
            return Err(ImportError::NoInstance {
                file: (*name).to_owned(),
            });
        }
        Some((name, conf)) => vrrp::vrrp(name, conf, options, warnings)?,
        None => Vec::new(),
    };
    let vips: Vec<IpAddr> = (instances.iter())
        .flat_map(|v| v.config.virtual_ipaddresses.iter().map(|(ip, _)| *ip))
        .collect();
    if proxies.is_none() && !has_lvs {
        let file = keepalived.map(|(n, _)| n).unwrap_or_default();
        return Err(ImportError::NoServices(format!(
            "{file}: no `virtual_server`, and keepalived's VRRP instances alone have nothing to balance: \
             give --haproxy haproxy.cfg as well, for the services and their backends"
        )));
    }

    let mut notes = Notes::default();
    let mut services = Vec::new();
    let mut stats = None;
    let mut haproxy_error = None;
    if let Some((name, proxies)) = &proxies {
        match services::services(name, proxies, &vips, options.vip, warnings) {
            Ok(mapped) => {
                services = mapped.services;
                stats = mapped.stats;
                notes.mount("", mapped.notes);
            }
            Err(ImportError::NoServices(e)) if has_lvs => haproxy_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    if let Some((name, conf)) = &kconf
        && has_lvs
    {
        let h_name = proxies.as_ref().map_or("", |(n, _)| *n);
        let taken: Vec<lvs::Taken> = (services.iter())
            .map(|s| lvs::Taken {
                vip: s.vip,
                port: s.port,
                protocol: s.protocol,
                from: format!("`{}` from {h_name}", s.name),
            })
            .collect();
        let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        for (s, service_notes) in lvs::services(name, conf, &vips, &taken, &names, warnings) {
            notes.mount(&format!("services[{}]", services.len()), service_notes);
            services.push(s);
        }
        if let (Some(e), false) = (&haproxy_error, services.is_empty()) {
            Diag::new(h_name, warnings).warn(
                0,
                format!("{e}: the services come from keepalived's virtual_servers alone"),
                None,
            );
        }
    }
    if services.is_empty() {
        return Err(ImportError::NoServices(haproxy_error.unwrap_or_else(|| {
            format!(
                "{}: no service could be imported from its virtual_servers (see the warnings above)",
                keepalived.map(|(n, _)| n).unwrap_or_default()
            )
        })));
    }
    notes.gap("services");

    let mut sources = Vec::new();
    if let Some((name, conf)) = &kconf {
        let mut what: Vec<String> = Vec::new();
        if !instances.is_empty() {
            let names: Vec<&str> = instances.iter().map(|v| v.instance.as_str()).collect();
            what.push(format!("vrrp_instance {}", names.join(", ")));
        }
        match conf.virtual_servers.len() {
            0 => {}
            1 => what.push("1 virtual_server".to_owned()),
            n => what.push(format!("{n} virtual_servers")),
        }
        sources.push(format!("keepalived: {name} ({})", what.join("; ")));
    }
    if let Some((name, _)) = &proxies {
        sources.push(format!("haproxy:    {name}"));
    }

    let interface = interface(options, &instances, keepalived, warnings, &mut notes);
    let hash_seed = hash_seed(&mut notes);
    let role = match (instances.is_empty(), &proxies, keepalived) {
        (false, _, _) => None,
        (true, _, Some((k, _))) => Some(static_role(
            k,
            "no vrrp_instance in the keepalived config",
            warnings,
            &mut notes,
        )),
        (true, Some((h, _)), None) => {
            Some(static_role(h, "no keepalived config", warnings, &mut notes))
        }
        (true, None, None) => None,
    };
    if stats.is_none() {
        stats = Some(stats::default_stats(proxies.is_some(), &mut notes));
    }
    let mut config = Config {
        interface,
        xdp_mode: XdpMode::default(),
        flow_table_size: regha_common::DEFAULT_FLOW_TABLE_SIZE,
        hash_seed,
        role,
        vrrp: instances.iter().map(|v| v.config.clone()).collect(),
        services,
        stats,
        // Not imported: keepalived's lvs_sync_daemon has no key to carry
        // over, and flow sync needs one (`flow_sync.key_file`).
        flow_sync: None,
        // HAProxy + keepalived have one active LB: nothing to carry over.
        bgp: None,
    };
    let lines: Vec<(String, usize)> = (instances.iter())
        .map(|v| (v.instance.clone(), v.line))
        .collect();
    let several = instances.len() > 1;
    for (i, v) in instances.into_iter().enumerate() {
        let path = config.vrrp_path(i);
        notes.mount(&path, v.notes);
        if several && i == 0 {
            notes.no_gap(&path);
        }
    }
    if several {
        notes.gap("vrrp");
        notes.above(
            "vrrp",
            "keepalived's vrrp_instances, one entry each, as keepalived ran them: each its own",
        );
        notes.above(
            "vrrp",
            "election on its own virtual router (VRID and address family).",
        );
    }
    holders(
        &mut config,
        kconf.as_ref().map(|(n, _)| *n),
        &lines,
        warnings,
        &mut notes,
    );
    Ok(Mapped {
        config,
        notes,
        sources,
    })
}

/// With several instances, each service names the one that holds its VIP
/// (`vrrp_instance`), and an instance that holds no service's VIP is noted.
fn holders(
    config: &mut Config,
    file: Option<&str>,
    lines: &[(String, usize)],
    warnings: &mut Vec<Warning>,
    notes: &mut Notes,
) {
    if config.vrrp.len() < 2 {
        return;
    }
    for (i, s) in config.services.iter_mut().enumerate() {
        if let Some(v) = config.vrrp.iter().find(|v| v.holds(s.vip)) {
            s.vrrp_instance = Some(v.name.clone());
            notes.beside(
                &format!("services[{i}].vrrp_instance"),
                "the instance that holds the VIP",
            );
        }
    }
    let mut diag = Diag::new(file.unwrap_or_default(), warnings);
    for (v, (name, line)) in config.vrrp.iter().zip(lines) {
        if !config.services.iter().any(|s| v.holds(s.vip)) {
            diag.note(
                *line,
                format!("vrrp_instance {name}: no service is on its VIPs; regha holds them as keepalived did, with nothing to balance on them"),
                Some("if it carries addresses for something else, import the others with --instance and keep keepalived for this one"),
            );
        }
    }
}

/// `--interface`, else the first instance's; else a placeholder comment.
/// regha runs every instance on its one interface: another is warned.
fn interface(
    options: &ImportOptions,
    instances: &[vrrp::Vrrp],
    keepalived: Option<(&str, &str)>,
    warnings: &mut Vec<Warning>,
    notes: &mut Notes,
) -> Option<String> {
    let first = instances.iter().find_map(|v| v.interface.as_ref());
    let interface = match (&options.interface, first) {
        (Some(i), _) => Some((i.clone(), "--interface on the command line".to_owned())),
        (None, Some((name, at, _))) => Some((name.clone(), at.clone())),
        (None, None) => None,
    };
    if options.interface.is_none()
        && let (Some((chosen, _)), Some((name, _))) = (&interface, keepalived)
    {
        let mut diag = Diag::new(name, warnings);
        for v in instances {
            if let Some((other, _, line)) = &v.interface
                && other != chosen
            {
                diag.warn(*line, format!("vrrp_instance {}: interface {other}: regha runs every instance on its one interface, {chosen}", v.instance), Some("VRRP and its VIPs move to the LB interface; pass --interface NAME to choose another"));
            }
        }
    }
    // Above `interface`, or where it would be: `xdp_mode` follows it.
    let path = if interface.is_some() {
        "interface"
    } else {
        "xdp_mode"
    };
    notes.gap(path);
    notes.above(
        path,
        "The LB interface: XDP attaches here, VRRP speaks here, the VIP is added here.",
    );
    match interface {
        Some((name, note)) => {
            notes.beside(path, note);
            Some(name)
        }
        None => {
            notes.above(
                path,
                "interface: eth0   # not in the sources: set it here or pass --iface",
            );
            None
        }
    }
}

/// The default seed, with why it must be the same on every LB host.
fn hash_seed(notes: &mut Notes) -> u32 {
    notes.gap("hash_seed");
    notes.above(
        "hash_seed",
        "Seed of the client hash: must be the same on every LB host, so that after a",
    );
    notes.above(
        "hash_seed",
        "failover every client lands on the backend it was using.",
    );
    0
}

/// Without VRRP, the VIP needs a static role: `master`, warned.
fn static_role(file: &str, why: &str, warnings: &mut Vec<Warning>, notes: &mut Notes) -> Role {
    Diag::new(file, warnings).warn(
        0,
        format!(
            "{why}: the output uses the static `role: master`, \
             which holds the VIP unconditionally"
        ),
        Some("write `role: backup` on the other LB host, or import with --keepalived for VRRP failover"),
    );
    notes.gap("role");
    notes.above(
        "role",
        "No VRRP instance was imported: a static role holds the VIPs.",
    );
    notes.beside("role", "`backup` on the other LB host");
    Role::Master
}

/// A name regha accepts (`[A-Za-z0-9_.-]{1,63}`) from any text: other
/// characters become `-`, and an empty result becomes `fallback`.
fn sanitize_name(text: &str, fallback: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if name.is_empty() {
        fallback.to_owned()
    } else {
        name
    }
}
