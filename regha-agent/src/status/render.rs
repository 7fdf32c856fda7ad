//! Phrases more than one view prints (the table of `regha-agent status`
//! and the page): written once here so the views cannot drift apart.

use super::{VipStatus, VrrpInstanceStatus};

/// The instance as people name it: `VI_51 (51/ipv4)`, with its sync
/// group when it has one.
pub fn instance(v: &VrrpInstanceStatus) -> String {
    let group = v
        .sync_group
        .as_deref()
        .map(|g| format!(", sync group {g}"))
        .unwrap_or_default();
    format!("{} ({}/{}{group})", v.name, v.vrid, v.family)
}

/// Who the instance follows: the master heard, `this host` for a master.
pub fn master_heard(v: &VrrpInstanceStatus) -> String {
    match v.master {
        Some(m) => m.to_string(),
        None if v.state == regha_model::VrrpState::Master => "this host".to_owned(),
        None => "-".to_owned(),
    }
}

/// The unicast peers, or `multicast`.
pub fn peers(v: &VrrpInstanceStatus) -> String {
    if v.peers.is_empty() {
        "multicast".to_owned()
    } else {
        v.peers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a resigned instance shows beside its state.
pub const RESIGNED: &str = "resigned: `regha-agent vrrp resume` rejoins";

/// The packets an instance refused, `reason count, ...`, or `none`.
pub fn rejected(v: &VrrpInstanceStatus) -> String {
    if v.rejected.is_empty() {
        return "none".to_owned();
    }
    v.rejected
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The VIPs as `address/prefix (holder)`, those this host holds marked.
pub fn vips(vips: &[VipStatus]) -> String {
    if vips.is_empty() {
        return "none".to_owned();
    }
    vips.iter()
        .map(|v| {
            format!(
                "{v} ({}{})",
                v.holder,
                if v.held { ", held here" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
