//! What an instance needs from the world, as a trait: the VRRP socket, the
//! VIPs on the interface, the announcements, notify scripts and trackers.
//! [`NetIo`] is the real one; the replay tests (`tests.rs`) run the same
//! instance over a recording fake, fed with keepalived's own adverts.

use std::{future::Future, io, net::IpAddr, path::PathBuf, time::Duration};

use rtnetlink::Handle;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::super::{
    network::{Datagram, Destination, VrrpSocket},
    trackers::{self, TrackEvent},
};
use crate::net::{Interface, NetError, Vip, announce};
use regha_config::VrrpConfig;

/// The instance's I/O. Every method but [`VrrpIo::recv`] returns quickly;
/// `recv` waits for the next datagram and is cancel-safe.
pub trait VrrpIo: Send {
    /// The address adverts come from.
    fn src(&self) -> IpAddr;
    /// Where adverts go: the multicast group, or the unicast peers.
    fn destinations(&self) -> Vec<IpAddr>;
    /// The next datagram into `buf`.
    fn recv(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<Datagram>> + Send;
    /// Sends one encoded advert to `dst`.
    fn send(&mut self, payload: &[u8], dst: IpAddr) -> impl Future<Output = io::Result<()>> + Send;
    /// Adds the VIPs that are missing; returns those it added.
    fn add_vips(
        &mut self,
        vips: &[Vip],
    ) -> impl Future<Output = Result<Vec<IpAddr>, NetError>> + Send;
    /// Removes the VIPs that are there.
    fn remove_vips(&mut self, vips: &[Vip]) -> impl Future<Output = Result<(), NetError>> + Send;
    /// Sends `repeat` gratuitous ARPs / unsolicited NAs per VIP, now.
    fn announce(&mut self, vips: &[IpAddr], repeat: u32, burst: u32);
    /// Starts a notify script; does not wait for it.
    fn notify(&mut self, script: PathBuf);
    /// (Re)starts the trackers for `config` (scripts, tracked links and the
    /// VRRP interface's own link); their reports arrive on the receiver. The
    /// trackers of an earlier call stop.
    fn trackers(&mut self, config: &VrrpConfig) -> io::Result<mpsc::UnboundedReceiver<TrackEvent>>;
    /// A reload changed what the socket depends on (`unicast_src`,
    /// `unicast_peers`): reopen it for `config`.
    fn reopen(&mut self, config: &VrrpConfig) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The real I/O: raw sockets, netlink, AF_PACKET frames, processes.
pub struct NetIo {
    socket: VrrpSocket,
    iface: Interface,
    handle: Handle,
    trackers: Option<trackers::Trackers>,
    /// Every VIP of the agent: never the source of adverts.
    exclude: Vec<IpAddr>,
}

impl NetIo {
    /// Opens the socket for `config` on `iface`, sending from `src` (see
    /// [`source_address`], which left out `exclude`, every VIP).
    pub fn open(
        config: &VrrpConfig,
        iface: Interface,
        handle: Handle,
        src: IpAddr,
        exclude: Vec<IpAddr>,
    ) -> io::Result<Self> {
        let socket = VrrpSocket::open(&iface.name, iface.index, src, destination(config))?;
        Ok(Self {
            socket,
            iface,
            handle,
            trackers: None,
            exclude,
        })
    }
}

fn destination(config: &VrrpConfig) -> Destination {
    if config.unicast_peers.is_empty() {
        Destination::Multicast
    } else {
        Destination::Unicast(config.unicast_peers.clone())
    }
}

impl VrrpIo for NetIo {
    fn src(&self) -> IpAddr {
        self.socket.src()
    }

    fn destinations(&self) -> Vec<IpAddr> {
        self.socket.destinations()
    }

    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        self.socket.recv(buf).await
    }

    async fn send(&mut self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        self.socket.send(payload, dst).await
    }

    async fn add_vips(&mut self, vips: &[Vip]) -> Result<Vec<IpAddr>, NetError> {
        self.iface.add_vips(&self.handle, vips).await
    }

    async fn remove_vips(&mut self, vips: &[Vip]) -> Result<(), NetError> {
        self.iface.remove_vips(&self.handle, vips).await
    }

    fn announce(&mut self, vips: &[IpAddr], repeat: u32, burst: u32) {
        announce::send_burst(&self.iface, vips, repeat, burst);
    }

    fn notify(&mut self, script: PathBuf) {
        run_notify(script);
    }

    fn trackers(&mut self, config: &VrrpConfig) -> io::Result<mpsc::UnboundedReceiver<TrackEvent>> {
        for s in &config.track_scripts {
            info!(script = %s.name, command = %trackers::command_line(s), weight = s.weight, "tracking a script");
        }
        let mut links: Vec<String> = config
            .track_interfaces
            .iter()
            .map(|t| t.name.clone())
            .collect();
        links.push(self.iface.name.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        // The old trackers stop first: their reports must not reach the
        // new channel's reader under the new config's script numbers.
        self.trackers = None;
        self.trackers = Some(trackers::start(&config.track_scripts, links, tx)?);
        Ok(rx)
    }

    async fn reopen(&mut self, config: &VrrpConfig) -> anyhow::Result<()> {
        let src = source_address(&self.handle, &self.iface, config, &self.exclude).await?;
        self.socket =
            VrrpSocket::open(&self.iface.name, self.iface.index, src, destination(config))?;
        Ok(())
    }
}

/// The address adverts come from when `unicast_src` is not set: for IPv4
/// VIPs the interface's primary IPv4 address that is neither one of this
/// instance's VIPs nor in `exclude` (every VIP of the agent), for IPv6 VIPs
/// its link-local address (RFC 5798 section 5.1.2.1), waited for while DAD
/// runs.
pub async fn source_address(
    handle: &Handle,
    iface: &Interface,
    config: &VrrpConfig,
    exclude: &[IpAddr],
) -> anyhow::Result<IpAddr> {
    use anyhow::Context;
    if let Some(src) = config.unicast_src {
        return Ok(src);
    }
    let vips: Vec<IpAddr> = config
        .virtual_ipaddresses
        .iter()
        .map(|(ip, _)| *ip)
        .chain(exclude.iter().copied())
        .collect();
    if vips.first().is_some_and(IpAddr::is_ipv6) {
        let ll = super::super::network::link_local_v6(handle, iface.index, Duration::from_secs(5))
            .await?
            .with_context(|| {
                format!(
                    "{} has no usable IPv6 link-local address to send VRRP adverts from",
                    iface.name
                )
            })?;
        return Ok(IpAddr::V6(ll));
    }
    let primary = iface.primary_ipv4(handle, &vips).await?.with_context(|| {
        format!(
            "{} has no IPv4 address to send VRRP adverts from",
            iface.name
        )
    })?;
    Ok(IpAddr::V4(primary))
}

/// Runs a notify script without blocking the instance, killed after 10 s.
fn run_notify(script: PathBuf) {
    tokio::spawn(async move {
        // No shell and no arguments: the path as configured, run directly.
        let mut child = match tokio::process::Command::new(&script)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                warn!(script = %script.display(), error = %e, "notify script did not start");
                return;
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(st)) if st.success() => {}
            Ok(Ok(st)) => warn!(script = %script.display(), status = %st, "notify script failed"),
            Ok(Err(e)) => warn!(script = %script.display(), error = %e, "notify script"),
            Err(_) => warn!(script = %script.display(), "notify script killed after 10 s"),
        }
    });
}
