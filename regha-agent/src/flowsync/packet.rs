//! The flow sync datagram: what one LB tells its peers about the flows it
//! recorded, authenticated with the shared key. Pure: bytes in, a message
//! out (or why not), and back.
//!
//! ```text
//!  0       4    5    6         8                16               24               32        40
//!  | "RGFS" | ver| kind| count  | incarnation    | sequence       | ring fingerprint| flags   |
//!  +--------+----+-----+--------+----------------+----------------+----------------+---------+
//!  | count x 60-byte flow entries                                                            |
//!  | HMAC-SHA256 (32 bytes) of everything before it, keyed with the shared key               |
//! ```
//!
//! A flow entry names everything by address, never by an id local to one
//! LB (service ids, generations and backend ids differ between hosts):
//!
//! ```text
//!  0      1      2          3   4           6         8             10  12        28     44        60
//!  | fam  | proto| be fam   | 0 | client port| VIP port| backend port| 0 | client | VIP  | backend |
//! ```
//! (addresses are 16 bytes; an IPv4 one in the first four, the rest zero.)
//!
//! Integers are big-endian. `version` changes with any change of this
//! layout: a peer of another version is refused and counted, so a mixed
//! pair during an upgrade shows in the counters instead of writing
//! garbage into flow tables.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use regha_model::Protocol;
use ring::hmac;

/// The first four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"RGFS";
/// The format this build speaks.
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 40;
pub const ENTRY_LEN: usize = 60;
pub const TAG_LEN: usize = 32;
/// Flow entries in one datagram at most: 40 + 22 x 60 + 32 = 1392 bytes,
/// under any Ethernet MTU with IPv6 and UDP headers.
pub const MAX_FLOWS: usize = 22;
/// The longest datagram.
pub const MAX_LEN: usize = HEADER_LEN + MAX_FLOWS * ENTRY_LEN + TAG_LEN;

/// `kind`: flows recorded by the sender.
const KIND_FLOWS: u8 = 1;
/// `kind`: no flows, only the sender's state (sent every second, so a peer
/// knows the sender's ring fingerprint even when no flow starts).
const KIND_HELLO: u8 = 2;
/// `flags`: the sender's health view is settled.
const FLAG_SETTLED: u32 = 1;

/// One connection the sender steers, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncedFlow {
    pub protocol: Protocol,
    pub client: SocketAddr,
    /// The service: `VIP:port` (with `protocol`).
    pub vip: SocketAddr,
    pub backend: SocketAddr,
}

/// One datagram's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Random, drawn when the sender's agent starts: a restarted peer
    /// starts a new sequence.
    pub incarnation: u64,
    /// Per incarnation, from 1: a datagram at or below the last one seen is
    /// a replay (or late) and is refused.
    pub seq: u64,
    /// The sender's ring fingerprint (`view::fingerprint`).
    pub fingerprint: u64,
    /// Whether the sender's health view is settled.
    pub settled: bool,
    /// Empty: a hello.
    pub flows: Vec<SyncedFlow>,
}

/// Why a datagram was refused. Each is counted by kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes: shorter than a header and a tag")]
    Short(usize),
    #[error("not a regha flow sync datagram (magic {0:02x?})")]
    Magic([u8; 4]),
    #[error(
        "format version {0}, this agent speaks {VERSION}: upgrade both LBs to the same regha release"
    )]
    Version(u8),
    #[error(
        "wrong HMAC: the peer's flow_sync key differs from this one (or the datagram was altered)"
    )]
    Auth,
    #[error("kind {0} is not flows (1) or hello (2)")]
    Kind(u8),
    #[error("{count} flows announced, {len} bytes do not hold them")]
    Length { count: usize, len: usize },
    #[error("flow {index}: {why}")]
    Entry { index: usize, why: &'static str },
}

impl DecodeError {
    /// The counter it goes to (`rejected{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Short(_) | Self::Magic(_) | Self::Kind(_) | Self::Length { .. } => "malformed",
            Self::Entry { .. } => "malformed",
            Self::Version(_) => "version",
            Self::Auth => "auth",
        }
    }
}

/// The shared key, ready to sign and verify.
pub struct Key(hmac::Key);

impl Key {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The tag of `signed` (what [`encode`] appends), for tests and the
    /// fuzz target to seal bytes of their own.
    pub fn tag(&self, signed: &[u8]) -> [u8; TAG_LEN] {
        hmac::sign(&self.0, signed)
            .as_ref()
            .try_into()
            .expect("HMAC-SHA256 tags are 32 bytes")
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// `m` as one signed datagram. At most [`MAX_FLOWS`] flows: the caller
/// batches.
pub fn encode(m: &Message, key: &Key) -> Vec<u8> {
    assert!(
        m.flows.len() <= MAX_FLOWS,
        "the sender batches by MAX_FLOWS"
    );
    let mut out = Vec::with_capacity(HEADER_LEN + m.flows.len() * ENTRY_LEN + TAG_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(if m.flows.is_empty() {
        KIND_HELLO
    } else {
        KIND_FLOWS
    });
    out.extend_from_slice(&(m.flows.len() as u16).to_be_bytes());
    out.extend_from_slice(&m.incarnation.to_be_bytes());
    out.extend_from_slice(&m.seq.to_be_bytes());
    out.extend_from_slice(&m.fingerprint.to_be_bytes());
    let flags = if m.settled { FLAG_SETTLED } else { 0 };
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for f in &m.flows {
        encode_flow(f, &mut out);
    }
    let tag = hmac::sign(&key.0, &out);
    out.extend_from_slice(tag.as_ref());
    out
}

fn family(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 4 } else { 6 }
}

fn addr16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

fn encode_flow(f: &SyncedFlow, out: &mut Vec<u8>) {
    out.push(family(f.client.ip()));
    out.push(f.protocol.number());
    out.push(family(f.backend.ip()));
    out.push(0);
    out.extend_from_slice(&f.client.port().to_be_bytes());
    out.extend_from_slice(&f.vip.port().to_be_bytes());
    out.extend_from_slice(&f.backend.port().to_be_bytes());
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(&addr16(f.client.ip()));
    out.extend_from_slice(&addr16(f.vip.ip()));
    out.extend_from_slice(&addr16(f.backend.ip()));
}

/// The message in `bytes`, if it is whole, of this version and signed with
/// `key`. The tag is checked (in constant time) before any entry is read.
pub fn decode(bytes: &[u8], key: &Key) -> Result<Message, DecodeError> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(DecodeError::Short(bytes.len()));
    }
    let magic: [u8; 4] = bytes[0..4].try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(DecodeError::Magic(magic));
    }
    if bytes[4] != VERSION {
        return Err(DecodeError::Version(bytes[4]));
    }
    let (signed, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    hmac::verify(&key.0, signed, tag).map_err(|_| DecodeError::Auth)?;
    let kind = bytes[5];
    let count = usize::from(u16::from_be_bytes([bytes[6], bytes[7]]));
    let body = &signed[HEADER_LEN..];
    match kind {
        KIND_FLOWS if count > 0 => {}
        KIND_HELLO if count == 0 => {}
        KIND_FLOWS | KIND_HELLO => {
            return Err(DecodeError::Length {
                count,
                len: bytes.len(),
            });
        }
        k => return Err(DecodeError::Kind(k)),
    }
    if count > MAX_FLOWS || body.len() != count * ENTRY_LEN {
        return Err(DecodeError::Length {
            count,
            len: bytes.len(),
        });
    }
    let word = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let flags = u32::from_be_bytes(bytes[32..36].try_into().expect("4 bytes"));
    let flows = body
        .chunks_exact(ENTRY_LEN)
        .enumerate()
        .map(|(index, e)| decode_flow(e).map_err(|why| DecodeError::Entry { index, why }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message {
        incarnation: word(8),
        seq: word(16),
        fingerprint: word(24),
        settled: flags & FLAG_SETTLED != 0,
        flows,
    })
}

fn ip_of(family: u8, b: &[u8]) -> Result<IpAddr, &'static str> {
    let b: [u8; 16] = b.try_into().expect("16 bytes");
    match family {
        4 if b[4..].iter().all(|&x| x == 0) => {
            Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        4 => Err("an IPv4 address with bytes past its fourth"),
        6 => Ok(IpAddr::V6(Ipv6Addr::from(b))),
        _ => Err("address family is not 4 or 6"),
    }
}

fn decode_flow(e: &[u8]) -> Result<SyncedFlow, &'static str> {
    let protocol = match e[1] {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        _ => return Err("protocol is not TCP (6) or UDP (17)"),
    };
    let port = |at: usize| u16::from_be_bytes([e[at], e[at + 1]]);
    let client = ip_of(e[0], &e[12..28])?;
    let vip = ip_of(e[0], &e[28..44])?;
    let backend = ip_of(e[2], &e[44..60])?;
    if port(6) == 0 || port(8) == 0 {
        return Err("a service or backend port of 0");
    }
    Ok(SyncedFlow {
        protocol,
        client: SocketAddr::new(client, port(4)),
        vip: SocketAddr::new(vip, port(6)),
        backend: SocketAddr::new(backend, port(8)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(b"0123456789abcdef0123456789abcdef")
    }

    fn flow(i: u16) -> SyncedFlow {
        SyncedFlow {
            protocol: Protocol::Tcp,
            client: format!("198.51.100.7:{}", 40000 + i).parse().unwrap(),
            vip: "192.0.2.100:5000".parse().unwrap(),
            backend: "192.0.2.11:5000".parse().unwrap(),
        }
    }

    fn message(flows: Vec<SyncedFlow>) -> Message {
        Message {
            incarnation: 0x0123_4567_89ab_cdef,
            seq: 42,
            fingerprint: 0xfeed_f00d_dead_beef,
            settled: true,
            flows,
        }
    }

    #[test]
    fn a_full_datagram_round_trips_and_fits_the_mtu() {
        let m = message((0..MAX_FLOWS as u16).map(flow).collect());
        let bytes = encode(&m, &key());
        assert_eq!(bytes.len(), MAX_LEN);
        const { assert!(MAX_LEN <= 1500 - 40 - 8, "IPv6 + UDP headers") };
        assert_eq!(decode(&bytes, &key()), Ok(m));
    }

    #[test]
    fn ipv6_udp_and_a_hello_round_trip() {
        let v6 = SyncedFlow {
            protocol: Protocol::Udp,
            client: "[2001:db8::7]:5353".parse().unwrap(),
            vip: "[2001:db8::100]:53".parse().unwrap(),
            backend: "[2001:db8::11]:53".parse().unwrap(),
        };
        for m in [message(vec![v6]), message(vec![])] {
            assert_eq!(decode(&encode(&m, &key()), &key()), Ok(m));
        }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = encode(&message(vec![flow(1)]), &key());
        assert_eq!(&bytes[0..4], b"RGFS");
        assert_eq!(bytes[4], VERSION);
        assert_eq!(bytes[5], KIND_FLOWS);
        assert_eq!(&bytes[6..8], &[0, 1]);
        assert_eq!(&bytes[16..24], &42u64.to_be_bytes());
        assert_eq!(&bytes[32..36], &[0, 0, 0, 1]);
        let e = &bytes[HEADER_LEN..HEADER_LEN + ENTRY_LEN];
        assert_eq!(&e[0..4], &[4, 6, 4, 0]);
        assert_eq!(&e[4..6], &40001u16.to_be_bytes());
        assert_eq!(&e[6..8], &5000u16.to_be_bytes());
        assert_eq!(&e[12..16], &[198, 51, 100, 7]);
        assert_eq!(&e[28..32], &[192, 0, 2, 100]);
        assert_eq!(&e[44..48], &[192, 0, 2, 11]);
    }

    #[test]
    fn another_key_or_any_changed_byte_is_refused() {
        let bytes = encode(&message(vec![flow(1), flow(2)]), &key());
        assert_eq!(
            decode(&bytes, &Key::new(b"another key, as long as the first")),
            Err(DecodeError::Auth)
        );
        for i in 5..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert_eq!(decode(&b, &key()), Err(DecodeError::Auth), "byte {i}");
        }
    }

    #[test]
    fn another_version_is_named_before_the_key_is_tried() {
        let mut bytes = encode(&message(vec![flow(1)]), &key());
        bytes[4] = 2;
        let e = decode(&bytes, &key()).unwrap_err();
        assert_eq!(e, DecodeError::Version(2));
        assert_eq!(e.reason(), "version");
        assert!(e.to_string().contains("upgrade both LBs"), "{e}");
    }

    #[test]
    fn short_foreign_and_truncated_datagrams_are_refused() {
        let k = key();
        assert_eq!(decode(&[], &k), Err(DecodeError::Short(0)));
        assert_eq!(
            decode(&[0u8; HEADER_LEN + TAG_LEN], &k),
            Err(DecodeError::Magic([0; 4]))
        );
        let bytes = encode(&message(vec![flow(1), flow(2)]), &k);
        // Cut one entry and re-sign: the count no longer matches.
        let mut cut = bytes[..HEADER_LEN + ENTRY_LEN].to_vec();
        let tag = hmac::sign(&k.0, &cut);
        cut.extend_from_slice(tag.as_ref());
        assert!(matches!(
            decode(&cut, &k),
            Err(DecodeError::Length { count: 2, .. })
        ));
    }

    /// A signed datagram (a peer of a buggy build) with a bad entry: refused
    /// whole, with the entry named.
    #[test]
    fn a_signed_but_malformed_entry_is_refused_whole() {
        let k = key();
        let sign = |mut b: Vec<u8>| {
            b.truncate(b.len() - TAG_LEN);
            let tag = hmac::sign(&k.0, &b);
            b.extend_from_slice(tag.as_ref());
            b
        };
        let good = encode(&message(vec![flow(1), flow(2)]), &k);
        let cases: [(usize, u8, &str); 5] = [
            (HEADER_LEN + ENTRY_LEN + 1, 1, "protocol"),
            (HEADER_LEN + ENTRY_LEN, 5, "family"),
            (HEADER_LEN + ENTRY_LEN + 2, 9, "family"),
            (HEADER_LEN + ENTRY_LEN + 12 + 5, 1, "IPv4 address"),
            (HEADER_LEN + ENTRY_LEN + 7, 0, "port of 0"),
        ];
        for (at, value, why) in cases {
            let mut b = good.clone();
            b[at] = value;
            if at == HEADER_LEN + ENTRY_LEN + 7 {
                b[at - 1] = 0;
            }
            match decode(&sign(b), &k) {
                Err(DecodeError::Entry { index: 1, why: w }) => assert!(w.contains(why), "{w}"),
                other => panic!("byte {at} = {value}: {other:?}"),
            }
        }
        let mut b = good.clone();
        b[5] = 9;
        assert_eq!(decode(&sign(b), &k), Err(DecodeError::Kind(9)));
    }
}
