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
        let mut out = self.vrrp.as_ref().map(tracker_warnings).unwrap_or_default();
        out.extend(security_warnings(self));
        out
    }
}

/// Trackers whose weight cannot change who is master, given
/// `peer_priorities` (the reasoning is on [`VrrpConfig::peer_priorities`]).
fn tracker_warnings(v: &VrrpConfig) -> Vec<ConfigError> {
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
