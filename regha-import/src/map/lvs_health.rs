//! A virtual server's checkers as `services[].health`: regha has one check
//! per service, so the first real server's first checker regha can run
//! (`HTTP_GET`, `SSL_GET`, `TCP_CHECK`) is the service's, and a real server
//! whose check differs is warned about.
//!
//! How keepalived's timing maps (each setting the checker's own, else its
//! real server's, else the virtual server's, else keepalived's default):
//!
//! | keepalived | regha |
//! |---|---|
//! | `delay_loop` (60s) | `interval` |
//! | `connect_timeout` (5s) | `timeout` (at most `interval`) |
//! | `retry` / `nb_get_retry` (1) | `fall: retry + 1` |
//! | a first success | `rise: 1` |
//! | `delay_before_retry` (3s HTTP, 1s TCP) | none: regha retries at `interval` |
//!
//! keepalived marks a real server down after its check failed once and
//! then `retry` more times, `delay_before_retry` apart; regha marks a
//! backend down after `fall` failures in a row, `interval` apart. The
//! number of failures is the same; the time to notice is `fall ×
//! interval` instead of `delay_loop + retry × delay_before_retry`, which a
//! note gives when they differ.

use std::time::Duration;

use regha_config::{HealthConfig, HealthKind};
use regha_model::Protocol;

use crate::keepalived::{At, CheckSettings, Checker, RealServer, VirtualServer, seconds};
use crate::notes::Notes;
use crate::warning::{Diag, Warning, lines_list};

/// keepalived's defaults.
const DELAY_LOOP: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY: u32 = 1;
const DELAY_BEFORE_RETRY_HTTP: Duration = Duration::from_secs(3);
const DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);

/// The checkers regha can run.
const MAPPED: &[&str] = &["HTTP_GET", "SSL_GET", "TCP_CHECK"];

/// The check of `vs`'s service on `port`, with its notes (paths relative
/// to `health`).
pub(super) fn health(
    vs: &VirtualServer,
    port: u16,
    protocol: Protocol,
    diag: &mut Diag<'_>,
) -> (HealthConfig, Notes) {
    let Some(first) = vs.real_servers.first() else {
        return (HealthConfig::default(), Notes::default());
    };
    let (health, notes) = of(vs, first, port, protocol, diag);
    let mut unchecked = Vec::new();
    for rs in &vs.real_servers[1..] {
        if rs.checkers.is_empty() {
            unchecked.push(rs.line);
            continue;
        }
        // Their warnings would repeat the first's: only the result counts.
        let mut scratch: Vec<Warning> = Vec::new();
        let (other, _) = of(
            vs,
            rs,
            port,
            protocol,
            &mut Diag::new(diag.file, &mut scratch),
        );
        if other != health {
            diag.warn(
                rs.line,
                format!("real_server {}: its check differs from the first real server's; regha has one health check per service, the first's", rs.address),
                None,
            );
        }
    }
    if first.checkers.is_empty() {
        unchecked.insert(0, first.line);
    }
    if !unchecked.is_empty() {
        diag.note(
            unchecked[0],
            format!("real servers without a checker ({}): keepalived considered them always up; regha checks every backend", lines_list(&unchecked)),
            None,
        );
    }
    (health, notes)
}

/// The nearest level's setting: the checker's, the real server's, the
/// virtual server's.
fn nearest<'a, T>(
    vs: &'a VirtualServer,
    rs: &'a RealServer,
    c: Option<&'a Checker>,
    f: impl Fn(&'a CheckSettings) -> &'a Option<T>,
) -> Option<&'a T> {
    c.and_then(|c| f(&c.settings).as_ref())
        .or(f(&rs.settings).as_ref())
        .or(f(&vs.settings).as_ref())
}

/// The health check from one real server's checker.
fn of(
    vs: &VirtualServer,
    rs: &RealServer,
    port: u16,
    protocol: Protocol,
    diag: &mut Diag<'_>,
) -> (HealthConfig, Notes) {
    let mut notes = Notes::default();
    let checker = rs
        .checkers
        .iter()
        .find(|c| MAPPED.contains(&c.kind.as_str()));
    for c in &rs.checkers {
        if checker.is_some_and(|k| std::ptr::eq(k, c)) {
            continue;
        }
        let why = if MAPPED.contains(&c.kind.as_str()) {
            "regha runs one check per service: the first is kept".to_owned()
        } else {
            format!(
                "regha checks with HTTP GET or a TCP connect; {}",
                if checker.is_some() {
                    "the real server's other checker is kept"
                } else {
                    "the import uses a TCP connect"
                }
            )
        };
        diag.warn(
            c.line,
            format!("{} of real_server {}: {why}", c.kind, rs.address),
            None,
        );
    }

    let at = |a: &At<String>, diag: &Diag<'_>| diag.at(a.line);
    let interval = match nearest(vs, rs, checker, |s| &s.delay_loop) {
        None => {
            notes.beside("interval", "keepalived's default delay_loop 60");
            DELAY_LOOP
        }
        Some(a) => match seconds(&a.v) {
            Some(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => {
                notes.beside("interval", format!("delay_loop {}, {}", a.v, at(a, diag)));
                d
            }
            _ => {
                diag.warn(a.line, format!("delay_loop {:?} is not a time in (0, 1h]: keepalived's default 60s is used", a.v), None);
                notes.beside("interval", "keepalived's default delay_loop 60");
                DELAY_LOOP
            }
        },
    };
    let timeout = match nearest(vs, rs, checker, |s| &s.connect_timeout) {
        None if CONNECT_TIMEOUT > interval => {
            notes.beside(
                "timeout",
                "keepalived's default connect_timeout 5, bounded by the interval",
            );
            interval
        }
        None => {
            notes.beside("timeout", "keepalived's default connect_timeout 5");
            CONNECT_TIMEOUT
        }
        Some(a) => match seconds(&a.v) {
            Some(d) if d > Duration::ZERO => {
                if d > interval {
                    diag.note(a.line, format!("connect_timeout {} is longer than the check interval: regha bounds a check by its interval", a.v), None);
                }
                notes.beside(
                    "timeout",
                    format!("connect_timeout {}, {}", a.v, at(a, diag)),
                );
                d.min(interval)
            }
            _ => {
                diag.warn(
                    a.line,
                    format!(
                        "connect_timeout {:?} is not a time: keepalived's default 5s is used",
                        a.v
                    ),
                    None,
                );
                notes.beside("timeout", "keepalived's default connect_timeout 5");
                CONNECT_TIMEOUT.min(interval)
            }
        },
    };
    let retry = match nearest(vs, rs, checker, |s| &s.retry) {
        None => RETRY,
        Some(a) => match a.v.parse::<u32>() {
            Ok(n) if n <= 99 => n,
            _ => {
                diag.warn(
                    a.line,
                    format!(
                        "retry {:?} is not in 0..=99: keepalived's default 1 is used",
                        a.v
                    ),
                    None,
                );
                RETRY
            }
        },
    };
    let fall = retry + 1;
    match nearest(vs, rs, checker, |s| &s.retry) {
        Some(a) => notes.beside(
            "fall",
            format!("retry {} + the first failure, {}", a.v, at(a, diag)),
        ),
        None => notes.beside("fall", "keepalived's default retry 1 + the first failure"),
    }
    notes.beside("rise", "keepalived took a server back on its first success");
    let http = checker.is_some_and(|c| c.kind != "TCP_CHECK");
    let dbr = nearest(vs, rs, checker, |s| &s.delay_before_retry);
    let delay_before_retry = dbr.and_then(|a| seconds(&a.v)).unwrap_or(if http {
        DELAY_BEFORE_RETRY_HTTP
    } else {
        DELAY_BEFORE_RETRY
    });
    if checker.is_some() && retry > 0 && delay_before_retry != interval {
        let before = interval + delay_before_retry * retry;
        let now = interval * fall;
        diag.note(
            dbr.map_or(checker.map_or(rs.line, |c| c.line), |a| a.line),
            format!("keepalived retried a failed check {retry} time(s), delay_before_retry {} apart, and took a real server out about {} after it failed; regha counts `fall: {fall}` failures {} apart (the interval): about {}", fmt(delay_before_retry), fmt(before), fmt(interval), fmt(now)),
            Some("lower `health.interval` to notice sooner: regha has no separate retry delay"),
        );
    }

    let kind = match checker {
        None => {
            match rs.checkers.first() {
                Some(c) => notes.above(
                    "tcp",
                    format!("{}, {}: not a check regha runs", c.kind, diag.at(c.line)),
                ),
                None => notes.above("tcp", "no keepalived checker"),
            }
            notes.beside("tcp", "a TCP connect");
            if protocol == Protocol::Udp {
                diag.note(vs.line, "a UDP service without a checker: regha checks its backends with a TCP connect to the service port", Some("give the backends a TCP port to answer on, or set `health.http`"));
            }
            HealthKind::Tcp
        }
        Some(c) => check(c, rs, vs, port, diag, &mut notes),
    };
    let health = HealthConfig {
        kind,
        interval,
        timeout,
        rise: 1,
        fall: fall.min(100),
        fast_interval: regha_config::DEFAULT_FAST_INTERVAL.min(interval),
        fast_timeout: regha_config::DEFAULT_FAST_TIMEOUT.min(timeout),
        ..HealthConfig::default()
    };
    (health, notes)
}

/// `5s`, `1.5s`: for the notes.
fn fmt(d: Duration) -> String {
    regha_config::duration::format(d)
}

/// The checker itself: TCP_CHECK as `tcp`, HTTP_GET as `http`, SSL_GET as
/// [`ssl_get`].
fn check(
    c: &Checker,
    rs: &RealServer,
    vs: &VirtualServer,
    port: u16,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> HealthKind {
    if let Some(p) = &c.connect_port
        && p.v.parse::<u16>().ok() != Some(port)
    {
        diag.warn(
            p.line,
            format!("connect_port {}: regha checks each backend on the service port {port}", p.v),
            Some("make the check answer on the service port, or keep checking the other port from elsewhere"),
        );
    }
    if let Some(ip) = &c.connect_ip {
        diag.warn(
            ip.line,
            format!(
                "connect_ip {}: regha checks each backend's own address",
                ip.v
            ),
            None,
        );
    }
    if let Some((line, _)) = c.unmapped.first() {
        let keys: Vec<&str> = c.unmapped.iter().map(|(_, k)| k.as_str()).collect();
        let lines: Vec<usize> = c.unmapped.iter().map(|(l, _)| *l).collect();
        diag.note(
            *line,
            format!(
                "{} settings with no regha equivalent, ignored ({}): {}",
                c.kind,
                lines_list(&lines),
                keys.join(", ")
            ),
            None,
        );
    }
    let at = diag.at(c.line);
    if c.kind == "TCP_CHECK" {
        notes.above("tcp", format!("TCP_CHECK, {at}"));
        notes.beside("tcp", "a TCP connect");
        return HealthKind::Tcp;
    }
    let url = c.urls.first();
    for extra in c.urls.iter().skip(1) {
        diag.warn(
            extra.line,
            format!(
                "a second url in {}: regha checks one path, the first",
                c.kind
            ),
            None,
        );
    }
    let path = match url.and_then(|u| u.path.as_ref()) {
        None => "/".to_owned(),
        Some(p)
            if p.v.starts_with('/')
                && !p
                    .v
                    .contains(|ch: char| ch.is_whitespace() || ch.is_control()) =>
        {
            p.v.clone()
        }
        Some(p) => {
            diag.warn(
                p.line,
                format!(
                    "url path {:?} does not start with `/` or has spaces: the import uses /",
                    p.v
                ),
                None,
            );
            "/".to_owned()
        }
    };
    if url.is_none() {
        diag.warn(
            c.line,
            format!(
                "{} without a url: keepalived had nothing to fetch; the import checks `/`",
                c.kind
            ),
            None,
        );
    }
    if let Some(u) = url {
        for (line, key) in &u.unmapped {
            let what = match key.as_str() {
                "digest" => {
                    "regha checks the status code (and optionally a header), not a digest of the body"
                }
                k if k.starts_with("regex") => "regha does not match the body",
                _ => "no regha equivalent",
            };
            diag.warn(*line, format!("`{key}` in url: {what}: ignored"), None);
        }
    }
    let host = url
        .and_then(|u| u.virtualhost.as_ref())
        .or(nearest(vs, rs, Some(c), |s| &s.virtualhost))
        .map(|h| h.v.clone())
        .filter(|h| !h.is_empty() && !h.contains(|ch: char| ch.is_whitespace() || ch.is_control()));
    if host.is_some() {
        notes.beside("http.host", "virtualhost: the Host header");
    }
    let expect = match url.and_then(|u| u.status_code.as_ref()) {
        None => {
            notes.above(
                "http",
                format!("{}, {at}: keepalived's default status_code 200-299", c.kind),
            );
            (200..=299).collect()
        }
        Some(s) => match status_codes(&s.v) {
            Some(codes) => {
                notes.above(
                    "http",
                    format!(
                        "{}, {at}; status_code {}, {}",
                        c.kind,
                        s.v.join(" "),
                        diag.at(s.line)
                    ),
                );
                codes
            }
            None => {
                diag.warn(
                    s.line,
                    format!("status_code {} is not codes or ranges in 100..=599: keepalived's default 200-299 is used", s.v.join(" ")),
                    None,
                );
                notes.above("http", format!("{}, {at}: status_code was invalid", c.kind));
                (200..=299).collect()
            }
        },
    };
    let http = HealthKind::Http {
        path,
        host,
        expect,
        expect_header: None,
        tls: None,
    };
    if c.kind == "SSL_GET" {
        return ssl_get(http, c.line, diag, notes);
    }
    http
}

/// `SSL_GET`: keepalived's HTTP check over TLS. regha's HTTPS check (`tls`
/// under `health.http`) is not in this config schema yet, so this is the
/// plain HTTP check on the same path and codes, warned: when the schema
/// has it, set it here and soften the warning.
fn ssl_get(http: HealthKind, line: usize, diag: &mut Diag<'_>, notes: &mut Notes) -> HealthKind {
    let HealthKind::Http {
        path,
        host,
        expect,
        expect_header,
        ..
    } = http
    else {
        return http;
    };
    diag.warn(
        line,
        "SSL_GET: keepalived checked this real server over TLS without verifying its certificate; the import writes the HTTPS check (`health.http.tls`) with `verify: false`, which checks as keepalived did",
        Some("to verify the registry's certificate, set `ca_file` (your registries' CA) and `server_name` (a name in their certificates) under `health.http.tls`, and remove `verify: false`"),
    );
    notes.above(
        "http",
        "over TLS as keepalived's SSL_GET: see the import's warning",
    );
    HealthKind::Http {
        path,
        host,
        expect,
        expect_header,
        tls: Some(Box::new(regha_config::TlsCheck {
            verify: false,
            ..regha_config::TlsCheck::verified()
        })),
    }
}

/// `200 401`, `200-299`: every code, sorted, each once; None when a word is
/// neither a code nor a range in 100..=599.
fn status_codes(words: &[String]) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for w in words {
        let (lo, hi) = w.split_once('-').unwrap_or((w, w));
        let (lo, hi) = (lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?);
        if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || hi < lo {
            return None;
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::status_codes;

    #[test]
    fn status_codes_and_ranges() {
        let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(status_codes(&w("200 401")), Some(vec![200, 401]));
        assert_eq!(status_codes(&w("200-202 200")), Some(vec![200, 201, 202]));
        assert_eq!(status_codes(&w("200-199")), None);
        assert_eq!(status_codes(&w("99")), None);
        assert_eq!(status_codes(&w("ok")), None);
        assert_eq!(status_codes(&[]), None);
    }
}
