//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6):
//! how a new master tells the segment that the VIP's MAC is now its own.
//! keepalived sends ARP in the request form (opcode 1, sender and target
//! address both the VIP, target MAC zero, broadcast), and for IPv6 an NA to
//! all-nodes with the Override flag and the target link-layer address
//! option (RFC 4861 section 7.2.6); so does regha.
//!
//! The frames are built with `pnet_packet` (the header layouts, field by
//! field, and the ICMPv6 checksum); the unit tests below pin the bytes to
//! what keepalived sends. They are sent on a send-only AF_PACKET socket of
//! our own rather than through `pnet_datalink`: its Linux channel always
//! binds the socket with `ETH_P_ALL` (also when handed a socket of ours),
//! so for as long as it is open the kernel queues a copy of every frame
//! arriving on the LB interface, the busiest one of the host, for a reader
//! that never reads; and it turns on promiscuous mode unless told not to.
//! A socket of protocol 0 receives nothing and needs only `CAP_NET_RAW`,
//! which the agent keeps after it drops the rest (`privileges.rs`).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::AsRawFd,
};

use pnet_base::MacAddr;
use pnet_packet::{
    MutablePacket, Packet,
    arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket},
    ethernet::{EtherTypes, MutableEthernetPacket},
    icmpv6::{
        Icmpv6Code, Icmpv6Packet, Icmpv6Types,
        ndp::{MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags},
    },
    ip::IpNextHeaderProtocols,
    ipv6::MutableIpv6Packet,
};

use super::{Interface, NetError};

const ETH_HLEN: usize = 14;
const ARP_LEN: usize = 28;
const IPV6_HLEN: usize = 40;
/// A neighbour advertisement without options (RFC 4861 section 4.4).
const NA_LEN: usize = 24;
/// The target link-layer address option: type, length, a MAC (section 4.6.1).
const TARGET_LL_OPT_LEN: usize = 8;
const GARP_LEN: usize = ETH_HLEN + ARP_LEN;
const NA_FRAME_LEN: usize = ETH_HLEN + IPV6_HLEN + NA_LEN + TARGET_LL_OPT_LEN;
/// RFC 4861 section 7.1.2: a receiver drops an NA whose hop limit is not 255
/// (proof that it was not forwarded by a router).
const ND_HOP_LIMIT: u8 = 255;
/// ff02::1, and the Ethernet multicast MAC it maps to (RFC 2464 section 7).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_NODES_MAC: MacAddr = MacAddr(0x33, 0x33, 0, 0, 0, 1);

fn mac_addr(m: [u8; 6]) -> MacAddr {
    MacAddr::new(m[0], m[1], m[2], m[3], m[4], m[5])
}

/// The 42-byte gratuitous ARP request for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; GARP_LEN];
    let mut eth = MutableEthernetPacket::new(&mut f).expect("42 bytes hold an Ethernet header");
    eth.set_destination(MacAddr::broadcast());
    eth.set_source(mac_addr(mac));
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp = MutableArpPacket::new(eth.payload_mut()).expect("28 bytes hold an ARP body");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    // The request form, as keepalived sends it: sender and target address
    // both the VIP, target MAC zero.
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(mac_addr(mac));
    arp.set_sender_proto_addr(vip);
    arp.set_target_hw_addr(MacAddr::zero());
    arp.set_target_proto_addr(vip);
    f
}

/// The 86-byte unsolicited neighbour advertisement for `vip` from `mac`,
/// to all-nodes (ff02::1), hop limit 255 as RFC 4861 requires.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr) -> [u8; 86] {
    let mut f = [0u8; NA_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut f).expect("86 bytes hold an Ethernet header");
    eth.set_destination(ALL_NODES_MAC);
    eth.set_source(mac_addr(mac));
    eth.set_ethertype(EtherTypes::Ipv6);
    let mut ip = MutableIpv6Packet::new(eth.payload_mut()).expect("72 bytes hold an IPv6 header");
    ip.set_version(6);
    ip.set_payload_length((NA_LEN + TARGET_LL_OPT_LEN) as u16);
    ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
    ip.set_hop_limit(ND_HOP_LIMIT);
    ip.set_source(vip);
    ip.set_destination(ALL_NODES);
    let mut na =
        MutableNeighborAdvertPacket::new(ip.payload_mut()).expect("32 bytes hold an NA body");
    na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
    na.set_icmpv6_code(Icmpv6Code(0));
    // Override: replace whatever MAC caches hold for the target. Not
    // solicited (nobody asked), not a router.
    na.set_flags(NeighborAdvertFlags::Override);
    na.set_target_addr(vip);
    na.set_options(&[NdpOption {
        option_type: NdpOptionTypes::TargetLLAddr,
        // In units of 8 bytes, type and length included.
        length: (TARGET_LL_OPT_LEN / 8) as u8,
        data: mac.to_vec(),
    }]);
    // Over the pseudo-header (RFC 8200 section 8.1) and the whole message.
    let sum = pnet_packet::icmpv6::checksum(
        &Icmpv6Packet::new(na.packet()).expect("an NA is an ICMPv6 message"),
        &vip,
        &ALL_NODES,
    );
    na.set_checksum(sum);
    f
}

/// One announcement frame per VIP from `mac`: gratuitous ARP for IPv4,
/// unsolicited NA for IPv6.
pub fn announcements(mac: [u8; 6], vips: &[IpAddr]) -> Vec<Vec<u8>> {
    vips.iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) => garp_frame(mac, *v4).to_vec(),
            IpAddr::V6(v6) => unsolicited_na_frame(mac, *v6).to_vec(),
        })
        .collect()
}

/// Sends `frames` out of `iface` through an AF_PACKET socket.
pub fn send_frames(iface: &Interface, frames: &[&[u8]]) -> Result<(), NetError> {
    let raw = |source| NetError::Raw {
        iface: iface.name.clone(),
        source,
    };
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(raw(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh socket we own.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: a zeroed sockaddr_ll with family, ifindex and address length set.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = iface.index as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    for frame in frames {
        // SAFETY: sending a byte buffer to a valid sockaddr_ll.
        let n = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                std::ptr::addr_of!(addr).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(raw(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsolicited_na_overrides_caches_for_the_vip_with_a_valid_checksum() {
        let mac = [2, 0, 0, 0, 0, 2];
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let f = unsolicited_na_frame(mac, vip);
        assert_eq!(
            &f[0..6],
            &[0x33, 0x33, 0, 0, 0, 1],
            "all-nodes multicast MAC"
        );
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[14 + 7], 255, "hop limit 255 or receivers drop it");
        assert_eq!(&f[22..38], &vip.octets(), "from the VIP");
        assert_eq!(f[54], 136, "neighbour advertisement");
        assert_eq!(f[58], 0x20, "override, not solicited, not router");
        assert_eq!(&f[62..78], &vip.octets(), "target = VIP");
        assert_eq!(&f[78..80], &[2, 1], "target link-layer option");
        assert_eq!(&f[80..86], &mac);
        // Summing the pseudo-header and the message with its checksum gives 0xffff.
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
        };
        add(&f[22..38]);
        add(&f[38..54]);
        add(&[0, 0, 0, 32, 0, 0, 0, 58]);
        add(&f[54..86]);
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }

    #[test]
    fn one_announcement_per_vip_of_its_family() {
        let mac = [2, 0, 0, 0, 0, 2];
        let vips: Vec<IpAddr> = vec![
            "192.0.2.100".parse().unwrap(),
            "2001:db8::100".parse().unwrap(),
        ];
        let frames = announcements(mac, &vips);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0],
            garp_frame(mac, "192.0.2.100".parse().unwrap()).to_vec()
        );
        assert_eq!(
            frames[1],
            unsolicited_na_frame(mac, "2001:db8::100".parse().unwrap()).to_vec()
        );
        assert!(announcements(mac, &[]).is_empty());
    }

    /// Every byte, as the hand-written builder that preceded pnet made them
    /// (and as the field tests here and around describe them).
    #[test]
    fn frames_are_byte_for_byte_the_ones_regha_always_sent() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let mac = [2, 0, 0, 0, 0, 2];
        assert_eq!(
            garp_frame(mac, Ipv4Addr::new(192, 0, 2, 100)).to_vec(),
            hex(
                "ffffffffffff02000000000208060001080006040001020000000002c0000264000000000000c0000264"
            )
        );
        assert_eq!(
            unsolicited_na_frame(mac, "2001:db8::100".parse().unwrap()).to_vec(),
            hex(concat!(
                "33330000000102000000000286dd6000000000203aff20010db8000000000000",
                "000000000100ff0200000000000000000000000000018800f72b2000000020010db8",
                "0000000000000000000001000201020000000002"
            ))
        );
    }

    #[test]
    fn garp_is_a_broadcast_request_for_the_vip_from_our_mac() {
        let mac = [2, 0, 0, 0, 0, 2];
        let f = garp_frame(mac, Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(&f[0..6], &[0xff; 6], "broadcast");
        assert_eq!(&f[6..12], &mac, "from our MAC");
        assert_eq!(&f[12..14], &[0x08, 0x06], "ARP");
        assert_eq!(&f[20..22], &[0, 1], "request, as keepalived sends it");
        assert_eq!(&f[22..28], &mac, "sender MAC");
        assert_eq!(&f[28..32], &[192, 0, 2, 100], "sender IP = VIP");
        assert_eq!(&f[32..38], &[0; 6], "target MAC zero");
        assert_eq!(&f[38..42], &[192, 0, 2, 100], "target IP = VIP");
    }
}
