//! Every constant both sides need, in one place, each with why.

/// Map names as the XDP program declares them (the kernel keeps at most 15
/// characters) and as the agent pins them under `/sys/fs/bpf/regha/<iface>/`.
pub mod map_names {
    pub const SERVICES: &str = "SERVICES";
    pub const RINGS: &str = "RINGS";
    pub const BACKENDS: &str = "BACKENDS";
    pub const FLOWS: &str = "FLOWS";
    pub const SERVICE_STATS: &str = "SERVICE_STATS";
    pub const BACKEND_STATS: &str = "BACKEND_STATS";
    pub const REASONS: &str = "REASONS";
    pub const SERVICE_GENS: &str = "SERVICE_GENS";
    pub const SERVICE_PORTS: &str = "SERVICE_PORTS";
    pub const FLOW_CACHE: &str = "FLOW_CACHE";
    pub const HANDSHAKES: &str = "HANDSHAKES";
    pub const BACKEND_SIGNALS: &str = "BACKEND_SIGNALS";
    pub const ALLOW: &str = "ALLOW";
    pub const SERVICE_ALLOW: &str = "SERVICE_ALLOW";
    pub const SERVICE_DENIED: &str = "SERVICE_DENIED";
    pub const FLOW_EVENTS: &str = "FLOW_EVENTS";
    pub const SYNC_LOST: &str = "SYNC_LOST";
}

/// Name of the XDP program in the object.
pub const PROGRAM_NAME: &str = "regha";

/// How many `VIP:port/proto` services one interface can carry. Also the size
/// of the outer ring map (one Maglev table per service id).
pub const MAX_SERVICES: u32 = 256;
/// How many backends one interface can carry, over all services. Backend ids
/// are `0..MAX_BACKENDS`.
pub const MAX_BACKENDS: u32 = 4096;
/// Default capacity of the LRU flow table. Each entry costs about 100 bytes
/// of kernel memory (40-byte key, 8-byte value, hash element overhead); the
/// agent can change it at load time.
pub const DEFAULT_FLOW_TABLE_SIZE: u32 = 262_144;
/// Slots of the flow cache (`FLOW_CACHE`, one 64-byte line each: 4 MiB),
/// a power of two so a slot is a shift of the hash. It holds copies of
/// flow-table entries for the established path, so its size sets how many
/// busy connections skip the kernel's hash lookup (about 50 ns here); a
/// collision costs the evicted connection one such lookup, never its
/// backend (the flow table keeps every entry).
pub const FLOW_CACHE_BITS: u32 = 16;
pub const FLOW_CACHE_SIZE: u32 = 1 << FLOW_CACHE_BITS;
/// Slots of the handshake table (`HANDSHAKES`, 8 bytes each: 128 KiB), a
/// power of two. Small on purpose: every SYN of a flood writes a random
/// slot, and a table this size stays in the CPU's L2 cache where a larger
/// one costs a miss to memory per SYN (measured: about 0.7 times the fresh
/// floor more with the handshake in the 4 MiB flow cache's lines). A
/// pending handshake keeps its slot until another SYN hashes there: about
/// SIZE / R seconds at R new SYNs a second. Its ACK comes a round trip
/// after the SYN (well under a millisecond on the segment an LB with
/// direct server return sits on; 16 ms at a flood of a million SYNs a
/// second); a retransmission a second or more after (Linux's initial RTO):
/// told from a new SYN at up to several thousand new connections a second.
pub const HANDSHAKE_BITS: u32 = 14;
pub const HANDSHAKE_TABLE_SIZE: u32 = 1 << HANDSHAKE_BITS;
/// `FlowCacheEntry::flags`: the copy was made when the flow was recorded,
/// and `FLOWS` has not seen the flow used since. The kernel's LRU keeps an
/// entry that was looked up again (its "second chance") and evicts first
/// the ones that never were; the cache would hide every later packet from
/// it, so the flow's next packet also looks it up in `FLOWS` once.
pub const FLOW_CACHE_F_REFRESH: u8 = 1 << 0;
/// `FlowCacheEntry::flags`: the client closed the connection (a FIN or a
/// reset passed). Its 5-tuple may come back as a new connection (a client
/// port reused); a SYN does not touch the cache (the line is usually
/// cold), so the copy of a closing connection is trusted only after a
/// look at the handshake table: a pending handshake that this packet
/// completes means a new connection, which goes where its SYN went.
pub const FLOW_CACHE_F_CLOSING: u8 = 1 << 1;
/// A CPU that forwards a packet from the cache also looks its flow up in
/// `FLOWS` when its count of packets to that backend is a multiple of this:
/// a busy connection stays "used" in the LRU, and a copy that no longer
/// matches the flow table (a user-space write, an eviction) is dropped
/// within about this many packets. A power of two (a mask, not a division).
pub const FLOW_REFRESH_EVERY: u64 = 64;
const _: () = assert!(FLOW_REFRESH_EVERY.is_power_of_two());

/// Default Maglev table size: a prime well above 100 x the backend count, as
/// the Maglev paper recommends for < 1% imbalance (Katran uses the same).
pub const DEFAULT_RING_SIZE: u32 = 65_537;
/// Largest Maglev table size the agent accepts for one service.
pub const MAX_RING_SIZE: u32 = 1 << 24;

/// `ServiceKey::family` / `Backend::family` / `FlowKey::family` values.
pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;

/// IP protocol numbers the dataplane steers.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// `ServiceKey::port` of the alias entry the agent writes for source-hashed
/// services, so that non-first IPv4 fragments (which carry no ports) reach
/// the same backend as the first fragment (the client's source picks it).
pub const FRAGMENT_PORT: u16 = 0;

/// `ServiceValue::flags`: hash the 5-tuple instead of the client source.
pub const SERVICE_F_HASH_FLOW: u32 = 1 << 0;
/// `ServiceValue::flags`: no backend is up. The ring keeps its last contents
/// but the dataplane drops and counts "no backend" instead of using it.
pub const SERVICE_F_NO_BACKEND: u32 = 1 << 1;

/// `ServiceValue::flags`: the service has a source allow-list (`allow`):
/// a packet that would start a flow is steered only if its source matches
/// a prefix of the service in `ALLOW`. Services without the flag never
/// look at the trie.
pub const SERVICE_F_ALLOW: u32 = 1 << 2;

/// `ServiceValue::flags`: flow sync is on (`flow_sync:`): every flow the
/// program records for the service is also put on `FLOW_EVENTS`, for the
/// agent to send to its peer LBs. Without it recording a flow costs
/// nothing more than before.
pub const SERVICE_F_SYNC: u32 = 1 << 3;

/// Bytes of the `FLOW_EVENTS` ring buffer (a power of two, whole pages):
/// 1 MiB holds about 16,000 recorded flows (64 bytes each with the ring's
/// header), about a quarter of a second of new flows at 60,000 a second
/// while the agent is busy elsewhere. A full ring drops the event (the
/// flow is recorded all the same, only not synced) and the program counts
/// it in `SYNC_LOST`.
pub const FLOW_EVENTS_BYTES: u32 = 1 << 20;

/// Set in `SERVICE_GENS[id]` when the service at `id` is removed: no flow
/// records a generation with this bit, so none matches, and the next service
/// at `id` continues the count instead of reusing an old generation (whose
/// flows could still sit in the flow table).
pub const GENERATION_RETIRED: u32 = 1 << 31;

/// Prefixes the `ALLOW` trie holds, over all services. An LPM trie
/// allocates a node per prefix on insert (`BPF_F_NO_PREALLOC`), so the size
/// costs nothing until used.
pub const MAX_ALLOW_PREFIXES: u32 = 65_536;
/// Leading bits of an `ALLOW` key that hold the service id: a prefix
/// `A/n` of service `s` is the trie prefix of `ALLOW_ID_BITS + n` bits.
pub const ALLOW_ID_BITS: u32 = 32;

/// `Backend::state` values.
pub const BACKEND_DOWN: u8 = 0;
/// Takes new flows and keeps existing ones.
pub const BACKEND_UP: u8 = 1;
/// Keeps existing flows (flow-table hits) but takes no new ones.
pub const BACKEND_DRAINING: u8 = 2;

/// `BPF_F_INNER_MAP`: inner ring maps of different sizes may share the outer
/// map (kernel >= 5.10). The template and every inner map carry it.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;
/// `BPF_F_MMAPABLE`: the agent fills a new ring by writing its memory
/// directly (one copy of the table instead of one syscall per slot).
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// Flags of every inner ring map, the template included: the kernel only
/// accepts an inner map whose flags equal the template's.
pub const RING_MAP_FLAGS: u32 = BPF_F_INNER_MAP | BPF_F_MMAPABLE;
/// Words in the `SERVICE_PORTS` bitmap: one bit per L4 port.
pub const SERVICE_PORT_WORDS: u32 = 65_536 / 64;

/// Why a packet was not forwarded: the index into the `REASONS` per-CPU array.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not IPv4 or IPv6 (ARP, LLDP, ...): passed to the stack.
    NotIp = 0,
    /// IP, but not for a configured `VIP:port/proto` (ICMP, VRRP, ND, other
    /// ports and addresses): passed to the stack.
    NotService = 1,
    /// Truncated or malformed headers: passed to the stack, which drops or
    /// answers it as it would without us; never transmitted.
    Malformed = 2,
    /// IPv6 with extension headers before TCP/UDP, or a non-first fragment of
    /// a 5-tuple-hashed service: passed to the stack.
    Unsupported = 3,
    /// For a service, but no backend is up (or the ring is missing): dropped.
    NoBackend = 4,
    /// For a service port, but the frame is addressed to another host's MAC
    /// (flooded by a switch that lost its FDB entry, or a promiscuous
    /// interface): passed to the stack, which ignores it as it would without
    /// us. Never forwarded: the host it was sent to forwards it.
    OtherHost = 5,
    /// For a service with an allow-list, from a source it does not list: a
    /// new flow refused, or a flow from a source a reload removed. Dropped
    /// (and counted per service in `SERVICE_DENIED` too).
    Denied = 6,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::NotIp,
        Reason::NotService,
        Reason::Malformed,
        Reason::Unsupported,
        Reason::NoBackend,
        Reason::OtherHost,
        Reason::Denied,
    ];

    /// Name used in metrics and status output.
    pub const fn name(self) -> &'static str {
        match self {
            Reason::NotIp => "not_ip",
            Reason::NotService => "not_service",
            Reason::Malformed => "malformed",
            Reason::Unsupported => "unsupported",
            Reason::NoBackend => "no_backend",
            Reason::OtherHost => "other_host",
            Reason::Denied => "denied",
        }
    }
}

/// Number of entries in the `REASONS` map.
pub const REASON_COUNT: u32 = Reason::ALL.len() as u32;
