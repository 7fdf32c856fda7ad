use std::time::Instant;

use super::*;
use crate::stats::{history::History, sample};

#[test]
fn escape_covers_markup_and_quotes() {
    assert_eq!(
        escape(r#"<script>alert("x" & 'y')</script>"#),
        "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
    );
    assert_eq!(escape("registry-1.eu"), "registry-1.eu");
}

#[test]
fn units_read_like_a_person_writes_them() {
    assert_eq!(bytes(512), "512 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    assert_eq!(duration(42), "42s");
    assert_eq!(duration(125), "2m 5s");
    assert_eq!(duration(3725), "1h 2m");
    assert_eq!(duration(90_000), "1d 1h");
}

#[test]
fn the_page_has_every_backend_its_state_and_share() {
    let html = render(&sample::document("registry"), &View::default());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(
        html.contains("<h2>service registry &mdash; 192.0.2.100:5000/tcp</h2>"),
        "{html}"
    );
    assert!(
        html.contains("denied (source not allowed): 3</p>"),
        "the allow-list's denied count: {html}"
    );
    for be in ["192.0.2.11:5000", "192.0.2.12:5000"] {
        assert!(html.contains(&format!("<td>{be}</td>")), "{be} missing");
    }
    assert!(html.contains("<tr class=\"draining\">"));
    assert!(html.contains("<b>DRAIN</b>"));
    assert!(html.contains("66.7%") && html.contains("33.3%"), "{html}");
    assert!(html.contains("OK HTTP 200"));
    assert!(html.contains("1.5 ms"));
    assert!(html.contains("MASTER"));
    assert!(html.contains("192.0.2.3"), "the unicast peer is listed");
    assert!(html.contains("ttl 3"), "rejected VRRP packets by reason");
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "no external asset, no script"
    );
}

#[test]
fn names_from_outside_are_escaped_on_the_page() {
    let html = render(
        &sample::document("<img src=x onerror=alert(1)>"),
        &View::default(),
    );
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn a_resigned_instance_says_how_to_rejoin() {
    let mut doc = sample::document("registry");
    let v = &mut doc.agent.as_mut().unwrap().vrrp[0];
    v.resigned = true;
    v.state = regha_model::VrrpState::Initialize;
    let html = render(&doc, &View::default());
    assert!(html.contains("resigned"));
    assert!(html.contains("regha-agent vrrp resume"));
}

#[test]
fn weight_ring_share_and_the_expected_share_are_side_by_side() {
    let html = render(&sample::document("registry"), &View::default());
    // be1 holds every slot (be2 drains, out of the ring) and is expected
    // to: its weight is the only one in the ring.
    assert!(
        html.contains(
            "<td class=\"n\" title=\"65537 slots\">100.0%</td><td class=\"n\">100.0%</td>"
        ),
        "{html}"
    );
    assert!(html.contains("<td class=\"n\" title=\"0 slots\">0.0%</td><td class=\"n\">0.0%</td>"));
    let mut doc = sample::document("registry");
    doc.services[0].backends[0].ring_slots = Some(30000);
    let html = render(&doc, &View::default());
    assert!(
        html.contains("<td class=\"n warn\" title=\"30000 slots\">45.8%</td>"),
        "a ring share far from the weight's is marked: {html}"
    );
}

#[test]
fn rates_graph_and_changes_come_from_the_history() {
    let t0 = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut h = History::default();
    let mut doc = sample::document("registry");
    h.observe(wall, doc.agent.as_ref().unwrap());
    for i in 0..3u64 {
        let s = &mut doc.services[0];
        s.packets += 500;
        s.backends[0].packets += 500;
        s.backends[0].bytes += 5 * 1024 * 1024;
        h.record(t0 + Duration::from_secs(5 * i), &doc);
    }
    let agent = doc.agent.as_mut().unwrap();
    agent.services[0].backends[1].health = regha_model::Health::Down;
    h.observe(wall + Duration::from_secs(10), agent);
    let s = &mut doc.services[0];
    s.packets += 500;
    s.backends[0].packets += 500;
    s.backends[0].bytes += 5 * 1024 * 1024;
    let view = h.view(
        t0 + Duration::from_secs(15),
        wall + Duration::from_secs(15),
        &doc,
    );
    let html = render(&doc, &view);
    // 500 packets and 5 MiB per 5 s: 100 packets/s, 1 MiB/s.
    assert!(
        html.contains("<td class=\"n\">100</td><td class=\"n\">1.0 MiB/s</td>"),
        "{html}"
    );
    assert!(html.contains("<svg class=\"graph\""));
    assert_eq!(html.matches("<polyline").count(), 2, "one line per backend");
    assert!(html.contains("health up \u{2192} down"), "{html}");
    assert!(
        html.contains("<td title=\"2023-11-14T22:13:30Z\">5s ago</td><td>192.0.2.12:5000</td>"),
        "{html}"
    );
    assert!(
        html.contains(">none since the agent started<"),
        "no VRRP change: {html}"
    );
}

#[test]
fn bgp_mode_shows_each_vip_the_fingerprint_and_frr_s_sessions() {
    let mut doc = sample::document("registry");
    assert!(!render(&doc, &View::default()).contains("<h2>BGP</h2>"));
    let a = doc.agent.as_mut().unwrap();
    a.bgp.push(crate::status::BgpVipStatus {
        vip: "203.0.113.10".parse().unwrap(),
        announced: false,
        reason: "drained by an operator <script>".into(),
        backends_up: 2,
        min_healthy: 1,
        drained: true,
        route_protocol: 250,
    });
    a.routing = Some(crate::bgp::RoutingStatus {
        error: None,
        bgp: vec![crate::bgp::frr::BgpSession {
            afi: "ipv4Unicast".into(),
            peer: "192.0.2.254".into(),
            remote_as: Some(65000),
            state: "Established".into(),
            uptime: Some("00:01:00".into()),
            prefixes_sent: Some(0),
        }],
        bfd: Vec::new(),
    });
    let html = render(&doc, &View::default());
    assert!(html.contains("<h2>BGP</h2>"), "{html}");
    assert!(html.contains("withdrawn"));
    assert!(html.contains("drained by an operator &lt;script&gt;"));
    assert!(html.contains("registry 5f0c2a9e41d7b386"));
    assert!(html.contains("Established"));
    let metrics = crate::stats::metrics::render(&doc);
    assert!(
        metrics.contains("regha_bgp_vip_announced{vip=\"203.0.113.10\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("regha_bgp_vip_drained{vip=\"203.0.113.10\"} 1"));
    assert!(metrics.contains(
        "regha_service_ring_info{service=\"registry\",fingerprint=\"5f0c2a9e41d7b386\"} 1"
    ));
    assert!(metrics.contains("regha_routing_session_up{protocol=\"bgp\",peer=\"192.0.2.254\"} 1"));
}
