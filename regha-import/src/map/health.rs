//! A backend's HAProxy health check as `services[].health`: `option
//! httpchk` and `http-check` as `http`, anything else as `tcp`, and the
//! first server's `inter`/`rise`/`fall` (else `default-server`'s, else
//! HAProxy's defaults) as its counts, and its `fastinter` as
//! `fast_interval`. The first server's `check-ssl` (or
//! `ssl`) with `verify`, `ca-file`, `crt` and `check-sni`/`sni`/`verifyhost`
//! become `http.tls`.

use std::time::Duration;

use regha_config::{HealthConfig, HealthKind, TlsCheck};

use crate::haproxy::{self, Proxy, ServerParams};
use crate::notes::Notes;
use crate::rstatus;
use crate::warning::Diag;

/// HAProxy's defaults when a server line leaves them out.
const HAPROXY_INTER: Duration = Duration::from_secs(2);
const HAPROXY_RISE: u32 = 2;
const HAPROXY_FALL: u32 = 3;

/// A server parameter: (line, value as written).
type Param = Option<(usize, String)>;

/// The health check of `be`, with its notes (paths relative to `health`).
pub(super) fn health(be: &Proxy, diag: &mut Diag<'_>) -> (HealthConfig, Notes) {
    let mut notes = Notes::default();
    let ds = &be.settings.default_server;
    let first = be
        .servers
        .iter()
        .find(|s| !s.disabled && !s.backup)
        .or(be.servers.first());
    let pick = |f: fn(&ServerParams) -> &Param| -> Param {
        first
            .and_then(|s| f(&s.params).clone())
            .or_else(|| f(ds).clone())
    };
    for s in &be.servers {
        let differs = |f: fn(&ServerParams) -> &Param| {
            first.is_some_and(|fs| {
                f(&fs.params).as_ref().map(|v| &v.1) != f(&s.params).as_ref().map(|v| &v.1)
            })
        };
        if differs(|p| &p.inter)
            || differs(|p| &p.fastinter)
            || differs(|p| &p.rise)
            || differs(|p| &p.fall)
        {
            diag.warn(s.line, format!("server {}: its inter/fastinter/rise/fall differ from the first server's; regha has one health setting per service, the first server's", s.name), None);
        }
        if differs(|p| &p.ssl)
            || differs(|p| &p.verify)
            || differs(|p| &p.ca_file)
            || differs(|p| &p.crt)
            || differs(|p| &p.check_sni)
            || differs(|p| &p.sni)
        {
            diag.warn(s.line, format!("server {}: its TLS check settings differ from the first server's; regha has one health check per service, the first server's", s.name), None);
        }
    }
    let interval = match pick(|p| &p.inter) {
        None => {
            notes.beside("interval", "HAProxy's default inter 2000");
            HAPROXY_INTER
        }
        Some((line, text)) => match haproxy::time(&text) {
            Some(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => {
                notes.beside("interval", format!("inter {text}, {}", diag.at(line)));
                d
            }
            _ => {
                diag.warn(
                    line,
                    format!(
                        "inter {text:?} is not a time in (0, 1h]: HAProxy's default 2s is used"
                    ),
                    None,
                );
                notes.beside("interval", "HAProxy's default inter");
                HAPROXY_INTER
            }
        },
    };
    let rise = count(pick(|p| &p.rise), "rise", HAPROXY_RISE, diag, &mut notes);
    let fall = count(pick(|p| &p.fall), "fall", HAPROXY_FALL, diag, &mut notes);
    let timeout = timeout(be, interval, diag, &mut notes);
    let mut kind = check(be, diag, &mut notes);
    let ssl = pick(|p| &p.ssl).filter(|(_, w)| w == "check-ssl" || w == "ssl");
    if let Some((line, word)) = ssl {
        match &mut kind {
            HealthKind::Http { tls, .. } => {
                *tls = Some(Box::new(tls_check(&pick, line, &word, diag, &mut notes)));
            }
            HealthKind::Tcp => diag.warn(
                line,
                format!("{word} without `option httpchk`: HAProxy checked with a TLS handshake, regha's TCP check only connects"),
                Some("add `http: { tls: ... }` to check the registry over HTTPS"),
            ),
        }
    }
    let fast_interval = fast_interval(pick(|p| &p.fastinter), interval, diag, &mut notes);
    let health = HealthConfig {
        kind,
        interval,
        timeout,
        rise,
        fall,
        fast_interval,
        fast_timeout: regha_config::DEFAULT_FAST_TIMEOUT.min(timeout),
        ..HealthConfig::default()
    };
    (health, notes)
}

/// HAProxy's `fastinter` as `fast_interval` (at most `interval`, as regha
/// requires); without it, regha's default. HAProxy checks at `fastinter`
/// only in transitions; regha also while a backend is suspect.
fn fast_interval(
    fastinter: Param,
    interval: Duration,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Duration {
    let default = regha_config::DEFAULT_FAST_INTERVAL.min(interval);
    let Some((line, text)) = fastinter else {
        return default;
    };
    match haproxy::time(&text) {
        Some(d) if d > Duration::ZERO && d <= interval => {
            notes.beside(
                "fast_interval",
                format!("fastinter {text}, {}", diag.at(line)),
            );
            d
        }
        Some(d) if d > interval => {
            diag.warn(
                line,
                format!("fastinter {text} is longer than inter: regha checks at most every `interval` while in transition or suspect, so `fast_interval` is the interval"),
                None,
            );
            notes.beside(
                "fast_interval",
                format!("inter (fastinter {text} is longer), {}", diag.at(line)),
            );
            interval
        }
        _ => {
            diag.warn(
                line,
                format!("fastinter {text:?} is not a time in (0, inter]: regha's default is used"),
                None,
            );
            default
        }
    }
}

/// `check-ssl` (or `ssl`, on `line`) and the server's TLS settings as
/// `http.tls`; `param` picks a setting (the first server's, else
/// default-server's).
fn tls_check(
    param: &dyn Fn(fn(&ServerParams) -> &Param) -> Param,
    line: usize,
    word: &str,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> TlsCheck {
    let mut tls = TlsCheck::verified();
    notes.above(
        "http.tls",
        format!("{word}, {}: the checks speak HTTPS", diag.at(line)),
    );
    match param(|p| &p.verify) {
        Some((l, v)) if v == "none" => {
            tls.verify = false;
            notes.beside("http.tls.verify", format!("verify none, {}", diag.at(l)));
            diag.note(
                l,
                "verify none: the HTTPS checks trust any certificate (`verify: false`, which regha warns about)",
                Some("set ca-file to the CA of the registries' certificates and verify required"),
            );
        }
        Some((l, v)) if v == "required" => {
            notes.beside(
                "http.tls.verify",
                format!("verify required, {}", diag.at(l)),
            );
        }
        Some((l, v)) => diag.warn(
            l,
            format!("verify {v:?}: neither none nor required; regha verifies"),
            None,
        ),
        None => notes.beside("http.tls.verify", "HAProxy's default: verify required"),
    }
    // HAProxy reads relative paths from `ca-base` / `crt-base`, which the
    // import does not follow: such a path is left out, said out loud.
    let absolute = |(l, path): (usize, String), key: &str, base: &str, diag: &mut Diag<'_>| {
        if path.starts_with('/') {
            Some((l, path))
        } else {
            diag.warn(
                l,
                format!("{key} {path}: not an absolute path (HAProxy reads it from its {base}): left out"),
                Some("write the absolute path in the imported config"),
            );
            None
        }
    };
    match param(|p| &p.ca_file) {
        Some((l, path)) if path == "@system-ca" => {
            notes.beside(
                "http.tls",
                format!("ca-file @system-ca, {}: the system's roots", diag.at(l)),
            );
        }
        Some((l, _)) if !tls.verify => diag.note(
            l,
            "ca-file with verify none: not imported, nothing is verified",
            None,
        ),
        Some(v) => {
            if let Some((l, path)) = absolute(v, "ca-file", "ca-base", diag) {
                notes.beside("http.tls.ca_file", format!("ca-file, {}", diag.at(l)));
                tls.ca_file = Some(path.into());
            }
        }
        None if tls.verify => notes.beside("http.tls", "no ca-file: the system's roots"),
        None => {}
    }
    if let Some((l, path)) = param(|p| &p.crt).and_then(|v| absolute(v, "crt", "crt-base", diag)) {
        notes.beside(
            "http.tls.client_cert",
            format!("crt, {}: certificate and key in one file", diag.at(l)),
        );
        tls.client_cert = Some(path.into());
    }
    // The name: `check-sni`, else a constant `sni str(NAME)`, else
    // `verifyhost`; none: the backend's address, as HAProxy without SNI.
    let sni = || {
        param(|p| &p.sni).and_then(|(l, expr)| {
        match expr.strip_prefix("str(").and_then(|e| e.strip_suffix(')')) {
            Some(name) => Some((l, name.to_owned(), "sni")),
            None => {
                diag.warn(
                    l,
                    format!("sni {expr}: an expression of each request, which checks do not have: not imported"),
                    Some("set http.tls.server_name to the name in the registries' certificates"),
                );
                None
            }
        }
    })
    };
    let name = (param(|p| &p.check_sni).map(|(l, n)| (l, n, "check-sni")))
        .or_else(sni)
        .or_else(|| param(|p| &p.verifyhost).map(|(l, n)| (l, n, "verifyhost")));
    if let Some((l, name, key)) = name {
        if regha_config::tls::valid_server_name(&name) {
            notes.beside("http.tls.server_name", format!("{key}, {}", diag.at(l)));
            tls.server_name = Some(name);
        } else {
            diag.warn(
                l,
                format!("{key} {name:?}: neither a DNS name nor an IP address: left out"),
                None,
            );
        }
    }
    tls
}

/// `rise` or `fall` (`key`): 1..=100, else HAProxy's `default`.
fn count(v: Param, key: &str, default: u32, diag: &mut Diag<'_>, notes: &mut Notes) -> u32 {
    let Some((line, text)) = v else {
        notes.beside(key, format!("HAProxy's default {key} {default}"));
        return default;
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => {
            notes.beside(key, format!("{key} {n}, {}", diag.at(line)));
            n
        }
        _ => {
            diag.warn(
                line,
                format!("{key} {text:?} is not in 1..=100: HAProxy's default {default} is used"),
                None,
            );
            notes.beside(key, format!("HAProxy's default {key}"));
            default
        }
    }
}

/// `timeout check`, bounded by the interval as regha bounds a check.
fn timeout(be: &Proxy, interval: Duration, diag: &mut Diag<'_>, notes: &mut Notes) -> Duration {
    let fallback = HealthConfig::default().timeout.min(interval);
    let Some((line, text)) = &be.settings.timeout_check else {
        notes.beside(
            "timeout",
            "no `timeout check`: HAProxy waited up to inter; regha's default",
        );
        return fallback;
    };
    match haproxy::time(text) {
        Some(d) if d > Duration::ZERO => {
            if d > interval {
                diag.note(*line, format!("timeout check {text} is longer than the interval: regha bounds a check by its interval"), None);
            }
            notes.beside(
                "timeout",
                format!("timeout check {text}, {}", diag.at(*line)),
            );
            d.min(interval)
        }
        _ => {
            diag.warn(
                *line,
                format!("timeout check {text:?} is not a time: regha's default is used"),
                None,
            );
            notes.beside("timeout", "regha's default");
            fallback
        }
    }
}

/// The check itself: HTTP from `option httpchk` and `http-check`, else a
/// TCP connect.
fn check(be: &Proxy, diag: &mut Diag<'_>, notes: &mut Notes) -> HealthKind {
    let st = &be.settings;
    if let Some((line, name)) = &st.other_check {
        diag.warn(*line, format!("option {name}: regha checks with HTTP GET or a TCP connect; the import uses a TCP connect"), None);
        notes.above(
            "tcp",
            format!("option {name} ({}) became a TCP connect", diag.at(*line)),
        );
        notes.beside("tcp", "a TCP connect");
        return HealthKind::Tcp;
    }
    let Some(h) = &st.httpchk else {
        notes.above(
            "tcp",
            "no `option httpchk`: HAProxy checked with a TCP connect",
        );
        notes.beside("tcp", "a TCP connect");
        return HealthKind::Tcp;
    };
    let at = diag.at(h.line);
    if let Some(m) = &h.method
        && !m.eq_ignore_ascii_case("GET")
    {
        diag.note(
            h.line,
            format!("option httpchk {m}: regha's check is always a GET"),
            None,
        );
    }
    let path = match h.uri.as_deref() {
        None => "/".to_owned(),
        Some(u)
            if u.starts_with('/') && !u.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            u.to_owned()
        }
        Some(u) => {
            diag.warn(
                h.line,
                format!(
                    "check URI {u:?} does not start with `/` or has spaces: the import uses /v2/"
                ),
                None,
            );
            "/v2/".to_owned()
        }
    };
    let host = h.host.clone().filter(|host| {
        let ok = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c.is_control());
        if !ok {
            diag.warn(
                h.line,
                format!("check Host header {host:?} has spaces or control characters: left out"),
                None,
            );
        }
        ok
    });
    if host.is_some() {
        notes.beside("http.host", "the Host header");
    }
    for (line, what) in &h.unused {
        diag.warn(
            *line,
            format!("health check setting `{what}` has no regha equivalent: ignored"),
            None,
        );
    }
    let mut expect: Option<(Vec<u16>, String)> = None;
    let mut expect_header = None;
    for (line, args) in &h.expect {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let (negated, words) = match words.split_first() {
            Some((&"!", rest)) => (true, rest),
            _ => (false, &words[..]),
        };
        let codes = match words {
            ["status", list] => status_list(list),
            ["rstatus", re] => rstatus::codes(re),
            ["hdr", "name", n, ..] => {
                expect_header = Some((*n).to_owned());
                continue;
            }
            _ => None,
        };
        match codes {
            Some(mut codes) if !codes.is_empty() && !negated => {
                codes.sort_unstable();
                codes.dedup();
                expect = Some((codes, format!("http-check expect {}, {}", words.join(" "), diag.at(*line))));
            }
            _ => diag.warn(
                *line,
                format!("http-check expect {}{}: regha checks the status code (and optionally that a header is present), not this: ignored", if negated { "! " } else { "" }, words.join(" ")),
                Some("`expect_header: Docker-Distribution-API-Version` proves a registry answered"),
            ),
        }
    }
    let (expect, note) = match expect {
        Some((codes, note)) => (codes, format!("option httpchk, {at}; {note}")),
        None => (
            vec![200, 401],
            format!(
                "option httpchk, {at}. HAProxy accepted any 2xx/3xx; a registry answers /v2/ with 200, or 401 when its auth is on"
            ),
        ),
    };
    notes.above("http", note);
    HealthKind::Http {
        path,
        host,
        expect,
        expect_header,
        tls: None,
    }
}

/// `200`, `200,401`, `200-299` (HAProxy 2.2+ takes lists and ranges).
fn status_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi) = (
            lo.trim().parse::<u16>().ok()?,
            hi.trim().parse::<u16>().ok()?,
        );
        if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || hi < lo {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}
