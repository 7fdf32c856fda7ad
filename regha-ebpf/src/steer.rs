//! Choosing the backend: flow table first, then the service's Maglev ring.

use aya_ebpf::bindings::BPF_ANY;
use regha_common::{
    BACKEND_DRAINING, BACKEND_UP, Backend, FRAGMENT_PORT, FlowKey, FlowValue, Reason,
    SERVICE_F_HASH_FLOW, SERVICE_F_NO_BACKEND, ServiceKey, ServiceValue, hash, store_addr_words,
};

use crate::{
    maps::{BACKENDS, FLOWS, RINGS, SERVICES},
    parse::Packet,
};

/// Where a packet goes.
pub struct Choice {
    pub service_id: u32,
    pub backend_id: u32,
    pub backend: Backend,
    /// Chosen by hashing (a new flow) rather than found in the flow table.
    pub new_flow: bool,
}

/// Looks up the packet's service: `VIP:port/proto`, or for a later IPv4
/// fragment (no ports) the `VIP:0/proto` alias the agent writes for
/// source-hashed services.
#[inline(always)]
pub fn service(pkt: &Packet) -> Result<ServiceValue, Reason> {
    let mut key = ServiceKey {
        addr: [0; 16],
        port: if pkt.later_fragment {
            FRAGMENT_PORT
        } else {
            pkt.dport
        },
        proto: pkt.proto,
        family: pkt.family,
    };
    store_addr_words(&mut key.addr, pkt.dst);
    // SAFETY: the value is copied out at once, before any map update.
    match unsafe { SERVICES.get(&key) } {
        Some(v) => Ok(*v),
        None => Err(Reason::NotService),
    }
}

#[inline(always)]
fn backend(id: u32) -> Option<Backend> {
    // SAFETY: copied out at once; the agent replaces values whole.
    unsafe { BACKENDS.get(id) }.copied()
}

/// Picks the backend for `pkt` of service `svc`.
#[inline(always)]
pub fn choose(pkt: &Packet, svc: &ServiceValue) -> Result<Choice, Reason> {
    if svc.flags & SERVICE_F_NO_BACKEND != 0 {
        return Err(Reason::NoBackend);
    }
    let hash_flow = svc.flags & SERVICE_F_HASH_FLOW != 0;
    if pkt.fragment {
        // Fragments carry no ports past the first, so only the client's
        // source can keep them together: all fragments of a datagram reach
        // the same backend through the ring, never through the flow table.
        if hash_flow {
            return Err(Reason::Unsupported);
        }
        return ring_pick(pkt, svc, false);
    }

    let mut key = FlowKey {
        src: [0; 16],
        dst: [0; 16],
        sport: pkt.sport,
        dport: pkt.dport,
        proto: pkt.proto,
        family: pkt.family,
        _pad: [0; 2],
    };
    store_addr_words(&mut key.src, pkt.src);
    store_addr_words(&mut key.dst, pkt.dst);
    // A SYN opens a new connection: whatever an old entry says, hash it.
    if !pkt.syn {
        // SAFETY: the id is copied out before the insert below.
        if let Some(id) = unsafe { FLOWS.get(&key) }.map(|v| v.backend_id)
            && let Some(b) = backend(id)
            && (b.state == BACKEND_UP || b.state == BACKEND_DRAINING)
        {
            return Ok(Choice {
                service_id: svc.id,
                backend_id: id,
                backend: b,
                new_flow: false,
            });
        }
        // Missing, or its backend is down: fall through and replace it.
    }
    let choice = ring_pick(pkt, svc, hash_flow)?;
    // A full table evicts its least recently used entry; an insert can only
    // fail on memory pressure, and then the flow is still steered by hash.
    let _ = FLOWS.insert(
        &key,
        &FlowValue {
            backend_id: choice.backend_id,
        },
        BPF_ANY as u64,
    );
    Ok(choice)
}

/// The backend in the service's Maglev ring for this packet's hash.
#[inline(always)]
fn ring_pick(pkt: &Packet, svc: &ServiceValue, hash_flow: bool) -> Result<Choice, Reason> {
    let h = if hash_flow {
        hash::hash_flow_words(
            &pkt.src, &pkt.dst, pkt.sport, pkt.dport, pkt.proto, svc.seed,
        )
    } else {
        hash::hash_source_words(&pkt.src, svc.seed)
    };
    if svc.ring_size == 0 {
        return Err(Reason::NoBackend);
    }
    let slot = h % svc.ring_size;
    let id = *RINGS.get_value(svc.id, &slot).ok_or(Reason::NoBackend)?;
    match backend(id) {
        // Only up backends take new flows; the agent builds rings from up
        // backends, so anything else here is a table being replaced.
        Some(b) if b.state == BACKEND_UP => Ok(Choice {
            service_id: svc.id,
            backend_id: id,
            backend: b,
            new_flow: true,
        }),
        _ => Err(Reason::NoBackend),
    }
}
