//! Flow sync (`flow_sync:`): the flows this LB records are sent to its
//! peers, and the flows they record are written into this LB's flow table,
//! so that after any takeover (a crash, a partition healing, a resign, a
//! preemption) every synced connection keeps its backend, even where the
//! two LBs' rings differ. IPVS's connection synchronisation does the same
//! for LVS.
//!
//! ```text
//!  XDP: flow recorded --FLOW_EVENTS (ring buffer)--> sender: ids -> addresses (view.rs),
//!                                                     batches of 22, at most max_rate a second,
//!                                                     signed (packet.rs) --UDP--> peers / group
//!  peers --UDP--> receiver: HMAC, version, replay (peers.rs) -> addresses -> this host's ids
//!                 (view.rs: not for a backend down here) -> FLOWS (+ the cached copy dropped)
//! ```
//!
//! Every datagram carries the sender's ring fingerprint and whether its
//! view is settled; a hello goes out every second when no flow does, so
//! `status` always knows whether the two LBs would pick the same backends.
//!
//! A peer that was not listening (first heard, its agent restarted, or
//! back after [`peers::SILENCE`]: a partition) is sent the whole flow table
//! again, after the new flows and within `max_rate`: what it missed.
//!
//! The window: a flow is sent within [`FLUSH_EVERY`] of its handshake
//! completing (the program queues it without waking the agent, which
//! reads the ring on that tick). A master that crashes loses
//! what it had not sent yet; those connections follow the new master's
//! ring, which is the same backend whenever the two views agree.

pub mod packet;
pub mod peers;
pub mod view;

use std::{
    collections::{HashMap, VecDeque},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use aya::maps::{Map, MapData, RingBuf};
use regha_common::{FlowEvent, FlowValue, layout::PINNED_MAPS, map_names};
use regha_config::FlowSyncConfig;
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::{net::UdpSocket, sync::watch};
use tracing::{debug, info, warn};

use self::{
    packet::{Key, MAX_FLOWS, MAX_LEN, Message, SyncedFlow},
    peers::{Contact, Peers},
    view::{Skip, View},
};
use crate::dataplane::MapWriter;

/// How long a recorded flow waits for others to fill its datagram.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// A hello goes out when nothing else did for this long.
pub const HELLO_EVERY: Duration = Duration::from_secs(1);
/// Flows waiting to be sent at most; beyond it (`max_rate` exceeded for
/// long) new ones are dropped and counted.
pub const QUEUE_LIMIT: usize = 65_536;
/// A peer's flow whose backend is down here waits this long for it to come
/// up (this host's checks lag behind the peer's: after a partition heals,
/// its backends come back `rise` checks later), then counts as not applied.
pub const HOLD_FOR: Duration = Duration::from_secs(30);
/// Flows held at most; beyond it they count as not applied at once.
pub const HOLD_LIMIT: usize = 65_536;

/// The counters `status` and `/metrics` show.
#[derive(Debug, Default)]
struct Counters {
    sent_flows: AtomicU64,
    sent_datagrams: AtomicU64,
    send_errors: AtomicU64,
    /// Flows not sent: the queue was full (`max_rate`).
    dropped: AtomicU64,
    /// Whole-table resends (a peer returned), and the flows they queued.
    resyncs: AtomicU64,
    resynced_flows: AtomicU64,
    received_datagrams: AtomicU64,
    received_flows: AtomicU64,
    applied: AtomicU64,
    apply_errors: AtomicU64,
    /// Per `Skip`, outgoing and incoming.
    not_sent: [AtomicU64; 3],
    not_applied: [AtomicU64; 3],
    /// Per `packet::DecodeError::reason` and replays and strangers.
    rejected_auth: AtomicU64,
    rejected_version: AtomicU64,
    rejected_malformed: AtomicU64,
    rejected_replay: AtomicU64,
    rejected_stranger: AtomicU64,
}

fn skip_slot(s: Skip) -> usize {
    Skip::ALL
        .iter()
        .position(|x| *x == s)
        .expect("every skip is in ALL")
}

/// One peer in `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub address: IpAddr,
    /// Its ring fingerprint (hex), from its last datagram.
    pub fingerprint: String,
    /// Whether it is this host's: the two LBs pick the same backend for
    /// every new flow.
    pub same_rings: bool,
    pub settled: bool,
    pub last_seen_s: u64,
    pub restarts: u64,
}

/// Flow sync in `status`, `/status` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSyncStatus {
    /// Where datagrams go: the peers, or the multicast group, with the port.
    pub to: Vec<SocketAddr>,
    /// This host's ring fingerprint (hex).
    pub fingerprint: String,
    pub peers: Vec<PeerStatus>,
    pub sent_flows: u64,
    pub sent_datagrams: u64,
    pub send_errors: u64,
    /// Recorded flows the program could not queue (`FLOW_EVENTS` full).
    pub lost: u64,
    /// Recorded flows not sent: the queue was full (`max_rate`).
    pub dropped: u64,
    /// Times the whole flow table was sent again because a peer returned
    /// (first heard, restarted, or back after a silence), and the flows
    /// those resends queued.
    #[serde(default)]
    pub resyncs: u64,
    #[serde(default)]
    pub resynced_flows: u64,
    pub received_datagrams: u64,
    pub received_flows: u64,
    pub applied: u64,
    pub apply_errors: u64,
    /// Peer flows waiting for their backend, down here now, to come up
    /// (for at most `HOLD_FOR`).
    #[serde(default)]
    pub held: u64,
    /// `unknown_service`, `unknown_backend`, `backend_down` -> count.
    pub not_sent: Vec<(String, u64)>,
    pub not_applied: Vec<(String, u64)>,
    /// `auth`, `version`, `malformed`, `replay`, `stranger` -> datagrams.
    pub rejected: Vec<(String, u64)>,
}

struct Shared {
    counters: Counters,
    /// Flows held now (`HOLD_FOR`).
    held: AtomicU64,
    peers: Mutex<Peers>,
    to: Vec<SocketAddr>,
}

/// The running flow sync: its two tasks, and what the shell feeds it.
pub struct FlowSync {
    view: watch::Sender<Arc<View>>,
    settled: watch::Sender<bool>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FlowSync {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Why flow sync could not start.
#[derive(Debug, thiserror::Error)]
pub enum FlowSyncError {
    #[error("flow_sync: the key was not loaded (the config is read without its key material)")]
    NoKey,
    #[error("flow_sync: {0}")]
    Dataplane(#[from] crate::dataplane::DataplaneError),
    #[error("flow_sync: cannot open the pinned {map} map at {path}: {source}")]
    Map {
        map: &'static str,
        path: String,
        source: aya::maps::MapError,
    },
    #[error("flow_sync: cannot open the UDP socket on port {port} ({what}): {source}")]
    Socket {
        port: u16,
        what: &'static str,
        source: std::io::Error,
    },
}

impl FlowSync {
    /// Opens the socket and the pinned `FLOW_EVENTS`, and starts sending
    /// and receiving. Runs before the agent drops its capabilities.
    pub fn start(
        config: &FlowSyncConfig,
        iface: &str,
        ifindex: u32,
        pin_dir: &Path,
    ) -> Result<Self, FlowSyncError> {
        let key = config.key.as_ref().ok_or(FlowSyncError::NoKey)?;
        let key = Arc::new(Key::new(key.as_bytes()));
        let events = open_events(pin_dir)?;
        let apply_maps = MapWriter::open(pin_dir)?;
        let table_maps = MapWriter::open(pin_dir)?;
        let resync = Arc::new(tokio::sync::Notify::new());
        let (socket, to) = open_socket(config, iface, ifindex)?;
        let socket = Arc::new(socket);
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            held: AtomicU64::new(0),
            peers: Mutex::new(Peers::default()),
            to: to.clone(),
        });
        let (view_tx, view_rx) = watch::channel(Arc::new(View::default()));
        let (settled_tx, settled_rx) = watch::channel(false);
        let mut incarnation = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut incarnation)
            .expect("the system's random source works");
        let sender = Sender {
            socket: socket.clone(),
            to,
            key: key.clone(),
            incarnation: u64::from_be_bytes(incarnation),
            seq: 0,
            view: view_rx.clone(),
            settled: settled_rx,
            shared: shared.clone(),
            queue: VecDeque::new(),
            resend: VecDeque::new(),
            bucket: TokenBucket::new(config.max_rate),
            maps: table_maps,
            resync: resync.clone(),
        };
        let receiver = Receiver {
            socket,
            key,
            peers_only: config.peers.clone(),
            view: view_rx,
            shared: shared.clone(),
            maps: apply_maps,
            resync,
            held: VecDeque::new(),
        };
        info!(
            port = config.port,
            to = ?shared.to,
            max_rate = config.max_rate,
            "flow sync: sending the flows this LB records, applying its peers'"
        );
        Ok(Self {
            view: view_tx,
            settled: settled_tx,
            shared,
            tasks: vec![
                tokio::spawn(sender.run(events)),
                tokio::spawn(receiver.run()),
            ],
        })
    }

    /// The services as just written: what ids mean from now on.
    pub fn set_view(&self, view: View) {
        self.view.send_replace(Arc::new(view));
    }

    pub fn set_settled(&self, settled: bool) {
        self.settled
            .send_if_modified(|s| std::mem::replace(s, settled) != settled);
    }

    /// `lost`: `SYNC_LOST`, read by the caller from its own maps.
    pub fn status(&self, lost: u64, now: Instant) -> FlowSyncStatus {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let own = self.view.borrow().fingerprint();
        let peers = self
            .shared
            .peers
            .lock()
            .expect("no task panics holding the peers")
            .iter()
            .map(|(addr, p)| PeerStatus {
                address: *addr,
                fingerprint: format!("{:016x}", p.fingerprint),
                same_rings: p.fingerprint == own,
                settled: p.settled,
                last_seen_s: now.saturating_duration_since(p.last_seen).as_secs(),
                restarts: p.restarts,
            })
            .collect();
        let per_skip = |a: &[AtomicU64; 3]| {
            Skip::ALL
                .iter()
                .map(|s| (s.name().to_owned(), get(&a[skip_slot(*s)])))
                .collect()
        };
        FlowSyncStatus {
            to: self.shared.to.clone(),
            fingerprint: format!("{own:016x}"),
            peers,
            sent_flows: get(&c.sent_flows),
            sent_datagrams: get(&c.sent_datagrams),
            send_errors: get(&c.send_errors),
            lost,
            dropped: get(&c.dropped),
            resyncs: get(&c.resyncs),
            resynced_flows: get(&c.resynced_flows),
            received_datagrams: get(&c.received_datagrams),
            received_flows: get(&c.received_flows),
            applied: get(&c.applied),
            held: get(&self.shared.held),
            apply_errors: get(&c.apply_errors),
            not_sent: per_skip(&c.not_sent),
            not_applied: per_skip(&c.not_applied),
            rejected: [
                ("auth", &c.rejected_auth),
                ("version", &c.rejected_version),
                ("malformed", &c.rejected_malformed),
                ("replay", &c.rejected_replay),
                ("stranger", &c.rejected_stranger),
            ]
            .into_iter()
            .map(|(n, a)| (n.to_owned(), get(a)))
            .collect(),
        }
    }
}

fn open_events(pin_dir: &Path) -> Result<RingBuf<MapData>, FlowSyncError> {
    let pin = PINNED_MAPS
        .iter()
        .find(|m| m.name == map_names::FLOW_EVENTS)
        .expect("FLOW_EVENTS is pinned");
    let path = pin_dir.join(pin.pin);
    let err = |source| FlowSyncError::Map {
        map: map_names::FLOW_EVENTS,
        path: path.display().to_string(),
        source,
    };
    let data = MapData::from_pin(&path).map_err(err)?;
    let map = Map::from_map_data(data).map_err(err)?;
    RingBuf::try_from(map).map_err(err)
}

/// The socket and where datagrams go: the peers (one dual-stack socket), or
/// the multicast group joined on the LB interface. Bound to the interface
/// either way: flow sync stays on the LB segment.
fn open_socket(
    c: &FlowSyncConfig,
    iface: &str,
    ifindex: u32,
) -> Result<(UdpSocket, Vec<SocketAddr>), FlowSyncError> {
    let port = c.port;
    let err = |what: &'static str| move |source| FlowSyncError::Socket { port, what, source };
    let (socket, to) = match (c.peers.is_empty(), c.group) {
        (false, _) => {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(SockProtocol::UDP))
                .map_err(err("socket"))?;
            s.set_only_v6(false).map_err(err("dual stack"))?;
            s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())
                .map_err(err("bind"))?;
            let to = c.peers.iter().map(|p| SocketAddr::new(*p, port)).collect();
            (s, to)
        }
        (true, IpAddr::V4(group)) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(SockProtocol::UDP))
                .map_err(err("socket"))?;
            s.set_reuse_address(true).map_err(err("reuse"))?;
            s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
                .map_err(err("bind"))?;
            s.join_multicast_v4_n(&group, &socket2::InterfaceIndexOrAddress::Index(ifindex))
                .map_err(err("join the group"))?;
            s.set_multicast_loop_v4(false)
                .map_err(err("multicast loop"))?;
            s.set_multicast_ttl_v4(1).map_err(err("multicast TTL"))?;
            (s, vec![SocketAddr::new(IpAddr::V4(group), port)])
        }
        (true, IpAddr::V6(group)) => {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(SockProtocol::UDP))
                .map_err(err("socket"))?;
            s.set_only_v6(true).map_err(err("IPv6 only"))?;
            s.set_reuse_address(true).map_err(err("reuse"))?;
            s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())
                .map_err(err("bind"))?;
            s.join_multicast_v6(&group, ifindex)
                .map_err(err("join the group"))?;
            s.set_multicast_if_v6(ifindex)
                .map_err(err("multicast interface"))?;
            s.set_multicast_loop_v6(false)
                .map_err(err("multicast loop"))?;
            s.set_multicast_hops_v6(1).map_err(err("multicast hops"))?;
            let to = SocketAddrV6::new(group, port, 0, ifindex);
            (s, vec![SocketAddr::V6(to)])
        }
    };
    socket
        .bind_device(Some(iface.as_bytes()))
        .map_err(err("bind to the interface"))?;
    socket.set_nonblocking(true).map_err(err("non-blocking"))?;
    let socket = UdpSocket::from_std(socket.into()).map_err(err("register"))?;
    Ok((socket, to))
}

/// At most `rate` flows a second, in bursts of a tenth of that.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        let burst = (rate / 10.0).max(MAX_FLOWS as f64);
        Self {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes up to `want` tokens; says how many it got.
    fn take(&mut self, want: usize, now: Instant) -> usize {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        let got = (want as f64).min(self.tokens.floor());
        self.tokens -= got;
        got as usize
    }
}

struct Sender {
    socket: Arc<UdpSocket>,
    to: Vec<SocketAddr>,
    key: Arc<Key>,
    incarnation: u64,
    seq: u64,
    view: watch::Receiver<Arc<View>>,
    settled: watch::Receiver<bool>,
    shared: Arc<Shared>,
    queue: VecDeque<SyncedFlow>,
    /// The flow table, queued again for a peer that returned: sent after
    /// the new flows, at what `max_rate` leaves.
    resend: VecDeque<SyncedFlow>,
    bucket: TokenBucket,
    /// Where the resends read the flow table.
    maps: MapWriter,
    /// Rung by the receiver when a peer returns.
    resync: Arc<tokio::sync::Notify>,
}

impl Sender {
    /// Every [`FLUSH_EVERY`]: reads what the program put on the ring
    /// (which it does without waking anyone: no wakeup costs the
    /// program, and the reads are batched anyway), then sends.
    async fn run(mut self, mut events: RingBuf<MapData>) {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sent = Instant::now() - HELLO_EVERY;
        loop {
            tokio::select! {
                () = self.resync.notified() => {
                    tokio::task::block_in_place(|| self.queue_table());
                }
                _ = flush.tick() => {
                    self.drain(&mut events);
                    self.send_flows(&mut last_sent).await;
                    if last_sent.elapsed() >= HELLO_EVERY {
                        self.send(Vec::new()).await;
                        last_sent = Instant::now();
                    }
                }
            }
        }
    }

    /// Reads every event in the ring into the queue, by address.
    fn drain(&mut self, ring: &mut RingBuf<MapData>) {
        let view = self.view.borrow().clone();
        let c = &self.shared.counters;
        while let Some(item) = ring.next() {
            if item.len() < size_of::<FlowEvent>() {
                continue;
            }
            // SAFETY: the program writes whole `FlowEvent`s (a repr(C) type
            // of integers, any bit pattern valid); the item is at least that
            // long, and read_unaligned copies it out.
            let event: FlowEvent =
                unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<FlowEvent>()) };
            drop(item);
            match view.outgoing(&event) {
                Ok(f) if self.queue.len() < QUEUE_LIMIT => self.queue.push_back(f),
                Ok(_) => {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(s) => {
                    debug!(
                        ?s,
                        service = event.value.service_id,
                        backend = event.value.backend_id,
                        "flow sync: a recorded flow not sent"
                    );
                    c.not_sent[skip_slot(s)].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Queues every flow of the table that this host's current services
    /// and backends account for, for a peer that missed them (a peer that
    /// returned). The table is the truth: it holds what the program steers
    /// now, whatever was or was not sent before.
    fn queue_table(&mut self) {
        let view = self.view.borrow().clone();
        let entries = match self.maps.flow_entries() {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %e, "flow sync: cannot read the flow table to send it again");
                return;
            }
        };
        self.resend.clear();
        // Each service's generation, read once for all its entries.
        let mut generations: HashMap<u32, Option<u32>> = HashMap::new();
        for (key, value) in entries {
            // An entry of an earlier incarnation of its service is one the
            // program no longer trusts: not worth sending.
            let current = *generations
                .entry(value.service_id)
                .or_insert_with(|| self.maps.service_generation(value.service_id).ok());
            if current != Some(value.service_gen) {
                continue;
            }
            if let Ok(f) = view.outgoing(&FlowEvent {
                key,
                value,
                _pad: 0,
            }) {
                self.resend.push_back(f);
            }
        }
        let c = &self.shared.counters;
        c.resyncs.fetch_add(1, Ordering::Relaxed);
        c.resynced_flows
            .fetch_add(self.resend.len() as u64, Ordering::Relaxed);
        info!(
            flows = self.resend.len(),
            "flow sync: a peer returned: sending it the flow table again"
        );
    }

    /// Sends what the rate allows, in full datagrams where it can: new
    /// flows first, then a resend.
    async fn send_flows(&mut self, last_sent: &mut Instant) {
        loop {
            let queue = if self.queue.is_empty() {
                &mut self.resend
            } else {
                &mut self.queue
            };
            if queue.is_empty() {
                return;
            }
            let want = queue.len().min(MAX_FLOWS);
            let got = self.bucket.take(want, Instant::now());
            if got == 0 {
                return;
            }
            let batch: Vec<SyncedFlow> = queue.drain(..got).collect();
            self.send(batch).await;
            *last_sent = Instant::now();
        }
    }

    async fn send(&mut self, flows: Vec<SyncedFlow>) {
        self.seq += 1;
        let n = flows.len() as u64;
        let m = Message {
            incarnation: self.incarnation,
            seq: self.seq,
            fingerprint: self.view.borrow().fingerprint(),
            settled: *self.settled.borrow(),
            flows,
        };
        let bytes = packet::encode(&m, &self.key);
        let c = &self.shared.counters;
        for to in &self.to {
            match self.socket.send_to(&bytes, to).await {
                Ok(_) => {
                    c.sent_datagrams.fetch_add(1, Ordering::Relaxed);
                    c.sent_flows.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    if c.send_errors
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(1000)
                    {
                        warn!(to = %to, error = %e, "flow sync: cannot send (logged once in 1000)");
                    }
                }
            }
        }
    }
}

struct Receiver {
    socket: Arc<UdpSocket>,
    key: Arc<Key>,
    /// Datagrams only from these, when set (unicast peers).
    peers_only: Vec<IpAddr>,
    view: watch::Receiver<Arc<View>>,
    shared: Arc<Shared>,
    maps: MapWriter,
    resync: Arc<tokio::sync::Notify>,
    /// Flows whose backend is down here, with when they arrived.
    held: VecDeque<(Instant, SyncedFlow)>,
}

impl Receiver {
    async fn run(mut self) {
        let mut buf = vec![0u8; MAX_LEN + 1];
        let mut views = self.view.clone();
        loop {
            let received = tokio::select! {
                r = self.socket.recv_from(&mut buf) => r,
                changed = views.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.retry_held();
                    continue;
                }
            };
            let (n, from) = match received {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "flow sync: receive failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            self.datagram(&buf[..n], from.ip().to_canonical());
        }
    }

    fn datagram(&mut self, bytes: &[u8], from: IpAddr) {
        let c = &self.shared.counters;
        c.received_datagrams.fetch_add(1, Ordering::Relaxed);
        if !self.peers_only.is_empty() && !self.peers_only.contains(&from) {
            if c.rejected_stranger
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(1000)
            {
                warn!(%from, "flow sync: a datagram from an address not in flow_sync.peers, dropped (logged once in 1000)");
            }
            return;
        }
        let m = match packet::decode(bytes, &self.key) {
            Ok(m) => m,
            Err(e) => {
                let counter = match e.reason() {
                    "auth" => &c.rejected_auth,
                    "version" => &c.rejected_version,
                    _ => &c.rejected_malformed,
                };
                if counter.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                    warn!(%from, error = %e, "flow sync: datagram refused (logged once in 1000 of its kind)");
                }
                return;
            }
        };
        let accepted = self
            .shared
            .peers
            .lock()
            .expect("no task panics holding the peers")
            .accept(from, &m, Instant::now());
        match accepted {
            Err(_) => {
                c.rejected_replay.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Contact::Returned) => {
                info!(%from, incarnation = m.incarnation, "flow sync: a peer is heard (first, restarted, or after a silence)");
                self.resync.notify_one();
            }
            Ok(Contact::Steady) => {}
        }
        c.received_flows
            .fetch_add(m.flows.len() as u64, Ordering::Relaxed);
        let view = self.view.borrow().clone();
        let now = Instant::now();
        for f in m.flows {
            self.apply(&view, f, now);
        }
        self.shared
            .held
            .store(self.held.len() as u64, Ordering::Relaxed);
    }

    /// Writes `f` into the flow table under this host's ids, holds it while
    /// its backend is down here, or counts why not.
    fn apply(&mut self, view: &View, f: SyncedFlow, since: Instant) {
        let c = &self.shared.counters;
        match view.incoming(&f) {
            Ok(local) => {
                let written =
                    self.maps
                        .service_generation(local.service_id)
                        .and_then(|service_gen| {
                            self.maps.set_flow(
                                &local.key,
                                &FlowValue {
                                    backend_id: local.backend_id,
                                    service_id: local.service_id,
                                    service_gen,
                                },
                            )
                        });
                match written {
                    Ok(()) => {
                        c.applied.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if c.apply_errors
                            .fetch_add(1, Ordering::Relaxed)
                            .is_multiple_of(1000)
                        {
                            warn!(error = %e, "flow sync: cannot write a peer's flow (logged once in 1000)");
                        }
                    }
                }
            }
            // Down here now: held for a while, in case it is only down
            // *yet* (this host's checks after a partition heals, say).
            Err(Skip::BackendDown)
                if since.elapsed() < HOLD_FOR && self.held.len() < HOLD_LIMIT =>
            {
                self.held.push_back((since, f));
            }
            Err(s) => {
                c.not_applied[skip_slot(s)].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The view changed: held flows whose backend is up now are applied,
    /// those still down wait on, until [`HOLD_FOR`].
    fn retry_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let view = self.view.borrow().clone();
        for (since, f) in std::mem::take(&mut self.held) {
            self.apply(&view, f, since);
        }
        self.shared
            .held
            .store(self.held.len() as u64, Ordering::Relaxed);
    }
}
