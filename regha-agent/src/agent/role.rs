//! The role's consequences on the host: a master holds the VIPs and
//! announces them (gratuitous ARP); a backup, or a stopping agent, holds
//! none. The XDP program steers on both: only the VIPs move.

use std::net::IpAddr;

use regha_config::GarpConfig;
use regha_model::Role;
use rtnetlink::Handle;
use tracing::{info, warn};

use crate::net::{Interface, NetError, garp};

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
/// advertisement for IPv6) with keepalived's defaults: 5 per VIP at once and
/// 5 more after 5 s, so switches that missed the first burst still learn
/// the move.
pub fn announce(iface: Interface, vips: Vec<IpAddr>) {
    announce_with(iface, vips, GarpConfig::default());
}

/// Announces the VIPs as `garp` says: `repeat` frames per VIP at once and,
/// unless `delay` is zero, `repeat` more after `delay`. The task can be
/// aborted (a master that steps down must not announce a VIP it released).
pub fn announce_with(
    iface: Interface,
    vips: Vec<IpAddr>,
    garp: GarpConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        send_burst(&iface, &vips, garp.repeat, 0);
        if !garp.delay.is_zero() {
            tokio::time::sleep(garp.delay).await;
            send_burst(&iface, &vips, garp.repeat, 1);
        }
    })
}

/// Sends `repeat` gratuitous ARPs / unsolicited NAs for each VIP, now.
pub fn send_burst(iface: &Interface, vips: &[IpAddr], repeat: u32, burst: u32) {
    let frames = garp::announcements(iface.mac, vips);
    if frames.is_empty() {
        return;
    }
    let all: Vec<&[u8]> = frames
        .iter()
        .flat_map(|f| std::iter::repeat_n(f.as_slice(), repeat as usize))
        .collect();
    match garp::send_frames(iface, &all) {
        Ok(()) => info!(iface = %iface.name, frames = all.len(), burst, "gratuitous ARP sent"),
        Err(e) => warn!(iface = %iface.name, error = %e, "gratuitous ARP not sent"),
    }
}
