//! Backend MACs from the kernel's neighbour table.
//!
//! DSR rewrites only the destination MAC, so every backend's MAC must be
//! known. The kernel already resolves and refreshes them (ARP / ND); the
//! agent reads its table, and when an entry is missing or failed, makes the
//! kernel resolve by sending a datagram towards the backend.

use std::{net::IpAddr, time::Duration};

use futures::TryStreamExt;
use netlink_packet_route::{
    AddressFamily,
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState},
};
use rtnetlink::Handle;

use super::{Interface, NetError, nl};

/// How often, and how long apart, resolution is retried.
const RESOLVE_TRIES: u32 = 10;
const RESOLVE_PAUSE: Duration = Duration::from_millis(100);
/// The discard port: the probe datagram is only there to make the kernel
/// resolve the neighbour; nobody should answer it.
const DISCARD_PORT: u16 = 9;

/// The MAC the neighbour table holds for `addr` on `iface`, if usable.
pub async fn lookup_mac(
    handle: &Handle,
    iface: &Interface,
    addr: IpAddr,
) -> Result<Option<[u8; 6]>, NetError> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let mut entries = handle
        .neighbours()
        .get()
        .set_address_family(family)
        .execute();
    // Read the whole dump even after a match: dropping the stream early
    // leaves netlink answers with nowhere to go (and a warning each).
    let mut found = None;
    while let Some(msg) = entries.try_next().await.map_err(nl("dump neighbours"))? {
        if found.is_some() {
            continue;
        }
        if msg.header.ifindex != iface.index {
            continue;
        }
        // An entry being resolved, or one that failed, has no usable MAC.
        if matches!(
            msg.header.state,
            NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
        ) {
            continue;
        }
        let dst = msg.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
            _ => None,
        });
        if dst != Some(addr) {
            continue;
        }
        let mac = msg.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::LinkLayerAddress(m) if m.len() == 6 => {
                <[u8; 6]>::try_from(m.as_slice()).ok()
            }
            _ => None,
        });
        if mac.is_some() {
            found = mac;
        }
    }
    Ok(found)
}

/// Makes the kernel resolve `addr`: a UDP datagram to its discard port,
/// sent out of `iface`.
fn provoke_resolution(iface: &Interface, addr: IpAddr) -> std::io::Result<()> {
    let bind: std::net::SocketAddr = match addr {
        IpAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        IpAddr::V6(_) => "[::]:0".parse().expect("literal"),
    };
    let sock = std::net::UdpSocket::bind(bind)?;
    bind_to_device(&sock, &iface.name)?;
    sock.send_to(&[], (addr, DISCARD_PORT))?;
    Ok(())
}

fn bind_to_device(sock: &std::net::UdpSocket, name: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: SO_BINDTODEVICE with a byte string of the given length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The backend's MAC: from the table, or after making the kernel resolve it.
pub async fn resolve_mac(
    handle: &Handle,
    iface: &Interface,
    addr: IpAddr,
) -> Result<[u8; 6], NetError> {
    for attempt in 0..RESOLVE_TRIES {
        if let Some(mac) = lookup_mac(handle, iface, addr).await? {
            return Ok(mac);
        }
        if let Err(e) = provoke_resolution(iface, addr) {
            tracing::debug!(backend = %addr, error = %e, attempt, "resolution probe not sent");
        }
        tokio::time::sleep(RESOLVE_PAUSE).await;
    }
    Err(NetError::Unresolved {
        addr,
        iface: iface.name.clone(),
        tries: RESOLVE_TRIES,
    })
}
