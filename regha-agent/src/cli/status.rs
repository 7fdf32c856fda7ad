//! `regha-agent status`: the dataplane as the pinned maps show it, with
//! names and health from the running agent's state file when it runs.

use std::{collections::BTreeMap, process::ExitCode};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::{
    agent::{AgentOptions, load_config, state},
    dataplane::MapWriter,
};

#[derive(Serialize)]
struct Status {
    iface: String,
    agent_running: bool,
    agent: Option<state::AgentState>,
    services: Vec<ServiceTraffic>,
    not_forwarded: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct ServiceTraffic {
    name: Option<String>,
    id: u32,
    vip: String,
    port: u16,
    proto: u8,
    no_backend: bool,
    packets: u64,
    bytes: u64,
    new_flows: u64,
    backends: Vec<BackendTraffic>,
}

#[derive(Serialize)]
struct BackendTraffic {
    id: u32,
    address: String,
    state: &'static str,
    mac: String,
    health: Option<String>,
    last_check: Option<String>,
    packets: u64,
    bytes: u64,
    new_flows: u64,
}

fn state_name(s: u8) -> &'static str {
    match s {
        regha_common::BACKEND_UP => "up",
        regha_common::BACKEND_DRAINING => "draining",
        _ => "down",
    }
}

pub fn run(opts: &AgentOptions, json: bool) -> Result<ExitCode> {
    let iface = match &opts.iface {
        Some(i) => i.clone(),
        None => load_config(opts)
            .ok()
            .and_then(|c| c.interface)
            .context("no interface: pass --iface (or a config that names one)")?,
    };
    let pin_dir = opts.bpffs_root.join(&iface);
    if !pin_dir.join("services").exists() {
        bail!(
            "no regha dataplane on {iface}: nothing pinned in {}",
            pin_dir.display()
        );
    }
    let maps = MapWriter::open(&pin_dir)?;
    let agent = state::read(&opts.state_dir, &iface);
    let mut services = Vec::new();
    for (key, value) in maps.service_entries()? {
        if key.port == regha_common::FRAGMENT_PORT {
            continue; // the fragment alias of a service listed anyway
        }
        let Some(vip) = crate::dataplane::ip_of(&key.addr, key.family) else {
            continue;
        };
        let c = maps.service_counters(value.id)?;
        let svc_state = agent
            .as_ref()
            .and_then(|a| a.services.iter().find(|s| s.id == Some(value.id)));
        let mut backends = Vec::new();
        if let Some(s) = svc_state {
            for b in &s.backends {
                let Some(id) = b.id else { continue };
                let be = maps.backend(id)?;
                let bc = maps.backend_counters(id)?;
                backends.push(BackendTraffic {
                    id,
                    address: b.address.clone(),
                    state: state_name(be.state),
                    mac: crate::net::mac_str(be.mac),
                    health: Some(b.health.clone()),
                    last_check: b.last_check.clone(),
                    packets: bc.packets,
                    bytes: bc.bytes,
                    new_flows: bc.new_flows,
                });
            }
        }
        services.push(ServiceTraffic {
            name: svc_state.map(|s| s.name.clone()),
            id: value.id,
            vip: vip.to_string(),
            port: key.port,
            proto: key.proto,
            no_backend: value.flags & regha_common::SERVICE_F_NO_BACKEND != 0,
            packets: c.packets,
            bytes: c.bytes,
            new_flows: c.new_flows,
            backends,
        });
    }
    services.sort_by_key(|s| s.id);
    let mut not_forwarded = BTreeMap::new();
    for r in regha_common::Reason::ALL {
        not_forwarded.insert(r.name().to_owned(), maps.reason_count(r)?);
    }
    let status = Status {
        iface,
        agent_running: agent.is_some(),
        agent,
        services,
        not_forwarded,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_table(&status);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(s: &Status) {
    match &s.agent {
        Some(a) => println!(
            "interface {}  role {}  VIPs {}  agent pid {} (up {}s)",
            s.iface,
            a.role,
            a.vips.join(", "),
            a.pid,
            a.uptime_s
        ),
        None => println!(
            "interface {}  agent not running (dataplane pinned)",
            s.iface
        ),
    }
    for svc in &s.services {
        println!();
        println!(
            "service {} [{}] {}:{} proto {}{}  packets {}  bytes {}  new flows {}",
            svc.name.as_deref().unwrap_or("?"),
            svc.id,
            svc.vip,
            svc.port,
            svc.proto,
            if svc.no_backend { "  NO BACKEND" } else { "" },
            svc.packets,
            svc.bytes,
            svc.new_flows
        );
        println!(
            "  {:>4}  {:<22} {:<9} {:<17} {:<8} {:>10} {:>12} {:>9}  last check",
            "id", "backend", "state", "mac", "health", "packets", "bytes", "flows"
        );
        for b in &svc.backends {
            println!(
                "  {:>4}  {:<22} {:<9} {:<17} {:<8} {:>10} {:>12} {:>9}  {}",
                b.id,
                b.address,
                b.state,
                b.mac,
                b.health.as_deref().unwrap_or("-"),
                b.packets,
                b.bytes,
                b.new_flows,
                b.last_check.as_deref().unwrap_or("-")
            );
        }
    }
    println!();
    let reasons: Vec<String> = s
        .not_forwarded
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("not forwarded: {}", reasons.join(", "));
}
