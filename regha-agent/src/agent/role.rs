//! The role's consequences on the host: a master holds the VIPs and
//! announces them (gratuitous ARP); a backup, or a stopping agent, holds
//! none. The XDP program steers on both: only the VIPs move.

use std::{net::IpAddr, time::Duration};

use rtnetlink::Handle;
use tracing::{info, warn};

use crate::{
    config::Role,
    net::{Interface, NetError, garp},
};

/// keepalived's defaults: 5 gratuitous ARPs at once (`garp_master_repeat`),
/// and another 5 after 5 s (`garp_master_delay`), so switches that missed
/// the first burst still learn the move.
pub const GARP_REPEAT: usize = 5;
pub const GARP_SECOND_BURST: Duration = Duration::from_secs(5);

/// Makes the host's VIPs match `role`. Returns the VIPs added.
pub async fn apply(
    handle: &Handle,
    iface: &Interface,
    vips: &[(IpAddr, u8)],
    role: Role,
) -> Result<Vec<IpAddr>, NetError> {
    let mut added = Vec::new();
    for &(ip, prefix) in vips {
        match role {
            Role::Master => {
                if iface.add_vip(handle, (ip, prefix)).await? {
                    added.push(ip);
                }
            }
            Role::Backup => {
                iface.remove_vip(handle, ip).await?;
            }
        }
    }
    Ok(added)
}

/// Announces the VIPs (gratuitous ARP for IPv4, unsolicited neighbour
/// advertisement for IPv6) now and once more after [`GARP_SECOND_BURST`].
pub fn announce(iface: Interface, vips: Vec<IpAddr>) {
    let frames: Vec<Vec<u8>> = vips
        .iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) => garp::garp_frame(iface.mac, *v4).to_vec(),
            IpAddr::V6(v6) => garp::unsolicited_na_frame(iface.mac, *v6).to_vec(),
        })
        .collect();
    if frames.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for burst in 0..2 {
            if burst == 1 {
                tokio::time::sleep(GARP_SECOND_BURST).await;
            }
            let all: Vec<&[u8]> = frames
                .iter()
                .flat_map(|f| std::iter::repeat_n(f.as_slice(), GARP_REPEAT))
                .collect();
            match garp::send_frames(&iface, &all) {
                Ok(()) => {
                    info!(iface = %iface.name, frames = all.len(), burst, "gratuitous ARP sent")
                }
                Err(e) => warn!(iface = %iface.name, error = %e, "gratuitous ARP not sent"),
            }
        }
    });
}
