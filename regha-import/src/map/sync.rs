//! keepalived's `vrrp_sync_group`s as the `sync_group` of each member
//! instance: regha's members fail over together as keepalived's did.
//!
//! keepalived ignores the weights of its members' trackers unless the
//! group says `sync_group_tracking_weight` (a weighted tracker on one
//! member would pull the group apart): the import leaves those trackers
//! out, as they did nothing (`track::scripts` and `track::interfaces` ask
//! [`ignores_weights`]). Group-level notify scripts and trackers have no
//! regha equivalent and are warned about.

use super::vrrp::Vrrp;
use crate::keepalived::{Instance, Keepalived, SyncGroup};
use crate::warning::{Diag, lines_list};

/// Whether keepalived ignored a non-zero tracker weight of a member of `g`.
pub(super) fn ignores_weights(g: Option<&SyncGroup>) -> Option<&str> {
    g.filter(|g| !g.tracking_weight).map(|g| g.name.as_str())
}

/// Each imported instance's group: (instance name, group). An instance
/// named by a group that does not exist, or by a second group, is warned.
pub(super) fn membership<'a>(
    conf: &'a Keepalived,
    chosen: &[&Instance],
    diag: &mut Diag<'_>,
) -> Vec<(String, &'a SyncGroup)> {
    let mut out: Vec<(String, &'a SyncGroup)> = Vec::new();
    for g in &conf.sync_groups {
        for m in &g.members {
            if !conf.instances.iter().any(|i| i.name == m.v) {
                diag.warn(
                    m.line,
                    format!(
                        "vrrp_sync_group {}: no vrrp_instance {}: left out of the group",
                        g.name, m.v
                    ),
                    None,
                );
                continue;
            }
            if !chosen.iter().any(|i| i.name == m.v) {
                continue;
            }
            if let Some((_, other)) = out.iter().find(|(n, _)| *n == m.v) {
                diag.warn(
                    m.line,
                    format!(
                        "vrrp_instance {} is already in vrrp_sync_group {}: an instance is in one group (keepalived refuses this too); left out of {}",
                        m.v, other.name, g.name
                    ),
                    None,
                );
                continue;
            }
            out.push((m.v.clone(), g));
        }
        unmapped(g, diag);
    }
    out
}

/// The group's own notify scripts and trackers: warned, once each kind.
fn unmapped(g: &SyncGroup, diag: &mut Diag<'_>) {
    let of = |pred: fn(&str) -> bool| -> Vec<(usize, &str)> {
        (g.unmapped.iter())
            .filter(|(_, k)| pred(k))
            .map(|(l, k)| (*l, k.as_str()))
            .collect()
    };
    let notify = of(|k| k.starts_with("notify"));
    if let Some((line, _)) = notify.first() {
        let keys: Vec<&str> = notify.iter().map(|(_, k)| *k).collect();
        diag.warn(
            *line,
            format!(
                "vrrp_sync_group {} ({}): {}: regha runs notify scripts per instance, not per group",
                g.name,
                lines_list(&notify.iter().map(|(l, _)| *l).collect::<Vec<_>>()),
                keys.join(", ")
            ),
            Some("set the script as `notify.master`/`backup`/`fault` of one member instance: the members change state together"),
        );
    }
    for (line, key) in of(|k| k.starts_with("track_")) {
        diag.warn(
            line,
            format!("`{key}` in vrrp_sync_group {}: regha tracks per instance", g.name),
            Some("add the tracker to each member instance (`track_scripts`/`track_interfaces`) with the same weight: a member in FAULT takes the group with it"),
        );
    }
    for (line, key) in of(|k| k == "smtp_alert") {
        diag.warn(
            line,
            format!("`{key}` in vrrp_sync_group {}: regha sends no mail", g.name),
            Some("send it from a member's `notify` scripts"),
        );
    }
}

/// Sets `sync_group` on the members of each group that has at least two
/// imported members, and whose members are all address owners or none.
pub(super) fn apply(
    conf: &Keepalived,
    groups: &[(String, &SyncGroup)],
    out: &mut [Vrrp],
    diag: &mut Diag<'_>,
) {
    for g in &conf.sync_groups {
        let members: Vec<usize> = (out.iter().enumerate())
            .filter(|(_, v)| {
                groups
                    .iter()
                    .any(|(n, gg)| *n == v.instance && std::ptr::eq(*gg, g))
            })
            .map(|(i, _)| i)
            .collect();
        if members.is_empty() {
            continue;
        }
        if members.len() < 2 {
            diag.warn(
                g.line,
                format!(
                    "vrrp_sync_group {}: only one of its instances was imported ({}): no sync group is written",
                    g.name, out[members[0]].instance
                ),
                Some("a group of one syncs nothing; import the other members too, or drop the group"),
            );
            continue;
        }
        let owners = members
            .iter()
            .filter(|&&i| out[i].config.priority == 255)
            .count();
        if owners != 0 && owners != members.len() {
            diag.warn(
                g.line,
                format!(
                    "vrrp_sync_group {}: some members have priority 255 (address owner) and some not: such a group could never agree, so regha refuses it; no sync group is written",
                    g.name
                ),
                Some("give every member priority 255, or none, then add `sync_group` to each"),
            );
            continue;
        }
        let name = super::sanitize_name(&g.name, "group");
        for &i in &members {
            out[i].config.sync_group = Some(name.clone());
            out[i].notes.beside(
                "sync_group",
                format!("vrrp_sync_group {}, {}", g.name, diag.at(g.line)),
            );
        }
    }
}
