use super::*;
use crate::stats::sample;

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn traffic_is_counted_per_service_and_backend() {
    let text = render(&sample::document("registry"));
    let l = lines(&text);
    for want in [
        "# TYPE regha_backend_packets_total counter",
        r#"regha_backend_packets_total{service="registry",backend="192.0.2.11:5000"} 750"#,
        r#"regha_backend_packets_total{service="registry",backend="192.0.2.12:5000"} 250"#,
        r#"regha_backend_bytes_total{service="registry",backend="192.0.2.11:5000"} 8192"#,
        r#"regha_backend_new_flows_total{service="registry",backend="192.0.2.12:5000"} 25"#,
        r#"regha_backend_syns_total{service="registry",backend="192.0.2.11:5000"} 75"#,
        r#"regha_backend_syn_retransmits_total{service="registry",backend="192.0.2.11:5000"} 7"#,
        r#"regha_backend_completions_total{service="registry",backend="192.0.2.12:5000"} 12"#,
        r#"regha_service_packets_total{service="registry"} 1000"#,
        r#"regha_service_bytes_total{service="registry"} 12288"#,
        r#"regha_service_denied_total{service="registry"} 3"#,
        r#"regha_dataplane_not_forwarded_packets_total{reason="not_ip"} 7"#,
        r#"regha_service_ring_size{service="registry"} 65537"#,
        r#"regha_backend_weight{service="registry",backend="192.0.2.12:5000"} 1"#,
        r#"regha_backend_ring_slots{service="registry",backend="192.0.2.11:5000"} 65537"#,
        r#"regha_backend_ring_slots{service="registry",backend="192.0.2.12:5000"} 0"#,
        r#"regha_dataplane_not_forwarded_packets_total{reason="no_backend"} 0"#,
        r#"regha_backend_suspect{service="registry",backend="192.0.2.11:5000"} 0"#,
        r#"regha_backend_fast_checks{service="registry",backend="192.0.2.11:5000"} 0"#,
    ] {
        assert!(l.contains(&want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn states_are_one_gauge_per_state_in_base_units() {
    let text = render(&sample::document("registry"));
    let l = lines(&text);
    for want in [
        r#"regha_backend_up{service="registry",backend="192.0.2.11:5000"} 1"#,
        r#"regha_backend_up{service="registry",backend="192.0.2.12:5000"} 0"#,
        r#"regha_backend_state{service="registry",backend="192.0.2.12:5000",state="draining"} 1"#,
        r#"regha_backend_state{service="registry",backend="192.0.2.12:5000",state="up"} 0"#,
        r#"regha_backend_admin_state{service="registry",backend="192.0.2.12:5000",state="drain"} 1"#,
        r#"regha_backend_admin_state{service="registry",backend="192.0.2.11:5000",state="enabled"} 1"#,
        r#"regha_backend_health{service="registry",backend="192.0.2.11:5000",state="up"} 1"#,
        r#"regha_backend_check_success{service="registry",backend="192.0.2.11:5000"} 1"#,
        r#"regha_backend_check_duration_seconds{service="registry",backend="192.0.2.11:5000"} 0.0015"#,
        r#"regha_backend_checks_total{service="registry",backend="192.0.2.11:5000"} 42"#,
        r#"regha_vrrp_state{vrrp_instance="VI_51",vrid="51",family="ipv4",state="master"} 1"#,
        r#"regha_vrrp_state{vrrp_instance="VI_51",vrid="51",family="ipv4",state="backup"} 0"#,
        r#"regha_vrrp_priority{vrrp_instance="VI_51",vrid="51",family="ipv4"} 101"#,
        r#"regha_vrrp_transitions_total{vrrp_instance="VI_51",vrid="51",family="ipv4"} 2"#,
        r#"regha_vrrp_rejected_packets_total{vrrp_instance="VI_51",vrid="51",family="ipv4",reason="ttl"} 3"#,
        r#"regha_vrrp_resigned{vrrp_instance="VI_51",vrid="51",family="ipv4"} 0"#,
        // The same VRID over IPv6 is another virtual router, apart.
        r#"regha_vrrp_state{vrrp_instance="registry-v6",vrid="51",family="ipv6",state="master"} 1"#,
        r#"regha_vrrp_priority{vrrp_instance="registry-v6",vrid="51",family="ipv6"} 101"#,
        "regha_holds_vips 1",
        "regha_ring_swaps_total 4",
        "regha_ring_swap_last_duration_seconds 0.0125",
        "# TYPE regha_ring_swap_last_duration_seconds gauge",
    ] {
        assert!(l.contains(&want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn every_sample_has_help_and_type_and_the_regha_prefix() {
    let text = render(&sample::document("registry"));
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP regha_") || line.starts_with("# TYPE regha_"),
                "{line}"
            );
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(name.starts_with("regha_"), "{line}");
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}"
        );
    }
}

#[test]
fn label_values_are_escaped() {
    let text = render(&sample::document("a\"b\\c"));
    assert!(
        text.contains(r#"regha_service_packets_total{service="a\"b\\c"} 1000"#),
        "{text}"
    );
}

#[test]
fn without_an_agent_only_the_maps_speak() {
    let mut doc = sample::document("registry");
    doc.agent = None;
    let text = render(&doc);
    assert!(!text.contains("regha_vrrp_"), "{text}");
    assert!(text.contains("regha_dataplane_not_forwarded_packets_total"));
}

#[test]
fn samples_come_out_in_order_and_help_reads_as_one_sentence() {
    let text = render(&sample::document("registry"));
    assert_eq!(text, render(&sample::document("registry")), "stable");
    let packets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("regha_backend_packets_total{"))
        .collect();
    assert!(packets[0].contains("192.0.2.11") && packets[1].contains("192.0.2.12"));
    assert!(!text.contains(".."), "{text}");
}

#[test]
fn a_suspect_backend_and_its_fast_checks_are_gauges() {
    let mut doc = sample::document("registry");
    let b = &mut doc.services[0].backends[0];
    b.suspect = Some("4 connection attempts in 1000ms, none completed".into());
    b.fast_checks = true;
    let text = render(&doc);
    let l = lines(&text);
    for want in [
        r#"regha_backend_suspect{service="registry",backend="192.0.2.11:5000"} 1"#,
        r#"regha_backend_fast_checks{service="registry",backend="192.0.2.11:5000"} 1"#,
        r#"regha_backend_suspect{service="registry",backend="192.0.2.12:5000"} 0"#,
    ] {
        assert!(l.contains(&want), "missing {want:?} in:\n{text}");
    }
    let page = crate::stats::page::render(&doc, &crate::stats::history::View::default());
    assert!(page.contains("SUSPECT"), "{page}");
    assert!(page.contains("none completed"), "{page}");
}
