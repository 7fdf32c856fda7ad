//! The two inputs, read, mapped to one typed [`Config`], section by
//! section, with the [`Notes`] that say where each value came from:
//!
//! * [`vrrp`]: the `vrrp_instance` as `vrrp:`, with [`advert`] (version,
//!   interval, password), [`addresses`] and [`track`] (scripts,
//!   interfaces, notify);
//! * [`services`]: frontends and listens as `services`, with [`health`]
//!   and [`backends`]; [`stats`]: the stats page; [`unmapped`]: the notes
//!   on what nothing maps to;
//! * here: the top level (`interface`, `hash_seed`, `role`).
//!
//! Being a `Config` by construction, the output cannot name a key regha
//! does not have; the values are checked here as check-config would, so
//! that it passes.

mod addresses;
mod advert;
mod backends;
mod health;
mod services;
mod stats;
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
    /// `keepalived: file (vrrp_instance X)`, `haproxy:    file`.
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
    let vrrp = match keepalived {
        Some((name, text)) => {
            let conf = keepalived::read(name, text, warnings)?;
            let bound: Vec<IpAddr> = proxies
                .as_ref()
                .map(|(_, p)| p.bound_addresses())
                .unwrap_or_default();
            Some(vrrp::vrrp(name, &conf, &bound, options, warnings)?)
        }
        None => None,
    };
    let vips: Vec<IpAddr> = vrrp
        .as_ref()
        .map(|v| {
            let addresses = &v.config.virtual_ipaddresses;
            addresses.iter().map(|(ip, _)| *ip).collect()
        })
        .unwrap_or_default();
    let Some((haproxy_name, proxies)) = &proxies else {
        let file = keepalived.map(|(n, _)| n).unwrap_or_default();
        return Err(ImportError::NoServices(format!(
            "{file}: keepalived's VRRP instance alone has nothing to balance: \
             give --haproxy haproxy.cfg as well, for the services and their backends"
        )));
    };
    let mapped = services::services(haproxy_name, proxies, &vips, options.vip, warnings)?;

    let mut notes = Notes::default();
    let mut sources = Vec::new();
    if let (Some((name, _)), Some(v)) = (keepalived, &vrrp) {
        sources.push(format!("keepalived: {name} (vrrp_instance {})", v.instance));
    }
    sources.push(format!("haproxy:    {haproxy_name}"));

    let interface = interface(options, vrrp.as_ref(), &mut notes);
    let hash_seed = hash_seed(&mut notes);
    let role = match &vrrp {
        Some(_) => None,
        None => Some(static_role(haproxy_name, warnings, &mut notes)),
    };
    let mut stats = mapped.stats;
    notes.mount("", mapped.notes);
    if stats.is_none() {
        stats = Some(stats::default_stats(&mut notes));
    }
    let vrrp = vrrp.map(|v| {
        notes.mount("vrrp", v.notes);
        v.config
    });
    let config = Config {
        interface,
        xdp_mode: XdpMode::default(),
        flow_table_size: regha_common::DEFAULT_FLOW_TABLE_SIZE,
        hash_seed,
        role,
        vrrp,
        services: mapped.services,
        stats,
    };
    Ok(Mapped {
        config,
        notes,
        sources,
    })
}

/// `--interface`, else keepalived's; else a placeholder comment.
fn interface(
    options: &ImportOptions,
    vrrp: Option<&vrrp::Vrrp>,
    notes: &mut Notes,
) -> Option<String> {
    let interface = match (&options.interface, vrrp) {
        (Some(i), _) => Some((i.clone(), "--interface on the command line".to_owned())),
        (None, Some(v)) => v.interface.clone(),
        (None, None) => None,
    };
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

/// Without keepalived, the VIP needs a static role: `master`, warned.
fn static_role(haproxy: &str, warnings: &mut Vec<Warning>, notes: &mut Notes) -> Role {
    Diag::new(haproxy, warnings).warn(
        0,
        "no keepalived config: the output uses the static `role: master`, \
         which holds the VIP unconditionally",
        Some("write `role: backup` on the other LB host, or import with --keepalived for VRRP failover"),
    );
    notes.gap("role");
    notes.above(
        "role",
        "No keepalived config was imported: a static role holds the VIPs.",
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
