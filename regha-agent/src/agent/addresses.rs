//! The LB interface's own addresses, beside the agent's loop: a task reads
//! them every [`REFRESH`] and publishes them with the VIPs to leave out, so
//! that every connection the agent opens (health checks, resolution
//! probes) chooses its source from a current view (`net/source.rs`) without
//! a netlink round trip of its own.

use std::{net::IpAddr, time::Duration};

use rtnetlink::Handle;
use tokio::sync::watch;
use tracing::warn;

use crate::net::{Interface, NetError, SourceView, Sources};

/// How often the addresses are read again. An address of the host's that
/// changes (rare on an LB) is used within this; the VIPs need no refresh:
/// they are left out by value, not by what the interface holds.
const REFRESH: Duration = Duration::from_secs(2);

/// The watcher; dropping it stops the task.
pub struct AddressWatcher {
    view: watch::Sender<SourceView>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AddressWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AddressWatcher {
    /// Reads the addresses once (so that the first checks already have a
    /// source) and keeps reading them.
    pub async fn start(handle: Handle, iface: Interface) -> Result<Self, NetError> {
        let addrs = iface.addresses(&handle).await?;
        let view = watch::Sender::new(SourceView {
            ifindex: iface.index,
            addrs,
            vips: Vec::new(),
        });
        let task = tokio::spawn(run(handle, iface, view.clone()));
        Ok(Self { view, task })
    }

    /// The view the agent's connections choose their source from.
    pub fn sources(&self) -> Sources {
        Sources::new(self.view.subscribe())
    }

    /// Every VIP of the config: never the source of the agent's traffic.
    pub fn exclude(&self, vips: Vec<IpAddr>) {
        self.view.send_if_modified(|v| {
            let changed = v.vips != vips;
            v.vips = vips;
            changed
        });
    }

    /// The VIPs left out now.
    pub fn excluded(&self) -> Vec<IpAddr> {
        self.view.borrow().vips.clone()
    }
}

async fn run(handle: Handle, iface: Interface, view: watch::Sender<SourceView>) {
    let mut failing = false;
    loop {
        tokio::time::sleep(REFRESH).await;
        match iface.addresses(&handle).await {
            Ok(addrs) => {
                failing = false;
                view.send_if_modified(|v| {
                    let changed = v.addrs != addrs;
                    v.addrs = addrs;
                    changed
                });
            }
            Err(e) if !failing => {
                failing = true;
                warn!(error = %e, iface = %iface.name, "cannot read the interface's addresses: the agent's connections keep the sources last read");
            }
            Err(_) => {}
        }
    }
}
