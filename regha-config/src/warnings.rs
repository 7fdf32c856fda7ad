//! `check-config`'s warnings: what is valid but probably not what was
//! meant. Pure: the config alone decides (the script checks, which read
//! the file system, are in `scripts`).

use crate::error::ConfigError;
use crate::security::security_warnings;
use crate::types::{Config, VrrpConfig};

impl Config {
    /// What is valid but probably not what was meant, each with its field
    /// path (`check-config` prints them and still exits 0).
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        for (i, v) in self.vrrp.iter().enumerate() {
            out.extend(tracker_warnings(&self.vrrp_path(i), v));
        }
        out.extend(sync_group_warnings(self));
        out.extend(flow_sync_warnings(self));
        out.extend(security_warnings(self));
        out
    }
}

/// Flow sync keeps connections through a takeover; with no VRRP there is
/// no takeover (a static role never changes while the agent runs).
fn flow_sync_warnings(config: &Config) -> Vec<ConfigError> {
    if config.flow_sync.is_some() && config.vrrp.is_empty() {
        return vec![ConfigError::new(
            "flow_sync",
            "set without vrrp: flows are synced so that a takeover keeps them, and with a static role nothing takes over; configure vrrp, or remove flow_sync",
        )];
    }
    Vec::new()
}

/// An instance's non-zero tracker weights, by field path.
fn weighted_trackers(at: &str, v: &VrrpConfig) -> Vec<(String, i32)> {
    let mut trackers: Vec<(String, i32)> = Vec::new();
    if let Some(t) = v.track_backends {
        trackers.push((format!("{at}.track_backends.weight"), t.weight));
    }
    for (i, s) in v.track_scripts.iter().enumerate() {
        trackers.push((format!("{at}.track_scripts[{i}].weight"), s.weight));
    }
    for (i, t) in v.track_interfaces.iter().enumerate() {
        trackers.push((format!("{at}.track_interfaces[{i}].weight"), t.weight));
    }
    trackers.retain(|(_, w)| *w != 0);
    trackers
}

/// A sync group of one instance is no group (keepalived warns the same);
/// a weight on a member moves the group only if every member's priority
/// moves with it: the group takes over only when every member would, so a
/// weight the other members do not carry changes nothing (keepalived
/// ignores such weights unless told otherwise; regha keeps them, and says
/// when they cannot work). Weight 0 (FAULT) always moves the whole group.
fn sync_group_warnings(config: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut groups: Vec<&str> = config
        .vrrp
        .iter()
        .filter_map(|v| v.sync_group.as_deref())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for g in groups {
        let members: Vec<(usize, &VrrpConfig)> = (config.vrrp.iter().enumerate())
            .filter(|(_, v)| v.sync_group.as_deref() == Some(g))
            .collect();
        if let [(i, _)] = members[..] {
            out.push(ConfigError::new(
                format!("{}.sync_group", config.vrrp_path(i)),
                format!("{g:?} has only this instance: a sync group makes instances fail over together; name the group on the others too, or remove it"),
            ));
            continue;
        }
        let weights = |v: &VrrpConfig| {
            let mut w: Vec<i32> = weighted_trackers("", v)
                .into_iter()
                .map(|(_, w)| w)
                .collect();
            w.sort_unstable();
            w
        };
        for &(i, v) in &members {
            let mine = weights(v);
            if mine.is_empty() || members.iter().all(|(_, o)| weights(o) == mine) {
                continue;
            }
            for (path, weight) in weighted_trackers(&config.vrrp_path(i), v) {
                out.push(ConfigError::new(
                    path,
                    format!("{weight} in sync group {g:?}, whose other members do not carry the same weights: the group takes over only when every member would, so this weight alone moves nothing; give every member the same tracker weights, or use 0 to put the whole group in FAULT"),
                ));
            }
        }
    }
    out
}

/// Trackers whose weight cannot change who is master, given
/// `peer_priorities` (the reasoning is on [`VrrpConfig::peer_priorities`]).
fn tracker_warnings(at: &str, v: &VrrpConfig) -> Vec<ConfigError> {
    let trackers = weighted_trackers(at, v);
    let mut out = Vec::new();
    for (path, weight) in trackers {
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
                    "{weight} cannot change who is master: priority {} is at least {gap} away from every peer in {at}.peer_priorities ({}); use a weight above {gap} in size, or 0 for FAULT",
                    v.priority,
                    peers.join(", ")
                ),
            ));
        }
    }
    out
}
