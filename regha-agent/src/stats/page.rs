//! `/`: the page for people, in the spirit of HAProxy's stats page: one
//! table per service (backend, state, admin, health and since when, last
//! check and its latency, traffic and its share), the VRRP instance, and
//! what the dataplane did not forward. Plain HTML with its CSS inline, no
//! script and no external asset; it reloads itself. Every value from the
//! config or the network is HTML-escaped.

use std::fmt::Write as _;

use regha_model::AdminState;

use crate::status::{BackendTraffic, ServiceTraffic, StatusDocument, render};

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

const STYLE: &str = "body{font:13px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}\
h1{font-size:20px;margin:0 0 .2em}h2{font-size:15px;margin:1.4em 0 .3em}\
.meta{color:#555;margin:0 0 1em}\
table{border-collapse:collapse;background:#fff}table.svc{min-width:60em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;white-space:nowrap}\
th{background:#e4e8ee}td.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.up td:first-child{border-left:6px solid #3a3}tr.draining td:first-child{border-left:6px solid #e90}\
tr.down td:first-child{border-left:6px solid #d33}tr.disabled td{color:#777;background:#eee}\
tr.total td{font-weight:bold;background:#f0f0f0}\
.st-up{color:#1a7a1a;font-weight:bold}.st-draining{color:#b26b00;font-weight:bold}.st-down{color:#c22;font-weight:bold}\
.bar{display:inline-block;height:8px;background:#59f;vertical-align:middle;margin-right:4px}\
.warn{color:#c22;font-weight:bold}footer{color:#777;margin-top:2em}";

/// Renders the page.
pub fn render(doc: &StatusDocument) -> String {
    let mut h = String::with_capacity(8192);
    let iface = escape(&doc.iface);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<title>regha on {iface}</title><style>{STYLE}</style></head><body>\n<h1>regha on {iface}</h1>\n"
    );
    match &doc.agent {
        Some(a) => {
            let swap = a
                .last_ring_swap_s
                .map(|s| format!(" (last {:.1} ms)", s * 1000.0))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<p class=\"meta\">role <b>{}</b> &middot; VIPs {} &middot; agent pid {} &middot; up {} &middot; ring swaps {}{} &middot; reloads every {REFRESH_S}s</p>",
                escape(&a.role.as_str().to_uppercase()),
                escape(&render::vips(&a.vips)),
                a.pid,
                duration(a.uptime_s),
                a.ring_swaps,
                swap
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
            }
        }
        None => {
            let _ = writeln!(
                h,
                "<p class=\"meta warn\">the agent is not running: the pinned dataplane steers on its own</p>"
            );
        }
    }
    for svc in &doc.services {
        service(&mut h, svc);
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
Also as <a href=\"/metrics\">/metrics</a> (Prometheus) and <a href=\"/status\">/status</a> (JSON).</footer>\n</body></html>"
    );
    h
}

fn service(h: &mut String, svc: &ServiceTraffic) {
    let _ = writeln!(
        h,
        "<h2>service {} &mdash; {}/{}{}</h2>",
        escape(svc.name.as_deref().unwrap_or("?")),
        escape(&std::net::SocketAddr::new(svc.vip, svc.port).to_string()),
        svc.protocol,
        if svc.no_backend {
            " <span class=\"warn\">NO BACKEND</span>"
        } else {
            ""
        }
    );
    let _ = writeln!(
        h,
        "<table class=\"svc\"><tr><th>backend</th><th>state</th><th>admin</th><th>health</th><th>since</th><th>last check</th><th>latency</th><th>packets</th><th>bytes</th><th>new flows</th><th>share</th></tr>"
    );
    let total: u64 = svc.backends.iter().map(|b| b.bytes).sum();
    for b in &svc.backends {
        backend(h, b, total);
    }
    let _ = writeln!(
        h,
        "<tr class=\"total\"><td>total</td><td colspan=\"6\"></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr></table>",
        svc.packets,
        bytes(svc.bytes),
        svc.new_flows
    );
}

fn backend(h: &mut String, b: &BackendTraffic, total_bytes: u64) {
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
    let _ = writeln!(
        h,
        "<tr class=\"{}\"><td>{}</td><td class=\"st-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><span class=\"bar\" style=\"width:{:.0}px\"></span>{:.1}%</td></tr>",
        class,
        b.address,
        b.state,
        b.state.as_str().to_uppercase(),
        if admin == AdminState::Enabled {
            "-".to_owned()
        } else {
            format!("<b>{}</b>", admin.as_str().to_uppercase())
        },
        b.health.map_or("-", |h| h.as_str()),
        b.since_s.map(duration).unwrap_or_else(|| "-".into()),
        check,
        b.latency_ms
            .map(|ms| format!("{ms:.1} ms"))
            .unwrap_or_else(|| "-".into()),
        b.packets,
        bytes(b.bytes),
        b.new_flows,
        share * 0.6,
        share
    );
}

#[cfg(test)]
mod tests;
