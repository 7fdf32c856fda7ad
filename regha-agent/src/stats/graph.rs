//! A service's traffic over the last minutes as inline SVG: one line per
//! backend, packets per second (client to backend: with DSR that is every
//! request and upload, and the ACKs of every download), the time axis fixed
//! to the history's span so that graphs read alike. No script, no external
//! asset: the page stays one self-contained document.

use std::{fmt::Write as _, net::SocketAddr, time::Duration};

use super::{history::Point, page::escape};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 150.0;
/// Room for the y labels on the left and the x labels below.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 18.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;

/// Line colours, one per backend in order (repeating past eight).
pub const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// The smallest 1, 2 or 5 times a power of ten at least `v` (the top of
/// the y axis), 1 for nothing.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// `1500` -> `1.5k`.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Appends the graph of `service` (its `points`, oldest first) for
/// `backends` (their order gives their colours), and its legend.
pub fn render(
    h: &mut String,
    service: &str,
    points: &[Point],
    backends: &[SocketAddr],
    span: Duration,
) {
    let (w, ht) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let span_s = span.as_secs_f64().max(1.0);
    let max = points
        .iter()
        .flat_map(|p| p.rates.values().map(|r| r.packets))
        .fold(0.0, f64::max);
    let top = nice_ceiling(max);
    let x = |age: Duration| LEFT + w - (age.as_secs_f64().min(span_s) / span_s) * w;
    let y = |v: f64| TOP + ht - (v / top) * ht;
    let title = format!(
        "packets per second to each backend of {service}, the last {} minutes",
        span.as_secs() / 60
    );
    let _ = write!(
        h,
        "<svg class=\"graph\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = escape(&title)
    );
    // Grid and y labels: 0, half, top.
    for (v, label) in [
        (0.0, "0".to_owned()),
        (top / 2.0, short(top / 2.0)),
        (top, short(top)),
    ] {
        let _ = write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            y = y(v),
            x2 = LEFT + w,
            lx = LEFT - 4.0,
            ty = y(v) + 4.0
        );
    }
    let _ = write!(h, "<text x=\"4\" y=\"{}\" >pkt/s</text>", TOP + 10.0);
    // x labels: the span ago, half of it, now.
    for (age, anchor) in [
        (span, "start"),
        (span / 2, "middle"),
        (Duration::ZERO, "end"),
    ] {
        let (m, s) = (age.as_secs() / 60, age.as_secs() % 60);
        let label = match (m, s) {
            (0, 0) => "now".to_owned(),
            (m, 0) => format!("-{m}m"),
            (m, s) => format!("-{m}m{s}s"),
        };
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{label}</text>",
            x(age),
            HEIGHT - 4.0
        );
    }
    if points.len() < 2 {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">collecting samples: the graph starts after two</text>",
            LEFT + w / 2.0,
            TOP + ht / 2.0
        );
    }
    for (i, addr) in backends.iter().enumerate() {
        let coords: Vec<String> = points
            .iter()
            .filter_map(|p| {
                let r = p.rates.get(addr)?;
                Some(format!("{:.1},{:.1}", x(p.age), y(r.packets)))
            })
            .collect();
        if coords.len() < 2 {
            continue;
        }
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
            COLOURS[i % COLOURS.len()],
            coords.join(" "),
            addr
        );
    }
    h.push_str("</svg>\n<div class=\"legend\">");
    for (i, addr) in backends.iter().enumerate() {
        let _ = write!(
            h,
            "<span class=\"key\" style=\"background:{}\"></span>{}",
            COLOURS[i % COLOURS.len()],
            addr
        );
    }
    h.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::stats::history::Rate;

    #[test]
    fn the_y_axis_tops_at_one_two_or_five() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(370.0), 500.0);
        assert_eq!(nice_ceiling(501.0), 1000.0);
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2_000_000.0), "2M");
    }

    #[test]
    fn one_line_per_backend_placed_by_age_and_rate() {
        let a: SocketAddr = "192.0.2.11:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.12:5000".parse().unwrap();
        let point = |age: u64, ra: f64, rb: Option<f64>| Point {
            age: Duration::from_secs(age),
            rates: BTreeMap::from_iter([(a, ra)].into_iter().chain(rb.map(|r| (b, r))).map(
                |(k, p)| {
                    (
                        k,
                        Rate {
                            packets: p,
                            bytes: 0.0,
                        },
                    )
                },
            )),
        };
        let points = [
            point(600, 0.0, None),
            point(300, 100.0, Some(50.0)),
            point(0, 50.0, Some(100.0)),
        ];
        let mut h = String::new();
        render(
            &mut h,
            "registry",
            &points,
            &[a, b],
            Duration::from_secs(600),
        );
        assert!(h.starts_with("<svg class=\"graph\""), "{h}");
        assert_eq!(h.matches("<polyline").count(), 2, "{h}");
        // a: from the left edge at 0 to the middle at the top (100 = top).
        assert!(
            h.contains("points=\"56.0,132.0 344.0,8.0 632.0,70.0\""),
            "{h}"
        );
        assert!(h.contains(&format!("stroke=\"{}\"", COLOURS[1])));
        assert!(
            h.contains(">100<")
                && h.contains(">50<")
                && h.contains(">now<")
                && h.contains(">-10m<")
        );
        assert!(!h.contains("<script") && !h.contains("href"));
        assert!(h.contains("192.0.2.12:5000</div>"));
    }

    #[test]
    fn too_few_samples_say_so() {
        let mut h = String::new();
        render(&mut h, "r", &[], &[], Duration::from_secs(600));
        assert!(h.contains("collecting samples"));
        assert!(!h.contains("<polyline"));
    }
}
