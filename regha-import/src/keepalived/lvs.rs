//! keepalived's load-balancer blocks, read into the [`super`] model:
//! `virtual_server` (with its `real_server`s and their checkers) and
//! `virtual_server_group`. Values stay as written; `map/lvs.rs` checks and
//! maps them.
//!
//! keepalived lets a virtual server's checker settings (`delay_loop`,
//! `connect_timeout`, `retry`, `delay_before_retry`, `virtualhost`) be
//! defaults for its real servers, and a real server's for its checkers:
//! each level keeps its own, and the mapping takes the nearest.

use super::At;
use super::parse::{Entry, Stmt, split_known};
use crate::warning::Diag;

/// What a virtual server serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `virtual_server IP [PORT]`.
    Addr { ip: String, port: Option<String> },
    /// `virtual_server group NAME`.
    Group(String),
    /// `virtual_server fwmark N`.
    Fwmark(String),
}

/// The checker settings a level may set, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CheckSettings {
    pub delay_loop: Option<At<String>>,
    pub connect_timeout: Option<At<String>>,
    /// `retry`, or the older `nb_get_retry`.
    pub retry: Option<At<String>>,
    pub delay_before_retry: Option<At<String>>,
    pub virtualhost: Option<At<String>>,
}

/// One `url { ... }` of an HTTP_GET or SSL_GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Url {
    pub line: usize,
    pub path: Option<At<String>>,
    /// `status_code 200 401` or ranges `200-299`.
    pub status_code: Option<At<Vec<String>>>,
    pub virtualhost: Option<At<String>>,
    /// `digest`, `regex`, ...: (line, keyword).
    pub unmapped: Vec<(usize, String)>,
}

/// One checker of a real server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checker {
    /// `HTTP_GET`, `SSL_GET`, `TCP_CHECK`, `MISC_CHECK`, ...
    pub kind: String,
    pub line: usize,
    pub settings: CheckSettings,
    pub connect_port: Option<At<String>>,
    pub connect_ip: Option<At<String>>,
    pub urls: Vec<Url>,
    /// Settings with no regha equivalent: (line, keyword).
    pub unmapped: Vec<(usize, String)>,
}

/// `real_server IP [PORT] { ... }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RealServer {
    pub line: usize,
    pub address: String,
    pub port: Option<String>,
    pub weight: Option<At<String>>,
    pub lvs_method: Option<At<String>>,
    pub settings: CheckSettings,
    pub checkers: Vec<Checker>,
    /// `notify_up`, `notify_down`, `uthreshold`, ...: (line, keyword).
    pub unmapped: Vec<(usize, String)>,
    /// Harmless settings, for one note: (line, keyword).
    pub minor: Vec<(usize, String)>,
}

/// `virtual_server ... { ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VirtualServer {
    pub line: usize,
    pub target: Target,
    /// `lb_algo` or `lvs_sched`.
    pub algo: Option<At<String>>,
    /// `sh-port`, `mh-port`, ...: scheduler flags.
    pub algo_flags: Vec<At<String>>,
    /// `lb_kind` or `lvs_method`.
    pub kind: Option<At<String>>,
    pub protocol: Option<At<String>>,
    /// `persistence_timeout [N]`: the line, and N if given.
    pub persistence: Option<At<Option<String>>>,
    pub settings: CheckSettings,
    pub real_servers: Vec<RealServer>,
    /// `sorry_server`, `quorum`, ...: (line, keyword).
    pub unmapped: Vec<(usize, String)>,
    /// Harmless settings, for one note: (line, keyword).
    pub minor: Vec<(usize, String)>,
}

/// `virtual_server_group NAME { IP [PORT] ... }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VsGroup {
    pub name: String,
    pub line: usize,
    /// `IP [PORT]` or `IP-RANGE [PORT]`, as written.
    pub entries: Vec<At<(String, Option<String>)>>,
    /// `fwmark N` entries: their lines.
    pub fwmarks: Vec<usize>,
}

/// The checker settings every level may hold.
const SETTING_KEYS: &[&str] = &[
    "delay_loop",
    "connect_timeout",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "virtualhost",
];

/// Keywords of `virtual_server` (with [`SETTING_KEYS`]).
const VS_KEYS: &[&str] = &[
    "lb_algo",
    "lvs_sched",
    "lb_kind",
    "lvs_method",
    "protocol",
    "persistence_timeout",
    "persistence_granularity",
    "persistence_engine",
    "real_server",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "quorum",
    "quorum_up",
    "quorum_down",
    "hysteresis",
    "ha_suspend",
    "alpha",
    "omega",
    "warmup",
    "inhibit_on_failure",
    "smtp_alert",
    "snmp_name",
    "nat_mask",
    "ip_family",
    "ops",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
];

/// Harmless `virtual_server` keywords: one note.
const VS_MINOR: &[&str] = &[
    "ha_suspend",
    "alpha",
    "omega",
    "warmup",
    "smtp_alert",
    "snmp_name",
    "nat_mask",
    "ip_family",
    "persistence_granularity",
    "inhibit_on_failure",
    "sh-fallback",
    "mh-fallback",
];

/// Keywords of `real_server` (with [`SETTING_KEYS`]).
const RS_KEYS: &[&str] = &[
    "weight",
    "lvs_method",
    "notify_up",
    "notify_down",
    "uthreshold",
    "lthreshold",
    "smtp_alert",
    "snmp_name",
    "alpha",
    "warmup",
    "inhibit_on_failure",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "BFD_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

/// Harmless `real_server` keywords: one note.
const RS_MINOR: &[&str] = &[
    "smtp_alert",
    "snmp_name",
    "alpha",
    "warmup",
    "inhibit_on_failure",
];

/// Keywords of a checker (with [`SETTING_KEYS`]).
const CHECK_KEYS: &[&str] = &[
    "connect_port",
    "connect_ip",
    "bindto",
    "bind_if",
    "bind_port",
    "fwmark",
    "alpha",
    "warmup",
    "log_all_failures",
    "url",
    "http_protocol",
    "fast_recovery",
    "enable_sni",
    "sni_name",
    "tls_compliant",
];

/// Keywords of `url`.
const URL_KEYS: &[&str] = &[
    "path",
    "digest",
    "status_code",
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_stack",
    "regex_min_offset",
    "regex_max_offset",
    "tls_compliant",
];

fn at(e: &Entry<'_>) -> Option<At<String>> {
    e.arg().map(|v| At {
        v: v.to_owned(),
        line: e.line,
    })
}

/// Takes `e` into `s` if it is a checker setting.
fn setting(s: &mut CheckSettings, e: &Entry<'_>) -> bool {
    let slot = match e.key.as_str() {
        "delay_loop" => &mut s.delay_loop,
        "connect_timeout" => &mut s.connect_timeout,
        "retry" | "nb_get_retry" => &mut s.retry,
        "delay_before_retry" => &mut s.delay_before_retry,
        "virtualhost" => &mut s.virtualhost,
        _ => return false,
    };
    *slot = at(e);
    true
}

/// `virtual_server` followed by `words` (after the keyword) and its block.
pub(super) fn virtual_server(
    words: &[&str],
    line: usize,
    block: &[Stmt],
    diag: &mut Diag<'_>,
) -> Option<VirtualServer> {
    let target = match words {
        ["group", name, ..] => Target::Group((*name).to_owned()),
        ["fwmark", mark, ..] => Target::Fwmark((*mark).to_owned()),
        [ip, port, ..] => Target::Addr {
            ip: (*ip).to_owned(),
            port: Some((*port).to_owned()),
        },
        [ip] => Target::Addr {
            ip: (*ip).to_owned(),
            port: None,
        },
        [] => {
            diag.warn(
                line,
                "`virtual_server` without an address, `group` or `fwmark`: ignored",
                None,
            );
            return None;
        }
    };
    let mut vs = VirtualServer {
        line,
        target,
        algo: None,
        algo_flags: Vec::new(),
        kind: None,
        protocol: None,
        persistence: None,
        settings: CheckSettings::default(),
        real_servers: Vec::new(),
        unmapped: Vec::new(),
        minor: Vec::new(),
    };
    for e in split_known(block, &[VS_KEYS, SETTING_KEYS].concat()) {
        if setting(&mut vs.settings, &e) {
            continue;
        }
        match e.key.as_str() {
            "lb_algo" | "lvs_sched" => vs.algo = at(&e),
            "lb_kind" | "lvs_method" => vs.kind = at(&e),
            "protocol" => vs.protocol = at(&e),
            "persistence_timeout" => {
                vs.persistence = Some(At {
                    v: e.arg().map(str::to_owned),
                    line: e.line,
                });
            }
            "sh-port" | "mh-port" | "flag-1" | "flag-2" | "flag-3" | "ops" => {
                vs.algo_flags.push(At {
                    v: e.key.clone(),
                    line: e.line,
                });
            }
            "real_server" => {
                let args: Vec<&str> = e.args.iter().map(|w| w.text.as_str()).collect();
                match args.first() {
                    Some(address) => vs.real_servers.push(real_server(
                        address,
                        args.get(1).copied(),
                        e.line,
                        e.block.unwrap_or_default(),
                        diag,
                    )),
                    None => diag.warn(e.line, "`real_server` without an address: ignored", None),
                }
            }
            k if VS_MINOR.contains(&k) => vs.minor.push((e.line, k.to_owned())),
            k if VS_KEYS.contains(&k) => vs.unmapped.push((e.line, k.to_owned())),
            k => diag.warn(
                e.line,
                format!("`{k}` in virtual_server: unknown, ignored"),
                None,
            ),
        }
    }
    Some(vs)
}

fn real_server(
    address: &str,
    port: Option<&str>,
    line: usize,
    block: &[Stmt],
    diag: &mut Diag<'_>,
) -> RealServer {
    let mut rs = RealServer {
        line,
        address: address.to_owned(),
        port: port.map(str::to_owned),
        ..RealServer::default()
    };
    for e in split_known(block, &[RS_KEYS, SETTING_KEYS].concat()) {
        if setting(&mut rs.settings, &e) {
            continue;
        }
        match e.key.as_str() {
            "weight" => rs.weight = at(&e),
            "lvs_method" => rs.lvs_method = at(&e),
            k if k.ends_with("_GET") || k.ends_with("_CHECK") => {
                rs.checkers
                    .push(checker(k, e.line, e.block.unwrap_or_default(), diag));
            }
            k if RS_MINOR.contains(&k) => rs.minor.push((e.line, k.to_owned())),
            k if RS_KEYS.contains(&k) => rs.unmapped.push((e.line, k.to_owned())),
            k => diag.warn(
                e.line,
                format!("`{k}` in real_server {address}: unknown, ignored"),
                None,
            ),
        }
    }
    rs
}

fn checker(kind: &str, line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Checker {
    let mut c = Checker {
        kind: kind.to_owned(),
        line,
        ..Checker::default()
    };
    // MISC_CHECK and friends have keywords of their own: they are not
    // mapped, so they need not be known.
    for e in split_known(block, &[CHECK_KEYS, SETTING_KEYS].concat()) {
        if setting(&mut c.settings, &e) {
            continue;
        }
        match e.key.as_str() {
            "connect_port" => c.connect_port = at(&e),
            "connect_ip" => c.connect_ip = at(&e),
            "url" => c.urls.push(url(e.line, e.block.unwrap_or_default(), diag)),
            k => c.unmapped.push((e.line, k.to_owned())),
        }
    }
    c
}

fn url(line: usize, block: &[Stmt], diag: &mut Diag<'_>) -> Url {
    let mut u = Url {
        line,
        ..Url::default()
    };
    for e in split_known(block, URL_KEYS) {
        match e.key.as_str() {
            "path" => u.path = at(&e),
            "virtualhost" => u.virtualhost = at(&e),
            "status_code" => {
                u.status_code = Some(At {
                    v: e.args.iter().map(|w| w.text.clone()).collect(),
                    line: e.line,
                });
            }
            k if URL_KEYS.contains(&k) => u.unmapped.push((e.line, k.to_owned())),
            k => diag.warn(e.line, format!("`{k}` in url: unknown, ignored"), None),
        }
    }
    u
}

/// `virtual_server_group NAME { ... }`.
pub(super) fn group(name: &str, line: usize, block: &[Stmt]) -> VsGroup {
    let mut g = VsGroup {
        name: name.to_owned(),
        line,
        ..VsGroup::default()
    };
    for s in block {
        let words: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
        match words.as_slice() {
            ["fwmark", ..] => g.fwmarks.push(s.line),
            [addr, rest @ ..] => g.entries.push(At {
                v: ((*addr).to_owned(), rest.first().map(|p| (*p).to_owned())),
                line: s.line,
            }),
            [] => {}
        }
    }
    g
}
