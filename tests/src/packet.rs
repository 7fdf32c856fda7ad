//! A small packet builder for fixtures: exact bytes, valid checksums, and
//! the knobs the fixtures need (VLAN tag, IPv4 options and fragments, TCP
//! flags). Malformed variants are made by editing the built bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_P_IPV4: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_ARP: u16 = 0x0806;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_FIN: u8 = 0x01;
pub const TCP_RST: u8 = 0x04;

#[derive(Clone, Debug)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// Any other IP protocol with a raw payload (ICMP, VRRP, ...).
    Raw {
        proto: u8,
    },
}

#[derive(Clone, Debug)]
pub enum L3 {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        /// Raw option bytes (a multiple of 4).
        options: Vec<u8>,
        /// (more fragments, offset in 8-byte units)
        frag: (bool, u16),
        ttl: u8,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
    },
}

/// A whole frame, built by [`Frame::bytes`].
#[derive(Clone, Debug)]
pub struct Frame {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub vlan: Option<u16>,
    pub l3: L3,
    pub l4: L4,
    pub payload: Vec<u8>,
    /// TCP sequence number (the client's: a SYN carries its initial one,
    /// the handshake's ACK that plus one).
    pub seq: u32,
}

/// The sequence number of every TCP frame unless set (`Frame::with_seq`).
pub const DEFAULT_SEQ: u32 = 0x1000_0000;

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn csum_finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    csum_finish(csum_add(0, data))
}

impl Frame {
    pub fn tcp4(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8) -> Self {
        Self {
            dst_mac: [0x02, 0, 0, 0, 0, 0x01],
            src_mac: [0x02, 0, 0, 0, 0, 0xc1],
            vlan: None,
            l3: L3::V4 {
                src,
                dst,
                options: Vec::new(),
                frag: (false, 0),
                ttl: 64,
            },
            l4: L4::Tcp {
                sport,
                dport,
                flags,
            },
            payload: Vec::new(),
            seq: DEFAULT_SEQ,
        }
    }

    pub fn tcp6(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16, flags: u8) -> Self {
        Self {
            l3: L3::V6 { src, dst },
            ..Self::tcp4(
                Ipv4Addr::UNSPECIFIED,
                sport,
                Ipv4Addr::UNSPECIFIED,
                dport,
                flags,
            )
        }
    }

    pub fn udp4(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Self {
        Self {
            l4: L4::Udp { sport, dport },
            ..Self::tcp4(src, sport, dst, dport, 0)
        }
    }

    pub fn with_payload(mut self, payload: &[u8]) -> Self {
        self.payload = payload.to_vec();
        self
    }

    /// TCP only: the sequence number.
    pub fn with_seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }

    pub fn with_vlan(mut self, vid: u16) -> Self {
        self.vlan = Some(vid);
        self
    }

    pub fn with_l4(mut self, l4: L4) -> Self {
        self.l4 = l4;
        self
    }

    /// IPv4 only: header options (padded to a multiple of 4 with NOPs... here EOLs).
    pub fn with_ipv4_options(mut self, opts: &[u8]) -> Self {
        if let L3::V4 { options, .. } = &mut self.l3 {
            let mut o = opts.to_vec();
            o.resize(opts.len().div_ceil(4) * 4, 0);
            *options = o;
        }
        self
    }

    /// IPv4 only: fragment flags and offset (in 8-byte units).
    pub fn with_fragment(mut self, more: bool, offset_units: u16) -> Self {
        if let L3::V4 { frag, .. } = &mut self.l3 {
            *frag = (more, offset_units);
        }
        self
    }

    pub fn with_ttl(mut self, t: u8) -> Self {
        if let L3::V4 { ttl, .. } = &mut self.l3 {
            *ttl = t;
        }
        self
    }

    fn l4_bytes(&self, pseudo: u32) -> (u8, Vec<u8>) {
        match self.l4 {
            L4::Tcp {
                sport,
                dport,
                flags,
            } => {
                let mut h = Vec::with_capacity(20 + self.payload.len());
                h.extend_from_slice(&sport.to_be_bytes());
                h.extend_from_slice(&dport.to_be_bytes());
                h.extend_from_slice(&self.seq.to_be_bytes());
                h.extend_from_slice(
                    &(if flags & TCP_ACK != 0 {
                        0x2000_0000u32
                    } else {
                        0
                    })
                    .to_be_bytes(),
                );
                h.push(5 << 4); // data offset: 20 bytes
                h.push(flags);
                h.extend_from_slice(&64240u16.to_be_bytes()); // window
                h.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
                h.extend_from_slice(&self.payload);
                let c = csum_finish(csum_add(pseudo + 6 + h.len() as u32, &h));
                h[16..18].copy_from_slice(&c.to_be_bytes());
                (6, h)
            }
            L4::Udp { sport, dport } => {
                let len = (8 + self.payload.len()) as u16;
                let mut h = Vec::with_capacity(len as usize);
                h.extend_from_slice(&sport.to_be_bytes());
                h.extend_from_slice(&dport.to_be_bytes());
                h.extend_from_slice(&len.to_be_bytes());
                h.extend_from_slice(&[0, 0]);
                h.extend_from_slice(&self.payload);
                let c = csum_finish(csum_add(pseudo + 17 + u32::from(len), &h));
                h[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
                (17, h)
            }
            L4::Raw { proto } => (proto, self.payload.clone()),
        }
    }

    /// The frame's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.dst_mac);
        out.extend_from_slice(&self.src_mac);
        if let Some(vid) = self.vlan {
            out.extend_from_slice(&0x8100u16.to_be_bytes());
            out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
        }
        match &self.l3 {
            L3::V4 {
                src,
                dst,
                options,
                frag,
                ttl,
            } => {
                let pseudo = csum_add(csum_add(0, &src.octets()), &dst.octets());
                let (proto, l4) = self.l4_bytes(pseudo);
                let hlen = 20 + options.len();
                let tot = (hlen + l4.len()) as u16;
                let frag_field = (if frag.0 { 0x2000 } else { 0 }) | (frag.1 & 0x1fff);
                out.extend_from_slice(&ETH_P_IPV4.to_be_bytes());
                let mut ip = Vec::with_capacity(hlen);
                ip.push(0x40 | (hlen / 4) as u8);
                ip.push(0);
                ip.extend_from_slice(&tot.to_be_bytes());
                ip.extend_from_slice(&0x1234u16.to_be_bytes());
                ip.extend_from_slice(&frag_field.to_be_bytes());
                ip.push(*ttl);
                ip.push(proto);
                ip.extend_from_slice(&[0, 0]);
                ip.extend_from_slice(&src.octets());
                ip.extend_from_slice(&dst.octets());
                ip.extend_from_slice(options);
                let c = checksum(&ip);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
                out.extend_from_slice(&ip);
                out.extend_from_slice(&l4);
            }
            L3::V6 { src, dst } => {
                let pseudo = csum_add(csum_add(0, &src.octets()), &dst.octets());
                let (proto, l4) = self.l4_bytes(pseudo);
                out.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
                out.extend_from_slice(&[0x60, 0, 0, 0]);
                out.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                out.push(proto);
                out.push(64);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&l4);
            }
        }
        out
    }
}

/// An ARP request for `target` from `sender`.
pub fn arp_request(sender_mac: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0xff; 6]);
    out.extend_from_slice(&sender_mac);
    out.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    out.extend_from_slice(&sender_mac);
    out.extend_from_slice(&sender.octets());
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&target.octets());
    out
}

/// MAC as text, for messages.
pub fn mac_str(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
