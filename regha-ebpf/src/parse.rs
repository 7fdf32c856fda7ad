//! Header parsing with bounds-checked access only.
//!
//! Every read goes through [`ptr_at`], which proves to the verifier that the
//! bytes lie inside the packet. The parser fills a [`Packet`] or says why the
//! packet is not ours ([`Reason`]).
//!
//! Why the dereferences below are sound, once for all of them:
//! - every header struct is `#[repr(C)]` of `u8` and `[u8; N]` only, so its
//!   alignment is 1 (asserted below) and any packet address is aligned for it;
//! - every pointer comes from [`ptr_at`], which returned it only after
//!   checking `data + offset + size_of::<T>() <= data_end`: the whole struct
//!   lies inside the packet. The verifier re-proves this on the bytecode
//!   (a packet pointer may only be dereferenced after a comparison with
//!   `data_end` that covers the access) and rejects the program otherwise;
//! - every bit pattern is a valid value of these structs (integers and byte
//!   arrays only), so reading wire bytes as them cannot create an invalid value;
//! - the packet belongs to this invocation of the program for its whole run
//!   (XDP runs before the stack sees the frame): nothing else writes it while
//!   a shared reference from here is alive, and the only write (the MAC
//!   rewrite in `main.rs`) happens after the last of them is gone.

use aya_ebpf::programs::XdpContext;
use regha_common::{FAMILY_V4, FAMILY_V6, PROTO_TCP, PROTO_UDP, Reason};

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;
const IPV4_MIN_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
const TCP_MIN_HLEN: usize = 20;
const UDP_HLEN: usize = 8;
/// IPv4 "more fragments" flag and fragment offset mask (host order).
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;
const TCP_FLAG_SYN: u8 = 0x02;
const TCP_FLAG_FIN: u8 = 0x01;
const TCP_FLAG_RST: u8 = 0x04;
const TCP_FLAG_ACK: u8 = 0x10;
/// IPv6 extension headers we do not walk (hop-by-hop, routing, fragment,
/// destination options): such packets are passed, counted as unsupported.
const IPV6_EXT_HEADERS: [u8; 4] = [0, 43, 44, 60];

#[repr(C)]
pub struct EthHdr {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub proto: [u8; 2],
}

#[repr(C)]
struct VlanHdr {
    _tci: [u8; 2],
    proto: [u8; 2],
}

#[repr(C)]
struct Ipv4Hdr {
    ver_ihl: u8,
    _tos: u8,
    tot_len: [u8; 2],
    _id: [u8; 2],
    frag_off: [u8; 2],
    _ttl: u8,
    proto: u8,
    _check: [u8; 2],
    src: [u8; 4],
    dst: [u8; 4],
}

#[repr(C)]
struct Ipv6Hdr {
    ver_tc_flow: [u8; 4],
    payload_len: [u8; 2],
    next_hdr: u8,
    _hop_limit: u8,
    src: [u8; 16],
    dst: [u8; 16],
}

/// The part of the TCP header we read; a full 20-byte header is still required.
#[repr(C)]
struct TcpPorts {
    sport: [u8; 2],
    dport: [u8; 2],
    seq: [u8; 4],
    _ack: [u8; 4],
    doff_res: u8,
    flags: u8,
}

#[repr(C)]
struct UdpHdr {
    sport: [u8; 2],
    dport: [u8; 2],
    len: [u8; 2],
    _check: [u8; 2],
}

// Packet fields sit at any offset (a VLAN tag or IPv4 options move them), so
// the header structs must not ask for more than byte alignment.
const _: () = {
    assert!(align_of::<EthHdr>() == 1);
    assert!(align_of::<VlanHdr>() == 1);
    assert!(align_of::<Ipv4Hdr>() == 1);
    assert!(align_of::<Ipv6Hdr>() == 1);
    assert!(align_of::<TcpPorts>() == 1);
    assert!(align_of::<UdpHdr>() == 1);
};

/// What the steering logic needs from a packet.
pub struct Packet {
    pub family: u8,
    pub proto: u8,
    /// Addresses in word form (`regha_common::hash::addr_words`): loaded
    /// and stored a word at a time, never byte by byte.
    pub src: [u32; 4],
    pub dst: [u32; 4],
    /// Host order; zero for a non-first IPv4 fragment.
    pub sport: u16,
    pub dport: u16,
    /// TCP SYN without ACK: a new connection, so no flow-table lookup.
    pub syn: bool,
    /// TCP RST: the connection ends, so a flow seen first with it is not
    /// recorded.
    pub rst: bool,
    /// TCP FIN or RST: the client closes the connection.
    pub closing: bool,
    /// TCP sequence number (host order): a SYN's is the client's initial
    /// one, the handshake's ACK carries it plus one.
    pub seq: u32,
    /// Part of a fragmented IPv4 datagram (first or later fragment).
    pub fragment: bool,
    /// A later IPv4 fragment: no L4 header, ports unknown.
    pub later_fragment: bool,
}

impl Packet {
    /// Addresses and protocol; ports and flags are filled by `parse_l4`.
    #[inline(always)]
    fn new(family: u8, proto: u8, src: [u32; 4], dst: [u32; 4]) -> Self {
        Self {
            family,
            proto,
            src,
            dst,
            sport: 0,
            dport: 0,
            syn: false,
            rst: false,
            closing: false,
            seq: 0,
            fragment: false,
            later_fragment: false,
        }
    }
}

/// Bounds-checked pointer to a `T` at `offset` bytes into the packet: the
/// only way this crate makes a packet pointer. A returned pointer is valid
/// for reads (and, through `eth_mut`, writes) of `size_of::<T>()` bytes.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*const T, Reason> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + size_of::<T>() > end {
        return Err(Reason::Malformed);
    }
    Ok((start + offset) as *const T)
}

/// Mutable access to the Ethernet header, for the MAC rewrite.
#[inline(always)]
pub fn eth_mut(ctx: &XdpContext) -> Result<*mut EthHdr, Reason> {
    ptr_at::<EthHdr>(ctx, 0).map(|p| p.cast_mut())
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// Four address bytes as one word. Packet fields need not be 4-byte aligned,
/// so this is an unaligned read (LLVM emits byte loads and shifts); from
/// here on the address moves as words, never byte by byte.
#[inline(always)]
fn word(b: &[u8; 4]) -> u32 {
    // SAFETY: `b` is a valid `[u8; 4]` reference, so its four bytes are
    // readable; `read_unaligned` asks for no alignment, and every bit
    // pattern is a valid `u32`.
    unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<u32>()) }
}

#[inline(always)]
fn words16(b: &[u8; 16]) -> [u32; 4] {
    // SAFETY: as in `word`: sixteen readable bytes, read without alignment,
    // into four `u32`s (any bit pattern valid).
    unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<[u32; 4]>()) }
}

/// Parses Ethernet (one 802.1Q tag), IPv4/IPv6 and TCP/UDP.
#[inline(always)]
pub fn parse(ctx: &XdpContext) -> Result<Packet, Reason> {
    let eth: *const EthHdr = ptr_at(ctx, 0)?;
    let mut l3 = ETH_HLEN;
    // SAFETY: `ptr_at` checked that the 14 Ethernet bytes are in the packet
    // (see the module documentation for the rest of the argument).
    let mut ether_type = be16(unsafe { (*eth).proto });
    if ether_type == ETH_P_8021Q {
        let vlan: *const VlanHdr = ptr_at(ctx, ETH_HLEN)?;
        // SAFETY: `ptr_at` checked the 4 tag bytes after the Ethernet header.
        ether_type = be16(unsafe { (*vlan).proto });
        l3 += VLAN_HLEN;
    }
    match ether_type {
        ETH_P_IPV4 => parse_v4(ctx, l3),
        ETH_P_IPV6 => parse_v6(ctx, l3),
        _ => Err(Reason::NotIp),
    }
}

#[inline(always)]
fn parse_v4(ctx: &XdpContext, l3: usize) -> Result<Packet, Reason> {
    let ip: *const Ipv4Hdr = ptr_at(ctx, l3)?;
    // SAFETY: `ptr_at` checked the 20 fixed header bytes at `l3`; the
    // options past them are never read through this reference.
    let ip = unsafe { &*ip };
    if ip.ver_ihl >> 4 != 4 {
        return Err(Reason::Malformed);
    }
    // IHL is four bits: the mask bounds the header to 60 bytes for the verifier.
    let hlen = ((ip.ver_ihl & 0x0f) as usize) * 4;
    let tot_len = be16(ip.tot_len) as usize;
    if hlen < IPV4_MIN_HLEN || tot_len < hlen {
        return Err(Reason::Malformed);
    }
    // A packet shorter than its IP length is truncated: never forward it.
    // (Longer is fine: Ethernet pads short frames.)
    if ctx.data() + l3 + tot_len > ctx.data_end() {
        return Err(Reason::Malformed);
    }
    if ip.proto != PROTO_TCP && ip.proto != PROTO_UDP {
        return Err(Reason::NotService);
    }
    let mut pkt = Packet::new(
        FAMILY_V4,
        ip.proto,
        [word(&ip.src), 0, 0, 0],
        [word(&ip.dst), 0, 0, 0],
    );
    let frag = be16(ip.frag_off);
    if frag & (IP_MF | IP_OFFSET) != 0 {
        pkt.fragment = true;
        if frag & IP_OFFSET != 0 {
            pkt.later_fragment = true;
            return Ok(pkt);
        }
    }
    parse_l4(ctx, l3 + hlen, tot_len - hlen, &mut pkt)?;
    Ok(pkt)
}

#[inline(always)]
fn parse_v6(ctx: &XdpContext, l3: usize) -> Result<Packet, Reason> {
    let ip: *const Ipv6Hdr = ptr_at(ctx, l3)?;
    // SAFETY: `ptr_at` checked the 40 header bytes at `l3`.
    let ip = unsafe { &*ip };
    if ip.ver_tc_flow[0] >> 4 != 6 {
        return Err(Reason::Malformed);
    }
    let payload_len = be16(ip.payload_len) as usize;
    if ctx.data() + l3 + IPV6_HLEN + payload_len > ctx.data_end() {
        return Err(Reason::Malformed);
    }
    if ip.next_hdr != PROTO_TCP && ip.next_hdr != PROTO_UDP {
        if IPV6_EXT_HEADERS.contains(&ip.next_hdr) {
            return Err(Reason::Unsupported);
        }
        return Err(Reason::NotService);
    }
    let mut pkt = Packet::new(FAMILY_V6, ip.next_hdr, words16(&ip.src), words16(&ip.dst));
    parse_l4(ctx, l3 + IPV6_HLEN, payload_len, &mut pkt)?;
    Ok(pkt)
}

/// Reads ports (and TCP flags) of the L4 header at `l4`, which the IP header
/// says is `l4_len` bytes long (the packet was already checked to hold them).
#[inline(always)]
fn parse_l4(ctx: &XdpContext, l4: usize, l4_len: usize, pkt: &mut Packet) -> Result<(), Reason> {
    if pkt.proto == PROTO_TCP {
        let tcp: *const TcpPorts = ptr_at(ctx, l4)?;
        // SAFETY: `ptr_at` checked the 14 bytes read (ports to flags) at
        // `l4`. The length checks the IP layer made do not count here: the
        // verifier only trusts the `data_end` comparison in `ptr_at`.
        let tcp = unsafe { &*tcp };
        let doff = ((tcp.doff_res >> 4) as usize) * 4;
        if doff < TCP_MIN_HLEN || doff > l4_len {
            return Err(Reason::Malformed);
        }
        pkt.sport = be16(tcp.sport);
        pkt.dport = be16(tcp.dport);
        pkt.syn = tcp.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN;
        pkt.rst = tcp.flags & TCP_FLAG_RST != 0;
        pkt.closing = tcp.flags & (TCP_FLAG_FIN | TCP_FLAG_RST) != 0;
        pkt.seq = u32::from_be_bytes(tcp.seq);
    } else {
        let udp: *const UdpHdr = ptr_at(ctx, l4)?;
        // SAFETY: `ptr_at` checked the 8 UDP header bytes at `l4`.
        let udp = unsafe { &*udp };
        let len = be16(udp.len) as usize;
        // The first fragment of a datagram holds only part of what the UDP
        // length counts, so the upper bound applies to whole datagrams only.
        // But the IP packet must hold the UDP header itself: a tiny first
        // fragment (RFC 1858) ends inside it, and its "ports" would be read
        // from the Ethernet padding past the IP packet.
        if l4_len < UDP_HLEN || len < UDP_HLEN || (len > l4_len && !pkt.fragment) {
            return Err(Reason::Malformed);
        }
        pkt.sport = be16(udp.sport);
        pkt.dport = be16(udp.dport);
    }
    Ok(())
}
