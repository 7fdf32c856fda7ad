//! The flow sync receive path (`regha_agent::flowsync`) against any bytes a
//! host on the LB segment can send: decoding must never panic, nothing
//! unsigned is ever accepted, and what is accepted maps into this host's
//! flow table only under the apply rules.
//!
//! Input: one control byte, then the datagram.
//!
//! | `ctl & 3` | the rest of the input |
//! |---|---|
//! | 0 | a datagram as received (almost never signed: must be refused, unless it is) |
//! | 1 | the same, magic and version made right and resealed with the key, so the checks after the HMAC are reached |
//! | 2, 3 | a message described field by field: encoded, then decoded (the round trip) |
//!
//! Whatever decodes must re-encode to bytes that decode to the same
//! message, and each of its flows either maps to this host's ids (a
//! service and backend it has, the backend not down) or is skipped with a
//! reason.
#![no_main]

#[path = "common/reader.rs"]
mod reader;

use reader::Reader;

use std::net::{IpAddr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use regha_agent::{
    dataplane::{BackendSpec, ServiceSpec},
    flowsync::{
        packet::{self, HEADER_LEN, Key, MAGIC, MAX_FLOWS, Message, SyncedFlow, TAG_LEN, VERSION},
        view::{Skip, View},
    },
};
use regha_model::{BackendState, HashMode, Protocol};

const KEY: &[u8] = b"regha fuzz key, 32 bytes long!!!";

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let key = Key::new(KEY);
    match ctl & 3 {
        0 => received(rest, &key),
        1 => received(&reseal(rest, &key), &key),
        _ => structured(rest, &key),
    }
});

fn received(bytes: &[u8], key: &Key) {
    match packet::decode(bytes, key) {
        Ok(m) => accepted(&m, bytes, key),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Magic and version set right, and the HMAC recomputed: past the checks
/// a stranger cannot pass.
fn reseal(rest: &[u8], key: &Key) -> Vec<u8> {
    let mut b = rest.to_vec();
    if b.len() < HEADER_LEN + TAG_LEN {
        return b;
    }
    b[0..4].copy_from_slice(&MAGIC);
    b[4] = VERSION;
    let at = b.len() - TAG_LEN;
    let tag = key.tag(&b[..at]);
    b[at..].copy_from_slice(&tag);
    b
}

fn accepted(m: &Message, bytes: &[u8], key: &Key) {
    assert_eq!(&bytes[0..4], &MAGIC);
    assert_eq!(bytes[4], VERSION);
    assert!(m.flows.len() <= MAX_FLOWS);
    assert_eq!(
        bytes.len(),
        HEADER_LEN + m.flows.len() * packet::ENTRY_LEN + TAG_LEN
    );
    let again = packet::encode(m, key);
    assert_eq!(packet::decode(&again, key).as_ref(), Ok(m));
    // The same bytes under another key: refused.
    assert!(packet::decode(bytes, &Key::new(b"another key of 32 bytes, really")).is_err());
    apply(m);
}

/// Every flow either maps to this host's ids under the rules or is skipped.
fn apply(m: &Message) {
    let view = View::new(&[service()]);
    for f in &m.flows {
        match view.incoming(f) {
            Ok(local) => {
                assert_eq!(f.protocol, Protocol::Tcp);
                assert_eq!(f.vip, SocketAddr::from(([192, 0, 2, 100], 5000)));
                assert_eq!(local.service_id, 7);
                assert!(
                    local.backend_id == 1 || local.backend_id == 2,
                    "down or unknown backend applied"
                );
                assert_eq!((local.key.sport, local.key.dport), (f.client.port(), 5000));
            }
            Err(Skip::BackendDown) => assert_eq!(f.backend, be(13)),
            Err(_) => {}
        }
    }
}

fn be(last: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], 5000))
}

/// The receiver's one service: two backends taking flows, one down.
fn service() -> ServiceSpec {
    let backend = |id, last, state| BackendSpec {
        id,
        addr: IpAddr::from([192, 0, 2, last]),
        port: 5000,
        mac: [2, 0, 0, 0, 0, last],
        weight: 1,
        state,
    };
    ServiceSpec {
        id: 7,
        vip: IpAddr::from([192, 0, 2, 100]),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 0,
        ring_size: 251,
        backends: vec![
            backend(1, 11, BackendState::Up),
            backend(2, 12, BackendState::Draining),
            backend(3, 13, BackendState::Down),
        ],
        allow: vec![],
    }
}

/// A message from the input's bytes, encoded and decoded: the decoder takes
/// back everything the encoder emits.
fn structured(rest: &[u8], key: &Key) {
    let mut r = Reader(rest);
    let incarnation = r.u64();
    let seq = r.u64();
    let fingerprint = r.u64();
    let settled = r.byte() & 1 != 0;
    let count = usize::from(r.byte()) % (MAX_FLOWS + 1);
    let mut flows = Vec::new();
    for _ in 0..count {
        let ctl = r.byte();
        let v6 = ctl & 1 != 0;
        let addr = |r: &mut Reader, v6: bool| {
            if v6 {
                IpAddr::V6(r.v6())
            } else {
                IpAddr::V4(r.v4())
            }
        };
        let client = SocketAddr::new(addr(&mut r, v6), r.u16());
        // Ports of 0 are refused by the decoder: the encoder's callers never
        // send them (services and backends have ports).
        let vip = SocketAddr::new(addr(&mut r, v6), r.u16().max(1));
        let backend = SocketAddr::new(addr(&mut r, ctl & 2 != 0), r.u16().max(1));
        flows.push(SyncedFlow {
            protocol: if ctl & 4 != 0 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            },
            client,
            vip,
            backend,
        });
    }
    let m = Message {
        incarnation,
        seq,
        fingerprint,
        settled,
        flows,
    };
    let bytes = packet::encode(&m, key);
    assert_eq!(
        packet::decode(&bytes, key),
        Ok(m.clone()),
        "encoded {bytes:02x?}"
    );
    apply(&m);
}
