//! keepalived.conf: a lexer, a parser to a tree of statements that keep
//! their line numbers, and the reading of the blocks regha maps.
//!
//! keepalived's syntax: one statement per line, `#` or `!` outside quotes
//! starts a comment, `"..."` groups words, and `{ ... }` opens a block,
//! which may sit on the keyword's line, on the next one, or hold its whole
//! content on one line (`authentication { auth_type PASS auth_pass 1111 }`).
//! For that last case a statement is split again wherever a keyword known
//! to its block starts ([`split_known`]).

use super::{Diag, ImportError, Warning, lines_list};

/// Deeper than this is not a keepalived config (its deepest real block,
/// `virtual_server { real_server { HTTP_GET { url {} } } }`, is 4).
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub text: String,
    pub line: usize,
    /// Was written in quotes, so never a brace or a keyword.
    pub quoted: bool,
}

impl Token {
    fn is(&self, s: &str) -> bool {
        !self.quoted && self.text == s
    }
}

/// One statement: its words and, if one follows, its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stmt {
    pub line: usize,
    pub words: Vec<Token>,
    pub block: Option<Vec<Stmt>>,
}

/// Splits the text into tokens; braces are tokens of their own even when
/// written against a word (`track_script {chk}`).
pub(super) fn lex(text: &str) -> Vec<Token> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let mut cur = String::new();
        let mut quoted = false;
        let mut in_quote = false;
        let flush = |cur: &mut String, quoted: &mut bool, out: &mut Vec<Token>| {
            if !cur.is_empty() || *quoted {
                out.push(Token {
                    text: std::mem::take(cur),
                    line: line_no,
                    quoted: *quoted,
                });
            }
            *quoted = false;
        };
        for c in line.chars() {
            if in_quote {
                if c == '"' {
                    in_quote = false;
                } else if c != '\r' {
                    cur.push(c);
                }
                continue;
            }
            match c {
                '"' => {
                    in_quote = true;
                    quoted = true;
                }
                '#' | '!' => break,
                '{' | '}' => {
                    flush(&mut cur, &mut quoted, &mut out);
                    out.push(Token {
                        text: c.to_string(),
                        line: line_no,
                        quoted: false,
                    });
                }
                c if c.is_whitespace() => flush(&mut cur, &mut quoted, &mut out),
                c => cur.push(c),
            }
        }
        flush(&mut cur, &mut quoted, &mut out);
    }
    out
}

/// Parses the whole file into statements. Unbalanced braces are warnings
/// (keepalived itself carries on); only absurd nesting is an error.
pub(super) fn parse(text: &str, diag: &mut Diag<'_>) -> Result<Vec<Stmt>, ImportError> {
    let tokens = lex(text);
    let mut pos = 0;
    parse_block(&tokens, &mut pos, 0, None, diag)
}

fn parse_block(
    toks: &[Token],
    pos: &mut usize,
    depth: usize,
    opened_at: Option<usize>,
    diag: &mut Diag<'_>,
) -> Result<Vec<Stmt>, ImportError> {
    if depth > MAX_DEPTH {
        return Err(ImportError::Syntax {
            file: diag.file.to_owned(),
            line: opened_at.unwrap_or(0),
            message: format!(
                "blocks nested more than {MAX_DEPTH} deep: this is not a keepalived config"
            ),
        });
    }
    let mut out: Vec<Stmt> = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        if t.is("}") {
            if opened_at.is_some() {
                return Ok(out);
            }
            diag.warn(t.line, "`}` closes no block: ignored", None);
        } else if t.is("{") {
            // A brace on its own line belongs to the statement above it.
            let block = parse_block(toks, pos, depth + 1, Some(t.line), diag)?;
            match out.last_mut() {
                Some(s) if s.block.is_none() => s.block = Some(block),
                _ => diag.warn(
                    t.line,
                    "a `{` block with no keyword before it: ignored",
                    None,
                ),
            }
        } else {
            let mut words = vec![t.clone()];
            while let Some(n) = toks.get(*pos) {
                if n.line != t.line || n.is("{") || n.is("}") {
                    break;
                }
                words.push(n.clone());
                *pos += 1;
            }
            let mut stmt = Stmt {
                line: t.line,
                words,
                block: None,
            };
            if let Some(n) = toks.get(*pos)
                && n.is("{")
                && n.line == t.line
            {
                *pos += 1;
                stmt.block = Some(parse_block(toks, pos, depth + 1, Some(n.line), diag)?);
            }
            out.push(stmt);
        }
    }
    if let Some(line) = opened_at {
        diag.warn(
            line,
            "this block is never closed: read up to the end of the file",
            Some("add the missing `}`: keepalived reads it the same way, but it is a typo"),
        );
    }
    Ok(out)
}

/// One keyword and its arguments, after [`split_known`].
#[derive(Clone, Debug)]
pub(super) struct Entry<'a> {
    pub line: usize,
    pub key: String,
    pub args: Vec<&'a Token>,
    pub block: Option<&'a [Stmt]>,
}

impl Entry<'_> {
    /// The first argument.
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(|t| t.text.as_str())
    }
}

/// The statements of a block as keyword entries, split again wherever an
/// unquoted known keyword appears after the first word: the content of a
/// block written on one line is one statement to the parser.
pub(super) fn split_known<'a>(stmts: &'a [Stmt], known: &[&str]) -> Vec<Entry<'a>> {
    let mut out: Vec<Entry<'a>> = Vec::new();
    for s in stmts {
        let Some((first, rest)) = s.words.split_first() else {
            continue;
        };
        out.push(Entry {
            line: first.line,
            key: first.text.clone(),
            args: Vec::new(),
            block: None,
        });
        for w in rest {
            if !w.quoted && known.contains(&w.text.as_str()) {
                out.push(Entry {
                    line: w.line,
                    key: w.text.clone(),
                    args: Vec::new(),
                    block: None,
                });
            } else if let Some(e) = out.last_mut() {
                e.args.push(w);
            }
        }
        if let Some(e) = out.last_mut() {
            e.block = s.block.as_deref();
        }
    }
    out
}

/// A value and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct At<T> {
    pub v: T,
    pub line: usize,
}

/// `vrrp_script NAME { ... }`, values as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Script {
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
pub(super) struct Vip {
    /// `IP` or `IP/prefix`.
    pub address: String,
    pub dev: Option<String>,
    pub label: Option<String>,
    /// Other options (`brd`, `scope`, `peer`, `home`, `-nodad`, ...).
    pub other: Vec<String>,
}

/// `vrrp_instance NAME { ... }`, values as written; [`super::vrrp`] checks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Instance {
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

/// What regha takes from a keepalived.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Keepalived {
    pub instances: Vec<Instance>,
    pub scripts: Vec<Script>,
    /// `global_defs { vrrp_version N }`.
    pub default_version: Option<At<String>>,
}

const INSTANCE_KEYS: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "authentication",
    "auth_type",
    "auth_pass",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "unicast_src_ip",
    "unicast_peer",
    "mcast_src_ip",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "vrrp_version",
    "version",
    "track_script",
    "track_interface",
    "track_process",
    "track_file",
    "track_bfd",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_master_rx_lower_pri",
    "notify_deleted",
    "smtp_alert",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "dont_track_primary",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "accept",
    "no_accept",
    "strict_mode",
    "skip_check_adv_addr",
    "debug",
    "lvs_sync_daemon_interface",
    "unicast_ttl",
    "check_unicast_src",
    "old_unicast_checksum",
];

/// Harmless instance keywords: grouped into one note.
const INSTANCE_MINOR: &[&str] = &[
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "dont_track_primary",
    "accept",
    "no_accept",
    "strict_mode",
    "skip_check_adv_addr",
    "debug",
    "unicast_ttl",
    "check_unicast_src",
    "preempt",
];

const SCRIPT_KEYS: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

const AUTH_KEYS: &[&str] = &["auth_type", "auth_pass"];

const MAIL_KEYS: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
];

const GLOBAL_KEYS: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
    "router_id",
    "vrrp_version",
    "vrrp_strict",
    "enable_script_security",
    "script_user",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_skip_check_adv_addr",
    "lvs_id",
];

/// Parses `text` and reads its blocks. Each keyword regha cannot use is
/// reported once, grouped where harmless.
pub(super) fn read(
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
                global_defs(block, &mut conf, &mut mail_lines, &mut diag);
            }
            "vrrp_script" => conf.scripts.push(script(&name, s.line, block, &mut diag)),
            "vrrp_instance" => conf.instances.push(instance(&name, s.line, block, &mut diag)),
            "vrrp_sync_group" => diag.warn(
                s.line,
                format!("`vrrp_sync_group {name}`: regha runs one VRRP instance, there is nothing to sync"),
                Some("one regha instance carries all the VIPs its services need"),
            ),
            "virtual_server" | "virtual_server_group" => diag.warn(
                s.line,
                format!("`{} {name}` (LVS) is not imported: the services come from haproxy.cfg", key.text),
                Some("write its real servers as `services[].backends` by hand; `lb_kind DR` is what regha does"),
            ),
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

fn global_defs(
    block: &[Stmt],
    conf: &mut Keepalived,
    mail_lines: &mut Vec<usize>,
    diag: &mut Diag<'_>,
) {
    let mut other = Vec::new();
    for e in split_known(block, GLOBAL_KEYS) {
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
    if let Some((line, _)) = other.first() {
        let keys: Vec<&str> = other.iter().map(|(_, k)| k.as_str()).collect();
        let lines: Vec<usize> = other.iter().map(|(l, _)| *l).collect();
        diag.note(
            *line,
            format!(
                "global_defs settings without a regha equivalent, ignored ({}): {}",
                lines_list(&lines),
                keys.join(", ")
            ),
            None,
        );
    }
}

fn at(e: &Entry<'_>) -> Option<At<String>> {
    e.arg().map(|v| At {
        v: v.to_owned(),
        line: e.line,
    })
}

fn script(name: &str, line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Script {
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

fn instance(name: &str, line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Instance {
    let mut i = Instance {
        name: name.to_owned(),
        line,
        ..Instance::default()
    };
    for e in split_known(block, INSTANCE_KEYS) {
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
            "native_ipv6" => diag.warn(e.line, "`native_ipv6`: VRRP over IPv6 is not implemented in regha yet", None),
            "lvs_sync_daemon_interface" => diag.warn(
                e.line,
                "`lvs_sync_daemon_interface`: regha keeps no connection state to sync: Maglev hashing sends each client to the same backend on every LB host (same `hash_seed`)",
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
    let words: Vec<&Token> = block.iter().flat_map(|s| &s.words).collect();
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
    let words: Vec<&Token> = block.iter().flat_map(|s| &s.words).collect();
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
