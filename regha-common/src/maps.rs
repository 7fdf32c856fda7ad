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

/// `SERVICE_STATS` and `BACKEND_STATS` value (per CPU): what was forwarded.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    /// Flows this program chose a backend for by hashing (flow-table misses).
    pub new_flows: u64,
}

const _: () = {
    assert!(size_of::<ServiceKey>() == 20);
    assert!(size_of::<ServiceValue>() == 20);
    assert!(size_of::<Backend>() == 32);
    assert!(size_of::<FlowKey>() == 40);
    assert!(size_of::<FlowValue>() == 12);
    assert!(size_of::<Counters>() == 24);
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
}
