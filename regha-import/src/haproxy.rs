//! haproxy.cfg: a tokenizer, the sections, and each proxy's settings with
//! what it inherits from the `defaults` section before it.
//!
//! HAProxy's syntax: one directive per line, a section starts at a line
//! whose first word is a section keyword (indentation means nothing: the
//! reference file's last `stats admin if TRUE` is not indented), `#` outside
//! quotes starts a comment, and `\` escapes a space, `#`, a quote or a
//! backslash, and writes `\r`, `\n`, `\t` and `\xHH`.

use std::net::IpAddr;
use std::time::Duration;

use super::{Diag, Warning};

/// Words of one line, unescaped, with its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Line {
    pub no: usize,
    pub words: Vec<String>,
}

impl Line {
    pub fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    /// peers, resolvers, userlist, mailers, ...: nothing for regha.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Section {
    pub kind: Kind,
    pub keyword: String,
    pub name: String,
    pub line: usize,
    pub lines: Vec<Line>,
}

/// Splits one line into words. Returns no words for a blank or comment line.
pub(super) fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let (mut dq, mut sq) = (false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if sq {
            if c == '\'' {
                sq = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                has = true;
                match chars.next() {
                    Some('r') => cur.push('\r'),
                    Some('n') => cur.push('\n'),
                    Some('t') => cur.push('\t'),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        match u8::from_str_radix(&hex, 16) {
                            Ok(b) => cur.push(char::from(b)),
                            Err(_) => {
                                cur.push_str("\\x");
                                cur.push_str(&hex);
                            }
                        }
                    }
                    Some(n @ (' ' | '#' | '\\' | '"' | '\'')) => cur.push(n),
                    Some(n) => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    None => cur.push('\\'),
                }
            }
            '"' => {
                dq = !dq;
                has = true;
            }
            '\'' if !dq => {
                sq = true;
                has = true;
            }
            '#' if !dq => break,
            c if c.is_whitespace() && !dq => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            c => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The file as sections; lines before the first section are reported.
pub(super) fn sections(text: &str, diag: &mut Diag<'_>) -> Vec<Section> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Section> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let no = i + 1;
        let words = tokenize(raw);
        let Some(first) = words.first() else { continue };
        let kind = match first.as_str() {
            "global" => Some(Kind::Global),
            "defaults" => Some(Kind::Defaults),
            "frontend" => Some(Kind::Frontend),
            "backend" => Some(Kind::Backend),
            "listen" => Some(Kind::Listen),
            "peers" | "resolvers" | "userlist" | "mailers" | "program" | "cache"
            | "http-errors" | "ring" | "namespace_list" | "crt-store" | "traces" => {
                Some(Kind::Other)
            }
            _ => None,
        };
        match kind {
            Some(kind) => out.push(Section {
                kind,
                keyword: first.clone(),
                name: words.get(1).cloned().unwrap_or_default(),
                line: no,
                lines: Vec::new(),
            }),
            None => match out.last_mut() {
                Some(s) => s.lines.push(Line { no, words }),
                None => diag.warn(no, format!("`{first}` before any section: ignored"), None),
            },
        }
    }
    out
}

/// A HAProxy time: a number of milliseconds, or with a unit (`us`, `ms`,
/// `s`, `m`, `h`, `d`).
pub(super) fn time(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86400)?),
        _ => return None,
    };
    Some(d)
}

/// One `bind` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Bind {
    /// None: every address (`:5000`, `*:5000`, `0.0.0.0:5000`, `:::5000`).
    pub address: Option<IpAddr>,
    /// Bound to every IPv6 address (`:::5000`, `[::]:5000`).
    pub any_v6: bool,
    pub port: u16,
    pub line: usize,
}

/// `option httpchk` and `http-check` of a proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct HttpCheck {
    pub line: usize,
    pub method: Option<String>,
    pub uri: Option<String>,
    pub host: Option<String>,
    /// (line, `expect` arguments).
    pub expect: Vec<(usize, Vec<String>)>,
    /// Lines of `http-check` directives regha does not use.
    pub unused: Vec<(usize, String)>,
}

/// `default-server` / `server` parameters that matter to regha.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ServerParams {
    pub inter: Option<(usize, String)>,
    pub rise: Option<(usize, String)>,
    pub fall: Option<(usize, String)>,
    pub weight: Option<(usize, String)>,
    pub check_port: Option<(usize, String)>,
}

/// The settings a proxy takes from `defaults` unless it sets its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Settings {
    pub mode: Option<(usize, String)>,
    pub balance: Option<(usize, Vec<String>)>,
    pub hash_type: Option<(usize, Vec<String>)>,
    pub httpchk: Option<HttpCheck>,
    /// `option tcp-check`, `ssl-hello-chk`, `mysql-check`, ...: (line, name).
    pub other_check: Option<(usize, String)>,
    pub timeout_check: Option<(usize, String)>,
    pub default_server: ServerParams,
    /// Lines that only matter to an L7 proxy: (line, directive).
    pub l7: Vec<(usize, String)>,
    /// `timeout`s, `maxconn`, ... : (line, directive), grouped in one note.
    pub limits: Vec<(usize, String)>,
    /// `stats ...` inherited from defaults.
    pub stats_lines: Vec<(usize, String)>,
}

/// One `server` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Server {
    pub name: String,
    pub line: usize,
    pub address: String,
    pub params: ServerParams,
    pub check: bool,
    pub backup: bool,
    pub disabled: bool,
    /// Parameters with no regha meaning (`maxconn 100`, `send-proxy`, ...).
    pub ignored: Vec<String>,
}

/// A frontend, backend or listen section, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Proxy {
    pub kind: Kind,
    pub name: String,
    pub line: usize,
    pub binds: Vec<Bind>,
    pub default_backend: Option<(usize, String)>,
    pub use_backend: Vec<usize>,
    pub settings: Settings,
    pub servers: Vec<Server>,
    /// `stats` directives of this section itself: (line, words after `stats`).
    pub stats: Vec<(usize, Vec<String>)>,
    /// Directives the import does not know: (line, directive).
    pub unknown: Vec<(usize, String)>,
}

/// What regha takes from a haproxy.cfg.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Proxies {
    pub proxies: Vec<Proxy>,
}

impl Proxies {
    /// The explicit addresses proxies bind (to pick the VRRP instance).
    pub fn bound_addresses(&self) -> Vec<IpAddr> {
        self.proxies
            .iter()
            .flat_map(|p| &p.binds)
            .filter_map(|b| b.address)
            .collect()
    }

    pub fn find(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && matches!(p.kind, Kind::Backend | Kind::Listen))
    }
}

/// Directives that only mean something to an HTTP proxy.
const L7: &[&str] = &[
    "acl",
    "http-request",
    "http-response",
    "http-after-response",
    "reqadd",
    "reqrep",
    "rspadd",
    "rsprep",
    "redirect",
    "cookie",
    "capture",
    "compression",
    "errorfile",
    "errorloc",
    "unique-id-format",
    "unique-id-header",
    "tcp-request",
    "tcp-response",
    "stick-table",
    "stick",
    "filter",
    "http-reuse",
];

/// `option`s that only mean something to an HTTP proxy or a connection
/// proxy, and are lost once packets go straight to the backends.
const L7_OPTIONS: &[&str] = &[
    "forwardfor",
    "http-server-close",
    "httpclose",
    "http-keep-alive",
    "http-pretend-keepalive",
    "http-buffer-request",
    "originalto",
    "httplog",
    "tcplog",
    "dontlognull",
    "dontlog-normal",
    "log-health-checks",
    "redispatch",
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "forceclose",
    "splice-auto",
    "tcpka",
    "clitcpka",
    "srvtcpka",
    "allbackups",
    "persist",
    "prefer-last-server",
    "http-use-htx",
    "log-separate-errors",
    "http-ignore-probes",
    "independent-streams",
    "nolinger",
    "contstats",
    "socket-stats",
    "transparent",
];

const CHECK_OPTIONS: &[&str] = &[
    "tcp-check",
    "ssl-hello-chk",
    "smtpchk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "ldap-check",
    "spop-check",
    "external-check",
];

/// Reads every section. `global` yields one grouped note; `defaults` are
/// folded into the proxies after them.
pub(super) fn read(file: &str, text: &str, warnings: &mut Vec<Warning>) -> Proxies {
    let mut diag = Diag::new(file, warnings);
    let mut defaults = Settings::default();
    let mut out = Proxies::default();
    for s in sections(text, &mut diag) {
        match s.kind {
            Kind::Global => global(&s, &mut diag),
            Kind::Defaults => {
                let mut d = Proxy::new(&s, Settings::default());
                for l in &s.lines {
                    d.directive(l, &mut diag);
                }
                if !d.binds.is_empty() || !d.servers.is_empty() {
                    diag.warn(s.line, "`bind`/`server` in defaults: ignored", None);
                }
                d.settings.stats_lines = d
                    .stats
                    .iter()
                    .map(|(l, w)| (*l, format!("stats {}", w.join(" "))))
                    .collect();
                report_unknown(&d, &mut diag);
                defaults = d.settings;
            }
            Kind::Frontend | Kind::Backend | Kind::Listen => {
                let mut p = Proxy::new(&s, defaults.clone());
                for l in &s.lines {
                    p.directive(l, &mut diag);
                }
                report_unknown(&p, &mut diag);
                out.proxies.push(p);
            }
            Kind::Other => diag.note(
                s.line,
                format!(
                    "`{} {}` section: nothing for regha in it, ignored",
                    s.keyword, s.name
                ),
                None,
            ),
        }
    }
    out
}

fn report_unknown(p: &Proxy, diag: &mut Diag<'_>) {
    for (line, d) in &p.unknown {
        diag.warn(
            *line,
            format!("`{d}` in {}: not known to the import, ignored", p.name),
            None,
        );
    }
}

fn global(s: &Section, diag: &mut Diag<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for l in &s.lines {
        let w = l.word(0).to_owned();
        match w.as_str() {
            "log" => diag.note(
                l.no,
                "`log` in global: regha logs its own events to stderr (the journal); it sees no requests to log",
                Some("per-service traffic is in the stats listener (`/metrics`) and `regha-agent status`"),
            ),
            _ if !seen.contains(&w) => seen.push(w),
            _ => {}
        }
    }
    if !seen.is_empty() {
        diag.note(
            s.line,
            format!(
                "global settings of the HAProxy process, nothing to map: {}",
                seen.join(", ")
            ),
            None,
        );
    }
}

impl Proxy {
    fn new(s: &Section, settings: Settings) -> Self {
        Self {
            kind: s.kind,
            name: s.name.clone(),
            line: s.line,
            binds: Vec::new(),
            default_backend: None,
            use_backend: Vec::new(),
            settings,
            servers: Vec::new(),
            stats: Vec::new(),
            unknown: Vec::new(),
        }
    }

    fn directive(&mut self, l: &Line, diag: &mut Diag<'_>) {
        let rest = || l.words[1..].to_vec();
        let text = l.words.join(" ");
        let st = &mut self.settings;
        match l.word(0) {
            "bind" => self.binds.extend(binds(l, diag)),
            "default_backend" => self.default_backend = Some((l.no, l.word(1).to_owned())),
            "use_backend" => self.use_backend.push(l.no),
            "server" => self.servers.push(server(l, diag)),
            "default-server" => {
                params(&l.words[1..], l.no, &mut st.default_server, &mut Vec::new())
            }
            "mode" => st.mode = Some((l.no, l.word(1).to_owned())),
            "balance" => st.balance = Some((l.no, rest())),
            "hash-type" => st.hash_type = Some((l.no, rest())),
            "option" => match l.word(1) {
                "httpchk" => {
                    st.other_check = None;
                    st.httpchk = Some(httpchk(l));
                }
                o if CHECK_OPTIONS.contains(&o) => {
                    st.httpchk = None;
                    st.other_check = Some((l.no, o.to_owned()));
                }
                o if L7_OPTIONS.contains(&o) => st.l7.push((l.no, format!("option {o}"))),
                _ => self.unknown.push((l.no, text)),
            },
            "no" if l.word(1) == "option" => st.l7.push((l.no, text)),
            "http-check" => {
                let chk = st.httpchk.get_or_insert_with(|| HttpCheck {
                    line: l.no,
                    ..HttpCheck::default()
                });
                http_check(chk, l);
            }
            "timeout" if l.word(1) == "check" => {
                st.timeout_check = Some((l.no, l.word(2).to_owned()))
            }
            "timeout" | "maxconn" | "fullconn" | "retries" | "backlog" | "rate-limit" => {
                st.limits.push((l.no, text));
            }
            "stats" => self.stats.push((l.no, rest())),
            "log" | "log-format" | "log-tag" | "description" | "monitor-uri" | "monitor" | "id"
            | "enabled" | "disabled" | "bind-process" | "source" | "email-alert" | "errorfiles" => {
                st.l7.push((l.no, text));
            }
            w if L7.contains(&w) => st.l7.push((l.no, text)),
            _ => self.unknown.push((l.no, text)),
        }
    }
}

fn binds(l: &Line, diag: &mut Diag<'_>) -> Vec<Bind> {
    let mut out = Vec::new();
    let Some(spec) = l.words.get(1) else {
        diag.warn(l.no, "`bind` without an address: ignored", None);
        return out;
    };
    let opts = &l.words[2..];
    if let Some(o) = opts
        .iter()
        .find(|o| matches!(o.as_str(), "ssl" | "crt" | "accept-proxy" | "transparent"))
    {
        diag.warn(
            l.no,
            format!("`bind ... {o}`: regha forwards packets unchanged, it does not terminate TLS or read PROXY headers"),
            Some("with DSR each backend must do it itself (e.g. the registry's own `http.tls`)"),
        );
    }
    for item in spec.split(',') {
        let item = item
            .trim_start_matches("ipv4@")
            .trim_start_matches("ipv6@")
            .trim_start_matches("tcp@")
            .trim_start_matches("tcp4@")
            .trim_start_matches("tcp6@");
        if item.starts_with("unix@")
            || item.starts_with('/')
            || item.starts_with("abns@")
            || item.starts_with("fd@")
        {
            diag.warn(
                l.no,
                format!("`bind {item}` is not an IP socket: ignored"),
                None,
            );
            continue;
        }
        let Some(colon) = item.rfind(':') else {
            diag.warn(l.no, format!("`bind {item}` has no port: ignored"), None);
            continue;
        };
        let (host, ports) = (&item[..colon], &item[colon + 1..]);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (address, any_v6) = match host {
            "" | "*" | "0.0.0.0" => (None, false),
            "::" => (None, true),
            h => match h.parse::<IpAddr>() {
                Ok(a) => (Some(a), false),
                Err(_) => {
                    diag.warn(
                        l.no,
                        format!("`bind {item}`: {h:?} is not an IP address: ignored"),
                        Some("write the address the name resolves to"),
                    );
                    continue;
                }
            },
        };
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
            diag.warn(
                l.no,
                format!("`bind {item}`: {ports:?} is not a port: ignored"),
                None,
            );
            continue;
        };
        if lo == 0 || hi < lo || hi - lo >= 64 {
            diag.warn(l.no, format!("`bind {item}`: port range {lo}-{hi} not imported (0, reversed, or more than 64 ports)"), Some("write the services by hand"));
            continue;
        }
        for port in lo..=hi {
            out.push(Bind {
                address,
                any_v6,
                port,
                line: l.no,
            });
        }
    }
    out
}

/// Reads `inter`, `rise`, `fall`, `weight` and `port` from server or
/// default-server words; the rest goes to `ignored`.
fn params(words: &[String], line: usize, p: &mut ServerParams, ignored: &mut Vec<String>) {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let value = words.get(i + 1).map(|v| (line, v.clone()));
        match w.as_str() {
            "inter" => p.inter = value,
            "rise" => p.rise = value,
            "fall" => p.fall = value,
            "weight" => p.weight = value,
            "port" => p.check_port = value,
            // Flags: no value follows.
            "check" | "backup" | "disabled" | "enabled" | "no-check" | "ssl" | "check-ssl"
            | "send-proxy" | "send-proxy-v2" | "no-ssl" | "resolve-prefer" | "non-stick"
            | "agent-check" | "no-agent-check" | "check-send-proxy" | "no-tls-tickets" => {
                if !matches!(w.as_str(), "check" | "backup" | "disabled" | "enabled") {
                    ignored.push(w.clone());
                }
                i += 1;
                continue;
            }
            _ => {
                // Anything else takes one value (`maxconn 100`, `fastinter 1s`).
                ignored.push(format!(
                    "{w} {}",
                    value.as_ref().map_or("", |v| v.1.as_str())
                ));
            }
        }
        i += 2;
    }
}

fn server(l: &Line, diag: &mut Diag<'_>) -> Server {
    let mut s = Server {
        name: l.word(1).to_owned(),
        line: l.no,
        address: l.word(2).to_owned(),
        params: ServerParams::default(),
        check: false,
        backup: false,
        disabled: false,
        ignored: Vec::new(),
    };
    if l.words.len() < 3 {
        diag.warn(l.no, "`server` without an address: ignored", None);
    }
    let words = l.words.get(3..).unwrap_or_default();
    s.check = words.iter().any(|w| w == "check");
    s.backup = words.iter().any(|w| w == "backup");
    s.disabled = words.iter().any(|w| w == "disabled");
    params(words, l.no, &mut s.params, &mut s.ignored);
    s
}

/// `option httpchk`, the three forms: `<uri>`, `<method> <uri>`, and
/// `<method> <uri> <version>`, where HAProxy 1.x users appended headers to
/// the version (`HTTP/1.1\r\nHost:registry`).
fn httpchk(l: &Line) -> HttpCheck {
    let mut c = HttpCheck {
        line: l.no,
        ..HttpCheck::default()
    };
    let args = l.words.get(2..).unwrap_or_default();
    match args {
        [] => {}
        [uri] => c.uri = Some(uri.clone()),
        [method, uri, rest @ ..] => {
            c.method = Some(method.clone());
            c.uri = Some(uri.clone());
            let version = rest.join(" ");
            for header in version.split("\r\n").skip(1) {
                if let Some((name, value)) = header.split_once(':')
                    && name.trim().eq_ignore_ascii_case("host")
                {
                    c.host = Some(value.trim().to_owned());
                } else if !header.trim().is_empty() {
                    c.unused.push((l.no, format!("header {:?}", header.trim())));
                }
            }
        }
    }
    c
}

/// `http-check send|expect|...` (HAProxy 2.2+, and `expect` since 1.4).
fn http_check(c: &mut HttpCheck, l: &Line) {
    let args = l.words.get(2..).unwrap_or_default();
    match l.word(1) {
        "expect" => c.expect.push((l.no, args.to_vec())),
        "send" => {
            let mut i = 0;
            while let Some(w) = args.get(i) {
                let v = args.get(i + 1).cloned();
                match w.as_str() {
                    "meth" => c.method = v,
                    "uri" => c.uri = v,
                    "hdr" => {
                        if w == "hdr"
                            && args
                                .get(i + 1)
                                .is_some_and(|n| n.eq_ignore_ascii_case("host"))
                        {
                            c.host = args.get(i + 2).cloned();
                        } else {
                            c.unused
                                .push((l.no, format!("hdr {}", v.unwrap_or_default())));
                        }
                        i += 3;
                        continue;
                    }
                    "ver" => {}
                    other => c.unused.push((l.no, format!("send {other}"))),
                }
                i += 2;
            }
        }
        other => c.unused.push((l.no, format!("http-check {other}"))),
    }
}
