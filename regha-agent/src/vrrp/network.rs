//! VRRP sockets: raw IP protocol 112, bound to the interface, TTL / hop
//! limit 255, multicast joined on it (224.0.0.18 or ff02::12) or unicast
//! peers.
//!
//! - IPv4 (v2 and v3): the source is the interface's primary address (or
//!   the configured one): the tie-break between equal priorities compares it.
//!   A raw IPv4 socket returns the IP header, so the codec checks the TTL.
//! - IPv6 (v3, RFC 5798 section 5.1.2): the source is the interface's
//!   link-local address (or the configured one). A raw IPv6 socket returns
//!   only the payload: the hop limit comes as IPV6_HOPLIMIT ancillary data
//!   and the destination (for the pseudo-header checksum) as IPV6_PKTINFO.
//!   The checksum is computed and verified by the codec, not the kernel
//!   (no IPV6_CHECKSUM: the kernel would drop bad packets uncounted).

use std::{
    io,
    mem::MaybeUninit,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::AsRawFd,
    time::Duration,
};

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressScope,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL};

/// Where adverts go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Multicast,
    Unicast(Vec<IpAddr>),
}

/// One datagram as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datagram {
    /// `len` bytes of IPv4 packet, header included.
    V4 { len: usize },
    /// `len` bytes of VRRP payload, and what the IPv6 header said.
    V6 {
        len: usize,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
    },
}

/// Two raw sockets: one receives (it must stay unbound: a raw socket bound
/// to an address only sees packets *to* that address, which would hide the
/// multicast adverts), one sends (bound to the source address, which fixes
/// the adverts' source for multicast and unicast alike).
pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: AsyncFd<Socket>,
    src: IpAddr,
    ifindex: u32,
    dst: Destination,
}

fn raw_socket(domain: Domain, iface: &str) -> io::Result<Socket> {
    let sock = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(IPPROTO_VRRP))),
    )?;
    sock.bind_device(Some(iface.as_bytes()))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

fn register(sock: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: `sock` owns its fd, which stays open and the same for as long
    // as the AsyncFd owns the socket.
    unsafe { AsyncFd::register(sock) }.map_err(|e| io::Error::other(e.to_string()))
}

fn set_int_opt(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt with a pointer to an int that outlives the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            std::ptr::addr_of!(value).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl VrrpSocket {
    /// Opens the sockets on interface `iface` (index `ifindex`), sending
    /// from `src` (IPv4 or IPv6: the instance's family).
    pub fn open(iface: &str, ifindex: u32, src: IpAddr, dst: Destination) -> io::Result<Self> {
        let (rx, tx) = match src {
            IpAddr::V4(src) => Self::open_v4(iface, ifindex, src, &dst)?,
            IpAddr::V6(src) => Self::open_v6(iface, ifindex, src, &dst)?,
        };
        // The sender never reads: keep what the kernel queues for it small.
        tx.set_recv_buffer_size(0)?;
        Ok(Self {
            rx: register(rx)?,
            tx: register(tx)?,
            src,
            ifindex,
            dst,
        })
    }

    fn open_v4(
        iface: &str,
        ifindex: u32,
        src: Ipv4Addr,
        dst: &Destination,
    ) -> io::Result<(Socket, Socket)> {
        let rx = raw_socket(Domain::IPV4, iface)?;
        if *dst == Destination::Multicast {
            rx.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        let tx = raw_socket(Domain::IPV4, iface)?;
        tx.bind(&SockAddr::from(SocketAddrV4::new(src, 0)))?;
        tx.set_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_loop_v4(false)?;
        tx.set_multicast_if_v4(&src)?;
        Ok((rx, tx))
    }

    fn open_v6(
        iface: &str,
        ifindex: u32,
        src: Ipv6Addr,
        dst: &Destination,
    ) -> io::Result<(Socket, Socket)> {
        let rx = raw_socket(Domain::IPV6, iface)?;
        if *dst == Destination::Multicast {
            rx.join_multicast_v6(&VRRP_MCAST_V6, ifindex)?;
        }
        set_int_opt(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        set_int_opt(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        let tx = raw_socket(Domain::IPV6, iface)?;
        let scope = if is_link_local(src) { ifindex } else { 0 };
        tx.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope)))?;
        tx.set_unicast_hops_v6(u32::from(VRRP_TTL))?;
        tx.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
        tx.set_multicast_loop_v6(false)?;
        tx.set_multicast_if_v6(ifindex)?;
        Ok((rx, tx))
    }

    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// The addresses adverts go to.
    pub fn destinations(&self) -> Vec<IpAddr> {
        match (&self.dst, self.src) {
            (Destination::Multicast, IpAddr::V4(_)) => vec![IpAddr::V4(VRRP_MCAST_V4)],
            (Destination::Multicast, IpAddr::V6(_)) => vec![IpAddr::V6(VRRP_MCAST_V6)],
            (Destination::Unicast(peers), _) => peers.clone(),
        }
    }

    /// Sends one advert payload to `dst`.
    pub async fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = match dst {
            IpAddr::V4(a) => SockAddr::from(SocketAddr::new(IpAddr::V4(a), 0)),
            IpAddr::V6(a) => {
                let scope = if is_link_local(a) || a.is_multicast() {
                    self.ifindex
                } else {
                    0
                };
                SockAddr::from(SocketAddrV6::new(a, 0, 0, scope))
            }
        };
        loop {
            let mut guard = self.tx.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(payload, &to)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// The next datagram into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Datagram> {
        loop {
            let mut guard = self.rx.readable().await?;
            let res = guard.try_io(|s| match self.src {
                IpAddr::V4(_) => {
                    // SAFETY: MaybeUninit<u8> has the layout of u8; recv only writes.
                    let uninit = unsafe {
                        std::slice::from_raw_parts_mut(
                            buf.as_mut_ptr().cast::<MaybeUninit<u8>>(),
                            buf.len(),
                        )
                    };
                    s.get_ref()
                        .recv_from(uninit)
                        .map(|(len, _)| Datagram::V4 { len })
                }
                IpAddr::V6(_) => recv_v6(s.get_ref(), buf),
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// recvmsg(2) on a raw IPv6 socket: the payload, the source from the
/// address, the hop limit and destination from the ancillary data. A
/// datagram without them (which Linux always sends once asked) reports hop
/// limit 0 and the unspecified destination, and the codec rejects it.
fn recv_v6(sock: &Socket, buf: &mut [u8]) -> io::Result<Datagram> {
    // SAFETY: zeroed sockaddr_in6 / msghdr are valid "empty" values; the
    // pointers set below stay valid for the call.
    let mut name: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut control = [0u64; 16]; // 128 bytes, 8-aligned: room for both cmsgs
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = std::ptr::addr_of_mut!(name).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control);
    // SAFETY: msg points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut hop_limit = 0u8;
    let mut dst = Ipv6Addr::UNSPECIFIED;
    // SAFETY: walking the control buffer the kernel filled, with the libc
    // CMSG macros; each data pointer is read with its cmsg's type's layout.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let v = std::ptr::read_unaligned(data.cast::<i32>());
                    hop_limit = u8::try_from(v).unwrap_or(0);
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    dst = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Datagram::V6 {
        len: n as usize,
        src: Ipv6Addr::from(name.sin6_addr.s6_addr),
        dst,
        hop_limit,
    })
}

/// The interface's link-local IPv6 address, the source of IPv6 adverts
/// (RFC 5798 section 5.1.2.1). An address still in duplicate address
/// detection (tentative) cannot be bound: wait for it, up to `wait`.
pub async fn link_local_v6(
    handle: &rtnetlink::Handle,
    ifindex: u32,
    wait: Duration,
) -> io::Result<Option<Ipv6Addr>> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut tentative = false;
        let mut addrs = handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        let mut found = None;
        while let Some(msg) = addrs.try_next().await.map_err(io::Error::other)? {
            if msg.header.scope != AddressScope::Link {
                continue;
            }
            let addr = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(IpAddr::V6(a)) => Some(*a),
                _ => None,
            });
            let is_tentative = msg.header.flags.contains(AddressHeaderFlags::Tentative)
                || msg.attributes.iter().any(|a| {
                    matches!(a, AddressAttribute::Flags(f) if f.contains(AddressFlags::Tentative))
                });
            match addr {
                Some(a) if is_link_local(a) && !is_tentative => {
                    found = found.or(Some(a));
                }
                Some(a) if is_link_local(a) => tentative = true,
                _ => {}
            }
        }
        if found.is_some() || !tentative || tokio::time::Instant::now() >= deadline {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
