//! Announcing VIPs a host has just taken: gratuitous ARP (IPv4) and
//! unsolicited neighbour advertisements (IPv6), so switches and hosts on the
//! segment move their entries to this host's MAC. The frames are built in
//! `garp.rs`; the schedule (bursts, delay, refresh) is the caller's.

use std::net::IpAddr;

use tracing::{info, warn};

use super::{Interface, garp};

/// Sends `repeat` announcements for each VIP, now. `burst` numbers the
/// burst in the log (0 for the first).
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
