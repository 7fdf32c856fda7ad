//! The answer as text, for a person at a terminal.

use std::{fmt::Write, net::SocketAddr};

use super::{BackendInfo, Explanation, FlowEntry, Outcome, ServiceAnswer, Via};

/// The whole answer, one block per service.
pub fn text(x: &Explanation) -> String {
    let mut out = String::new();
    match x.client_port {
        Some(p) => {
            let _ = writeln!(out, "client {}", SocketAddr::new(x.client, p));
        }
        None => {
            let _ = writeln!(out, "client {} (no port: source hash only)", x.client);
        }
    }
    for s in &x.services {
        out.push('\n');
        service(&mut out, s, x.client_port.is_some());
    }
    out
}

fn service(out: &mut String, s: &ServiceAnswer, with_port: bool) {
    let _ = writeln!(
        out,
        "service {}[{}] {}/{}  hash {}  seed {:#010x}  generation {}",
        s.name
            .as_deref()
            .map(|n| format!("{n} "))
            .unwrap_or_default(),
        s.id,
        SocketAddr::new(s.vip, s.port),
        s.protocol,
        s.hash,
        s.seed,
        s.generation
    );
    let ring = match &s.ring_backend {
        Some(b) => backend(b),
        None => "no backend (no ring)".into(),
    };
    let _ = writeln!(
        out,
        "  hash {:#010x} -> ring slot {} of {} -> {}",
        s.hash_value, s.slot, s.ring_size, ring
    );
    let _ = writeln!(out, "  new connection:  {}", outcome(s.new_connection));
    if with_port {
        let _ = writeln!(out, "  flow table:      {}", entry(s.flow.as_ref()));
        let _ = writeln!(out, "  flow cache:      {}", entry(s.flow_cache.as_ref()));
        if let Some(o) = s.established {
            let mut line = outcome(o);
            if matches!(o, Outcome::Forward { via: Via::Ring, .. }) {
                line.push_str(", as a connection seen mid-way: no flow state it trusts");
            }
            let _ = writeln!(out, "  next packet:     {line}");
        }
    } else {
        let _ = writeln!(
            out,
            "  flow state:      pass --port to see one connection's flow-table entry"
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

fn backend(b: &BackendInfo) -> String {
    match b.address {
        Some(a) => format!("backend {} {} ({}, {})", b.id, a, b.mac, b.state),
        None => format!("backend {} (unused id, {})", b.id, b.state),
    }
}

fn outcome(o: Outcome) -> String {
    match o {
        Outcome::Forward { backend, via } => format!(
            "backend {backend} ({})",
            match via {
                Via::FlowCache => "the flow cache's copy",
                Via::FlowTable => "the flow table",
                Via::Ring => "the ring",
            }
        ),
        Outcome::Drop { reason } => format!("dropped, counted {reason}"),
    }
}

fn entry(e: Option<&FlowEntry>) -> String {
    let Some(e) = e else {
        return "none".into();
    };
    let mut s = String::new();
    if let Some(slot) = e.slot {
        let _ = write!(s, "slot {slot}: ");
    }
    let _ = write!(
        s,
        "{}, service {} generation {} (now {})",
        backend(&e.backend),
        e.service_id,
        e.service_gen,
        e.current_gen
    );
    if e.closing == Some(true) {
        s.push_str(", closing");
    }
    match &e.untrusted_because {
        None => s.push_str(": trusted"),
        Some(why) => {
            let _ = write!(s, ": NOT trusted, {why}");
        }
    }
    s
}
