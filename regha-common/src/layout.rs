//! The layout of the pinned maps, and its version.
//!
//! Pins outlive the agent that made them, so a new agent meets maps made by
//! an older (or newer) build. It adopts a pinned map only when the map is of
//! the layout it expects; otherwise it replaces the map (and the program,
//! through the pinned link). What it compares is in
//! `regha-agent/src/dataplane/layout.rs`; this file holds what both sides
//! must agree on.

use crate::consts::map_names as m;

/// Version of the maps' layout. Bump it when any pinned map changes its type,
/// key, value (size or meaning) or size, or a map is added or removed, and
/// set that map's `changed_in` (below) to the new version.
///
/// - 1: `SERVICES`, `SERVICE_PORTS`, `SERVICE_GENS`, `RINGS`, `BACKENDS`,
///   `FLOWS`, `SERVICE_STATS`, `BACKEND_STATS`, `REASONS`, as first pinned.
///   Pins without a layout record predate the record and are this layout.
/// - 2: `FLOW_CACHE`, `HANDSHAKES` and `BACKEND_SIGNALS` added (issue 13:
///   flows are recorded when their handshake completes; issue 12's
///   per-backend signals). `FLOWS` keeps its key, value and meaning (a
///   connection -> its backend and service generation), so an upgrade from
///   layout 1 adopts it with every flow in it; only when an entry is first
///   written changed (the ACK completing the handshake, not the SYN).
/// - 3: `ALLOW`, `SERVICE_ALLOW` and `SERVICE_DENIED` added (issue 18:
///   per-service source allow-lists). `REASONS` grows by one slot
///   (`denied`): only its size changes, so it is copied with its counters.
///   `SERVICES` keeps its value; its flags gain `SERVICE_F_ALLOW`, which a
///   layout-2 program ignores. Every other map is adopted as it is, flows
///   included: a flow's generation keeps its meaning (`ServiceAllow` says
///   which earlier generations stay trusted, and a new `SERVICE_ALLOW`
///   starts at "none", which is what layout 2 meant).
/// - 4: `FLOW_EVENTS` (a ring buffer of recorded flows, for flow sync:
///   issue 16) and `SYNC_LOST` (events a full ring dropped) added.
///   `SERVICES` keeps its value; its flags gain `SERVICE_F_SYNC`, which a
///   layout-3 program ignores. Every other map is adopted as it is.
pub const LAYOUT_VERSION: u32 = 4;

/// File name, in the pin directory, of the layout record: a one-element
/// array map holding the `LAYOUT_VERSION` of the pins beside it. The agent
/// writes it last, once every pin is of that layout.
pub const LAYOUT_PIN: &str = "layout";

/// One map the agent pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedMap {
    /// The map's name in the object (`map_names`).
    pub name: &'static str,
    /// Its pin file name (lower case, as operators type it).
    pub pin: &'static str,
    /// The layout version in which its type, key, value or meaning last
    /// changed: pins of an older layout hold this map in a form this build
    /// does not read, even when the sizes happen to agree.
    pub changed_in: u32,
}

const fn pinned(name: &'static str, pin: &'static str, changed_in: u32) -> PinnedMap {
    PinnedMap {
        name,
        pin,
        changed_in,
    }
}

/// Every map the agent pins under `/sys/fs/bpf/regha/<iface>/`.
pub const PINNED_MAPS: [PinnedMap; 17] = [
    pinned(m::SERVICES, "services", 1),
    pinned(m::SERVICE_PORTS, "service_ports", 1),
    pinned(m::SERVICE_GENS, "service_gens", 1),
    pinned(m::RINGS, "rings", 1),
    pinned(m::BACKENDS, "backends", 1),
    pinned(m::FLOWS, "flows", 1),
    pinned(m::SERVICE_STATS, "service_stats", 1),
    pinned(m::BACKEND_STATS, "backend_stats", 1),
    pinned(m::REASONS, "reasons", 1),
    pinned(m::FLOW_CACHE, "flow_cache", 2),
    pinned(m::HANDSHAKES, "handshakes", 2),
    pinned(m::BACKEND_SIGNALS, "backend_signals", 2),
    pinned(m::ALLOW, "allow", 3),
    pinned(m::SERVICE_ALLOW, "service_allow", 3),
    pinned(m::SERVICE_DENIED, "service_denied", 3),
    pinned(m::FLOW_EVENTS, "flow_events", 4),
    pinned(m::SYNC_LOST, "sync_lost", 4),
];

const _: () = {
    let mut i = 0;
    while i < PINNED_MAPS.len() {
        assert!(PINNED_MAPS[i].changed_in >= 1 && PINNED_MAPS[i].changed_in <= LAYOUT_VERSION);
        i += 1;
    }
};
