//! `regha-agent status`: the dataplane as the pinned maps show it, with
//! names and health from the running agent's state file when it runs.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::{
    agent::{AgentOptions, load_config},
    dataplane::MapWriter,
    status::{StatusDocument, document, file, render},
};

/// The interface: `--iface`, or the config's.
pub(super) fn iface(opts: &AgentOptions) -> Result<String> {
    match &opts.iface {
        Some(i) => Ok(i.clone()),
        None => load_config(opts)
            .ok()
            .and_then(|c| c.interface)
            .context("no interface: pass --iface (or a config that names one)"),
    }
}

pub fn run(opts: &AgentOptions, json: bool) -> Result<ExitCode> {
    let iface = iface(opts)?;
    let pin_dir = opts.bpffs_root.join(&iface);
    if !pin_dir.join("services").exists() {
        bail!(
            "no regha dataplane on {iface}: nothing pinned in {}",
            pin_dir.display()
        );
    }
    let maps = MapWriter::open(&pin_dir)?;
    let agent = file::read(&opts.state_dir, &iface);
    let status = document::build(&maps, &iface, agent)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_table(&status);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(s: &StatusDocument) {
    match &s.agent {
        Some(a) => println!(
            "interface {}  role {}  VIPs {}  agent pid {} (up {}s)  health view {}",
            s.iface,
            a.role,
            render::vips(&a.vips),
            a.pid,
            a.uptime_s,
            if a.settled {
                "settled"
            } else {
                "settling (no preemption)"
            }
        ),
        None => println!(
            "interface {}  agent not running (dataplane pinned)",
            s.iface
        ),
    }
    for v in s.agent.iter().flat_map(|a| &a.vrrp) {
        println!(
            "vrrp {}  state {}{}  priority {} (configured {})  master {}  peers {}  transitions {}",
            render::instance(v),
            v.state,
            if v.resigned {
                format!(" ({})", render::RESIGNED)
            } else {
                String::new()
            },
            v.priority,
            v.configured_priority,
            render::master_heard(v),
            render::peers(v),
            v.transitions
        );
    }
    if let Some(fs) = s.agent.as_ref().and_then(|a| a.flow_sync.as_ref()) {
        print_flow_sync(fs);
    }
    if let Some(a) = &s.agent {
        print_bgp(a);
    }
    for svc in &s.services {
        println!();
        println!(
            "service {} [{}] {}/{}{}  packets {}  bytes {}  new flows {}{}",
            svc.name.as_deref().unwrap_or("?"),
            svc.id,
            std::net::SocketAddr::new(svc.vip, svc.port),
            svc.protocol,
            if svc.no_backend { "  NO BACKEND" } else { "" },
            svc.packets,
            svc.bytes,
            svc.new_flows,
            if svc.allow_list {
                format!("  denied {}", svc.denied)
            } else {
                String::new()
            }
        );
        println!(
            "  {:>4}  {:<22} {:<9} {:<9} {:<17} {:<8} {:>10} {:>12} {:>9}  last check",
            "id", "backend", "state", "admin", "mac", "health", "packets", "bytes", "flows"
        );
        for b in &svc.backends {
            println!(
                "  {:>4}  {:<22} {:<9} {:<9} {:<17} {:<8} {:>10} {:>12} {:>9}  {}",
                b.id,
                b.address.to_string(),
                b.state.as_str(),
                b.admin.map_or("-", |a| a.as_str()),
                b.mac.to_string(),
                b.health.map_or("-", |h| h.as_str()),
                b.packets,
                b.bytes,
                b.new_flows,
                b.last_check.as_deref().unwrap_or("-")
            );
            match (&b.suspect, b.fast_checks) {
                (Some(reason), _) => {
                    println!("        SUSPECT ({reason}): checks at the fast interval")
                }
                (None, true) => println!("        in transition: checks at the fast interval"),
                (None, false) => {}
            }
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

/// BGP mode: each VIP announced or not and why, each service's ring
/// fingerprint, FRR's sessions.
fn print_bgp(a: &crate::status::AgentStatus) {
    for b in &a.bgp {
        println!(
            "bgp {}  {}  route proto {}  ({})",
            b.vip,
            if b.announced {
                "ANNOUNCED"
            } else {
                "withdrawn"
            },
            b.route_protocol,
            b.reason
        );
    }
    if !a.bgp.is_empty() {
        for svc in &a.services {
            if let Some(f) = &svc.ring_fingerprint {
                println!("ring {}  fingerprint {f}", svc.name);
            }
        }
    }
    if let Some(r) = &a.routing {
        if let Some(e) = &r.error {
            println!("frr  not readable: {e}");
        }
        for p in &r.bgp {
            println!(
                "frr bgp {} ({})  {}  up {}  prefixes sent {}",
                p.peer,
                p.afi,
                p.state,
                p.uptime.as_deref().unwrap_or("-"),
                p.prefixes_sent.map_or("-".to_owned(), |n| n.to_string())
            );
        }
        for p in &r.bfd {
            println!(
                "frr bfd {}  {}  detect {}",
                p.peer,
                p.status,
                p.detect_ms.map_or("-".to_owned(), |n| format!("{n} ms"))
            );
        }
    }
}

fn print_flow_sync(fs: &crate::flowsync::FlowSyncStatus) {
    let to: Vec<String> = fs.to.iter().map(ToString::to_string).collect();
    let nonzero = |kinds: &[(String, u64)]| {
        let v: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    println!(
        "flow sync  to {}  rings {}  sent {} flows ({} lost, {} dropped; table resent {} times)  received {}  applied {} ({} waiting for their backend)  not applied: {}  rejected: {}",
        to.join(", "),
        fs.fingerprint,
        fs.sent_flows,
        fs.lost,
        fs.dropped,
        fs.resyncs,
        fs.received_flows,
        fs.applied,
        fs.held,
        nonzero(&fs.not_applied),
        nonzero(&fs.rejected),
    );
    if fs.peers.is_empty() {
        println!("  no peer heard yet");
    }
    for p in &fs.peers {
        println!(
            "  peer {}  rings {} ({})  view {}  last heard {}s ago",
            p.address,
            p.fingerprint,
            if p.same_rings {
                "the same as here"
            } else {
                "DIFFERENT from here: the two LBs pick other backends for some new flows"
            },
            if p.settled { "settled" } else { "settling" },
            p.last_seen_s,
        );
    }
}
