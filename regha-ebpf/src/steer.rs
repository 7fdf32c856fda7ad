//! Choosing the backend: the flow state first (`flows.rs`), then the
//! service's Maglev ring.
//!
//! Established flow (the common case, arrays only): port bitmap ->
//! `FLOW_CACHE` -> service generation -> backend.
//! On a cache miss: the slot's pending handshake (is this the ACK
//! completing it?), then `FLOWS` (a kernel hash lookup, ~50 ns), cached on
//! a hit.
//! SYN: `SERVICES` (hash) -> the slot's pending handshake (a retransmission
//! goes where the first SYN went) -> else the ring (array of arrays) ->
//! backend; recorded as the slot's pending handshake (one store), and a
//! cached copy of an earlier connection on the 5-tuple dropped (the same
//! line). Never a `FLOWS` insert or lookup: an unanswered SYN evicts
//! nothing, and costs no walk of the flow table's buckets (hundreds of ns
//! for a never-seen key, whose bucket is cold).
//! A service with an allow-list (`allow.rs`) looks its source up in the
//! `ALLOW` trie where a flow is chosen: on a SYN and on a flow seen mid-way
//! (one kernel lookup, ~15 ns warm), and once per established flow after a
//! reload that narrowed the list (its generation is then behind).
//! The ACK completing a handshake: the pending handshake (the backend its
//! SYN went to, even across a ring change, and ahead of any `FLOWS` entry
//! of an earlier connection on the same 5-tuple) -> `SERVICES` -> `FLOWS`
//! insert, cached. A flow in none of them (UDP; a connection seen
//! mid-way, after an LB failover): `SERVICES` -> the ring -> `FLOWS`
//! insert, cached.

use regha_common::{
    BACKEND_DRAINING, BACKEND_STATE_SHIFT, BACKEND_UP, FLOW_CACHE_F_CLOSING, FLOW_CACHE_F_REFRESH,
    FRAGMENT_PORT, FlowValue, Handshake, PROTO_TCP, Reason, SERVICE_F_HASH_FLOW,
    SERVICE_F_NO_BACKEND, SERVICE_F_SYNC, ServiceKey, ServiceValue, hash, store_addr_words,
};

use crate::{
    allow,
    flows::{self, Cached, Tuple},
    maps::{BACKENDS, RINGS, SERVICE_GENS, SERVICE_PORTS, SERVICES},
    parse::Packet,
};

/// What a packet told about its backend's health (`BACKEND_SIGNALS`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    None,
    /// A SYN starting a connection attempt.
    Syn,
    /// A SYN of an attempt already steered there.
    SynRetransmit,
    /// The client's first packet after the SYN: the handshake completed.
    Completion,
}

/// Where a packet goes.
pub struct Choice {
    pub service_id: u32,
    /// The service incarnation the choice was made under (what `FLOWS`
    /// records with it).
    pub service_gen: u32,
    pub backend_id: u32,
    pub mac: [u8; 6],
    /// Chosen by hashing the ring (a new flow) rather than from flow state.
    pub new_flow: bool,
    /// Found in the flow cache: the copy to check against `FLOWS` now and
    /// then (`main.rs`).
    pub cached: Option<Cached>,
    pub signal: Signal,
    /// The service syncs its flows to the peer LBs (`SERVICE_F_SYNC`): a
    /// flow recorded with this choice is announced on `FLOW_EVENTS`.
    pub sync: bool,
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

/// Backend `id` if it takes packets of flows already on it (up or draining).
#[inline(always)]
fn keeps_flows(id: u32) -> Option<[u8; 6]> {
    let (mac, state) = backend(id)?;
    (state == BACKEND_UP || state == BACKEND_DRAINING).then_some(mac)
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
    if pkt.fragment {
        return fragment(pkt);
    }
    let t = Tuple::of(pkt);
    if pkt.syn {
        return syn(pkt, &t);
    }
    // A copy whose service or backend no longer holds is passed over, and
    // so is a flow-table entry: the flow is then chosen anew below.
    if let Some(c) = flows::cached(&t)
        && !reopened(pkt, &t, c.flags)
        && let Some(mut choice) = pinned(pkt, &c.value)?
    {
        let flags = c.flags | closing(pkt);
        if choice.service_gen != c.value.service_gen {
            // Kept across a reload of the service's allow-list: recorded
            // again under the generation it now passed.
            record_kept(&t, &choice, flags);
            return Ok(choice);
        }
        if flags & FLOW_CACHE_F_REFRESH != 0 {
            flows::refresh(&t, &c.value, flags);
        } else if flags != c.flags {
            flows::cache(&t, &c.value, flags);
        }
        choice.cached = Some(Cached {
            value: c.value,
            flags: flags & !FLOW_CACHE_F_REFRESH,
        });
        return Ok(choice);
    }
    // The client's first packet after its SYN carries the SYN's sequence
    // number plus one (the ACK, or its first data if the ACK was lost).
    if pkt.proto == PROTO_TCP
        && let Some(h) = flows::pending(&t, pkt.seq.wrapping_sub(1))
        && let Some(choice) = completion(pkt, &t, h)?
    {
        record(pkt, &t, &choice);
        return Ok(choice);
    }
    if let Some(v) = flows::recorded(&t)
        && let Some(choice) = pinned(pkt, &v)?
    {
        if choice.service_gen != v.service_gen {
            record_kept(&t, &choice, closing(pkt));
        } else {
            flows::cache(&t, &v, closing(pkt));
        }
        return Ok(choice);
    }
    let svc = live_service(pkt)?;
    allow::check(svc.id, svc.flags, pkt)?;
    let choice = ring_pick(pkt, &svc, svc.flags & SERVICE_F_HASH_FLOW != 0)?;
    record(pkt, &t, &choice);
    Ok(choice)
}

/// Records the flow `pkt` starts or was first seen with, in `FLOWS` and
/// the cache; a flow that starts with a reset ends with it: nothing to
/// remember.
#[inline(always)]
fn record(pkt: &Packet, t: &Tuple, choice: &Choice) {
    if !pkt.rst {
        let v = FlowValue {
            backend_id: choice.backend_id,
            service_id: choice.service_id,
            service_gen: choice.service_gen,
        };
        flows::record(t, &v, closing(pkt));
        if choice.sync {
            flows::announce(t, &v);
        }
    }
}

/// Records a flow kept across an allow-list reload under its service's
/// current generation (`choice.service_gen`), on the backend it was on.
#[inline(always)]
fn record_kept(t: &Tuple, choice: &Choice, flags: u8) {
    flows::record(
        t,
        &FlowValue {
            backend_id: choice.backend_id,
            service_id: choice.service_id,
            service_gen: choice.service_gen,
        },
        flags & FLOW_CACHE_F_CLOSING,
    );
}

/// `FLOW_CACHE_F_CLOSING` if the client is closing the connection.
#[inline(always)]
fn closing(pkt: &Packet) -> u8 {
    if pkt.closing { FLOW_CACHE_F_CLOSING } else { 0 }
}

/// Whether `pkt` hit the copy of a closing connection but completes a
/// handshake pending on the same 5-tuple: a new connection (a client port
/// reused), which belongs where its SYN went, not where the old one was.
/// (A SYN leaves the cache alone: its line is usually cold, and touching
/// it cost a new connection about half a fresh floor more.)
#[inline(always)]
fn reopened(pkt: &Packet, t: &Tuple, flags: u8) -> bool {
    flags & FLOW_CACHE_F_CLOSING != 0
        && pkt.proto == PROTO_TCP
        && flows::pending(t, pkt.seq.wrapping_sub(1)).is_some()
}

/// The handshake `h` completes: its SYN's backend, if its service is the
/// incarnation it was steered under and the backend still takes the flows
/// it has. Otherwise the flow is chosen as one seen mid-way (`None`).
#[inline(always)]
fn completion(pkt: &Packet, t: &Tuple, h: Handshake) -> Result<Option<Choice>, Reason> {
    let svc = live_service(pkt)?;
    flows::complete(t);
    let id = u32::from(h.backend_id);
    if h.service_gen != svc.generation as u8 {
        return Ok(None);
    }
    Ok(keeps_flows(id).map(|mac| Choice {
        service_id: svc.id,
        service_gen: svc.generation,
        backend_id: id,
        mac,
        new_flow: false,
        cached: None,
        signal: Signal::Completion,
        sync: svc.flags & SERVICE_F_SYNC != 0,
    }))
}

/// The packet's service, if some backend takes new flows.
#[inline(always)]
fn live_service(pkt: &Packet) -> Result<ServiceValue, Reason> {
    let svc = service(pkt)?;
    if svc.flags & SERVICE_F_NO_BACKEND != 0 {
        return Err(Reason::NoBackend);
    }
    Ok(svc)
}

/// A SYN: a retransmission goes where its first SYN went; any other SYN
/// starts a connection attempt on the ring's backend, recorded in the
/// slot's pending handshake only.
#[inline(always)]
fn syn(pkt: &Packet, t: &Tuple) -> Result<Choice, Reason> {
    let svc = live_service(pkt)?;
    allow::check(svc.id, svc.flags, pkt)?;
    if let Some(h) = flows::pending(t, pkt.seq)
        && h.service_gen == svc.generation as u8
        && let Some(mac) = keeps_flows(u32::from(h.backend_id))
    {
        return Ok(Choice {
            service_id: svc.id,
            service_gen: svc.generation,
            backend_id: u32::from(h.backend_id),
            mac,
            new_flow: false,
            cached: None,
            signal: Signal::SynRetransmit,
            sync: false,
        });
    }
    let mut choice = ring_pick(pkt, &svc, svc.flags & SERVICE_F_HASH_FLOW != 0)?;
    flows::remember_syn(t, pkt.seq, choice.backend_id, svc.generation);
    choice.signal = Signal::Syn;
    Ok(choice)
}

/// Fragments carry no ports past the first, so only the client's source can
/// keep them together: every fragment of a datagram reaches the backend of
/// the source hash, never through the flow state.
#[inline(always)]
fn fragment(pkt: &Packet) -> Result<Choice, Reason> {
    let svc = live_service(pkt)?;
    allow::check(svc.id, svc.flags, pkt)?;
    if svc.flags & SERVICE_F_HASH_FLOW != 0 {
        return Err(Reason::Unsupported);
    }
    ring_pick(pkt, &svc, false)
}

/// The flow's backend from its flow state, if that still holds: its
/// service generation is current and its backend takes existing flows.
/// A flow of an earlier generation of the same incarnation (the service's
/// allow-list changed since) is kept if its source still passes the list:
/// the choice then carries the current generation, for the caller to record
/// it again; `Err(Denied)` if it no longer passes.
#[inline(always)]
fn pinned(pkt: &Packet, v: &FlowValue) -> Result<Option<Choice>, Reason> {
    let Some(current) = SERVICE_GENS.get_ptr(v.service_id) else {
        return Ok(None);
    };
    // SAFETY: `get_ptr` returned a non-null, aligned pointer to the u32 of
    // slot `service_id`; the agent stores it atomically through the mmap.
    let current = unsafe { core::ptr::read_volatile(current) };
    if v.service_gen == 0 {
        return Ok(None);
    }
    if current != v.service_gen {
        match allow::recheck(v.service_id, v.service_gen, current, pkt) {
            None => return Ok(None),
            Some(verdict) => verdict?,
        }
    }
    Ok(keeps_flows(v.backend_id).map(|mac| Choice {
        service_id: v.service_id,
        service_gen: current,
        backend_id: v.backend_id,
        mac,
        new_flow: false,
        cached: None,
        signal: Signal::None,
        sync: false,
    }))
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
    // SAFETY: as in `flows::recorded`: the reference into the hash element
    // is only used to copy the value out at once.
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
            service_gen: svc.generation,
            backend_id: id,
            mac,
            new_flow: true,
            cached: None,
            signal: Signal::None,
            sync: svc.flags & SERVICE_F_SYNC != 0,
        }),
        _ => Err(Reason::NoBackend),
    }
}
