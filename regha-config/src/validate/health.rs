//! `services[].health`: the check (HTTP or TCP) and how it is counted.

use std::time::Duration;

use super::check::{Check, at_most, each, maybe};
use crate::duration;
use crate::raw;
use crate::types::{HealthConfig, HealthKind, SuspectConfig, TlsCheck};

/// The longest interval between two checks (health and tracked scripts):
/// a check rarer than hourly no longer tells when a backend went down.
pub(super) const MAX_HEALTH_INTERVAL: Duration = Duration::from_secs(3600);

pub(super) fn health(c: &mut Check, at: &str, h: Option<&raw::Health>) -> Option<HealthConfig> {
    let d = HealthConfig::default();
    let Some(h) = h else { return Some(d) };
    let path = |key: &str| format!("{at}.{key}");
    let kind = match (&h.http, &h.tcp) {
        (Some(_), Some(_)) => c.fail(at, "set one of `http` or `tcp`, not both"),
        (None, Some(_)) => Some(HealthKind::Tcp),
        (Some(http), None) => http_check(c, &path("http"), http.as_ref()),
        (None, None) => Some(d.kind),
    };
    let interval = c.dur(&path("interval"), h.interval.as_deref(), d.interval);
    let interval =
        interval.and_then(|i| c.result(&path("interval"), at_most(i, MAX_HEALTH_INTERVAL, "1h")));
    let timeout = c.dur(&path("timeout"), h.timeout.as_deref(), d.timeout);
    let timeout = timeout.and_then(|t| {
        let max = interval.unwrap_or(t);
        let max_text = format!("the interval, {}", duration::format(max));
        c.result(&path("timeout"), at_most(t, max, &max_text))
    });
    let rise = c.int(&path("rise"), h.rise, Some(d.rise), 1..=100);
    let fall = c.int(&path("fall"), h.fall, Some(d.fall), 1..=100);
    let fast_interval = bounded(
        c,
        &path("fast_interval"),
        h.fast_interval.as_deref(),
        d.fast_interval,
        interval,
        "interval",
    );
    let fast_timeout = bounded(
        c,
        &path("fast_timeout"),
        h.fast_timeout.as_deref(),
        d.fast_timeout,
        timeout,
        "timeout",
    );
    let suspect = suspect(c, &path("suspect"), h.suspect.as_ref());
    Some(HealthConfig {
        kind: kind?,
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
        fast_interval: fast_interval?,
        fast_timeout: fast_timeout?,
        suspect: suspect?,
    })
}

/// A fast setting: more than 0 and at most its slow counterpart (`bound`,
/// named `name`); unset, the default or the slow one if that is shorter.
fn bounded(
    c: &mut Check,
    at: &str,
    text: Option<&str>,
    default: Duration,
    bound: Option<Duration>,
    name: &str,
) -> Option<Duration> {
    let Some(text) = text else {
        return Some(bound.map_or(default, |b| default.min(b)));
    };
    let v = c.dur(at, Some(text), default)?;
    let bound = bound?;
    let text = format!("the `{name}`, {}", duration::format(bound));
    c.result(at, at_most(v, bound, &text))
}

/// The window the dataplane's signals are summed over: long enough for a
/// few samples, short enough to still mean "now".
const MIN_SUSPECT_WINDOW: Duration = Duration::from_millis(200);
const MAX_SUSPECT_WINDOW: Duration = Duration::from_secs(60);

fn suspect(c: &mut Check, at: &str, s: Option<&raw::Suspect>) -> Option<SuspectConfig> {
    let d = SuspectConfig::default();
    let Some(s) = s else { return Some(d) };
    let path = |key: &str| format!("{at}.{key}");
    let window = c.dur(&path("window"), s.window.as_deref(), d.window);
    let window = window.and_then(|w| {
        if w < MIN_SUSPECT_WINDOW {
            return c.fail(
                path("window"),
                format!(
                    "{} is shorter than 200ms: the counters are sampled every 100ms and the window must span at least two samples",
                    duration::format(w)
                ),
            );
        }
        c.result(&path("window"), at_most(w, MAX_SUSPECT_WINDOW, "1m"))
    });
    let min_syns = c.int(
        &path("min_syns"),
        s.min_syns,
        Some(d.min_syns),
        1..=1_000_000,
    );
    let min_retransmits = c.int(
        &path("min_retransmits"),
        s.min_retransmits,
        Some(d.min_retransmits),
        1..=1_000_000,
    );
    Some(SuspectConfig {
        enabled: s.enabled.unwrap_or(d.enabled),
        window: window?,
        min_syns: min_syns?,
        min_retransmits: min_retransmits?,
    })
}

fn http_check(c: &mut Check, at: &str, h: Option<&raw::Http>) -> Option<HealthKind> {
    let none = raw::Http::default();
    let h = h.unwrap_or(&none);
    let path = |key: &str| format!("{at}.{key}");
    let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    let url = h.path.as_deref().unwrap_or("/v2/");
    let url = if url.starts_with('/') && visible(url) {
        Some(url.to_owned())
    } else {
        c.fail(
            path("path"),
            format!("{url:?}: must start with '/' and hold no spaces or control characters"),
        )
    };
    let host = maybe(h.host.as_deref(), |host| {
        if !visible(host) {
            let msg = format!("{host:?} is not a Host value: no spaces or control characters");
            return c.fail(path("host"), msg);
        }
        Some(host.to_owned())
    });
    let expect = match h.expect.as_deref() {
        None => Some(vec![200, 401]),
        Some([]) => c.fail(path("expect"), "empty: no answer could pass"),
        Some(codes) => each(c, &path("expect"), codes, |c, p, &code| {
            c.int(p, Some(code), None, 100..=599)
        }),
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let expect_header = maybe(h.expect_header.as_deref(), |name| {
        if !token(name) {
            return c.fail(
                path("expect_header"),
                format!("{name:?} is not an HTTP header name"),
            );
        }
        Some(name.to_owned())
    });
    let tls = maybe(h.tls.as_ref(), |t| {
        tls(c, &path("tls"), t.as_ref()).map(Box::new)
    });
    Some(HealthKind::Http {
        path: url?,
        host: host?,
        expect: expect?,
        expect_header: expect_header?,
        tls: tls?,
    })
}

/// `http.tls`: the names and paths; the files themselves are read by
/// `Config::load` (`tls.rs`).
fn tls(c: &mut Check, at: &str, t: Option<&raw::Tls>) -> Option<TlsCheck> {
    let none = raw::Tls::default();
    let t = t.unwrap_or(&none);
    let path = |key: &str| format!("{at}.{key}");
    let server_name =
        maybe(
            t.server_name.as_deref(),
            |name| match rustls::pki_types::ServerName::try_from(name) {
                Ok(_) => Some(name.to_owned()),
                Err(_) => c.fail(
                    path("server_name"),
                    format!("{name:?} is neither a DNS name nor an IP address"),
                ),
            },
        );
    let verify = t.verify.unwrap_or(true);
    let ca_file = maybe(t.ca_file.as_deref(), |f| {
        if !verify {
            return c.fail(
                path("ca_file"),
                "set with verify: false, which trusts any certificate: remove one of them",
            );
        }
        c.absolute(&path("ca_file"), f)
    });
    let client_cert = maybe(t.client_cert.as_deref(), |f| {
        c.absolute(&path("client_cert"), f)
    });
    let client_key = maybe(t.client_key.as_deref(), |f| {
        if t.client_cert.is_none() {
            return c.fail(
                path("client_key"),
                "set without client_cert: give the certificate the key belongs to",
            );
        }
        c.absolute(&path("client_key"), f)
    });
    Some(TlsCheck {
        server_name: server_name?,
        verify,
        ca_file: ca_file?,
        client_cert: client_cert?,
        client_key: client_key?,
        material: None,
    })
}
