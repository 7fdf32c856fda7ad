//! Gratuitous ARP: how a new master tells the segment that the VIP's MAC is
//! now its own. keepalived sends the request form (opcode 1, sender and
//! target address both the VIP, target MAC zero, broadcast), so does regha.

use std::{net::Ipv4Addr, os::fd::AsRawFd};

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
