//! Flow state: what the program remembers of a connection once it chose
//! its backend, in three places (`steer.rs` says when each is consulted):
//!
//! - `HANDSHAKES`: a SYN, from the SYN to the client's next packet. One
//!   8-byte word per slot in a table small enough to stay in cache, so
//!   recording a SYN is one store and a flood of spoofed SYNs only
//!   overwrites words: nothing is allocated or evicted.
//! - `FLOWS`: the flow table proper, a kernel LRU hash written when a
//!   handshake completes (or a flow is first seen past its SYN); shared by
//!   all CPUs, readable and writable by user space.
//! - `FLOW_CACHE`: copies of `FLOWS` entries in an array, found with one
//!   inline lookup and a 40-byte compare where `FLOWS` costs a kernel call
//!   (about 50 ns here). `FLOWS` stays the truth: the copy is checked
//!   against it on the flow's second packet (so the LRU sees it used, as it
//!   saw every packet before the cache) and about every 64th.
//!
//! Both arrays are shared by all CPUs and written without locks; each slot
//! says on its own whether a reader may trust it (see `FlowCacheSlot` and
//! `Handshake`). Every access below is a volatile load or store of one
//! aligned word, so the compiler neither splits, merges nor reorders them.

use aya_ebpf::bindings::{BPF_ANY, BPF_RB_NO_WAKEUP};
use regha_common::{
    FLOW_CACHE_ENTRY_OFFSET, FLOW_CACHE_F_CLOSING, FLOW_CACHE_F_REFRESH, FLOW_CACHE_GEN_OFFSET,
    FlowCacheEntry, FlowCacheSlot, FlowEvent, FlowKey, FlowValue, Handshake,
    hash::{flow_cache_slot, flow_check, handshake_fingerprint, handshake_slot, tuple_hash},
    ports_word,
};

use crate::{
    maps::{FLOW_CACHE, FLOW_EVENTS, FLOWS, HANDSHAKES, SYNC_LOST},
    parse::Packet,
};

/// A packet's connection: its key as five words (`FlowKey::words`) and their
/// `tuple_hash`, which places it in both arrays.
pub struct Tuple {
    pub words: [u64; 5],
    pub hash: u64,
}

impl Tuple {
    #[inline(always)]
    pub fn of(pkt: &Packet) -> Self {
        let w = |a: &[u32; 4], i: usize| u64::from(a[i]) | u64::from(a[i + 1]) << 32;
        let words = [
            w(&pkt.src, 0),
            w(&pkt.src, 2),
            w(&pkt.dst, 0),
            w(&pkt.dst, 2),
            ports_word(pkt.sport, pkt.dport, pkt.proto, pkt.family),
        ];
        Self {
            hash: tuple_hash(&words),
            words,
        }
    }

    /// The `FLOWS` key.
    #[inline(always)]
    fn key(&self) -> FlowKey {
        // SAFETY: `FlowKey` is 40 bytes of integers and byte arrays, as
        // `[u64; 5]` is (asserted in regha-common), so every bit pattern of
        // one is a valid other; `words` is its memory image by construction.
        unsafe { core::mem::transmute::<[u64; 5], FlowKey>(self.words) }
    }
}

/// A `FLOW_CACHE` hit: the copy and its `FLOW_CACHE_F_*` flags.
#[derive(Clone, Copy)]
pub struct Cached {
    pub value: FlowValue,
    pub flags: u8,
}

#[inline(always)]
fn cache_slot(t: &Tuple) -> Option<*mut FlowCacheSlot> {
    FLOW_CACHE.get_ptr_mut(flow_cache_slot(t.hash))
}

/// Pointer to the `i`th key word of `slot`.
#[inline(always)]
fn key_word(slot: *mut FlowCacheSlot, i: usize) -> *mut u64 {
    // `key` is the slot's first field and the slot is 8-aligned, so the
    // key's 40 bytes are five aligned words; `i` is below 5 at every call.
    slot.cast::<u64>().wrapping_add(i)
}

/// Pointers to the words of a slot's fields, at their offsets (asserted
/// in regha-common: 8-aligned for the 8-byte ones).
#[inline(always)]
fn entry_word(slot: *mut FlowCacheSlot) -> *mut u64 {
    slot.cast::<u8>()
        .wrapping_add(FLOW_CACHE_ENTRY_OFFSET)
        .cast::<u64>()
}

#[inline(always)]
fn gen_word(slot: *mut FlowCacheSlot) -> *mut u32 {
    slot.cast::<u8>()
        .wrapping_add(FLOW_CACHE_GEN_OFFSET)
        .cast::<u32>()
}

/// Whether `slot` holds `t`'s key (its five words compared).
#[inline(always)]
fn holds(slot: *mut FlowCacheSlot, t: &Tuple) -> bool {
    // SAFETY (all five loads): `slot` is a non-null pointer from the
    // array's lookup to one 64-byte, 8-aligned slot, which lives as long as
    // the map; the words read lie in its first 40 bytes. Volatile: other
    // CPUs and the agent rewrite slots at any time (see `FlowCacheSlot`).
    unsafe {
        core::ptr::read_volatile(key_word(slot, 0)) == t.words[0]
            && core::ptr::read_volatile(key_word(slot, 1)) == t.words[1]
            && core::ptr::read_volatile(key_word(slot, 2)) == t.words[2]
            && core::ptr::read_volatile(key_word(slot, 3)) == t.words[3]
            && core::ptr::read_volatile(key_word(slot, 4)) == t.words[4]
    }
}

/// The cached copy of `t`'s flow, if its slot holds one.
#[inline(always)]
pub fn cached(t: &Tuple) -> Option<Cached> {
    let slot = cache_slot(t)?;
    // SAFETY: as in `holds`: an aligned word inside the slot. Read first:
    // a writer stores it last, and a reader trusts it only with the key
    // and check that go with it.
    let e = FlowCacheEntry::from_word(unsafe { core::ptr::read_volatile(entry_word(slot)) });
    if e.check != flow_check(t.hash) || !holds(slot, t) {
        return None;
    }
    // SAFETY: as above, the slot's aligned `service_gen` word.
    let service_gen = unsafe { core::ptr::read_volatile(gen_word(slot)) };
    Some(Cached {
        value: FlowValue {
            backend_id: u32::from(e.backend_id),
            service_id: u32::from(e.service_id),
            service_gen,
        },
        flags: e.flags,
    })
}

/// Puts a copy of `v` in `t`'s slot, replacing whatever was there.
#[inline(always)]
pub fn cache(t: &Tuple, v: &FlowValue, flags: u8) {
    let Some(slot) = cache_slot(t) else { return };
    let entry = FlowCacheEntry {
        backend_id: v.backend_id as u16,
        service_id: v.service_id as u8,
        flags,
        check: flow_check(t.hash),
    };
    // SAFETY: aligned words inside the slot (see `holds`); XDP may write
    // array values. The order is the protocol of `FlowCacheSlot`: the old
    // entry goes first, the new one comes last.
    unsafe {
        core::ptr::write_volatile(entry_word(slot), 0);
        core::ptr::write_volatile(key_word(slot, 0), t.words[0]);
        core::ptr::write_volatile(key_word(slot, 1), t.words[1]);
        core::ptr::write_volatile(key_word(slot, 2), t.words[2]);
        core::ptr::write_volatile(key_word(slot, 3), t.words[3]);
        core::ptr::write_volatile(key_word(slot, 4), t.words[4]);
        core::ptr::write_volatile(gen_word(slot), v.service_gen);
        core::ptr::write_volatile(entry_word(slot), entry.word());
    }
}

/// `t`'s entry in the flow table.
#[inline(always)]
pub fn recorded(t: &Tuple) -> Option<FlowValue> {
    // SAFETY: `get` hands out a reference into the hash element, which a
    // concurrent delete or LRU eviction may recycle; the value is copied
    // out at once, before this program updates any map.
    unsafe { FLOWS.get(t.key()) }.copied()
}

/// Records `t`'s flow in the flow table, and caches it (the cache's copy
/// asks for the refresh that shows the LRU the flow in use; `flags` may
/// add `FLOW_CACHE_F_CLOSING`).
#[inline(always)]
pub fn record(t: &Tuple, v: &FlowValue, flags: u8) {
    // A full table evicts its least recently used entry; an insert fails
    // only under memory pressure, and then the flow is still steered by
    // hash (and by the cached copy while it lasts).
    let _ = FLOWS.insert(t.key(), *v, BPF_ANY as u64);
    cache(t, v, FLOW_CACHE_F_REFRESH | flags);
}

/// Puts `t`'s newly recorded flow `v` on `FLOW_EVENTS` for the agent's
/// flow sync; a full ring counts the loss in `SYNC_LOST` (the flow is
/// recorded all the same, only not synced).
#[inline(always)]
pub fn announce(t: &Tuple, v: &FlowValue) {
    let event = FlowEvent {
        key: t.key(),
        value: *v,
        _pad: 0,
    };
    // No wakeup: the agent reads the ring every 10 ms whatever happens, and
    // a wakeup (an irq_work per event once the reader caught up) cost a new
    // connection more than the copy itself.
    if FLOW_EVENTS.output(event, BPF_RB_NO_WAKEUP as u64).is_err()
        && let Some(n) = SYNC_LOST.get_ptr_mut(0)
    {
        // SAFETY: a non-null pointer from the per-CPU array's lookup to this
        // CPU's u64; no other program run touches this CPU's slot meanwhile.
        unsafe { *n += 1 };
    }
}

/// Brings `t`'s cached copy `v` (with its `flags`) and the flow table
/// together: a lookup in `FLOWS` (which marks the entry used, for the LRU),
/// then
/// - the same entry: the copy is good (its refresh flag is cleared);
/// - another entry (a user-space write, another CPU re-choosing for a
///   backend that went down): the copy takes it;
/// - none (the LRU evicted the entry while the cache still served the flow):
///   the flow is recorded again from the copy, on the backend it is on.
#[inline(always)]
pub fn refresh(t: &Tuple, v: &FlowValue, flags: u8) {
    let keep = flags & FLOW_CACHE_F_CLOSING;
    match recorded(t) {
        Some(now) => cache(t, &now, keep),
        None => {
            let _ = FLOWS.insert(t.key(), *v, BPF_ANY as u64);
            cache(t, v, keep);
        }
    }
}

#[inline(always)]
fn handshake_word(t: &Tuple) -> Option<*mut u64> {
    HANDSHAKES
        .get_ptr_mut(handshake_slot(t.hash))
        .map(|p| p.cast::<u64>())
}

/// The pending attempt recorded in `t`'s slot for a client whose initial
/// sequence number was `isn`, if any.
#[inline(always)]
pub fn pending(t: &Tuple, isn: u32) -> Option<Handshake> {
    let w = handshake_word(t)?;
    // SAFETY: a non-null pointer from the array's lookup to one 8-byte,
    // 8-aligned slot; one volatile load sees one whole store.
    let h = Handshake::from_word(unsafe { core::ptr::read_volatile(w) });
    (h.fingerprint() == handshake_fingerprint(t.hash, isn)).then_some(h)
}

/// Records a SYN (initial sequence number `isn`) steered to `backend_id`
/// under service generation `generation`.
#[inline(always)]
pub fn remember_syn(t: &Tuple, isn: u32, backend_id: u32, generation: u32) {
    let Some(w) = handshake_word(t) else { return };
    let h = Handshake::new(
        handshake_fingerprint(t.hash, isn),
        generation as u8,
        backend_id as u16,
    );
    // SAFETY: as in `pending`; one store, so readers on other CPUs see the
    // old word or this one.
    unsafe { core::ptr::write_volatile(w, h.word()) };
}

/// Empties `t`'s handshake slot: its handshake completed, and completes
/// once. A SYN that took the slot since `pending` read it is lost with it:
/// its own ACK then follows the ring, as after an LB failover.
#[inline(always)]
pub fn complete(t: &Tuple) {
    if let Some(w) = handshake_word(t) {
        // SAFETY: as in `remember_syn`.
        unsafe { core::ptr::write_volatile(w, 0) };
    }
}
