//! Several VRRP instances: the list form, how the single-instance map maps
//! onto it, which instance holds each service, sync groups, and every rule
//! between instances.

use super::*;

/// A dual-stack LB: an IPv4 and an IPv6 instance on the same VRID (their
/// virtual routers are apart), in one sync group, each holding a service.
const DUAL: &str = r#"
interface: eth0
vrrp:
  - name: v4
    sync_group: registry
    virtual_router_id: 51
    priority: 101
    virtual_ipaddresses: [192.0.2.100/24]
    auth_pass: "1111"
    track_backends: { min_healthy: 2, weight: -50 }
  - name: v6
    sync_group: registry
    virtual_router_id: 51
    priority: 101
    version: 3
    advert_interval: 100ms
    virtual_ipaddresses: [2001:db8::100]
    track_backends: { min_healthy: 1, weight: -50 }
services:
  - name: registry4
    vip: 192.0.2.100
    port: 5000
    backends: [{ address: 192.0.2.11 }, { address: 192.0.2.12 }]
  - name: registry6
    vip: 2001:db8::100
    port: 5000
    vrrp_instance: v6
    backends: [{ address: "2001:db8::11" }]
"#;

fn dual(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(DUAL.to_owned(), |text, (from, to)| {
        assert!(
            text.contains(from),
            "{from:?} is not in the dual-stack config"
        );
        text.replacen(from, to, 1)
    })
}

#[test]
fn a_list_of_instances_each_with_its_router_and_services() {
    let c = parse(DUAL);
    let names: Vec<&str> = c.vrrp.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["v4", "v6"]);
    let routers: Vec<String> = c.vrrp.iter().map(|v| v.router().to_string()).collect();
    assert_eq!(routers, ["51/ipv4", "51/ipv6"]);
    assert!(
        c.vrrp
            .iter()
            .all(|v| v.sync_group.as_deref() == Some("registry"))
    );
    let holders: Vec<&str> = (c.services.iter())
        .map(|s| c.holder_of(s).map_or("none", |v| v.name.as_str()))
        .collect();
    assert_eq!(holders, ["v4", "v6"], "derived from the VIP, or named");
    let held: Vec<&str> = c.services_of(&c.vrrp[1]).map(|s| s.name.as_str()).collect();
    assert_eq!(held, ["registry6"]);
    assert_eq!(c.vrrp_path(1), "vrrp[1]");
}

/// The map form is a list of one: the same instance, named `VI_<vrid>`
/// unless it says otherwise, and written back as a map.
#[test]
fn the_single_instance_map_is_a_list_of_one() {
    let c = parse(BASE);
    assert_eq!(c.vrrp.len(), 1);
    assert_eq!(c.vrrp[0].name, "VI_51");
    assert_eq!(c.vrrp_path(0), "vrrp");
    let written = c.to_yaml();
    assert!(written.contains("vrrp:\n  name: VI_51\n"), "{written}");
    let named = parse(&edit(&[(
        "  virtual_router_id: 51",
        "  name: lb\n  virtual_router_id: 51",
    )]));
    assert_eq!(named.vrrp[0].name, "lb");
    assert!(
        parse(DUAL).to_yaml().contains("vrrp:\n- name: v4\n"),
        "several are a list"
    );
}

#[test]
fn errors_in_a_listed_instance_name_its_index() {
    assert_error(
        &dual(&[(
            "    priority: 101\n    version: 3",
            "    priority: 300\n    version: 3",
        )]),
        "vrrp[1].priority",
        "300 is out of range 1..=255",
    );
    // serde's own errors (an unknown key) keep their line and column.
    let e = errors(&dual(&[("    version: 3", "    verison: 3")]));
    assert_eq!(e.len(), 1, "{}", ConfigErrors(e.clone()));
    assert!(
        e[0].path == "vrrp[1]"
            && e[0]
                .message
                .contains("line 15 column 5: unknown field `verison`"),
        "{}",
        ConfigErrors(e.clone())
    );
    assert_error(
        &MINIMAL.replace("role: master", "role: master\nvrrp: 5"),
        "vrrp",
        "expected a VRRP instance (a map) or a list of VRRP instances",
    );
    assert_error(
        &MINIMAL.replace("role: master", "role: master\nvrrp: []"),
        "vrrp",
        "an empty list",
    );
}

/// One test per refusal of an edit of [`DUAL`].
macro_rules! rejects_dual {
    ($($name:ident: [$(($from:expr, $to:expr)),+] => $path:expr, $message:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_error(&dual(&[$(($from, $to)),+]), $path, $message);
            }
        )+
    };
}

rejects_dual! {
    one_router_per_vrid_and_family:
        [("    virtual_ipaddresses: [2001:db8::100]", "    virtual_ipaddresses: [192.0.2.101]"),
         ("    version: 3\n    advert_interval: 100ms\n", "    version: 3\n    advert_interval: 100ms\n"),
         ("    vip: 2001:db8::100", "    vip: 192.0.2.101"),
         ("{ address: \"2001:db8::11\" }", "{ address: 192.0.2.13 }")]
        => "vrrp[1].virtual_router_id", "51 is also the VRID of vrrp[0] (ipv4)";
    names_are_unique:
        [("  - name: v6", "  - name: v4")] => "vrrp[1].name", "the instance name \"v4\" is also vrrp[0]'s";
    a_named_instance_must_exist:
        [("    vrrp_instance: v6", "    vrrp_instance: v7")] => "services[1].vrrp_instance", "\"v7\" is not an instance: the instances are v4, v6";
    a_named_instance_must_hold_the_vip:
        [("    vrrp_instance: v6", "    vrrp_instance: v4")] => "services[1].vip", "2001:db8::100 is not in vrrp[0].virtual_ipaddresses (instance \"v4\")";
    track_backends_counts_the_services_an_instance_holds:
        [("min_healthy: 1, weight: -50 }\nservices", "min_healthy: 2, weight: -50 }\nservices")]
        => "vrrp[1].track_backends.min_healthy", "2 is more than the 1 backends configured of the services this instance holds";
    a_peer_is_not_another_instances_vip:
        [("    sync_group: registry\n    virtual_router_id: 51\n    priority: 101\n    virtual_ipaddresses: [192.0.2.100/24]",
          "    sync_group: registry\n    virtual_router_id: 51\n    priority: 101\n    virtual_ipaddresses: [192.0.2.100/24]\n    unicast_peers: [2001:db8::100]")]
        => "vrrp[0].unicast_peers[0]", "";
    a_sync_group_is_all_owners_or_none:
        [("    priority: 101\n    version: 3", "    priority: 255\n    version: 3")]
        => "vrrp[1].priority", "255 (address owner) in sync group \"registry\"";
}

#[test]
fn default_names_that_collide_ask_for_names() {
    let yaml = "
role: master
vrrp:
  - { virtual_router_id: 51, virtual_ipaddresses: [192.0.2.100] }
  - { virtual_router_id: 51, version: 3, virtual_ipaddresses: [2001:db8::100] }
services:
  - { name: registry, vip: 192.0.2.100, port: 5000, backends: [{ address: 192.0.2.11 }] }
";
    assert_error(
        yaml,
        "vrrp[1].virtual_router_id",
        "the instance name \"VI_51\" is also vrrp[0]'s: give each instance a `name`",
    );
}

#[test]
fn a_vip_has_one_instance() {
    let yaml = "
role: master
vrrp:
  - { name: a, virtual_router_id: 51, virtual_ipaddresses: [192.0.2.100, 192.0.2.101] }
  - { name: b, virtual_router_id: 52, virtual_ipaddresses: [192.0.2.101] }
services:
  - { name: registry, vip: 192.0.2.100, port: 5000, backends: [{ address: 192.0.2.11 }] }
";
    assert_error(
        yaml,
        "vrrp[1].virtual_ipaddresses",
        "192.0.2.101 is also a virtual address of vrrp[0]: one instance holds a VIP",
    );
}

#[test]
fn a_service_naming_an_instance_needs_vrrp() {
    assert_error(
        &MINIMAL.replace("    port: 5000", "    port: 5000\n    vrrp_instance: v4"),
        "services[0].vrrp_instance",
        "there is no `vrrp` section",
    );
}

#[test]
fn an_instance_holding_no_service_tracks_no_backends() {
    let yaml = dual(&[(
        "  - name: registry6\n    vip: 2001:db8::100\n    port: 5000\n    vrrp_instance: v6\n    backends: [{ address: \"2001:db8::11\" }]\n",
        "",
    )]);
    assert_error(
        &yaml,
        "vrrp[1].track_backends.min_healthy",
        "the instance holds no service's VIP",
    );
}

#[test]
fn sync_group_warnings() {
    let paths = |yaml: &str| -> Vec<String> {
        parse(yaml)
            .warnings()
            .into_iter()
            .filter(|w| w.message.contains("sync group") || w.path.ends_with("sync_group"))
            .map(|w| w.path)
            .collect()
    };
    assert_eq!(
        paths(DUAL),
        Vec::<String>::new(),
        "the same weights on both"
    );
    let lone = dual(&[(
        "    sync_group: registry\n    virtual_router_id: 51\n    priority: 101\n    version: 3",
        "    virtual_router_id: 51\n    priority: 101\n    version: 3",
    )]);
    assert_eq!(paths(&lone), ["vrrp[0].sync_group"]);
    let uneven = dual(&[(
        "min_healthy: 1, weight: -50 }\nservices",
        "min_healthy: 1, weight: -20 }\nservices",
    )]);
    assert_eq!(
        paths(&uneven),
        [
            "vrrp[0].track_backends.weight",
            "vrrp[1].track_backends.weight"
        ]
    );
}
