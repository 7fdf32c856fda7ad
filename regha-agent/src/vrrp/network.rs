//! VRRP sockets (IPv4: VRRPv2 and VRRPv3): raw IP protocol 112, bound to
//! the interface, TTL 255, multicast 224.0.0.18 joined on it (or unicast
//! peers). The source address is the interface's primary address (or the
//! configured one): the tie-break between equal priorities compares it.

use std::{
    io,
    mem::MaybeUninit,
    net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4},
};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_TTL};

/// Where adverts go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Multicast,
    Unicast(Vec<Ipv4Addr>),
}

/// Two raw sockets: one receives (it must stay unbound: a raw IPv4 socket
/// bound to an address only sees packets *to* that address, which would
/// hide the 224.0.0.18 adverts), one sends (bound to the source address,
/// which fixes the adverts' source for multicast and unicast alike).
pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: AsyncFd<Socket>,
    src: Ipv4Addr,
    dst: Destination,
}

fn raw_socket(iface: &str) -> io::Result<Socket> {
    let sock = Socket::new(
        Domain::IPV4,
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

impl VrrpSocket {
    /// Opens the sockets on interface `iface` (index `ifindex`), sending from `src`.
    pub fn open_v4(iface: &str, ifindex: u32, src: Ipv4Addr, dst: Destination) -> io::Result<Self> {
        let rx = raw_socket(iface)?;
        if dst == Destination::Multicast {
            rx.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        let tx = raw_socket(iface)?;
        tx.bind(&SockAddr::from(SocketAddrV4::new(src, 0)))?;
        tx.set_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_loop_v4(false)?;
        tx.set_multicast_if_v4(&src)?;
        // It never reads: keep what the kernel queues for it small.
        tx.set_recv_buffer_size(0)?;
        Ok(Self {
            rx: register(rx)?,
            tx: register(tx)?,
            src,
            dst,
        })
    }

    pub fn src(&self) -> Ipv4Addr {
        self.src
    }

    /// The addresses adverts go to.
    pub fn destinations(&self) -> Vec<Ipv4Addr> {
        match &self.dst {
            Destination::Multicast => vec![VRRP_MCAST_V4],
            Destination::Unicast(peers) => peers.clone(),
        }
    }

    /// Sends one advert payload to `dst`.
    pub async fn send(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let to = SockAddr::from(SocketAddr::new(IpAddr::V4(dst), 0));
        loop {
            let mut guard = self.tx.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(payload, &to)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// The next packet: the whole IPv4 packet (a raw IPv4 socket returns the
    /// IP header too) into `buf`; its length.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.rx.readable().await?;
            let res = guard.try_io(|s| {
                // SAFETY: MaybeUninit<u8> has the layout of u8; recv only writes.
                let uninit = unsafe {
                    std::slice::from_raw_parts_mut(
                        buf.as_mut_ptr().cast::<MaybeUninit<u8>>(),
                        buf.len(),
                    )
                };
                s.get_ref().recv_from(uninit).map(|(n, _)| n)
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}
