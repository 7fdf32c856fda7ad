//! A status document for the renderers' tests: one service, two backends
//! (one drained), a VRRP master, and a service name that needs escaping in
//! HTML (the config forbids it; the page must not rely on that).

use std::collections::BTreeMap;

use regha_model::{AdminState, BackendState, Health, IpFamily, Mac, Protocol, Role, VrrpState};

use crate::status::{
    AgentStatus, BackendStatus, BackendTraffic, HolderKind, ServiceStatus, ServiceTraffic,
    StatusDocument, VipStatus, VrrpInstanceStatus,
};

fn backend(
    address: &str,
    state: BackendState,
    admin: AdminState,
    packets: u64,
    bytes: u64,
) -> BackendTraffic {
    BackendTraffic {
        id: 0,
        address: address.parse().unwrap(),
        state,
        mac: Mac([2, 0, 0, 0, 0, 0x0b]),
        health: Some(Health::Up),
        admin: Some(admin),
        since_s: Some(125),
        last_check: Some("HTTP 200".into()),
        last_check_ok: Some(true),
        latency_ms: Some(1.5),
        packets,
        bytes,
        new_flows: packets / 10,
        syns: packets / 10,
        syn_retransmits: packets / 100,
        completions: packets / 20,
        suspect: None,
        fast_checks: false,
        weight: Some(1),
        // be1 holds the whole ring: be2 drains, and draining backends are
        // left out of it.
        ring_slots: Some(if state == BackendState::Up { 65537 } else { 0 }),
    }
}

fn health(address: &str, admin: AdminState) -> BackendStatus {
    BackendStatus {
        address: address.parse().unwrap(),
        id: Some(0),
        state: Some(BackendState::Up),
        health: Health::Up,
        since_s: 125,
        last_check: Some("HTTP 200".into()),
        latency_ms: Some(1.5),
        checks: 42,
        transitions: 1,
        mac: None,
        admin,
        last_check_ok: Some(true),
        weight: 1,
        suspect: None,
        fast_checks: false,
    }
}

pub fn document(name: &str) -> StatusDocument {
    let be1 = "192.0.2.11:5000";
    let be2 = "192.0.2.12:5000";
    let vip = "192.0.2.100".parse().unwrap();
    StatusDocument {
        iface: "eth0".into(),
        agent_running: true,
        agent: Some(AgentStatus {
            pid: 1,
            iface: "eth0".into(),
            role: Role::Master,
            vips: vec![
                VipStatus {
                    address: vip,
                    prefix: 24,
                    holder: HolderKind::Vrrp {
                        vrid: 51,
                        family: IpFamily::Ipv4,
                    },
                    held: true,
                },
                VipStatus {
                    address: "2001:db8::100".parse().unwrap(),
                    prefix: 128,
                    holder: HolderKind::Vrrp {
                        vrid: 51,
                        family: IpFamily::Ipv6,
                    },
                    held: true,
                },
            ],
            uptime_s: 3725,
            services: vec![ServiceStatus {
                name: name.into(),
                vip,
                port: 5000,
                protocol: Protocol::Tcp,
                id: Some(0),
                all_down: false,
                ring_fingerprint: Some("5f0c2a9e41d7b386".into()),
                backends: vec![
                    health(be1, AdminState::Enabled),
                    health(be2, AdminState::Drain),
                ],
            }],
            vrrp: vec![
                VrrpInstanceStatus {
                    name: "VI_51".into(),
                    vrid: 51,
                    family: IpFamily::Ipv4,
                    sync_group: Some("registry".into()),
                    state: VrrpState::Master,
                    priority: 101,
                    configured_priority: 101,
                    master: None,
                    peers: vec!["192.0.2.3".parse().unwrap()],
                    transitions: 2,
                    rejected: BTreeMap::from([("ttl".to_owned(), 3)]),
                    resigned: false,
                },
                // The same VRID over IPv6: another virtual router, failing
                // over with the first (its sync group).
                VrrpInstanceStatus {
                    name: "registry-v6".into(),
                    vrid: 51,
                    family: IpFamily::Ipv6,
                    sync_group: Some("registry".into()),
                    state: VrrpState::Master,
                    priority: 101,
                    configured_priority: 101,
                    master: None,
                    peers: Vec::new(),
                    transitions: 2,
                    rejected: BTreeMap::new(),
                    resigned: false,
                },
            ],
            ring_swaps: 4,
            last_ring_swap_s: Some(0.0125),
            settled: true,
            flow_sync: None,
            bgp: Vec::new(),
            routing: None,
        }),
        services: vec![ServiceTraffic {
            name: Some(name.into()),
            id: 0,
            vip,
            port: 5000,
            protocol: Protocol::Tcp,
            no_backend: false,
            packets: 1000,
            bytes: 4096 * 3,
            new_flows: 100,
            denied: 3,
            allow_list: true,
            ring_size: 65537,
            backends: vec![
                backend(be1, BackendState::Up, AdminState::Enabled, 750, 4096 * 2),
                backend(be2, BackendState::Draining, AdminState::Drain, 250, 4096),
            ],
        }],
        not_forwarded: BTreeMap::from([("not_ip".to_owned(), 7), ("no_backend".to_owned(), 0)]),
    }
}
