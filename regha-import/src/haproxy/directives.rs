//! The directives of a frontend, backend, listen or defaults section, read
//! into a [`Proxy`]: what regha maps is kept with its line; what only an
//! HTTP or connection proxy needs is collected for one grouped note.

use std::net::IpAddr;

use super::{Bind, HttpCheck, Line, Proxy, Section, Server, ServerParams, Settings};
use crate::warning::Diag;

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

/// Health checks regha cannot do: replaced by a TCP connect.
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

impl Proxy {
    /// An empty proxy for section `s`, starting from `settings` (the defaults).
    pub(super) fn new(s: &Section, settings: Settings) -> Self {
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

    /// One directive of the section.
    pub(super) fn directive(&mut self, l: &Line, diag: &mut Diag<'_>) {
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

/// Reads `inter`, `fastinter`, `rise`, `fall`, `weight`, `port` and the TLS settings of
/// the checks (`check-ssl`, `ssl`, `verify`, `ca-file`, `crt`, `check-sni`,
/// `sni`, `verifyhost`) from server or default-server words; the rest goes
/// to `ignored`.
fn params(words: &[String], line: usize, p: &mut ServerParams, ignored: &mut Vec<String>) {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let value = words.get(i + 1).map(|v| (line, v.clone()));
        match w.as_str() {
            "inter" => p.inter = value,
            "fastinter" => p.fastinter = value,
            "rise" => p.rise = value,
            "fall" => p.fall = value,
            "weight" => p.weight = value,
            "port" => p.check_port = value,
            "verify" => p.verify = value,
            "ca-file" => p.ca_file = value,
            "crt" => p.crt = value,
            "check-sni" => p.check_sni = value,
            "sni" => p.sni = value,
            "verifyhost" => p.verifyhost = value,
            "ssl" | "check-ssl" | "no-ssl" | "no-check-ssl" => {
                // `ssl` keeps a `check-ssl` of the same line (or of
                // default-server): either way the checks use TLS.
                if !(w == "ssl" && p.ssl.as_ref().is_some_and(|s| s.1 == "check-ssl")) {
                    p.ssl = Some((line, w.clone()));
                }
                if w == "ssl" {
                    // The traffic's TLS: the backend's own business under DSR.
                    ignored.push(w.clone());
                }
                i += 1;
                continue;
            }
            // Flags: no value follows.
            "check" | "backup" | "disabled" | "enabled" | "no-check" | "send-proxy"
            | "send-proxy-v2" | "resolve-prefer" | "non-stick" | "agent-check"
            | "no-agent-check" | "check-send-proxy" | "no-tls-tickets" => {
                if !matches!(w.as_str(), "check" | "backup" | "disabled" | "enabled") {
                    ignored.push(w.clone());
                }
                i += 1;
                continue;
            }
            _ => {
                // Anything else takes one value (`maxconn 100`, `downinter 1s`).
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
