//! The VRRP decoder (`regha_agent::vrrp::packet`) against any bytes a host on
//! the segment can send: it must never panic, and what it accepts must be
//! what it would have sent itself.
//!
//! Input: one control byte, then the packet.
//!
//! | `ctl & 3` | the rest of the input |
//! |---|---|
//! | 0 | an IPv4 datagram, as a raw socket returns it |
//! | 1 | the same, VRRP checksum recomputed first (bit 2 set: v3 without the pseudo-header) so the checks after it are reached |
//! | 2 | IPv6: hop limit, source (16), destination (16), VRRP payload; bit 2 set: checksum recomputed |
//! | 3 | an advert described field by field: encoded, then decoded (the round trip from the other side) |
//!
//! Bit 3 set: the receiver expects what the packet carries (its version,
//! VRID, interval and password), so accepts are reached; clear: bits 4-7
//! choose the expectation (v3, IPv6 instance, password "1111", interval 1 s).
//!
//! Whatever decodes must: carry the expected version, VRID, family and
//! password; have as many addresses as its count byte says; and re-encode,
//! with either v3 checksum style, to bytes that decode to the same advert.
#![no_main]

#[path = "common/reader.rs"]
mod reader;

use reader::Reader;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use regha_agent::vrrp::packet::{
    Advert, Expect, IPPROTO_VRRP, Received, Reject, V3Checksum, VRRP_TTL, auth_bytes,
    decode_ipv4_packet, decode_ipv6_payload,
};
use regha_model::VrrpVersion;

const PASS: &str = "1111";

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    match ctl & 3 {
        0 => ipv4(ctl, rest.to_vec(), false),
        1 => ipv4(ctl, rest.to_vec(), true),
        2 => ipv6(ctl, rest),
        _ => structured(ctl, rest),
    }
});

// --- The three packet modes. -----------------------------------------------

fn ipv4(ctl: u8, mut packet: Vec<u8>, reseal: bool) {
    let located = vrrp_in_ipv4(&packet);
    if reseal && let Some((start, end, src, dst)) = located {
        let style = if ctl & 4 != 0 {
            V3Checksum::WithoutPseudoHeader
        } else {
            V3Checksum::WithPseudoHeader
        };
        reseal_v4(&mut packet[start..end], src, dst, style);
    }
    let payload = located.map(|(s, e, _, _)| &packet[s..e]);
    let expect = expectation(ctl, payload, false);
    let got = decode_ipv4_packet(&packet, &expect);
    if let Ok(r) = &got {
        let payload = payload.expect("an accepted packet has a VRRP payload");
        check_accepted(r, payload, &expect);
    }
}

fn ipv6(ctl: u8, rest: &[u8]) {
    if rest.len() < 33 {
        return;
    }
    let hop_limit = rest[0];
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&rest[1..17]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&rest[17..33]).unwrap());
    let mut payload = rest[33..].to_vec();
    if ctl & 4 != 0 && payload.len() >= 8 {
        payload[6..8].fill(0);
        let sum = sum_words(&payload) + pseudo6(src, dst, payload.len());
        payload[6..8].copy_from_slice(&finish(sum).to_be_bytes());
    }
    let expect = expectation(ctl, Some(&payload), true);
    if let Ok(r) = decode_ipv6_payload(&payload, src, dst, hop_limit, &expect) {
        check_accepted(&r, &payload, &expect);
    }
}

/// An advert from the input's bytes, encoded and decoded: the decoder takes
/// back everything the encoder emits, normalised as documented (addresses
/// of the packet's family only, at most 255; intervals clamped).
fn structured(ctl: u8, rest: &[u8]) {
    let mut r = Reader(rest);
    let version = if ctl & 4 != 0 {
        VrrpVersion::V3
    } else {
        VrrpVersion::V2
    };
    let v6 = ctl & 8 != 0;
    let (src, dst) = if v6 {
        (IpAddr::V6(r.v6()), IpAddr::V6(r.v6()))
    } else {
        (IpAddr::V4(r.v4()), IpAddr::V4(r.v4()))
    };
    let vrid = r.byte();
    let priority = r.byte();
    let interval = u16::from_be_bytes([r.byte(), r.byte()]);
    let auth = (ctl & 16 != 0).then(|| {
        let mut a = [0u8; 8];
        a.iter_mut().for_each(|b| *b = r.byte());
        a
    });
    let count = usize::from(r.byte()) + usize::from(ctl >> 7) * 200;
    let mut addrs = Vec::new();
    for _ in 0..count {
        if r.0.is_empty() {
            break;
        }
        // One byte picks the family, so the encoder's filter is exercised.
        addrs.push(if r.byte() & 1 == 0 {
            IpAddr::V4(r.v4())
        } else {
            IpAddr::V6(r.v6())
        });
    }
    let advert = Advert {
        version,
        vrid,
        priority,
        interval,
        addrs,
        auth,
    };
    let style = if ctl & 32 != 0 {
        V3Checksum::WithoutPseudoHeader
    } else {
        V3Checksum::WithPseudoHeader
    };
    let bytes = advert.encode(src, dst, style);

    let kept: Vec<IpAddr> = advert
        .addrs
        .iter()
        .copied()
        .filter(|a| a.is_ipv6() == v6)
        .take(255)
        .collect();
    let want = Advert {
        interval: match version {
            VrrpVersion::V2 => interval.min(255),
            VrrpVersion::V3 => interval.min(0x0fff),
        },
        addrs: kept,
        auth: if version == VrrpVersion::V2 {
            auth
        } else {
            None
        },
        ..advert.clone()
    };
    let expect = Expect {
        version,
        vrid,
        interval_s: (version == VrrpVersion::V2).then_some(want.interval),
        auth: want.auth,
        family_v6: v6,
    };
    let got = decode(&bytes, src, dst, &expect).map(|r| r.advert);
    if version == VrrpVersion::V2 && v6 && auth.is_some() {
        // v2 over IPv6 has no authentication data: a password cannot be
        // checked, so the decoder fails closed.
        assert_eq!(got, Err(Reject::AuthPass), "v2 over IPv6 with a password");
    } else {
        assert_eq!(got, Ok(want), "encoded {bytes:02x?} from {advert:?}");
    }
}

// --- What every accepted packet must satisfy. ------------------------------

fn check_accepted(r: &Received, payload: &[u8], expect: &Expect) {
    let a = &r.advert;
    assert_eq!(r.ttl, VRRP_TTL);
    assert_eq!(a.version, expect.version);
    assert_eq!(a.vrid, expect.vrid);
    assert_eq!(r.src.is_ipv6(), expect.family_v6);
    assert_eq!(r.dst.is_ipv6(), expect.family_v6);
    assert!(a.addrs.iter().all(|x| x.is_ipv6() == expect.family_v6));
    assert_eq!(a.addrs.len(), usize::from(payload[3]), "count byte");
    assert_eq!(a.priority, payload[2]);
    match a.version {
        VrrpVersion::V2 => {
            assert!(a.interval <= 255);
            if let Some(want) = expect.interval_s {
                assert_eq!(a.interval, want);
            }
            assert_eq!(
                a.auth, expect.auth,
                "the password accepted is the one expected"
            );
        }
        VrrpVersion::V3 => {
            assert!(a.interval <= 0x0fff);
            assert_eq!(a.auth, None, "v3 has no authentication");
        }
    }
    // Re-encoded, with either v3 style, it decodes to the same advert.
    for style in [
        V3Checksum::WithPseudoHeader,
        V3Checksum::WithoutPseudoHeader,
    ] {
        let bytes = a.encode(r.src, r.dst, style);
        assert!(bytes.len() <= payload.len(), "re-encoding grew the message");
        let again = decode(&bytes, r.src, r.dst, expect);
        assert_eq!(
            again.as_ref(),
            Ok(r),
            "re-encoded as {bytes:02x?} ({style:?})"
        );
    }
}

/// Decodes a VRRP payload as received from `src` to `dst` with TTL 255.
fn decode(payload: &[u8], src: IpAddr, dst: IpAddr, expect: &Expect) -> Result<Received, Reject> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => decode_ipv4_packet(&ipv4_packet(s, d, payload), expect),
        (IpAddr::V6(s), IpAddr::V6(d)) => decode_ipv6_payload(payload, s, d, VRRP_TTL, expect),
        _ => unreachable!("one family"),
    }
}

fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, VRRP_TTL, IPPROTO_VRRP, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

// --- Expectations. ---------------------------------------------------------

/// What the receiver is configured for: read off the packet (bit 3) so that
/// accepts are reached, or chosen by bits 4-7.
fn expectation(ctl: u8, payload: Option<&[u8]>, v6: bool) -> Expect {
    if ctl & 8 != 0
        && let Some(p) = payload.filter(|p| p.len() >= 8)
    {
        let version = if p[0] >> 4 == 3 {
            VrrpVersion::V3
        } else {
            VrrpVersion::V2
        };
        let auth_at = 8 + usize::from(p[3]) * if v6 { 16 } else { 4 };
        let auth = (version == VrrpVersion::V2 && p[4] == 1).then(|| {
            let mut a = [0u8; 8];
            if let Some(bytes) = p.get(auth_at..auth_at + 8) {
                a.copy_from_slice(bytes);
            }
            a
        });
        return Expect {
            version,
            vrid: p[1],
            interval_s: Some(u16::from(p[5])),
            auth,
            family_v6: v6,
        };
    }
    Expect {
        version: if ctl & 16 != 0 {
            VrrpVersion::V3
        } else {
            VrrpVersion::V2
        },
        vrid: payload.and_then(|p| p.get(1).copied()).unwrap_or(51),
        interval_s: (ctl & 128 != 0).then_some(1),
        auth: (ctl & 64 != 0).then(|| auth_bytes(PASS)),
        family_v6: ctl & 32 != 0,
    }
}

// --- Checksums, written apart from the codec's. ----------------------------

/// Where the VRRP payload of an IPv4 datagram lies (start, end) and its
/// addresses, if the IP header is sound enough to say.
fn vrrp_in_ipv4(p: &[u8]) -> Option<(usize, usize, Ipv4Addr, Ipv4Addr)> {
    if p.len() < 20 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if ihl < 20 || total < ihl || total > p.len() {
        return None;
    }
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    Some((ihl, total, src, dst))
}

/// Writes the checksum the decoder wants into an IPv4 VRRP payload: over
/// the message its count describes (not the padding), with the IPv4
/// pseudo-header for v3 when `style` says so.
fn reseal_v4(payload: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, style: V3Checksum) {
    if payload.len() < 8 {
        return;
    }
    let v3 = payload[0] >> 4 == 3;
    let msg_len = (8 + usize::from(payload[3]) * 4 + if v3 { 0 } else { 8 }).min(payload.len());
    payload[6..8].fill(0);
    let mut sum = sum_words(&payload[..msg_len]);
    if v3 && style == V3Checksum::WithPseudoHeader {
        sum += pseudo4(src, dst, msg_len);
    }
    payload[6..8].copy_from_slice(&finish(sum).to_be_bytes());
}

fn sum_words(data: &[u8]) -> u64 {
    data.chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn finish(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> u64 {
    sum_words(&src.octets()) + sum_words(&dst.octets()) + u64::from(IPPROTO_VRRP) + len as u64
}

fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u64 {
    sum_words(&src.octets())
        + sum_words(&dst.octets())
        + (len as u64 >> 16)
        + (len as u64 & 0xffff)
        + u64::from(IPPROTO_VRRP)
}
