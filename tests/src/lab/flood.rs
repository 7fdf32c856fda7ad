//! A SYN flood from spoofed sources, for tests that check what one does
//! (and does not do) to the LB: the frames, built here, are sent from a
//! client's namespace with [`super::capture::send_frames`].

use std::net::{IpAddr, Ipv4Addr};

use crate::packet::{Frame, TCP_SYN};

/// Spoofed SYN `i` to the lab's IPv4 VIP: from TEST-NET-2 and TEST-NET-3
/// only, each with a port and an initial sequence number of its own,
/// addressed from `client_mac` to the LB at `lb_mac`.
pub fn spoofed_syn(i: u32, lb_mac: [u8; 6], client_mac: [u8; 6]) -> Vec<u8> {
    let net = if i.is_multiple_of(2) {
        [198, 51, 100]
    } else {
        [203, 0, 113]
    };
    let src = Ipv4Addr::new(net[0], net[1], net[2], (i / 2 % 254 + 1) as u8);
    let sport = 1024 + (i / 508 % 60_000) as u16;
    let IpAddr::V4(vip) = super::vip_port().ip() else {
        unreachable!("the lab's VIP is IPv4")
    };
    let mut f = Frame::tcp4(src, sport, vip, super::vip_port().port(), TCP_SYN)
        .with_seq(i.wrapping_mul(2_654_435_761));
    f.dst_mac = lb_mac;
    f.src_mac = client_mac;
    f.bytes()
}

/// `02:00:00:00:00:0b` as bytes.
pub fn mac_bytes(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("MAC {s:?}: {e}")))
        .collect();
    v.try_into()
        .unwrap_or_else(|_| panic!("MAC {s:?}: not six bytes"))
}
