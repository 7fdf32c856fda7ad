//! `/`: the page for people, in the spirit of HAProxy's stats page: per
//! service a graph of the last minutes (`graph.rs`), a table (backend,
//! state, admin, health, when it last changed, last check and its latency,
//! weight, ring share against the share the weight asks for, packet and byte
//! rates, totals and traffic share) and its recent changes; the VRRP
//! instance; what the dataplane did not forward. The totals, states and
//! ring slots are the `/metrics` numbers (one document for both); the rates,
//! graph and changes come from the listener's own samples (`history.rs`).
//! Plain HTML with its CSS inline, no script and no external asset; it
//! reloads itself. Every value from the config or the network is
//! HTML-escaped.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use regha_model::{AdminState, BackendState};

use super::{
    graph,
    history::{Change, Rate, View},
};
use crate::status::{BackendTraffic, ServiceTraffic, StatusDocument, render};

/// How many of a service's changes the page lists.
pub const CHANGES_SHOWN: usize = 10;

/// A ring share further than this (in percentage points) from the share
/// the weight asks for is marked.
pub const SHARE_TOLERANCE: f64 = 5.0;

/// Seconds between reloads of the page.
pub const REFRESH_S: u32 = 5;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1536` -> `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `3725` -> `1h 2m 5s`.
pub fn duration(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `1536.0` -> `1.5 KiB/s`.
pub fn byte_rate(bps: f64) -> String {
    if bps < 1024.0 {
        format!("{bps:.0} B/s")
    } else {
        format!("{}/s", bytes(bps as u64))
    }
}

/// `12.34` -> `12.3`, `0.25` -> `0.25`, `1234.5` -> `1235`.
pub fn packet_rate(pps: f64) -> String {
    if pps >= 100.0 {
        format!("{pps:.0}")
    } else if pps >= 1.0 {
        format!("{pps:.1}")
    } else {
        format!("{pps:.2}")
    }
}

/// `2m 5s ago` for a change at `at`, seen from `now`.
fn ago(now: SystemTime, at: SystemTime) -> String {
    let age = now.duration_since(at).unwrap_or(Duration::ZERO);
    format!("{} ago", duration(age.as_secs()))
}

/// `2025-01-31T14:03:22Z`.
fn utc(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

const STYLE: &str = "body{font:13px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}\
h1{font-size:20px;margin:0 0 .2em}h2{font-size:15px;margin:1.6em 0 .3em}h3{font-size:13px;margin:.8em 0 .2em;color:#444}\
.meta{color:#555;margin:0 0 1em}\
table{border-collapse:collapse;background:#fff}table.svc{min-width:60em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;white-space:nowrap}\
th{background:#e4e8ee}td.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.up td:first-child{border-left:6px solid #3a3}tr.draining td:first-child{border-left:6px solid #e90}\
tr.down td:first-child{border-left:6px solid #d33}tr.disabled td{color:#777;background:#eee}\
tr.total td{font-weight:bold;background:#f0f0f0}\
.st-up{color:#1a7a1a;font-weight:bold}.st-draining{color:#b26b00;font-weight:bold}.st-down{color:#c22;font-weight:bold}\
.bar{display:inline-block;height:8px;background:#59f;vertical-align:middle;margin-right:4px}\
.warn{color:#c22;font-weight:bold}.dim{color:#777}footer{color:#777;margin-top:2em}\
svg.graph{background:#fff;border:1px solid #ccc;display:block}svg.graph text{font:11px system-ui,sans-serif;fill:#555}\
.legend{margin:.2em 0 .6em}.legend span.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}\
table.changes td{color:#333}";

/// Renders the page: `doc` read for this request, `view` the listener's
/// history as of it.
pub fn render(doc: &StatusDocument, view: &View) -> String {
    let mut h = String::with_capacity(16384);
    let iface = escape(&doc.iface);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<title>regha on {iface}</title><style>{STYLE}</style></head><body>\n<h1>regha on {iface}</h1>\n"
    );
    let now = view.now.unwrap_or_else(SystemTime::now);
    match &doc.agent {
        Some(a) => {
            let swap = a
                .last_ring_swap_s
                .map(|s| format!(" (last {:.1} ms)", s * 1000.0))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<p class=\"meta\">role <b>{}</b> &middot; VIPs {} &middot; agent pid {} &middot; up {} &middot; ring swaps {}{} &middot; health view {} &middot; reloads every {REFRESH_S}s &middot; {}</p>",
                escape(&a.role.as_str().to_uppercase()),
                escape(&render::vips(&a.vips)),
                a.pid,
                duration(a.uptime_s),
                a.ring_swaps,
                swap,
                if a.settled {
                    "settled"
                } else {
                    "settling (no preemption)"
                },
                utc(now)
            );
            if !a.vrrp.is_empty() {
                let _ = writeln!(
                    h,
                    "<h2>VRRP</h2>\n<table><tr><th>instance</th><th>state</th><th>priority</th><th>master heard</th><th>peers</th><th>transitions</th><th>rejected packets</th></tr>"
                );
            }
            for v in &a.vrrp {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}{}</td><td class=\"n\">{} (configured {})</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    escape(&render::instance(v)),
                    escape(&v.state.as_str().to_uppercase()),
                    if v.resigned {
                        " <span class=\"warn\">resigned</span> (<code>regha-agent vrrp resume</code> rejoins)"
                    } else {
                        ""
                    },
                    v.priority,
                    v.configured_priority,
                    escape(&render::master_heard(v)),
                    escape(&render::peers(v)),
                    v.transitions,
                    escape(&render::rejected(v)),
                );
            }
            if !a.vrrp.is_empty() {
                let _ = writeln!(h, "</table>");
                changes(
                    &mut h,
                    now,
                    view.vrrp_changes(),
                    "VRRP changes",
                    |c| match &c.subject {
                        super::history::Subject::Vrrp { name, vrid, family } => {
                            format!("{name} ({vrid}/{family})")
                        }
                        super::history::Subject::Backend { backend, .. } => backend.to_string(),
                    },
                );
            }
        }
        None => {
            let _ = writeln!(
                h,
                "<p class=\"meta warn\">the agent is not running: the pinned dataplane steers on its own</p>"
            );
        }
    }
    if let Some(a) = &doc.agent {
        bgp(&mut h, a);
    }
    for svc in &doc.services {
        service(&mut h, svc, view, now);
    }
    let _ = writeln!(
        h,
        "<h2>Not forwarded by the dataplane</h2>\n<table><tr><th>reason</th><th>packets</th></tr>"
    );
    for (reason, n) in &doc.not_forwarded {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            escape(reason)
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<footer>bytes count client to backend only: with direct server return the answers bypass the LB. \
Rates, the graphs and the changes come from this agent's own samples (every {}s, kept {} minutes), and start afresh when it restarts. \
Totals as <a href=\"/metrics\">/metrics</a> (Prometheus) and <a href=\"/status\">/status</a> (JSON).</footer>\n</body></html>",
        super::history::SAMPLE_EVERY.as_secs(),
        super::history::SAMPLE_EVERY.as_secs() * super::history::SAMPLES_KEPT as u64 / 60,
    );
    h
}

/// BGP mode: each VIP announced or not and why, each ring's fingerprint
/// (equal on every LB), FRR's sessions.
fn bgp(h: &mut String, a: &crate::status::AgentStatus) {
    if a.bgp.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>BGP</h2>\n<table><tr><th>VIP</th><th>route</th><th>why</th></tr>"
    );
    for b in &a.bgp {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            b.vip,
            if b.announced {
                "<span class=\"st-up\">ANNOUNCED</span>".to_owned()
            } else {
                "<span class=\"st-down\">withdrawn</span>".to_owned()
            },
            escape(&b.reason)
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<p class=\"meta\">ring fingerprints (equal on every LB that steers alike): {}</p>",
        escape(
            &a.services
                .iter()
                .filter_map(|s| s
                    .ring_fingerprint
                    .as_ref()
                    .map(|f| format!("{} {f}", s.name)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    let Some(r) = &a.routing else {
        return;
    };
    if let Some(e) = &r.error {
        let _ = writeln!(
            h,
            "<p class=\"meta warn\">FRR not readable: {}</p>",
            escape(e)
        );
    }
    if r.bgp.is_empty() && r.bfd.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<table><tr><th>session</th><th>peer</th><th>state</th><th>detail</th></tr>"
    );
    for p in &r.bgp {
        let _ = writeln!(
            h,
            "<tr><td>BGP {}</td><td>{}</td><td>{}</td><td>up {}, prefixes sent {}</td></tr>",
            escape(&p.afi),
            escape(&p.peer),
            escape(&p.state),
            escape(p.uptime.as_deref().unwrap_or("-")),
            p.prefixes_sent.map_or("-".to_owned(), |n| n.to_string())
        );
    }
    for p in &r.bfd {
        let _ = writeln!(
            h,
            "<tr><td>BFD</td><td>{}</td><td>{}</td><td>detection {}</td></tr>",
            escape(&p.peer),
            escape(&p.status),
            p.detect_ms.map_or("-".to_owned(), |n| format!("{n} ms"))
        );
    }
    let _ = writeln!(h, "</table>");
}

/// A table of recent changes (at most [`CHANGES_SHOWN`]), or a line
/// saying there were none.
fn changes<'a>(
    h: &mut String,
    now: SystemTime,
    list: impl Iterator<Item = &'a Change>,
    title: &str,
    who: impl Fn(&Change) -> String,
) {
    let shown: Vec<&Change> = list.take(CHANGES_SHOWN).collect();
    let _ = writeln!(h, "<h3>{}</h3>", escape(title));
    if shown.is_empty() {
        let _ = writeln!(h, "<p class=\"dim\">none since the agent started</p>");
        return;
    }
    let _ = writeln!(
        h,
        "<table class=\"changes\"><tr><th>when</th><th>who</th><th>change</th></tr>"
    );
    for c in shown {
        let _ = writeln!(
            h,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            utc(c.at),
            ago(now, c.at),
            escape(&who(c)),
            escape(&c.transition.to_string())
        );
    }
    let _ = writeln!(h, "</table>");
}

/// The share (percent) of the ring that `b`'s weight asks for: its weight
/// over the weights of the backends the ring holds (those up).
fn expected_share(svc: &ServiceTraffic, b: &BackendTraffic) -> Option<f64> {
    if b.state != BackendState::Up {
        return Some(0.0);
    }
    let total: u64 = svc
        .backends
        .iter()
        .filter(|x| x.state == BackendState::Up)
        .map(|x| x.weight.map(u64::from))
        .sum::<Option<u64>>()?;
    let w = b.weight?;
    (total > 0).then(|| f64::from(w) * 100.0 / total as f64)
}

fn service(h: &mut String, svc: &ServiceTraffic, view: &View, now: SystemTime) {
    let name = svc.name.as_deref().unwrap_or("?");
    let _ = writeln!(
        h,
        "<h2>service {} &mdash; {}/{}{}</h2>",
        escape(name),
        escape(&SocketAddr::new(svc.vip, svc.port).to_string()),
        svc.protocol,
        if svc.no_backend {
            " <span class=\"warn\">NO BACKEND</span>"
        } else {
            ""
        }
    );
    if svc.allow_list || svc.denied > 0 {
        let _ = writeln!(
            h,
            "<p title=\"packets dropped at the LB: their source is not in the service's allow list\">denied (source not allowed): {}</p>",
            svc.denied
        );
    }
    let (total_rate, rates) = view
        .rates
        .get(name)
        .map(|(t, b)| (*t, Some(b)))
        .unwrap_or((None, None));
    graph::render(
        h,
        name,
        view.series.get(name).map(Vec::as_slice).unwrap_or(&[]),
        &svc.backends.iter().map(|b| b.address).collect::<Vec<_>>(),
        view.span,
    );
    let _ = writeln!(
        h,
        "<table class=\"svc\"><tr><th>backend</th><th>state</th><th>admin</th><th>health</th><th>changed</th><th>last check</th><th>latency</th>\
<th>weight</th><th title=\"slots of the Maglev ring ({} in all) that hold it\">ring share</th><th title=\"its weight over the weights of the backends in the ring\">expected</th>\
<th>packets/s</th><th>bytes/s</th><th>packets</th><th>bytes</th><th>new flows</th><th>traffic share</th></tr>",
        svc.ring_size
    );
    let total: u64 = svc.backends.iter().map(|b| b.bytes).sum();
    for b in &svc.backends {
        let rate = rates.and_then(|r| r.get(&b.address)).copied();
        let changed = view
            .last_change(name, b.address)
            .map(|c| (c.at, true))
            .or_else(|| b.since_s.map(|s| (now - Duration::from_secs(s), false)));
        backend(h, svc, b, total, rate, changed, now);
    }
    let _ = writeln!(
        h,
        "<tr class=\"total\"><td>total</td><td colspan=\"9\"></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr></table>",
        total_rate.map_or("-".to_owned(), |r| packet_rate(r.packets)),
        total_rate.map_or("-".to_owned(), |r| byte_rate(r.bytes)),
        svc.packets,
        bytes(svc.bytes),
        svc.new_flows
    );
    changes(
        h,
        now,
        view.service_changes(name),
        &format!("changes of {name}"),
        |c| match &c.subject {
            super::history::Subject::Backend { backend, .. } => backend.to_string(),
            super::history::Subject::Vrrp { name, vrid, family } => {
                format!("{name} ({vrid}/{family})")
            }
        },
    );
}

/// The health verdict, with the suspicion (and its reason) or the fast
/// checks of a transition beside it.
fn health_cell(b: &BackendTraffic) -> String {
    let health = b.health.map_or("-", |h| h.as_str());
    match (&b.suspect, b.fast_checks) {
        (Some(reason), _) => format!(
            "{health} <span class=\"warn\" title=\"{}: checks at the fast interval\">SUSPECT</span>",
            escape(reason)
        ),
        (None, true) => {
            format!("{health} <span title=\"checks at the fast interval\">(fast checks)</span>")
        }
        (None, false) => health.to_owned(),
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.1}%"))
}

fn backend(
    h: &mut String,
    svc: &ServiceTraffic,
    b: &BackendTraffic,
    total_bytes: u64,
    rate: Option<Rate>,
    changed: Option<(SystemTime, bool)>,
    now: SystemTime,
) {
    let admin = b.admin.unwrap_or_default();
    let class = if admin == AdminState::Disabled {
        "disabled"
    } else {
        b.state.as_str()
    };
    let share = if total_bytes == 0 {
        0.0
    } else {
        b.bytes as f64 * 100.0 / total_bytes as f64
    };
    let check = match (b.last_check_ok, b.last_check.as_deref()) {
        (Some(true), Some(d)) => format!("OK {}", escape(d)),
        (Some(false), Some(d)) => format!("<span class=\"warn\">FAIL</span> {}", escape(d)),
        (_, Some(d)) => escape(d),
        _ => "-".to_owned(),
    };
    let ring = match (b.ring_slots, svc.ring_size) {
        (Some(slots), size) if size > 0 => Some(f64::from(slots) * 100.0 / f64::from(size)),
        _ => None,
    };
    let expected = expected_share(svc, b);
    let off = matches!((ring, expected), (Some(r), Some(e)) if (r - e).abs() > SHARE_TOLERANCE);
    let changed = match changed {
        // A change the listener saw, or (before any) how long the health
        // verdict has held, as the agent counts it.
        Some((at, seen)) => format!(
            "<span title=\"{}{}\">{}</span>",
            utc(at),
            if seen {
                ""
            } else {
                ": the health verdict, since"
            },
            ago(now, at)
        ),
        None => "-".to_owned(),
    };
    let _ = writeln!(
        h,
        "<tr class=\"{}\"><td>{}</td><td class=\"st-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n{}\" title=\"{} slots\">{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
<td><span class=\"bar\" style=\"width:{:.0}px\"></span>{:.1}%</td></tr>",
        class,
        b.address,
        b.state,
        b.state.as_str().to_uppercase(),
        if admin == AdminState::Enabled {
            "-".to_owned()
        } else {
            format!("<b>{}</b>", admin.as_str().to_uppercase())
        },
        health_cell(b),
        changed,
        check,
        b.latency_ms
            .map(|ms| format!("{ms:.1} ms"))
            .unwrap_or_else(|| "-".into()),
        b.weight.map_or("-".to_owned(), |w| w.to_string()),
        if off { " warn" } else { "" },
        b.ring_slots.map_or("-".to_owned(), |s| s.to_string()),
        percent(ring),
        percent(expected),
        rate.map_or("-".to_owned(), |r| packet_rate(r.packets)),
        rate.map_or("-".to_owned(), |r| byte_rate(r.bytes)),
        b.packets,
        bytes(b.bytes),
        b.new_flows,
        share * 0.6,
        share
    );
}

#[cfg(test)]
mod tests;
