//! Keys and values of every map, each with its role.
//!
//! Addresses are 16 bytes in network order; an IPv4 address fills the first
//! four and leaves the rest zero (`family` says which). Ports are in host
//! order so `bpftool` shows them as people write them.

use crate::consts::{FAMILY_V4, FAMILY_V6};

/// `SERVICES` key: one `VIP:port/proto`.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    pub addr: [u8; 16],
    pub port: u16,
    pub proto: u8,
    pub family: u8,
}

/// `SERVICES` value: where the service's ring and counters are and how it hashes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceValue {
    /// Index into `RINGS`, `SERVICE_GENS` and `SERVICE_STATS`.
    pub id: u32,
    /// Entries in this service's Maglev table (a prime).
    pub ring_size: u32,
    /// `SERVICE_F_*`.
    pub flags: u32,
    /// Hash seed, the same on every LB host so they pick the same backends.
    pub seed: u32,
    /// This incarnation of service `id` (see `SERVICE_GENS`): flows record
    /// it, and a flow of an earlier incarnation is not trusted.
    pub generation: u32,
}

/// `BACKENDS` value (index: backend id): where to send and whether to.
///
/// The first eight bytes (`mac`, `state`, `family`) are all the XDP program
/// reads, with one 8-byte load; the agent writes them with one atomic 8-byte
/// store through the map's mmap, so a packet never sees a MAC from one
/// update and a state from another. The rest is for people and tools.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backend {
    /// Destination MAC for direct server return.
    pub mac: [u8; 6],
    /// `BACKEND_UP`, `BACKEND_DRAINING` or `BACKEND_DOWN` (also: unused id).
    pub state: u8,
    pub family: u8,
    pub addr: [u8; 16],
    pub port: u16,
    pub _pad: [u8; 6],
}

impl Backend {
    /// The first eight bytes as the program loads them (little-endian).
    pub const fn hot_word(&self) -> u64 {
        u64::from_le_bytes([
            self.mac[0],
            self.mac[1],
            self.mac[2],
            self.mac[3],
            self.mac[4],
            self.mac[5],
            self.state,
            self.family,
        ])
    }
}

/// Byte offset of `Backend::state` inside the hot word.
pub const BACKEND_STATE_SHIFT: u32 = 48;

/// `FLOWS` key: a connection's 5-tuple as the client sends it.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 2],
}

/// `FLOWS` value: the backend a flow is pinned to, and the service
/// incarnation it was pinned under (a hit is trusted only while
/// `SERVICE_GENS[service_id] == service_gen`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowValue {
    pub backend_id: u32,
    pub service_id: u32,
    pub service_gen: u32,
}

/// `FLOW_EVENTS` record: a flow the program just recorded in `FLOWS`
/// (key and value as written), for the agent to send to its peers
/// (`flow_sync`). Ids in it are this host's; the agent names the service
/// and backend by address before anything leaves the host.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEvent {
    pub key: FlowKey,
    pub value: FlowValue,
    pub _pad: u32,
}

impl FlowKey {
    /// The key as the five 8-byte words it occupies in memory (each the
    /// little-endian reading of its bytes): what the XDP program compares
    /// and hashes (`hash::tuple_hash`), with no byte-wise work.
    pub const fn words(&self) -> [u64; 5] {
        let s = &self.src;
        let d = &self.dst;
        let [p0, p1] = self.sport.to_le_bytes();
        let [q0, q1] = self.dport.to_le_bytes();
        [
            u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
            u64::from_le_bytes([s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]),
            u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]),
            u64::from_le_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]),
            u64::from_le_bytes([
                p0,
                p1,
                q0,
                q1,
                self.proto,
                self.family,
                self._pad[0],
                self._pad[1],
            ]),
        ]
    }
}

/// The last of a key's [`FlowKey::words`], from its fields: what the XDP
/// program builds from a parsed packet (ports in host order, no padding).
#[inline(always)]
pub const fn ports_word(sport: u16, dport: u16, proto: u8, family: u8) -> u64 {
    sport as u64 | (dport as u64) << 16 | (proto as u64) << 32 | (family as u64) << 40
}

/// `FLOW_CACHE` slot: a copy of one `FLOWS` entry, at the slot its key
/// hashes to (`hash::flow_cache_slot`). One cache line.
///
/// Written by the XDP program on any CPU and by the agent (through the
/// mmap), read without locks, so a reader may meet a slot half rewritten.
/// A writer therefore clears `entry` first, writes `key` and
/// `service_gen`, and writes `entry` last, in one 8-byte store; a reader
/// trusts a slot only when its key equals the packet's and `entry.check`
/// equals the packet's check (`hash::flow_check`): a key of one write and
/// an entry of another never pass both.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCacheSlot {
    pub key: FlowKey,
    pub entry: FlowCacheEntry,
    /// `FlowValue::service_gen` of the copy.
    pub service_gen: u32,
    pub _pad: [u8; 12],
}

/// Byte offset of `FlowCacheSlot::entry` (after the 40-byte key).
pub const FLOW_CACHE_ENTRY_OFFSET: usize = 40;
/// Byte offset of `FlowCacheSlot::service_gen`.
pub const FLOW_CACHE_GEN_OFFSET: usize = 48;

/// The word of a [`FlowCacheSlot`] written last: the backend and service
/// of the copy, and the check that ties it to the slot's key. All zero: an
/// empty slot.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCacheEntry {
    pub backend_id: u16,
    pub service_id: u8,
    /// `FLOW_CACHE_F_*`.
    pub flags: u8,
    /// `hash::flow_check` of the key.
    pub check: u32,
}

impl FlowCacheEntry {
    /// The entry as one 8-byte word (little-endian, as the program loads it).
    pub const fn word(&self) -> u64 {
        self.backend_id as u64
            | (self.service_id as u64) << 16
            | (self.flags as u64) << 24
            | (self.check as u64) << 32
    }

    pub const fn from_word(w: u64) -> Self {
        Self {
            backend_id: w as u16,
            service_id: (w >> 16) as u8,
            flags: (w >> 24) as u8,
            check: (w >> 32) as u32,
        }
    }
}

/// `HANDSHAKES` slot: a SYN the program steered, from the SYN until the
/// client's first packet after it (the ACK completing the handshake), at
/// the slot its connection hashes to (`hash::handshake_slot`). Read and
/// written as one 8-byte word, so every reader sees one whole write. All
/// zero: an empty slot.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    /// With `fingerprint_hi`, the 40-bit `hash::handshake_fingerprint` of
    /// the connection and the client's initial sequence number: a
    /// retransmitted SYN carries the same, the ACK completing the handshake
    /// that number plus one, a new connection on the same 5-tuple another.
    /// A packet of an unrelated connection that lands on the slot matches
    /// with odds of one in 2^40.
    pub fingerprint: u32,
    pub fingerprint_hi: u8,
    /// The low 8 bits of the service generation the SYN was steered under.
    pub service_gen: u8,
    pub backend_id: u16,
}

impl Handshake {
    /// Mask of the fingerprint's 40 bits.
    pub const FINGERPRINT_MASK: u64 = (1 << 40) - 1;

    pub const fn new(fingerprint: u64, service_gen: u8, backend_id: u16) -> Self {
        Self {
            fingerprint: fingerprint as u32,
            fingerprint_hi: (fingerprint >> 32) as u8,
            service_gen,
            backend_id,
        }
    }

    /// The 40-bit fingerprint.
    pub const fn fingerprint(&self) -> u64 {
        self.fingerprint as u64 | (self.fingerprint_hi as u64) << 32
    }

    pub const fn word(&self) -> u64 {
        self.fingerprint() | (self.service_gen as u64) << 40 | (self.backend_id as u64) << 48
    }

    pub const fn from_word(w: u64) -> Self {
        Self::new(
            w & Self::FINGERPRINT_MASK,
            (w >> 40) as u8,
            (w >> 48) as u16,
        )
    }
}

/// `BACKEND_SIGNALS` value (per CPU): how the handshakes steered to a
/// backend went, as the client's side shows them (with direct server
/// return the LB never sees the backend's answers).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// SYNs that started a connection attempt to this backend (a
    /// retransmitted SYN is not counted here).
    pub syns: u64,
    /// SYNs of an attempt already steered to it (same 5-tuple, same
    /// initial sequence number) while the attempt was still pending: the
    /// client heard no SYN-ACK in time.
    pub syn_retransmits: u64,
    /// Attempts seen completing: the client's first packet after the SYN
    /// (the handshake's ACK, its first data, or a reset: each answers the
    /// backend's SYN-ACK).
    pub completions: u64,
}

/// `SERVICE_STATS` and `BACKEND_STATS` value (per CPU): what was forwarded.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    /// Flows this program chose a backend for by hashing the ring: a SYN
    /// starting a connection attempt, or a packet of a flow neither
    /// recorded nor in its handshake (UDP, a connection seen mid-way).
    /// Retransmitted SYNs and completing handshakes are not new flows.
    pub new_flows: u64,
}

/// The data of an `ALLOW` key (after the kernel's 32-bit prefix length):
/// the service id, big-endian so that it forms the key's leading bits, then
/// the source address in the 16-byte form of the other maps. A prefix `A/n`
/// of service `s` is stored with prefix length `ALLOW_ID_BITS + n`, so one
/// trie holds every service's list, IPv4 and IPv6 alike (a service's
/// packets are all of its VIP's family).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllowData {
    pub service_id: [u8; 4],
    pub addr: [u8; 16],
}

impl AllowData {
    pub const fn new(service_id: u32, addr: [u8; 16]) -> Self {
        Self {
            service_id: service_id.to_be_bytes(),
            addr,
        }
    }
}

/// `SERVICE_ALLOW` value (index: service id): what a flow recorded under an
/// earlier generation of the service may still be trusted for.
///
/// A reload that narrows a service's allow-list bumps the service's
/// generation (`SERVICE_GENS`) without starting a new incarnation: a flow
/// recorded under a generation from `since_gen` up to (not including) the
/// current one is of this incarnation, and is kept on its backend if its
/// source still passes the list (then recorded again under the current
/// generation), dropped as `Reason::Denied` otherwise. A flow of a
/// generation before `since_gen` is of an earlier service at the id, and
/// is chosen anew as before. Read only on a generation mismatch, never on
/// the established path.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceAllow {
    /// The first generation of the service's current incarnation; 0: none
    /// (no flow of an earlier generation is kept).
    pub since_gen: u32,
    /// `SERVICE_F_ALLOW` when the service has a list now.
    pub flags: u32,
}

const _: () = {
    assert!(size_of::<AllowData>() == 20);
    assert!(size_of::<ServiceAllow>() == 8);
    assert!(size_of::<ServiceKey>() == 20);
    assert!(size_of::<ServiceValue>() == 20);
    assert!(size_of::<Backend>() == 32);
    assert!(size_of::<FlowKey>() == 40);
    assert!(size_of::<FlowValue>() == 12);
    assert!(size_of::<FlowEvent>() == 56);
    assert!(size_of::<Counters>() == 24);
    assert!(size_of::<FlowCacheSlot>() == 64);
    assert!(core::mem::offset_of!(FlowCacheSlot, entry) == FLOW_CACHE_ENTRY_OFFSET);
    assert!(core::mem::offset_of!(FlowCacheSlot, service_gen) == FLOW_CACHE_GEN_OFFSET);
    assert!(size_of::<FlowCacheEntry>() == 8);
    assert!(size_of::<Handshake>() == 8);
    assert!(size_of::<Signals>() == 24);
    // The ids a flow-cache entry and a handshake hold must fit their fields.
    assert!(crate::consts::MAX_BACKENDS <= 1 << 16);
    assert!(crate::consts::MAX_SERVICES <= 1 << 8);
};

/// Writes an address in word form (see `hash::addr_words`) into a 16-byte
/// address field: four aligned word stores instead of sixteen byte stores.
/// The field must be 4-byte aligned, as the `addr`/`src`/`dst` fields of the
/// `align(4)` keys are (they sit at offsets 0 and 16).
#[inline(always)]
pub fn store_addr_words(field: &mut [u8; 16], w: [u32; 4]) {
    debug_assert!(field.as_ptr().align_offset(4) == 0);
    // SAFETY: 16 bytes, 4-byte aligned (see above); u32 has no invalid values.
    unsafe { field.as_mut_ptr().cast::<[u32; 4]>().write(w) }
}

/// An IPv4 address in the 16-byte form the maps use.
pub const fn addr_from_v4(octets: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = octets[0];
    a[1] = octets[1];
    a[2] = octets[2];
    a[3] = octets[3];
    a
}

impl ServiceKey {
    pub const fn v4(addr: [u8; 4], port: u16, proto: u8) -> Self {
        Self {
            addr: addr_from_v4(addr),
            port,
            proto,
            family: FAMILY_V4,
        }
    }

    pub const fn v6(addr: [u8; 16], port: u16, proto: u8) -> Self {
        Self {
            addr,
            port,
            proto,
            family: FAMILY_V6,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all are #[repr(C)] structs of integers and byte arrays with
    // explicit padding fields, so every bit pattern is valid and none has
    // uninitialised bytes.
    unsafe impl aya::Pod for ServiceKey {}
    unsafe impl aya::Pod for ServiceValue {}
    unsafe impl aya::Pod for Backend {}
    unsafe impl aya::Pod for FlowKey {}
    unsafe impl aya::Pod for FlowValue {}
    unsafe impl aya::Pod for Counters {}
    unsafe impl aya::Pod for FlowCacheSlot {}
    unsafe impl aya::Pod for FlowCacheEntry {}
    unsafe impl aya::Pod for Handshake {}
    unsafe impl aya::Pod for Signals {}
    unsafe impl aya::Pod for AllowData {}
    unsafe impl aya::Pod for ServiceAllow {}
    unsafe impl aya::Pod for FlowEvent {}
}
