//! VRRP advertisements on the wire: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798,
//! RFC 9568), encoded and checked exactly as keepalived 2.2 does, so that a
//! regha node and a keepalived node can share a VRID while a site migrates.
//!
//! Only the VRRP payload is built here; the sockets add the IP header (TTL or
//! hop limit 255, protocol 112). On receive, [`decode_ipv4_packet`] takes the
//! whole datagram a raw IPv4 socket returns (any header length, options
//! included) and [`decode_ipv6_payload`] the payload a raw IPv6 socket returns.
//!
//! # What [`Advert::encode`] emits
//! Deterministic bytes, nothing random, no padding:
//! - byte 0: version (2 or 3) in the high nibble, type 1 (advertisement);
//!   byte 1: VRID; byte 2: priority; byte 3: the address count;
//! - v2: byte 4 auth type (1 if `auth` is set, else 0), byte 5 the interval in
//!   seconds, clamped to 255; v3: four reserved zero bits, then the interval in
//!   centiseconds clamped to 4095 (keepalived clamps its configuration to the
//!   same limits);
//! - bytes 6-7: the checksum (below);
//! - the addresses, in the order given, 4 or 16 bytes each;
//! - v2 over IPv4 only: 8 bytes of authentication data, the password or zeros.
//!
//! The checksum (RFC 1071 internet checksum) covers the whole message with the
//! checksum field zero, and:
//! - v2 over IPv4: nothing else (RFC 3768 section 5.3.8);
//! - v3 over IPv4: the IPv4 pseudo-header for [`V3Checksum::WithPseudoHeader`]
//!   (RFC 5798, keepalived's default) or nothing for
//!   [`V3Checksum::WithoutPseudoHeader`] (RFC 9568, keepalived's
//!   `v3_checksum_as_v2`);
//! - IPv6 (v3, or v2 as non-strict keepalived sends it): the IPv6
//!   pseudo-header (RFC 8200 section 8.1), the value the kernel writes itself
//!   when the socket sets `IPV6_CHECKSUM` (Linux subtracts what the field
//!   already holds, so a pre-filled checksum comes out the same).
//!
//! VRRPv2 is an IPv4 protocol; keepalived refuses v2 with IPv6 in strict mode
//! and otherwise sends the v2 header with no authentication data over IPv6.
//! The codec mirrors that layout so nothing it emits surprises a keepalived
//! peer, but the configuration should refuse the combination.

use std::{
    hint::black_box,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use regha_model::VrrpVersion;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// Where advertisements go (RFC 3768 section 5.2.2, RFC 5798 section 5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Where IPv6 advertisements go (RFC 5798 section 5.1.2.2).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL and hop limit of every advertisement: a receiver that sees 255 knows
/// the packet was not forwarded by a router (RFC 3768 section 7.1).
pub const VRRP_TTL: u8 = 255;

/// The fixed part of both versions: version/type, VRID, priority, count,
/// auth type + interval (v2) or reserved + interval (v3), checksum.
const HEADER_LEN: usize = 8;
/// The v2 authentication data trailer (RFC 3768 section 5.3.10).
const AUTH_LEN: usize = 8;
const TYPE_ADVERTISEMENT: u8 = 1;
const AUTH_TYPE_NONE: u8 = 0;
const AUTH_TYPE_PASS: u8 = 1;
/// The v2 Adver Int field is one byte of seconds.
const V2_MAX_INTERVAL: u16 = 0xff;
/// The v3 Max Adver Int field is 12 bits of centiseconds; the top 4 bits of
/// the word are reserved (RFC 5798 section 5.2.6).
const V3_INTERVAL_MASK: u16 = 0x0fff;
/// The count field is one byte.
const MAX_ADDRS: usize = 0xff;
/// An IPv4 header without options.
const IPV4_MIN_HEADER: usize = 20;

/// v3 IPv4 checksum style: keepalived by default includes the IPv4
/// pseudo-header (RFC 5798 section 5.2.8 read literally; keepalived's
/// per-instance `v3_checksum_as_v2` off); RFC 9568 section 5.2.8 says the
/// IPv4 checksum covers the VRRP message only. IPv6 always uses the
/// pseudo-header, and v2 never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V3Checksum {
    WithPseudoHeader,
    WithoutPseudoHeader,
}

/// One advertisement (the VRRP payload, not the IP header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub version: VrrpVersion,
    pub vrid: u8,
    pub priority: u8,
    /// v2: whole seconds (Adver Int field); v3: centiseconds (Max Adver Int,
    /// 12 bits).
    pub interval: u16,
    /// All of one family, the family of the packet's IP header.
    pub addrs: Vec<IpAddr>,
    /// v2 simple password (auth type 1, RFC 2338 section 5.3.6), as the 8
    /// bytes on the wire (NUL-padded); None = auth type 0. Ignored for v3,
    /// which has no authentication (keepalived ignores it there, as it does
    /// in strict mode and with an empty password).
    pub auth: Option<[u8; 8]>,
}

// VRRPv2, RFC 3768 section 5.1:
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |   Auth Type   |   Adver Int   |          Checksum             |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                         IP Address (1)                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                            .                                  |
//    |                            .                                  |
//    |                            .                                  |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                         IP Address (n)                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                     Authentication Data (1)                   |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                     Authentication Data (2)                   |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// VRRPv3, RFC 5798 section 5.1 (the IPvX addresses are 4 or 16 bytes each,
// by the family of the IP header):
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |(rsvd) |     Max Adver Int     |          Checksum             |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                                                               |
//    +                                                               +
//    |                       IPvX Address(es)                        |
//    +                                                               +
//    |                                                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
impl Advert {
    /// The VRRP payload for sending from `src` to `dst` (addresses needed
    /// for the v3 checksum). See the module documentation for the exact
    /// bytes. Never fails: the family of `src` is the packet's, addresses of
    /// the other family are left out (keepalived ignores them in
    /// `virtual_ipaddress`, with a config error), so is anything past the
    /// 255th address, and intervals are clamped to what the field holds.
    pub fn encode(&self, src: IpAddr, dst: IpAddr, v3_checksum: V3Checksum) -> Vec<u8> {
        let v6 = src.is_ipv6();
        let addrs: Vec<&IpAddr> = self
            .addrs
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .take(MAX_ADDRS)
            .collect();

        let mut buf = Vec::with_capacity(message_len(self.version, v6, addrs.len()));
        buf.push((self.version.number() << 4) | TYPE_ADVERTISEMENT);
        buf.push(self.vrid);
        buf.push(self.priority);
        buf.push(addrs.len() as u8); // at most MAX_ADDRS
        match self.version {
            VrrpVersion::V2 => {
                buf.push(auth_type(self.auth));
                buf.push(self.interval.min(V2_MAX_INTERVAL) as u8);
            }
            VrrpVersion::V3 => {
                // Clamped rather than masked: keepalived masks, but only after
                // clamping its configuration to the same limit.
                buf.extend_from_slice(&self.interval.min(V3_INTERVAL_MASK).to_be_bytes());
            }
        }
        buf.extend_from_slice(&[0, 0]); // checksum, filled in below
        for addr in addrs {
            match addr {
                IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
        }
        if has_auth_data(self.version, v6) {
            // Auth type 0 sends zeros: RFC 3768 section 5.3.10 "SHOULD be set
            // to zero on transmission", and keepalived's buffer is zeroed.
            buf.extend_from_slice(&self.auth.unwrap_or([0; AUTH_LEN]));
        }

        let pseudo = match (self.version, v6) {
            (_, true) => true,
            (VrrpVersion::V2, false) => false,
            (VrrpVersion::V3, false) => v3_checksum == V3Checksum::WithPseudoHeader,
        };
        let mut sum = sum_words(&buf);
        if pseudo {
            sum += pseudo_header_sum(src, dst, buf.len());
        }
        let checksum = finish(sum);
        buf[6..8].copy_from_slice(&checksum.to_be_bytes());
        buf
    }
}

/// What the receiver expects (from its config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub version: VrrpVersion,
    pub vrid: u8,
    /// v2 only: the configured interval in seconds, which every router of a
    /// v2 VRID must share (RFC 3768 section 7.1). None skips the check. v3
    /// backups adopt the master's interval instead (RFC 5798 section 6.4.2).
    pub interval_s: Option<u16>,
    /// v2 only: the configured simple password; None = auth type 0.
    pub auth: Option<[u8; 8]>,
    /// Whether the instance is an IPv6 one.
    pub family_v6: bool,
}

/// Why a received packet is dropped (each counted by reason in metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Reject {
    #[error("packet shorter than its fixed headers")]
    Truncated,
    #[error("malformed IPv4 header")]
    IpHeader,
    #[error("IP protocol is not VRRP (112)")]
    NotVrrp,
    #[error("TTL or hop limit is not 255")]
    Ttl,
    #[error("VRRP version differs from the configured one")]
    Version,
    #[error("VRRP type is not advertisement (1)")]
    Type,
    #[error("VRRP payload shorter than its address count says")]
    Length,
    #[error("bad VRRP checksum")]
    Checksum,
    #[error("advertisement for another VRID")]
    OtherVrid,
    #[error("advertisement interval differs from the configured one")]
    Interval,
    #[error("authentication type differs from the configured one")]
    AuthType,
    #[error("wrong authentication password")]
    AuthPass,
    #[error("address family differs from the instance's")]
    AddrFamily,
    #[error("unicast advertisement from an address not in unicast_peers")]
    UnknownPeer,
}

impl Reject {
    /// Every reason, in the order the checks run.
    pub const ALL: [Reject; 14] = [
        Reject::Truncated,
        Reject::IpHeader,
        Reject::NotVrrp,
        Reject::Ttl,
        Reject::Version,
        Reject::Type,
        Reject::Length,
        Reject::Checksum,
        Reject::OtherVrid,
        Reject::Interval,
        Reject::AuthType,
        Reject::AuthPass,
        Reject::AddrFamily,
        Reject::UnknownPeer,
    ];

    /// The metric label.
    pub fn name(self) -> &'static str {
        match self {
            Reject::Truncated => "truncated",
            Reject::IpHeader => "ip_header",
            Reject::NotVrrp => "not_vrrp",
            Reject::Ttl => "ttl",
            Reject::Version => "version",
            Reject::Type => "type",
            Reject::Length => "length",
            Reject::Checksum => "checksum",
            Reject::OtherVrid => "other_vrid",
            Reject::Interval => "interval",
            Reject::AuthType => "auth_type",
            Reject::AuthPass => "auth_pass",
            Reject::AddrFamily => "addr_family",
            Reject::UnknownPeer => "unknown_peer",
        }
    }
}

/// A received advertisement that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6); always [`VRRP_TTL`] once accepted.
    pub ttl: u8,
    pub advert: Advert,
}

// IPv4 header, RFC 791 section 3.1. IHL counts 32-bit words, 5 to 15: a
// router-alert or other option makes it longer than 20 bytes, so the VRRP
// payload starts at IHL * 4, never at a fixed 20.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version|  IHL  |Type of Service|          Total Length         |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |         Identification        |Flags|      Fragment Offset    |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Time to Live |    Protocol   |         Header Checksum       |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                       Source Address                          |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Destination Address                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Options                    |    Padding    |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// A received IPv4 packet as a raw IPPROTO_VRRP socket returns it: IP header
/// (any IHL, options included) + VRRP. The header checksum is not checked:
/// the kernel drops bad ones before raw delivery (and reassembles fragments).
/// Bytes past Total Length are not part of the packet and are ignored.
pub fn decode_ipv4_packet(packet: &[u8], expect: &Expect) -> Result<Received, Reject> {
    if packet.len() < IPV4_MIN_HEADER {
        return Err(Reject::Truncated);
    }
    let version = packet[0] >> 4;
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if version != 4 || ihl < IPV4_MIN_HEADER {
        return Err(Reject::IpHeader);
    }
    if packet.len() < ihl {
        return Err(Reject::Truncated);
    }
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total_len < ihl || total_len > packet.len() {
        return Err(Reject::IpHeader);
    }
    if packet[9] != IPPROTO_VRRP {
        return Err(Reject::NotVrrp);
    }
    let ttl = packet[8];
    let src = IpAddr::V4(ipv4_at(packet, 12));
    let dst = IpAddr::V4(ipv4_at(packet, 16));
    if ttl != VRRP_TTL {
        return Err(Reject::Ttl);
    }
    let advert = decode_vrrp(&packet[ihl..total_len], src, dst, expect)?;
    Ok(Received {
        src,
        dst,
        ttl,
        advert,
    })
}

/// IPv6: raw sockets give only the payload; the hop limit comes from
/// IPV6_HOPLIMIT ancillary data.
pub fn decode_ipv6_payload(
    payload: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    expect: &Expect,
) -> Result<Received, Reject> {
    if hop_limit != VRRP_TTL {
        return Err(Reject::Ttl);
    }
    let (src, dst) = (IpAddr::V6(src), IpAddr::V6(dst));
    let advert = decode_vrrp(payload, src, dst, expect)?;
    Ok(Received {
        src,
        dst,
        ttl: hop_limit,
        advert,
    })
}

/// The VRRP checks of RFC 3768 and RFC 5798 section 7.1, in order, after the
/// IP-level ones; `src` and `dst` are the IP header's (for the pseudo-header)
/// and their family is the packet's.
fn decode_vrrp(
    payload: &[u8],
    src: IpAddr,
    dst: IpAddr,
    expect: &Expect,
) -> Result<Advert, Reject> {
    if payload.len() < HEADER_LEN {
        return Err(Reject::Truncated);
    }
    let v6 = src.is_ipv6();

    let version = VrrpVersion::from_number(payload[0] >> 4).ok_or(Reject::Version)?;
    if version != expect.version {
        return Err(Reject::Version);
    }
    if payload[0] & 0x0f != TYPE_ADVERTISEMENT {
        return Err(Reject::Type);
    }

    // The count says how long the message is; bytes past it are padding,
    // allowed (RFC 5798 section 7.1 only requires the complete message).
    // keepalived itself insists on the exact length, but never pads.
    let count = usize::from(payload[3]);
    let addrs_end = HEADER_LEN + count * addr_len(v6);
    let with_auth_data = has_auth_data(version, v6);
    let msg_len = message_len(version, v6, count);
    if payload.len() < msg_len {
        return Err(Reject::Length);
    }

    let checksum_ok = if v6 {
        // The IPv6 pseudo-header's length is the upper-layer packet length,
        // the whole payload: what the kernel verifies for a socket with
        // IPV6_CHECKSUM (keepalived leaves IPv6 checksums to the kernel).
        finish(sum_words(payload) + pseudo_header_sum(src, dst, payload.len())) == 0
    } else {
        // keepalived sums the message its count describes, not the padding.
        let body = sum_words(&payload[..msg_len]);
        match version {
            VrrpVersion::V2 => finish(body) == 0,
            // Either style: keepalived sends the pseudo-header by default,
            // an RFC 9568 router or keepalived with v3_checksum_as_v2 not.
            VrrpVersion::V3 => {
                finish(body + pseudo_header_sum(src, dst, msg_len)) == 0 || finish(body) == 0
            }
        }
    };
    if !checksum_ok {
        return Err(Reject::Checksum);
    }

    // Not ours: another VRID on the same segment and socket, a normal sight.
    if payload[1] != expect.vrid {
        return Err(Reject::OtherVrid);
    }

    let mut auth = None;
    let interval = match version {
        VrrpVersion::V2 => {
            let interval = u16::from(payload[5]);
            // RFC 3768 section 7.1: a different interval means a
            // misconfigured router; keepalived drops it "to prevent
            // concurrent VRID running => multiple master in 1 VRID".
            if expect.interval_s.is_some_and(|want| want != interval) {
                return Err(Reject::Interval);
            }
            // Types 1 and 2 are "Reserved" in RFC 3768, kept from RFC 2338:
            // 1 is its simple text password, the one keepalived still sends;
            // 2 (IPsec AH) keepalived signals with IP protocol 51 instead.
            if payload[4] != auth_type(expect.auth) {
                return Err(Reject::AuthType);
            }
            if let Some(want) = expect.auth {
                // v2 over IPv6 carries no authentication data (keepalived's
                // layout): nothing to check the password against, so fail
                // closed.
                if !with_auth_data {
                    return Err(Reject::AuthPass);
                }
                let got: [u8; AUTH_LEN] = payload[addrs_end..msg_len]
                    .try_into()
                    .expect("slice is AUTH_LEN long");
                if !constant_time_eq(&got, &want) {
                    return Err(Reject::AuthPass);
                }
                auth = Some(got);
            }
            // Auth type 0: the data is ignored on reception (RFC 3768
            // section 5.3.10).
            interval
        }
        // The reserved bits are ignored on reception (RFC 5798 section 5.2.6).
        VrrpVersion::V3 => u16::from_be_bytes([payload[4], payload[5]]) & V3_INTERVAL_MASK,
    };

    // The addresses take their family from the IP header (RFC 9568: backups
    // "infer the address family ... based on the IP protocol version"), so a
    // packet of the other family than the instance's came through a socket
    // it should not have.
    if v6 != expect.family_v6 {
        return Err(Reject::AddrFamily);
    }

    let addrs = payload[HEADER_LEN..addrs_end]
        .chunks_exact(addr_len(v6))
        .map(|a| match <[u8; 16]>::try_from(a) {
            Ok(octets) if v6 => IpAddr::V6(Ipv6Addr::from(octets)),
            _ => IpAddr::V4(ipv4_at(a, 0)),
        })
        .collect();

    Ok(Advert {
        version,
        vrid: payload[1],
        priority: payload[2],
        interval,
        addrs,
        auth,
    })
}

/// The source check of unicast mode, after the codec's: with `peers`
/// configured, an advertisement from any other address is dropped (and
/// counted), as keepalived drops one from outside its `unicast_peer` list.
/// Anyone on the segment can send an advertisement; this (with v2's
/// password) is what keeps a stranger from winning the election. With no
/// peers (multicast) every source is accepted.
pub fn accept_source(src: IpAddr, peers: &[IpAddr]) -> Result<(), Reject> {
    if peers.is_empty() || peers.contains(&src) {
        Ok(())
    } else {
        Err(Reject::UnknownPeer)
    }
}

/// Helper: the password as 8 NUL-padded bytes (longer strings truncated to 8
/// bytes, as keepalived's `auth_pass` does on the wire; a multi-byte UTF-8
/// character may be cut, as in keepalived).
pub fn auth_bytes(pass: &str) -> [u8; 8] {
    let mut out = [0u8; AUTH_LEN];
    let n = pass.len().min(AUTH_LEN);
    out[..n].copy_from_slice(&pass.as_bytes()[..n]);
    out
}

fn addr_len(v6: bool) -> usize {
    if v6 { 16 } else { 4 }
}

fn auth_type(auth: Option<[u8; AUTH_LEN]>) -> u8 {
    if auth.is_some() {
        AUTH_TYPE_PASS
    } else {
        AUTH_TYPE_NONE
    }
}

/// Only v2 over IPv4 ends with authentication data: keepalived leaves it
/// out of v2 over IPv6, and v3 has none.
fn has_auth_data(version: VrrpVersion, v6: bool) -> bool {
    version == VrrpVersion::V2 && !v6
}

/// The length of a message with `count` addresses, padding excluded.
fn message_len(version: VrrpVersion, v6: bool, count: usize) -> usize {
    let auth = if has_auth_data(version, v6) {
        AUTH_LEN
    } else {
        0
    };
    HEADER_LEN + count * addr_len(v6) + auth
}

/// The IPv4 address at `at`; the caller has checked the length.
fn ipv4_at(bytes: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
}

/// Compares every byte whatever the first difference, so the time taken does
/// not tell an attacker how much of a guess was right (keepalived uses
/// `memcmp_constant_time` for the same reason).
fn constant_time_eq(a: &[u8; AUTH_LEN], b: &[u8; AUTH_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    black_box(diff) == 0
}

/// The one's complement sum of big-endian 16-bit words (RFC 1071), not yet
/// folded; an odd last byte is padded with a zero.
fn sum_words(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(2);
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds the carries and complements: the checksum to write, or 0 when the
/// sum includes a valid checksum.
fn finish(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

// The pseudo-headers the v3 checksum covers. IPv4 (RFC 5798 section 5.2.8 as
// keepalived reads it; the UDP layout of RFC 768):
//
//    +--------+--------+--------+--------+
//    |          Source Address           |
//    +--------+--------+--------+--------+
//    |        Destination Address        |
//    +--------+--------+--------+--------+
//    |  zero  |  112   |   VRRP Length   |
//    +--------+--------+--------+--------+
//
// IPv6 (RFC 8200 section 8.1):
//
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                                                               |
//    +                         Source Address                        +
//    |                          (16 bytes)                           |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                                                               |
//    +                      Destination Address                      +
//    |                          (16 bytes)                           |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                   Upper-Layer Packet Length                   |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                      zero                     |  Next Header  |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> u64 {
    let mut header = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            header.extend_from_slice(&s.octets());
            header.extend_from_slice(&d.octets());
            header.extend_from_slice(&[0, IPPROTO_VRRP]);
            // A VRRP message is at most 8 + 255 * 16 bytes.
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        // Mixed families only come from a caller's mistake; mapping the IPv4
        // one keeps the result defined.
        (s, d) => {
            header.extend_from_slice(&to_v6(s).octets());
            header.extend_from_slice(&to_v6(d).octets());
            // A raw socket payload is under 64 KiB.
            header.extend_from_slice(&(len as u32).to_be_bytes());
            header.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
        }
    }
    sum_words(&header)
}

fn to_v6(addr: IpAddr) -> Ipv6Addr {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use V3Checksum::{WithPseudoHeader, WithoutPseudoHeader};

    const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
    const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
    const MC4: Ipv4Addr = VRRP_MCAST_V4;
    const MC6: Ipv6Addr = VRRP_MCAST_V6;
    const PASS: Option<&str> = Some("1111");

    /// `t` after `f`: one-line variations of a good packet or config.
    fn with<T>(mut t: T, f: impl FnOnce(&mut T)) -> T {
        f(&mut t);
        t
    }

    /// An independent, deliberately plain internet checksum: index loop, u32,
    /// carries folded after every word.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let lo = if i + 1 < data.len() { data[i + 1] } else { 0 };
            sum += (u32::from(data[i]) << 8) | u32::from(lo);
            sum = (sum & 0xffff) + (sum >> 16);
            i += 2;
        }
        !(sum as u16)
    }

    /// IPv4 pseudo-header: source, destination, zero, 112, length.
    fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
        let len = (len as u16).to_be_bytes();
        [&src.octets()[..], &dst.octets(), &[0, 112], &len].concat()
    }

    /// IPv6 pseudo-header: source, destination, 32-bit length, 0, 0, 0, 112.
    fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Vec<u8> {
        let len = (len as u32).to_be_bytes();
        [&src.octets()[..], &dst.octets(), &len, &[0, 0, 0, 112]].concat()
    }

    /// Rewrites the checksum of `payload` after a test edits it.
    fn reseal(payload: &mut [u8], pseudo: &[u8]) {
        payload[6..8].fill(0);
        let cs = reference_checksum(&[pseudo, payload].concat());
        payload[6..8].copy_from_slice(&cs.to_be_bytes());
    }

    /// An IPv4 header as keepalived builds it (TOS 0xc0, id 0, no flags)
    /// with `options` (a multiple of 4 bytes) and a valid header checksum,
    /// followed by `payload`.
    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
        assert!(
            options.len().is_multiple_of(4) && options.len() <= 40,
            "bad options"
        );
        let ihl = 20 + options.len();
        let mut p = vec![0u8; ihl];
        p[0] = 0x40 | (ihl / 4) as u8;
        p[1] = 0xc0;
        p[2..4].copy_from_slice(&((ihl + payload.len()) as u16).to_be_bytes());
        p[8] = ttl;
        p[9] = 112;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        p[20..].copy_from_slice(options);
        let cs = reference_checksum(&p);
        p[10..12].copy_from_slice(&cs.to_be_bytes());
        [p, payload.to_vec()].concat()
    }

    /// `payload` in the IPv4 packet a keepalived master multicasts.
    fn wrap(payload: &[u8]) -> Vec<u8> {
        ipv4(SRC4, MC4, 255, &[], payload)
    }

    fn v2(auth: Option<&str>) -> Advert {
        Advert {
            version: VrrpVersion::V2,
            vrid: 51,
            priority: 101,
            interval: 1,
            addrs: vec![IpAddr::V4(VIP4)],
            auth: auth.map(auth_bytes),
        }
    }

    fn v3_4() -> Advert {
        Advert {
            version: VrrpVersion::V3,
            vrid: 51,
            priority: 100,
            interval: 100,
            addrs: vec![IpAddr::V4(VIP4)],
            auth: None,
        }
    }

    fn v3_6() -> Advert {
        with(v3_4(), |a| {
            a.addrs = vec![IpAddr::V6(SRC6), IpAddr::V6(VIP6)]
        })
    }

    fn e2(auth: Option<&str>) -> Expect {
        Expect {
            version: VrrpVersion::V2,
            vrid: 51,
            interval_s: Some(1),
            auth: auth.map(auth_bytes),
            family_v6: false,
        }
    }

    fn e3(family_v6: bool) -> Expect {
        Expect {
            version: VrrpVersion::V3,
            vrid: 51,
            interval_s: None,
            auth: None,
            family_v6,
        }
    }

    fn enc4(a: &Advert, style: V3Checksum) -> Vec<u8> {
        a.encode(IpAddr::V4(SRC4), IpAddr::V4(MC4), style)
    }

    fn enc6(a: &Advert) -> Vec<u8> {
        a.encode(IpAddr::V6(SRC6), IpAddr::V6(MC6), WithPseudoHeader)
    }

    fn dec4(packet: &[u8], expect: &Expect) -> Result<Advert, Reject> {
        decode_ipv4_packet(packet, expect).map(|r| r.advert)
    }

    fn dec6(payload: &[u8], hop_limit: u8, expect: &Expect) -> Result<Advert, Reject> {
        decode_ipv6_payload(payload, SRC6, MC6, hop_limit, expect).map(|r| r.advert)
    }

    // Known answers: the bytes keepalived 2.2 sends.

    #[test]
    fn known_answer_v2_pass_1111() {
        // virtual_router_id 51, priority 101, advert_int 1, auth_type PASS,
        // auth_pass 1111, virtual_ipaddress 192.0.2.100. Checksum by hand:
        // 2133 + 6501 + 0101 + c000 + 0264 + 3131 + 3131 = 0x1abfb, folded
        // 0xabfc, complemented 0x5403.
        let want: [u8; 20] = [
            0x21, 0x33, 0x65, 0x01, 0x01, 0x01, 0x54, 0x03, 0xc0, 0x00, 0x02, 0x64, 0x31, 0x31,
            0x31, 0x31, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(reference_checksum(&want), 0, "hand checksum is wrong");
        // v2 has no pseudo-header whatever the style.
        for style in [WithPseudoHeader, WithoutPseudoHeader] {
            assert_eq!(enc4(&v2(PASS), style), want);
        }
    }

    #[test]
    fn known_answer_v3_ipv4_with_pseudo_header() {
        // vrrp_version 3, VRID 51, priority 100, advert_int 1 (100 cs),
        // 192.0.2.100, from 192.0.2.2 to 224.0.0.18. Checksum by hand:
        // pseudo-header c000 + 0202 + e000 + 0012 + 0070 + 000c = 0x1a290,
        // message 3133 + 6401 + 0064 + c000 + 0264 = 0x157fc; total 0x2fa8c,
        // folded 0xfa8e, complemented 0x0571.
        let want: [u8; 12] = [
            0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x05, 0x71, 0xc0, 0x00, 0x02, 0x64,
        ];
        let pseudo = pseudo4(SRC4, MC4, 12);
        assert_eq!(reference_checksum(&[&pseudo[..], &want].concat()), 0);
        assert_eq!(enc4(&v3_4(), WithPseudoHeader), want);
    }

    #[test]
    fn known_answer_v3_ipv4_without_pseudo_header() {
        // keepalived's v3_checksum_as_v2, RFC 9568: 0x157fc folded 0x57fd,
        // complemented 0xa802.
        let want: [u8; 12] = [
            0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xa8, 0x02, 0xc0, 0x00, 0x02, 0x64,
        ];
        assert_eq!(reference_checksum(&want), 0);
        assert_eq!(enc4(&v3_4(), WithoutPseudoHeader), want);
    }

    #[test]
    fn known_answer_v3_ipv6() {
        let mut want = [
            &[0x31, 0x33, 0x64, 0x02, 0x00, 0x64, 0, 0][..],
            &SRC6.octets(),
            &VIP6.octets(),
        ]
        .concat();
        reseal(&mut want, &pseudo6(SRC6, MC6, 40));
        assert_eq!(enc6(&v3_6()), want);
    }

    // Round trips.

    #[test]
    fn round_trip_v2_without_auth() {
        let packet = wrap(&enc4(&v2(None), WithPseudoHeader));
        assert_eq!(packet.len(), 20 + 20, "v2 always carries the 8 auth bytes");
        let want = Received {
            src: IpAddr::V4(SRC4),
            dst: IpAddr::V4(MC4),
            ttl: 255,
            advert: v2(None),
        };
        assert_eq!(decode_ipv4_packet(&packet, &e2(None)), Ok(want));
    }

    #[test]
    fn round_trip_v2_with_auth() {
        let packet = wrap(&enc4(&v2(Some("secret")), WithPseudoHeader));
        let got = dec4(&packet, &e2(Some("secret")));
        assert_eq!(got, Ok(v2(Some("secret"))));
        assert_eq!(got.unwrap().auth, Some(*b"secret\0\0"));
    }

    #[test]
    fn round_trip_v3_ipv4_both_checksum_styles() {
        let advert = with(v3_4(), |a| {
            a.addrs.push(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
            a.interval = 4095;
        });
        for style in [WithPseudoHeader, WithoutPseudoHeader] {
            let packet = wrap(&enc4(&advert, style));
            assert_eq!(dec4(&packet, &e3(false)), Ok(advert.clone()), "{style:?}");
        }
    }

    #[test]
    fn round_trip_v3_ipv6() {
        let got = decode_ipv6_payload(&enc6(&v3_6()), SRC6, MC6, 255, &e3(true));
        let want = Received {
            src: IpAddr::V6(SRC6),
            dst: IpAddr::V6(MC6),
            ttl: 255,
            advert: v3_6(),
        };
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn v3_unicast_checksum_uses_the_real_destination() {
        let peer = Ipv4Addr::new(192, 0, 2, 3);
        let payload = v3_4().encode(IpAddr::V4(SRC4), IpAddr::V4(peer), WithPseudoHeader);
        let pseudo = pseudo4(SRC4, peer, payload.len());
        assert_eq!(reference_checksum(&[pseudo, payload.clone()].concat()), 0);
        assert_eq!(
            dec4(&ipv4(SRC4, peer, 255, &[], &payload), &e3(false)),
            Ok(v3_4())
        );
    }

    // Receive paths that must be accepted.

    #[test]
    fn ipv4_header_with_options_is_accepted() {
        // holo-vrrp assumed a 20-byte header; IHL 6 to 15 must work.
        let payload = enc4(&v2(PASS), WithPseudoHeader);
        for words in 1..=10 {
            // Router alert (RFC 2113), then NOPs up to the length.
            let options = with(vec![0x94, 0x04, 0, 0], |o| o.resize(words * 4, 0x01));
            let packet = ipv4(SRC4, MC4, 255, &options, &payload);
            assert_eq!(usize::from(packet[0] & 0x0f), 5 + words);
            assert_eq!(dec4(&packet, &e2(PASS)), Ok(v2(PASS)), "IHL {}", 5 + words);
        }
    }

    #[test]
    fn trailing_padding_is_accepted() {
        let v2_padded = [enc4(&v2(PASS), WithPseudoHeader), vec![0xaa, 0xbb, 0xcc]].concat();
        assert_eq!(dec4(&wrap(&v2_padded), &e2(PASS)), Ok(v2(PASS)));

        let v3_padded = [enc4(&v3_4(), WithPseudoHeader), vec![0; 4]].concat();
        assert_eq!(dec4(&wrap(&v3_padded), &e3(false)), Ok(v3_4()));

        // IPv6: the padding is inside the checksummed payload, as the kernel
        // sums it for IPV6_CHECKSUM.
        let mut v6_padded = [enc6(&v3_6()), vec![0; 4]].concat();
        reseal(&mut v6_padded, &pseudo6(SRC6, MC6, 44));
        assert_eq!(dec6(&v6_padded, 255, &e3(true)), Ok(v3_6()));
    }

    #[test]
    fn bytes_past_ip_total_length_are_ignored() {
        // As a capture with Ethernet minimum-size padding would show them.
        let packet = [wrap(&enc4(&v2(None), WithPseudoHeader)), vec![0xff; 6]].concat();
        assert_eq!(dec4(&packet, &e2(None)), Ok(v2(None)));
    }

    #[test]
    fn v3_ignores_reserved_bits_and_v2_only_expectations() {
        let payload = with(enc4(&v3_4(), WithoutPseudoHeader), |p| {
            p[4] |= 0xf0;
            reseal(p, &[]);
        });
        let expect = with(e3(false), |e| {
            e.interval_s = Some(7);
            e.auth = PASS.map(auth_bytes);
        });
        assert_eq!(dec4(&wrap(&payload), &expect), Ok(v3_4()));
    }

    #[test]
    fn v2_interval_check_is_skipped_without_expectation() {
        let advert = with(v2(None), |a| a.interval = 3);
        let expect = with(e2(None), |e| e.interval_s = None);
        assert_eq!(
            dec4(&wrap(&enc4(&advert, WithPseudoHeader)), &expect),
            Ok(advert)
        );
    }

    #[test]
    fn v2_auth_type_0_ignores_auth_data() {
        let payload = with(enc4(&v2(None), WithPseudoHeader), |p| {
            p[12..20].copy_from_slice(b"garbage!");
            reseal(p, &[]);
        });
        assert_eq!(dec4(&wrap(&payload), &e2(None)), Ok(v2(None)));
    }

    #[test]
    fn other_address_list_is_not_a_reject() {
        // Checking the list against the config is the caller's (it logs).
        let advert = with(v2(None), |a| a.addrs.insert(0, IpAddr::V4(SRC4)));
        assert_eq!(
            dec4(&wrap(&enc4(&advert, WithPseudoHeader)), &e2(None)),
            Ok(advert)
        );
    }

    #[test]
    fn v2_over_ipv6_has_keepalived_non_strict_layout() {
        let advert = with(v2(None), |a| a.addrs = vec![IpAddr::V6(VIP6)]);
        let payload = enc6(&advert);
        assert_eq!(payload.len(), 8 + 16, "no authentication data over IPv6");
        let pseudo = pseudo6(SRC6, MC6, payload.len());
        assert_eq!(reference_checksum(&[pseudo, payload.clone()].concat()), 0);
        let expect = with(e2(None), |e| e.family_v6 = true);
        assert_eq!(dec6(&payload, 255, &expect), Ok(advert.clone()));
        // A password cannot be checked without its bytes: fail closed.
        let with_pass = enc6(&with(advert, |a| a.auth = PASS.map(auth_bytes)));
        let expect = with(expect, |e| e.auth = PASS.map(auth_bytes));
        assert_eq!(dec6(&with_pass, 255, &expect), Err(Reject::AuthPass));
    }

    // Encode and helper details.

    #[test]
    fn encode_clamps_intervals_and_keeps_address_order() {
        assert_eq!(
            enc4(&with(v2(None), |a| a.interval = 255), WithPseudoHeader)[5],
            255
        );
        let v3 = enc4(
            &with(v3_4(), |a| {
                a.interval = 4095;
                a.addrs = (1..=3)
                    .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
                    .collect();
            }),
            WithPseudoHeader,
        );
        assert_eq!(&v3[3..6], &[3, 0x0f, 0xff]);
        assert_eq!(&v3[8..20], &[10, 0, 0, 1, 10, 0, 0, 2, 10, 0, 0, 3]);
    }

    #[test]
    fn encode_leaves_out_addresses_of_the_other_family() {
        let mixed = with(v3_4(), |a| a.addrs.insert(0, IpAddr::V6(VIP6)));
        assert_eq!(
            enc4(&mixed, WithPseudoHeader),
            enc4(&v3_4(), WithPseudoHeader)
        );
        let too_many = with(v3_4(), |a| a.addrs = vec![IpAddr::V4(VIP4); 300]);
        assert_eq!(enc4(&too_many, WithPseudoHeader)[3], 255);
        assert_eq!(enc4(&too_many, WithPseudoHeader).len(), 8 + 255 * 4);
    }

    #[test]
    fn checksum_helpers_match_the_reference() {
        // Odd and even lengths, sums that carry more than once.
        for len in [0usize, 1, 2, 3, 7, 8, 255, 1024, 4089] {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8 ^ 0xff).collect();
            assert_eq!(
                finish(sum_words(&data)),
                reference_checksum(&data),
                "len {len}"
            );
        }
    }

    #[test]
    fn password_compare_sees_every_bit() {
        let pass = auth_bytes("p4ssw0rd");
        assert!(constant_time_eq(&pass, &pass));
        for byte in 0..AUTH_LEN {
            for bit in 0..8 {
                let other = with(pass, |p| p[byte] ^= 1 << bit);
                assert!(!constant_time_eq(&pass, &other), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn auth_bytes_pads_and_truncates() {
        assert_eq!(auth_bytes(""), [0; 8]);
        assert_eq!(auth_bytes("1111"), *b"1111\0\0\0\0");
        assert_eq!(auth_bytes("12345678"), *b"12345678");
        assert_eq!(auth_bytes("123456789abc"), *b"12345678");
    }

    #[test]
    fn reject_names_are_unique_snake_case() {
        let names: std::collections::HashSet<&str> = Reject::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Reject::ALL.len());
        for n in names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
        }
    }

    // Rejects: each case differs from an accepted packet in one respect and
    // holds what decoding it gave. A table, one row per case, so unformatted.

    #[rustfmt::skip]
    fn reject_cases() -> Vec<(&'static str, Result<Advert, Reject>, Reject)> {
        use Reject as R;
        let p2 = enc4(&v2(PASS), WithPseudoHeader);
        let ip2 = wrap(&p2);
        let ip3 = wrap(&enc4(&v3_4(), WithPseudoHeader));
        let p6 = enc6(&v3_6());
        let edit = |p: &[u8], f: fn(&mut Vec<u8>)| with(p.to_vec(), f);
        let v2_as = |f: fn(&mut Advert)| wrap(&enc4(&with(v2(PASS), f), WithPseudoHeader));
        let other_src = Ipv4Addr::new(192, 0, 2, 9);
        let e2p = e2(PASS);
        vec![
            ("shorter than an IPv4 header", dec4(&ip2[..19], &e2p), R::Truncated),
            ("shorter than its IHL", dec4(&edit(&ip2[..20], |p| p[0] = 0x46), &e2p), R::Truncated),
            ("VRRP under 8 bytes", dec4(&wrap(&p2[..7]), &e2p), R::Truncated),
            ("IPv6 VRRP under 8 bytes", dec6(&p6[..7], 255, &e3(true)), R::Truncated),
            ("IP version 6", dec4(&edit(&ip2, |p| p[0] = 0x65), &e2p), R::IpHeader),
            ("IHL 4", dec4(&edit(&ip2, |p| p[0] = 0x44), &e2p), R::IpHeader),
            ("total length past the buffer", dec4(&ip2[..39], &e2p), R::IpHeader),
            ("total length 19", dec4(&edit(&ip2, |p| p[3] = 19), &e2p), R::IpHeader),
            ("protocol TCP", dec4(&edit(&ip2, |p| p[9] = 6), &e2p), R::NotVrrp),
            ("TTL 254", dec4(&ipv4(SRC4, MC4, 254, &[], &p2), &e2p), R::Ttl),
            ("hop limit 254", dec6(&p6, 254, &e3(true)), R::Ttl),
            ("v3 packet, v2 instance", dec4(&ip3, &e2(None)), R::Version),
            ("version 4", dec4(&wrap(&edit(&p2, |p| p[0] = 0x41)), &e2p), R::Version),
            ("type 2", dec4(&wrap(&edit(&p2, |p| { p[0] = 0x22; reseal(p, &[]) })), &e2p), R::Type),
            ("count 2, one address", dec4(&wrap(&edit(&p2, |p| p[3] = 2)), &e2p), R::Length),
            ("v2 without auth data", dec4(&wrap(&p2[..12]), &e2p), R::Length),
            ("v2 checksum", dec4(&wrap(&edit(&p2, |p| p[11] ^= 1)), &e2p), R::Checksum),
            ("v2 sum covers auth data", dec4(&wrap(&edit(&p2, |p| p[19] = 1)), &e2p), R::Checksum),
            ("v3 IPv4, neither style", dec4(&edit(&ip3, |p| p[21] ^= 0x80), &e3(false)), R::Checksum),
            ("v3 pseudo-header, other source", dec4(&ipv4(other_src, MC4, 255, &[], &ip3[20..]), &e3(false)), R::Checksum),
            ("v3 IPv6", dec6(&edit(&p6, |p| p[9] ^= 1), 255, &e3(true)), R::Checksum),
            ("VRID 52", dec4(&v2_as(|a| a.vrid = 52), &e2p), R::OtherVrid),
            ("v3 VRID 52", dec6(&enc6(&with(v3_6(), |a| a.vrid = 52)), 255, &e3(true)), R::OtherVrid),
            ("interval 2 s, ours 1 s", dec4(&v2_as(|a| a.interval = 2), &e2p), R::Interval),
            ("auth type 0, ours PASS", dec4(&v2_as(|a| a.auth = None), &e2p), R::AuthType),
            ("auth type PASS, ours 0", dec4(&ip2, &e2(None)), R::AuthType),
            ("auth type 2 (AH)", dec4(&wrap(&edit(&p2, |p| { p[4] = 2; reseal(p, &[]) })), &e2p), R::AuthType),
            ("wrong password", dec4(&v2_as(|a| a.auth = Some(*b"2222\0\0\0\0")), &e2p), R::AuthPass),
            // A strlen-bounded comparison would let this one through.
            ("only the last byte differs", dec4(&v2_as(|a| a.auth = Some(*b"1111\0\0\0x")), &e2p), R::AuthPass),
            ("IPv4 packet, IPv6 instance", dec4(&ip3, &e3(true)), R::AddrFamily),
            ("IPv6 packet, IPv4 instance", dec6(&p6, 255, &e3(false)), R::AddrFamily),
            (
                "unicast advert from a non-peer",
                accept_source(IpAddr::V4(other_src), &[IpAddr::V4(SRC4)]).map(|()| v2(PASS)),
                R::UnknownPeer,
            ),
        ]
    }

    #[test]
    fn each_reject_reason() {
        for (name, got, want) in reject_cases() {
            assert_eq!(got, Err(want), "{name}");
        }
    }

    #[test]
    fn reject_cases_cover_every_reason() {
        let cases = reject_cases();
        for reason in Reject::ALL {
            assert!(
                cases.iter().any(|c| c.2 == reason),
                "no case for {reason:?}"
            );
        }
    }

    #[test]
    fn unicast_sources_outside_the_peers_are_refused() {
        let peer = IpAddr::V4(SRC4);
        let stranger = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
        let cases: [(IpAddr, &[IpAddr], Result<(), Reject>); 4] = [
            (peer, &[peer], Ok(())),
            (stranger, &[peer], Err(Reject::UnknownPeer)),
            (stranger, &[], Ok(())),
            (peer, &[stranger, peer], Ok(())),
        ];
        for (src, peers, want) in cases {
            assert_eq!(accept_source(src, peers), want, "{src} from {peers:?}");
        }
    }

    #[test]
    fn earliest_check_wins() {
        // TTL before checksum, checksum before VRID, VRID before interval and
        // password: nothing unverified is compared, and another router's
        // VRID is not an authentication failure.
        let other = with(v2(Some("2222")), |a| {
            a.vrid = 52;
            a.interval = 9;
        });
        let payload = enc4(&other, WithPseudoHeader);
        let corrupt = with(payload.clone(), |p| p[8] ^= 1);
        let ours = e2(PASS);
        assert_eq!(
            dec4(&ipv4(SRC4, MC4, 254, &[], &corrupt), &ours),
            Err(Reject::Ttl)
        );
        assert_eq!(dec4(&wrap(&corrupt), &ours), Err(Reject::Checksum));
        assert_eq!(dec4(&wrap(&payload), &ours), Err(Reject::OtherVrid));
        let same_vrid = enc4(&with(other, |a| a.vrid = 51), WithPseudoHeader);
        assert_eq!(dec4(&wrap(&same_vrid), &ours), Err(Reject::Interval));
    }
}
