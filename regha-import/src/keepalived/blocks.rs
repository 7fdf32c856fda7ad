//! The blocks of a keepalived.conf, read into the [`super`] model: values
//! stay as written (checked in [`crate::map`]); keywords that have no regha
//! meaning are warned about here, once each.

use super::keys::{
    AUTH_KEYS, GLOBAL_KEYS, INSTANCE_KEYS, INSTANCE_MINOR, MAIL_KEYS, SCRIPT_KEYS, SYNC_GROUP_KEYS,
};
use super::parse::{Entry, Stmt, split_known};
use super::{At, Instance, Keepalived, Script, SyncGroup, Vip};
use crate::lex::Word;
use crate::warning::{Diag, group_note};

/// `global_defs`: the default VRRP version; mail settings are collected for
/// one warning, the rest for one note.
pub(super) fn global_defs(
    block: &[Stmt],
    conf: &mut Keepalived,
    mail_lines: &mut Vec<usize>,
    diag: &mut Diag<'_>,
) {
    let mut other = Vec::new();
    for e in split_known(block, &[MAIL_KEYS, GLOBAL_KEYS].concat()) {
        match e.key.as_str() {
            k if MAIL_KEYS.contains(&k) => mail_lines.push(e.line),
            "router_id" | "lvs_id" => {}
            "vrrp_version" => {
                conf.default_version = e.arg().map(|v| At {
                    v: v.to_owned(),
                    line: e.line,
                });
            }
            "vrrp_strict" => diag.note(
                e.line,
                "`vrrp_strict`: regha always speaks strict RFC VRRP (no unicast without peers listed, auth only with v2)",
                None,
            ),
            k => other.push((e.line, k.to_owned())),
        }
    }
    group_note(
        diag,
        "global_defs settings without a regha equivalent, ignored",
        &other,
    );
}

fn at(e: &Entry<'_>) -> Option<At<String>> {
    e.arg().map(|v| At {
        v: v.to_owned(),
        line: e.line,
    })
}

/// `vrrp_script NAME { ... }`.
pub(super) fn script(name: &str, line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Script {
    let mut s = Script {
        name: name.to_owned(),
        line,
        ..Script::default()
    };
    for e in split_known(block, SCRIPT_KEYS) {
        match e.key.as_str() {
            // An unquoted command is every word of the line.
            "script" => {
                let words: Vec<&str> = e.args.iter().map(|t| t.text.as_str()).collect();
                s.script = Some(At {
                    v: words.join(" "),
                    line: e.line,
                });
            }
            "interval" => s.interval = at(&e),
            "timeout" => s.timeout = at(&e),
            "weight" => {
                s.weight = at(&e);
                s.reverse = e.args.iter().any(|t| t.text == "reverse");
            }
            "rise" => s.rise = at(&e),
            "fall" => s.fall = at(&e),
            "user" => diag.note(
                e.line,
                format!("`user` of vrrp_script {name}: regha runs track scripts as its own user (root)"),
                Some("make the script drop privileges itself if it must not run as root"),
            ),
            "init_fail" => diag.note(
                e.line,
                format!("`init_fail` of vrrp_script {name}: a regha track script starts as failed until it has passed `rise` times"),
                None,
            ),
            k => diag.warn(e.line, format!("`{k}` in vrrp_script {name}: unknown, ignored"), None),
        }
    }
    s
}

/// `vrrp_instance NAME { ... }`.
pub(super) fn instance(name: &str, line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Instance {
    let mut i = Instance {
        name: name.to_owned(),
        line,
        ..Instance::default()
    };
    for e in split_known(block, &[INSTANCE_KEYS, INSTANCE_MINOR].concat()) {
        let inner = e.block.unwrap_or_default();
        match e.key.as_str() {
            "state" => i.state = at(&e),
            "interface" => i.interface = at(&e),
            "virtual_router_id" => i.virtual_router_id = at(&e),
            "priority" => i.priority = at(&e),
            "advert_int" => i.advert_int = at(&e),
            "vrrp_version" | "version" => i.version = at(&e),
            "authentication" => {
                for a in split_known(inner, AUTH_KEYS) {
                    match a.key.as_str() {
                        "auth_type" => i.auth_type = at(&a),
                        "auth_pass" => i.auth_pass = at(&a),
                        k => diag.warn(a.line, format!("`{k}` in authentication: unknown, ignored"), None),
                    }
                }
            }
            // keepalived also takes these outside the block.
            "auth_type" => i.auth_type = at(&e),
            "auth_pass" => i.auth_pass = at(&e),
            "virtual_ipaddress" => i.vips.extend(vips(inner, diag)),
            "virtual_ipaddress_excluded" => diag.warn(
                e.line,
                "`virtual_ipaddress_excluded`: regha adds only the addresses it advertises",
                Some("list the addresses in `vrrp.virtual_ipaddresses` if regha should hold them (they are then advertised)"),
            ),
            "virtual_routes" | "virtual_rules" => diag.warn(
                e.line,
                format!("`{}`: regha adds no routes or rules on a transition", e.key),
                Some("add them from a `vrrp.notify.master` script"),
            ),
            "unicast_src_ip" => i.unicast_src_ip = at(&e),
            "unicast_peer" => {
                for t in inner.iter().flat_map(|s| &s.words) {
                    // `min_ttl N` / `max_ttl N` follow a peer.
                    if t.text.parse::<std::net::IpAddr>().is_ok() {
                        i.unicast_peers.push(At {
                            v: t.text.clone(),
                            line: t.line,
                        });
                    } else if !t.text.ends_with("_ttl") && t.text.parse::<u32>().is_err() {
                        diag.warn(t.line, format!("unicast_peer {:?} is not an IP address: ignored", t.text), None);
                    }
                }
            }
            "mcast_src_ip" => i.mcast_src_ip = at(&e),
            "nopreempt" => i.nopreempt = Some(e.line),
            "preempt_delay" => i.preempt_delay = at(&e),
            "track_script" | "track_interface" => {
                let list = named_weights(inner);
                if e.key == "track_script" {
                    i.track_scripts.extend(list);
                } else {
                    i.track_interfaces.extend(list);
                }
            }
            "track_process" | "track_file" | "track_bfd" => diag.warn(
                e.line,
                format!("`{}`: regha tracks scripts, interfaces and backend health only", e.key),
                Some("turn the check into a `vrrp.track_scripts` entry"),
            ),
            k if k.starts_with("notify") && matches!(k, "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify") => {
                let words: Vec<&str> = e.args.iter().map(|t| t.text.as_str()).collect();
                i.notify.push(At {
                    v: (k.trim_start_matches("notify").trim_start_matches('_').to_owned(), words.join(" ")),
                    line: e.line,
                });
            }
            "notify_master_rx_lower_pri" | "notify_deleted" => diag.warn(
                e.line,
                format!("`{}`: regha has no such event", e.key),
                None,
            ),
            "smtp_alert" => diag.warn(
                e.line,
                "`smtp_alert`: regha sends no mail",
                Some("send it from the `vrrp.notify` scripts"),
            ),
            "garp_master_delay" | "garp_master_repeat" | "garp_master_refresh" | "garp_master_refresh_repeat" => {
                i.garp.push(At {
                    v: (e.key.clone(), e.arg().unwrap_or_default().to_owned()),
                    line: e.line,
                });
            }
            "use_vmac" | "vmac_xmit_base" => diag.warn(
                e.line,
                format!("`{}`: regha does not use a VRRP virtual MAC; the VIP answers with the interface's MAC and gratuitous ARP moves it", e.key),
                None,
            ),
            "native_ipv6" => i.native_ipv6 = Some(e.line),
            "lvs_sync_daemon_interface" => diag.warn(
                e.line,
                "`lvs_sync_daemon_interface`: not imported: regha's counterpart is `flow_sync` (the LBs share their flow tables over UDP), which needs a shared key no keepalived file holds; add `flow_sync: {key_file: ..., peers: [...]}` by hand (see the README, \"Flow sync\")",
                None,
            ),
            k if INSTANCE_MINOR.contains(&k) => i.minor.push((e.line, k.to_owned())),
            k => diag.warn(e.line, format!("`{k}` in vrrp_instance {name}: unknown, ignored"), None),
        }
    }
    i
}

/// `name [weight N]` lists (track_script, track_interface), whether one per
/// line or all on one.
fn named_weights(block: &[Stmt]) -> Vec<At<(String, Option<String>)>> {
    let mut out: Vec<At<(String, Option<String>)>> = Vec::new();
    let words: Vec<&Word> = block.iter().flat_map(|s| &s.words).collect();
    let mut i = 0;
    while let Some(t) = words.get(i) {
        if t.is("weight") {
            if let (Some(last), Some(w)) = (out.last_mut(), words.get(i + 1)) {
                last.v.1 = Some(w.text.clone());
            }
            i += 2;
            continue;
        }
        // `reverse` and other modifiers of the previous entry are not names.
        if !t.is("reverse") {
            out.push(At {
                v: (t.text.clone(), None),
                line: t.line,
            });
        }
        i += 1;
    }
    out
}

/// Options of a `virtual_ipaddress` entry that take a value.
const VIP_VALUED: &[&str] = &[
    "brd",
    "broadcast",
    "dev",
    "scope",
    "label",
    "peer",
    "track_group",
    "metric",
];

/// `virtual_ipaddress` entries: `IP[/prefix] [dev X] [label X] ...`, one
/// per line or several on one line.
fn vips(block: &[Stmt], diag: &mut Diag<'_>) -> Vec<At<Vip>> {
    let mut out: Vec<At<Vip>> = Vec::new();
    let words: Vec<&Word> = block.iter().flat_map(|s| &s.words).collect();
    let mut i = 0;
    while let Some(t) = words.get(i) {
        let word = t.text.as_str();
        if VIP_VALUED.contains(&word) {
            let value = words.get(i + 1).map(|v| v.text.clone()).unwrap_or_default();
            match out.last_mut() {
                Some(last) => match word {
                    "dev" => last.v.dev = Some(value),
                    "label" => last.v.label = Some(value),
                    _ => last.v.other.push(format!("{word} {value}")),
                },
                None => diag.warn(
                    t.line,
                    format!("`{word}` before any address: ignored"),
                    None,
                ),
            }
            i += 2;
            continue;
        }
        let address = word.split('/').next().unwrap_or_default();
        if address.parse::<std::net::IpAddr>().is_ok() {
            out.push(At {
                v: Vip {
                    address: word.to_owned(),
                    ..Vip::default()
                },
                line: t.line,
            });
        } else if let Some(last) = out.last_mut() {
            // `home`, `-nodad`, `nodad`, `noprefixroute`, `no_track`, ...
            last.v.other.push(word.to_owned());
        } else {
            diag.warn(
                t.line,
                format!("virtual_ipaddress {word:?} is not an IP address: ignored"),
                None,
            );
        }
        i += 1;
    }
    out
}

/// `vrrp_sync_group NAME { ... }`.
pub(super) fn sync_group(name: &str, line: usize, block: &[Stmt]) -> SyncGroup {
    let mut g = SyncGroup {
        name: name.to_owned(),
        line,
        ..SyncGroup::default()
    };
    for e in split_known(block, SYNC_GROUP_KEYS) {
        match e.key.as_str() {
            "group" => g.members.extend(
                e.block
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| &s.words)
                    .map(|w| At {
                        v: w.text.clone(),
                        line: w.line,
                    }),
            ),
            "sync_group_tracking_weight" | "global_tracking" => g.tracking_weight = true,
            k => g.unmapped.push((e.line, k.to_owned())),
        }
    }
    g
}
