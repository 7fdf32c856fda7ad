//! keepalived.conf as regha reads it: the blocks it maps (`global_defs`,
//! `vrrp_script`, `vrrp_instance`, `vrrp_sync_group`, and the
//! load-balancer blocks `virtual_server` and `virtual_server_group`),
//! values still as written, each with its line; [`crate::map`] checks and
//! maps them.
//!
//! ```text
//!  text --parse.rs--> Stmt tree --blocks.rs--> Keepalived { instances, scripts, sync_groups }
//!                              \--lvs.rs----> Keepalived { virtual_servers, vs_groups }
//! ```

mod blocks;
mod keys;
mod lvs;
mod parse;

pub(crate) use lvs::{CheckSettings, Checker, RealServer, Target, VirtualServer, VsGroup};

use parse::parse;

use std::time::Duration;

use crate::ImportError;
use crate::warning::{Diag, Warning, lines_list};

/// keepalived seconds, possibly fractional (`0.5`).
pub(crate) fn seconds(text: &str) -> Option<Duration> {
    let f: f64 = text.parse().ok()?;
    (f.is_finite() && (0.0..=1.0e6).contains(&f))
        .then(|| Duration::from_millis((f * 1000.0).round() as u64))
}

/// A value and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub v: T,
    pub line: usize,
}

/// `vrrp_script NAME { ... }`, values as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Script {
    pub name: String,
    pub line: usize,
    pub script: Option<At<String>>,
    pub interval: Option<At<String>>,
    pub timeout: Option<At<String>>,
    pub weight: Option<At<String>>,
    /// `weight N reverse`.
    pub reverse: bool,
    pub rise: Option<At<String>>,
    pub fall: Option<At<String>>,
}

/// One `virtual_ipaddress` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Vip {
    /// `IP` or `IP/prefix`.
    pub address: String,
    pub dev: Option<String>,
    pub label: Option<String>,
    /// Other options (`brd`, `scope`, `peer`, `home`, `-nodad`, ...).
    pub other: Vec<String>,
}

/// `vrrp_instance NAME { ... }`, values as written; `map/vrrp.rs` checks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Instance {
    pub name: String,
    pub line: usize,
    pub state: Option<At<String>>,
    pub interface: Option<At<String>>,
    pub virtual_router_id: Option<At<String>>,
    pub priority: Option<At<String>>,
    pub advert_int: Option<At<String>>,
    pub version: Option<At<String>>,
    pub auth_type: Option<At<String>>,
    pub auth_pass: Option<At<String>>,
    pub vips: Vec<At<Vip>>,
    pub unicast_src_ip: Option<At<String>>,
    pub unicast_peers: Vec<At<String>>,
    pub mcast_src_ip: Option<At<String>>,
    /// `native_ipv6`: its line.
    pub native_ipv6: Option<usize>,
    pub nopreempt: Option<usize>,
    pub preempt_delay: Option<At<String>>,
    /// Script name and the weight that overrides the script's, if any.
    pub track_scripts: Vec<At<(String, Option<String>)>>,
    /// Interface name and its weight, if any.
    pub track_interfaces: Vec<At<(String, Option<String>)>>,
    /// `notify_master` and friends: the keyword's suffix and the command.
    pub notify: Vec<At<(String, String)>>,
    /// `garp_master_delay` and friends: the keyword and its value.
    pub garp: Vec<At<(String, String)>>,
    /// Keywords that have no regha equivalent worth a warning each:
    /// (line, keyword) for one grouped note.
    pub minor: Vec<(usize, String)>,
}

/// `vrrp_sync_group NAME { group { ... } ... }`, values as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SyncGroup {
    pub name: String,
    pub line: usize,
    /// The instance names of `group { ... }`.
    pub members: Vec<At<String>>,
    /// `sync_group_tracking_weight` (or the older `global_tracking`): the
    /// members' tracker weights count; without it keepalived ignores them.
    pub tracking_weight: bool,
    /// `notify_*`, `track_*`, `smtp_alert`: (line, keyword).
    pub unmapped: Vec<(usize, String)>,
}

/// What regha takes from a keepalived.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Keepalived {
    pub instances: Vec<Instance>,
    pub scripts: Vec<Script>,
    pub sync_groups: Vec<SyncGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    pub vs_groups: Vec<VsGroup>,
    /// `global_defs { vrrp_version N }`.
    pub default_version: Option<At<String>>,
}

/// Parses `text` and reads its blocks. Each keyword regha cannot use is
/// reported once, grouped where harmless.
pub(crate) fn read(
    file: &str,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Keepalived, ImportError> {
    let mut diag = Diag::new(file, warnings);
    let stmts = parse(text, &mut diag)?;
    let mut conf = Keepalived::default();
    let mut mail_lines = Vec::new();
    for s in &stmts {
        let Some(key) = s.words.first() else { continue };
        let name = s.words.get(1).map(|t| t.text.clone()).unwrap_or_default();
        let block = s.block.as_deref().unwrap_or_default();
        match key.text.as_str() {
            "global_defs" => {
                blocks::global_defs(block, &mut conf, &mut mail_lines, &mut diag);
            }
            "vrrp_script" => conf
                .scripts
                .push(blocks::script(&name, s.line, block, &mut diag)),
            "vrrp_instance" => conf
                .instances
                .push(blocks::instance(&name, s.line, block, &mut diag)),
            "vrrp_sync_group" => conf
                .sync_groups
                .push(blocks::sync_group(&name, s.line, block)),
            "virtual_server" => {
                let words: Vec<&str> = s.words[1..].iter().map(|w| w.text.as_str()).collect();
                conf.virtual_servers
                    .extend(lvs::virtual_server(&words, s.line, block, &mut diag));
            }
            "virtual_server_group" => conf.vs_groups.push(lvs::group(&name, s.line, block)),
            "include" => diag.warn(
                s.line,
                format!("`include {name}` is not followed"),
                Some("import the included file's instance by passing it to --keepalived"),
            ),
            "static_ipaddress" | "static_routes" | "static_rules" => diag.warn(
                s.line,
                format!("`{}`: regha manages only the VIPs", key.text),
                Some("configure these addresses or routes in the host's network config"),
            ),
            other => diag.warn(
                s.line,
                format!("`{other}`: not a block the import knows: ignored"),
                None,
            ),
        }
    }
    if !mail_lines.is_empty() {
        diag.warn(
            mail_lines[0],
            format!(
                "mail notification ({}: notification_email, smtp_server, ...): regha sends no mail",
                lines_list(&mail_lines)
            ),
            Some("set `vrrp.notify.master`/`backup`/`fault` to scripts that send the mail (e.g. with `mail` or `sendmail`), or alert on the `regha_vrrp_*` metrics"),
        );
    }
    Ok(conf)
}
