//! What a running agent cannot take from a changed file: the settings
//! bound when it starts. `interface` is where the XDP program is attached
//! and VRRP speaks; `xdp_mode` is how the program was attached; and
//! `flow_table_size` is the size of a BPF map, fixed when the map is
//! created. `flow_sync` is the sockets and the key the sync task was
//! started with. A reload that meets one of them changed says so, field by
//! field, rather than half-apply the file.

use std::fmt::Display;

use crate::error::ConfigError;
use crate::types::{Config, FlowSyncConfig};

/// The settings `new` changes from `old` that take effect only when the
/// agent restarts, each on its field path, e.g. `xdp_mode: changes only
/// when the agent restarts (running: native, file: generic)`. Empty when
/// none of them changed. `old` is the config the agent runs on
/// (command-line overrides such as `--iface` applied), `new` the file.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    if old.interface != new.interface {
        let shown = |i: &Option<String>| i.clone().unwrap_or_else(|| "not set".to_owned());
        out.push(restart_only(
            "interface",
            shown(&old.interface),
            shown(&new.interface),
        ));
    }
    if old.xdp_mode != new.xdp_mode {
        out.push(restart_only(
            "xdp_mode",
            old.xdp_mode.as_str(),
            new.xdp_mode.as_str(),
        ));
    }
    if old.flow_table_size != new.flow_table_size {
        out.push(restart_only(
            "flow_table_size",
            old.flow_table_size,
            new.flow_table_size,
        ));
    }
    if flow_sync_changed(old.flow_sync.as_ref(), new.flow_sync.as_ref()) {
        out.push(restart_only(
            "flow_sync",
            shown_flow_sync(old.flow_sync.as_ref()),
            shown_flow_sync(new.flow_sync.as_ref()),
        ));
    }
    out
}

/// Whether the settings differ, or the keys read, when both were read: a
/// config read without its files (the running one, written back by the
/// agent) has no key to compare, and that is no change.
fn flow_sync_changed(old: Option<&FlowSyncConfig>, new: Option<&FlowSyncConfig>) -> bool {
    match (old, new) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            let keys_differ = matches!((&a.key, &b.key), (Some(x), Some(y)) if x != y);
            keys_differ
                || FlowSyncConfig {
                    key: None,
                    ..a.clone()
                } != FlowSyncConfig {
                    key: None,
                    ..b.clone()
                }
        }
        _ => true,
    }
}

/// `off`, or the settings in a line (never the key).
fn shown_flow_sync(f: Option<&FlowSyncConfig>) -> String {
    let Some(f) = f else {
        return "off".to_owned();
    };
    let to = if f.peers.is_empty() {
        format!("group {}", f.group)
    } else {
        let peers: Vec<String> = f.peers.iter().map(ToString::to_string).collect();
        format!("peers {}", peers.join(" "))
    };
    format!(
        "key_file {}, {to}, port {}, max_rate {}",
        f.key_file.display(),
        f.port,
        f.max_rate
    )
}

fn restart_only(path: &str, running: impl Display, file: impl Display) -> ConfigError {
    ConfigError::new(
        path,
        format!("changes only when the agent restarts (running: {running}, file: {file})"),
    )
}
