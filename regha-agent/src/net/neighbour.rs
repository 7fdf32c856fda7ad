//! Backend MACs from the kernel's neighbour table.
//!
//! DSR rewrites only the destination MAC, so every backend's MAC must be
//! known. The kernel already resolves and refreshes them (ARP / ND); the
//! agent reads its table, and when an entry is missing or failed, makes the
//! kernel resolve by sending a datagram towards the backend. Nothing here
//! waits for a resolution: the agent's watcher (`agent/macs.rs`) reads the
//! table again a moment later.

use std::{collections::HashMap, net::IpAddr};

use futures::TryStreamExt;
use netlink_packet_route::{
    AddressFamily,
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState},
};
use rtnetlink::Handle;

use super::{Interface, NetError, nl};

/// The discard port: the probe datagram is only there to make the kernel
/// resolve the neighbour; nobody should answer it.
const DISCARD_PORT: u16 = 9;

/// Every usable MAC the neighbour table holds on `iface` (both families),
/// in one dump per family: resolving, failed and empty entries are left
/// out.
pub async fn neighbour_macs(
    handle: &Handle,
    iface: &Interface,
) -> Result<HashMap<IpAddr, [u8; 6]>, NetError> {
    let mut found = HashMap::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut entries = handle
            .neighbours()
            .get()
            .set_address_family(family)
            .execute();
        // Read the whole dump: dropping the stream early leaves netlink
        // answers with nowhere to go (and a warning each).
        while let Some(msg) = entries.try_next().await.map_err(nl("dump neighbours"))? {
            if msg.header.ifindex != iface.index
                || matches!(
                    msg.header.state,
                    NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
                )
            {
                continue;
            }
            let dst = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => {
                    Some(IpAddr::V4(*ip))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => {
                    Some(IpAddr::V6(*ip))
                }
                _ => None,
            });
            let mac = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::LinkLayerAddress(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
                _ => None,
            });
            if let (Some(dst), Some(mac)) = (dst, mac) {
                found.insert(dst, mac);
            }
        }
    }
    Ok(found)
}

/// Makes the kernel resolve `addr`: a UDP datagram to its discard port,
/// sent out of `iface` from `src` (the interface's own address, never a
/// VIP: the neighbour solicitation or ARP request takes its source from
/// the datagram, and a backend holding the VIP on `lo` would see a request
/// from itself). `None` leaves the source to the kernel.
pub fn provoke_resolution(
    iface: &Interface,
    addr: IpAddr,
    src: Option<std::net::SocketAddr>,
) -> std::io::Result<()> {
    let bind: std::net::SocketAddr = match (src, addr) {
        (Some(src), _) => src,
        (None, IpAddr::V4(_)) => "0.0.0.0:0".parse().expect("literal"),
        (None, IpAddr::V6(_)) => "[::]:0".parse().expect("literal"),
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
