//! `services:` and their backends: what is accepted, the bounds on counts,
//! and every refusal of the two sections.

use super::*;

#[test]
fn one_vip_and_port_may_carry_tcp_and_udp() {
    let yaml = edit(&[
        ("vip: 192.0.2.101\n", "vip: 192.0.2.100\n"),
        ("    port: 9000\n", "    port: 5000\n"),
    ]);
    assert_eq!(parse(&yaml).services.len(), 2);
}

#[test]
fn a_mac_may_be_written_with_dashes() {
    let c = parse(&edit(&[("02:00:00:00:00:12", "02-00-00-00-00-AB")]));
    assert_eq!(c.services[0].backends[1].mac, Some([2, 0, 0, 0, 0, 0xab]));
}

#[test]
fn service_and_backend_counts_are_bounded() {
    let service = |i: usize, backends: usize| {
        let list: String = (0..backends)
            .map(|j| {
                format!(
                    "      - {{ address: 10.{}.{}.{} }}\n",
                    i,
                    j / 250,
                    j % 250 + 1
                )
            })
            .collect();
        format!(
            "  - name: s{i}\n    vip: 192.0.2.100\n    port: {}\n    backends:\n{list}",
            1000 + i
        )
    };
    let config = |services: usize, backends: usize| {
        let list: String = (0..services).map(|i| service(i, backends)).collect();
        format!("role: master\nservices:\n{list}")
    };
    assert_eq!(parse(&config(1, 1024)).services[0].backends.len(), 1024);
    assert_error(
        &config(1, 1025),
        "services[0].backends",
        "1025 backends: at most 1024 per service",
    );
    assert_error(&config(257, 1), "services", "257 services: at most 256");
    assert_error(
        &config(5, 1000),
        "services",
        "5000 backends in all: the dataplane holds at most 4096",
    );
}

#[test]
fn allow_lists_networks_and_hosts_and_defaults_to_everyone() {
    let c = parse(BASE);
    let allow: Vec<String> = c.services[0]
        .allow
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(allow, ["198.51.100.0/24", "203.0.113.7/32"]);
    assert!(c.services[1].allow.is_empty());
    let v6 = "role: master\nservices:\n  - name: r6\n    vip: 2001:db8::100\n    port: 5000\n    allow: [\"2001:db8:1::/48\"]\n    backends: [{ address: \"2001:db8::11\" }]\n";
    assert_eq!(
        parse(v6).services[0].allow[0].to_string(),
        "2001:db8:1::/48"
    );
}

#[test]
fn allow_prefixes_are_bounded_in_all() {
    let list: Vec<String> = (0..65_537u32)
        .map(|i| format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let yaml = format!(
        "role: master\nservices:\n  - name: r\n    vip: 192.0.2.100\n    port: 5000\n    allow: [{}]\n    backends: [{{ address: 192.0.2.11 }}]\n",
        list.join(", ")
    );
    assert_error(
        &yaml,
        "services",
        "65537 `allow` prefixes in all: the dataplane holds at most 65536",
    );
}

rejects! {
    allow_not_a_network: [("allow: [198.51.100.0/24,", "allow: [office,")] => "services[0].allow[0]", "\"office\" is not an IP network (not an IP address): write ADDRESS/LENGTH";
    allow_host_bits_set: [("allow: [198.51.100.0/24,", "allow: [198.51.100.1/24,")] => "services[0].allow[0]", "bits set past the prefix length";
    allow_length_too_long: [("allow: [198.51.100.0/24,", "allow: [198.51.100.0/33,")] => "services[0].allow[0]", "the length must be 0 to 32";
    allow_other_family: [("allow: [198.51.100.0/24,", "allow: [\"2001:db8::/32\",")] => "services[0].allow[0]", "2001:db8::/32 is IPv6, but the vip 192.0.2.100 is IPv4";
    allow_twice: [("203.0.113.7]", "198.51.100.0/24]")] => "services[0].allow[1]", "198.51.100.0/24 is also services[0].allow[0]: list each network once";
    allow_empty: [("allow: [198.51.100.0/24, 203.0.113.7]", "allow: []")] => "services[0].allow", "empty: list the source networks allowed, or leave `allow` out";

    name_missing: [("  - name: metrics\n    vip", "  - vip")] => "services[1].name", "required";
    name_with_space: [("name: metrics", "name: \"my metrics\"")] => "services[1].name", "contains ' ': use only A-Z a-z 0-9 _ . -";
    name_too_long: [("name: metrics", &format!("name: {}", "m".repeat(64)))] => "services[1].name", "is longer than 63 bytes";
    name_empty: [("name: metrics", "name: \"\"")] => "services[1].name", "empty";
    name_twice: [("name: metrics", "name: registry")] => "services[1].name", "\"registry\" is also the name of services[0]";
    same_vip_port_protocol: [("vip: 192.0.2.101\n", "vip: 192.0.2.100\n"), ("    port: 9000\n", "    port: 5000\n"), ("protocol: udp", "protocol: tcp")] => "services[1]", "192.0.2.100 port 5000/tcp is also services[0]";
    vip_missing: [("    vip: 192.0.2.101\n", "")] => "services[1].vip", "required";
    vip_a_name: [("vip: 192.0.2.101\n", "vip: registry.example\n")] => "services[1].vip", "\"registry.example\" is not an IP address";
    vip_unspecified: [("vip: 192.0.2.101\n", "vip: 0.0.0.0\n")] => "services[1].vip", "0.0.0.0 is the unspecified address";
    vip_loopback: [("vip: 192.0.2.101\n", "vip: 127.0.0.1\n")] => "services[1].vip", "127.0.0.1 is a loopback address";
    vip_broadcast: [("vip: 192.0.2.101\n", "vip: 255.255.255.255\n")] => "services[1].vip", "is the broadcast address";
    port_missing: [("    port: 9000\n", "")] => "services[1].port", "required: an integer in 1..=65535";
    port_too_high: [("    port: 9000\n", "    port: 70000\n")] => "services[1].port", "70000 is out of range 1..=65535";
    protocol_unknown: [("protocol: udp", "protocol: sctp")] => "services[1].protocol", "\"sctp\" is not one of: tcp, udp";
    hash_unknown: [("hash: flow", "hash: random")] => "services[1].hash", "\"random\" is not one of: source, flow";
    forwarding_not_dsr: [("forwarding: dsr", "forwarding: ipip")] => "services[0].forwarding", "\"ipip\" is not implemented: only `dsr`";
    ring_not_prime: [("ring_size: 65537", "ring_size: 65536")] => "services[0].ring_size", "65536 is not prime: Maglev needs a prime size; try 65537";
    ring_not_prime_near_the_limit: [("ring_size: 65537", "ring_size: 16777215")] => "services[0].ring_size", "try 16777213";
    ring_too_big: [("ring_size: 65537", "ring_size: 16777217")] => "services[0].ring_size", "16777217 is out of range 1..=16777216";
    ring_smaller_than_backends: [("ring_size: 65537", "ring_size: 2"), ("      - { address: 192.0.2.12,", "      - { address: 192.0.2.13 }\n      - { address: 192.0.2.12,")] => "services[0].ring_size", "2 is smaller than the 3 backends";

    backends_missing: [("    backends:\n      - { address: 192.0.2.21 }\n", "")] => "services[1].backends", "required: at least one backend";
    backends_empty: [("    backends:\n      - { address: 192.0.2.21 }\n", "    backends: []\n")] => "services[1].backends", "empty: at least one backend is required";
    backend_address_missing: [("{ address: 192.0.2.21 }", "{ weight: 1 }")] => "services[1].backends[0].address", "required";
    backend_address_not_an_ip: [("address: 192.0.2.12,", "address: 10.0.0.300,")] => "services[0].backends[1].address", "\"10.0.0.300\" is not an IP address";
    backend_other_family: [("{ address: 192.0.2.21 }", "{ address: \"2001:db8::21\" }")] => "services[1].backends[0].address", "2001:db8::21 is not of the family of the service vip 192.0.2.101: DSR at L2 needs the same family";
    backend_is_the_vip: [("{ address: 192.0.2.21 }", "{ address: 192.0.2.101 }")] => "services[1].backends[0].address", "192.0.2.101 is the service vip";
    backend_multicast: [("{ address: 192.0.2.21 }", "{ address: 239.1.1.1 }")] => "services[1].backends[0].address", "239.1.1.1 is a multicast address";
    backend_port_differs_under_dsr: [("port: 5000, weight: 1", "port: 5001, weight: 1")] => "services[0].backends[0].port", "5001 is not the service port 5000: DSR forwards packets unchanged";
    backend_port_zero: [("port: 5000, weight: 1", "port: 0, weight: 1")] => "services[0].backends[0].port", "0 is out of range 1..=65535";
    backend_weight_zero: [("weight: 2,", "weight: 0,")] => "services[0].backends[1].weight", "0 is out of range 1..=65535";
    backend_weight_too_high: [("weight: 2,", "weight: 65536,")] => "services[0].backends[1].weight", "65536 is out of range 1..=65535";
    backend_mac_short: [("02:00:00:00:00:12", "02:00:00:00:12")] => "services[0].backends[1].mac", "\"02:00:00:00:12\" is not a MAC address";
    backend_mac_not_hex: [("02:00:00:00:00:12", "02:00:00:00:00:zz")] => "services[0].backends[1].mac", "is not a MAC address";
    backend_mac_multicast: [("02:00:00:00:00:12", "01:00:5e:00:00:12")] => "services[0].backends[1].mac", "01:00:5e:00:00:12 is a multicast MAC";
    backend_mac_zero: [("02:00:00:00:00:12", "00:00:00:00:00:00")] => "services[0].backends[1].mac", "is all zeros";
    backend_listed_twice_even_on_a_wrong_port: [("address: 192.0.2.12,", "address: 192.0.2.11, port: 5001,"), ("port: 5000, weight: 1", "port: 5001, weight: 1")] => "services[0].backends[1]", "192.0.2.11:5001 is listed twice (also services[0].backends[0])";
    backend_listed_twice: [("address: 192.0.2.12,", "address: 192.0.2.11,")] => "services[0].backends[1]", "192.0.2.11:5000 is listed twice (also services[0].backends[0])";
}
