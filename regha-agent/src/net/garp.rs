//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6):
//! how a new master tells the segment that the VIP's MAC is now its own.
//! keepalived sends ARP in the request form (opcode 1, sender and target
//! address both the VIP, target MAC zero, broadcast), and for IPv6 an NA to
//! all-nodes with the Override flag and the target link-layer address
//! option (RFC 4861 section 7.2.6); so does regha.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::AsRawFd,
};

use super::{Interface, NetError};

const ETH_P_ARP: u16 = 0x0806;

/// The 42-byte gratuitous ARP request for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, opcode request.
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    // Target MAC stays zero; target IP is the VIP again.
    f[38..42].copy_from_slice(&vip.octets());
    f
}

const ETH_P_IPV6: u16 = 0x86dd;
const ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Override flag: replace whatever MAC caches hold for the target.
const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Target link-layer address option, length in units of 8 bytes.
const ND_OPT_TARGET_LL_ADDR: u8 = 2;

/// The 86-byte unsolicited neighbour advertisement for `vip` from `mac`,
/// to all-nodes (ff02::1), hop limit 255 as RFC 4861 requires.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr) -> [u8; 86] {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = [0u8; 86];
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let ip = &mut f[14..54];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&32u16.to_be_bytes()); // payload: 24 NA + 8 option
    ip[6] = ICMPV6;
    ip[7] = 255;
    ip[8..24].copy_from_slice(&vip.octets());
    ip[24..40].copy_from_slice(&all_nodes.octets());
    let icmp = &mut f[54..86];
    icmp[0] = ND_NEIGHBOR_ADVERT;
    icmp[4] = NA_FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = ND_OPT_TARGET_LL_ADDR;
    icmp[25] = 1;
    icmp[26..32].copy_from_slice(&mac);
    // ICMPv6 checksum over the pseudo-header (RFC 8200 section 8.1).
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&vip.octets());
    add(&all_nodes.octets());
    add(&32u32.to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(&f[54..86]);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[56..58].copy_from_slice(&(!(sum as u16)).to_be_bytes());
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
