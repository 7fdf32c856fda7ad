use super::*;
use crate::stats::sample;

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
    let html = render(&sample::document("registry"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(
        html.contains("<h2>service registry &mdash; 192.0.2.100:5000/tcp</h2>"),
        "{html}"
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
    let html = render(&sample::document("<img src=x onerror=alert(1)>"));
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn a_resigned_instance_says_how_to_rejoin() {
    let mut doc = sample::document("registry");
    let v = &mut doc.agent.as_mut().unwrap().vrrp[0];
    v.resigned = true;
    v.state = regha_model::VrrpState::Initialize;
    let html = render(&doc);
    assert!(html.contains("resigned"));
    assert!(html.contains("regha-agent vrrp resume"));
}
