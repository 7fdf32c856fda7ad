//! Choosing the backend: the flow table first, then the service's Maglev ring.
//!
//! Established flow: port bitmap (array) -> `FLOWS` (the one hash lookup)
//! -> service generation (array) -> backend (array).
//! New flow: port bitmap -> `SERVICES` (hash) -> ring (array of arrays)
//! -> backend (array) -> `FLOWS` insert.

use aya_ebpf::bindings::BPF_ANY;
use regha_common::{
    BACKEND_DRAINING, BACKEND_STATE_SHIFT, BACKEND_UP, FRAGMENT_PORT, FlowKey, FlowValue, Reason,
    SERVICE_F_HASH_FLOW, SERVICE_F_NO_BACKEND, ServiceKey, ServiceValue, hash, store_addr_words,
};

use crate::{
    maps::{BACKENDS, FLOWS, RINGS, SERVICE_GENS, SERVICE_PORTS, SERVICES},
    parse::Packet,
};

/// Where a packet goes.
pub struct Choice {
    pub service_id: u32,
    pub backend_id: u32,
    pub mac: [u8; 6],
    /// Chosen by hashing (a new flow) rather than found in the flow table.
    pub new_flow: bool,
}

/// Whether some service listens on `port` (any address, any protocol).
#[inline(always)]
fn port_in_use(port: u16) -> bool {
    match SERVICE_PORTS.get_ptr(u32::from(port >> 6)) {
        Some(w) => {
            // SAFETY: `get_ptr` returned a non-null pointer to slot
            // `port >> 6` of the array (the verifier knows it points at one
            // 8-byte, 8-aligned value); array slots live as long as the map.
            // Volatile: the agent rewrites the word through the mmap at any
            // time, with one atomic store, so one load sees a whole word.
            let word = unsafe { core::ptr::read_volatile(w) };
            word & (1u64 << (port & 63)) != 0
        }
        None => false,
    }
}

/// A backend's MAC and state, read with one load (see `regha_common::Backend`).
#[inline(always)]
fn backend(id: u32) -> Option<([u8; 6], u8)> {
    let p = BACKENDS.get_ptr(id)?;
    // SAFETY: `get_ptr` returned a non-null pointer to slot `id`, which
    // holds a `Backend` (32 bytes, 8-byte aligned: the first 8 are in
    // bounds and aligned for a u64); its first word is stored atomically by
    // the agent through the mmap, so one volatile load sees one whole update.
    let hot = unsafe { core::ptr::read_volatile(p.cast::<u64>()) };
    let b = hot.to_le_bytes();
    Some((
        [b[0], b[1], b[2], b[3], b[4], b[5]],
        (hot >> BACKEND_STATE_SHIFT) as u8,
    ))
}

/// Picks the backend for `pkt`, or says why there is none. `to_us`: the
/// frame's destination MAC is this interface's.
#[inline(always)]
pub fn choose(pkt: &Packet, to_us: bool) -> Result<Choice, Reason> {
    // Later fragments carry no port: they go straight to the alias lookup.
    if !pkt.later_fragment && !port_in_use(pkt.dport) {
        return Err(Reason::NotService);
    }
    // A frame for another host (flooded, or seen in promiscuous mode) is
    // that host's to forward: steering it too would duplicate it, and would
    // keep a failed LB's clients "served" by whichever LB hears the flood.
    if !to_us {
        return Err(Reason::OtherHost);
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

    // A SYN opens a new connection, whatever an old entry says; fragments
    // never use the flow table (see `ring_pick`).
    // Otherwise a missing or stale entry, or one whose backend is down, is
    // replaced below.
    if !pkt.syn
        && !pkt.fragment
        && let Some(c) = flow_hit(&key)
    {
        return Ok(c);
    }

    let svc = service(pkt)?;
    if svc.flags & SERVICE_F_NO_BACKEND != 0 {
        return Err(Reason::NoBackend);
    }
    let hash_flow = svc.flags & SERVICE_F_HASH_FLOW != 0;
    if pkt.fragment {
        // Fragments carry no ports past the first, so only the client's
        // source can keep them together: every fragment of a datagram reaches
        // the backend of the source hash, never through the flow table.
        if hash_flow {
            return Err(Reason::Unsupported);
        }
        return ring_pick(pkt, &svc, false);
    }
    let choice = ring_pick(pkt, &svc, hash_flow)?;
    // A full table evicts its least recently used entry; an insert fails only
    // under memory pressure, and then the flow is still steered by hash.
    let _ = FLOWS.insert(
        key,
        FlowValue {
            backend_id: choice.backend_id,
            service_id: svc.id,
            service_gen: svc.generation,
        },
        BPF_ANY as u64,
    );
    Ok(choice)
}

/// The flow table's backend for this connection, if the entry is still good:
/// its service incarnation is current and its backend takes existing flows.
#[inline(always)]
fn flow_hit(key: &FlowKey) -> Option<Choice> {
    // SAFETY: `get` hands out a reference into the hash element, which a
    // concurrent delete or LRU eviction may recycle; the value is copied
    // out at once, before this program updates any map, so nothing reads
    // it after that.
    let fv = unsafe { FLOWS.get(key) }.copied()?;
    let current = SERVICE_GENS.get_ptr(fv.service_id)?;
    // SAFETY: `get_ptr` returned a non-null, aligned pointer to the u32 of
    // slot `service_id`; the agent stores it atomically through the mmap.
    if unsafe { core::ptr::read_volatile(current) } != fv.service_gen || fv.service_gen == 0 {
        return None;
    }
    let (mac, state) = backend(fv.backend_id)?;
    (state == BACKEND_UP || state == BACKEND_DRAINING).then_some(Choice {
        service_id: fv.service_id,
        backend_id: fv.backend_id,
        mac,
        new_flow: false,
    })
}

/// The packet's service: `VIP:port/proto`, or for a later IPv4 fragment (no
/// ports) the `VIP:0/proto` alias the agent writes for source-hashed services.
#[inline(always)]
fn service(pkt: &Packet) -> Result<ServiceValue, Reason> {
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
    // SAFETY: as in `flow_hit`: the reference into the hash element is only
    // used to copy the value out at once.
    match unsafe { SERVICES.get(key) } {
        Some(v) => Ok(*v),
        None => Err(Reason::NotService),
    }
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
        Some((mac, state)) if state == BACKEND_UP => Ok(Choice {
            service_id: svc.id,
            backend_id: id,
            mac,
            new_flow: true,
        }),
        _ => Err(Reason::NoBackend),
    }
}
