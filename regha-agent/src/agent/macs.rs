//! Backend MACs, learned beside the agent's loop: a task reads the
//! neighbour table for every watched address, reports each MAC it learns
//! or that changes, and makes the kernel resolve the missing ones. Nothing
//! waits on a resolution: an unreachable backend costs one datagram per
//! round and never delays a health decision on its way to the maps (a
//! backend without a MAC stays out of the ring until it resolves).
//!
//! Rounds come every [`REFRESH`]; while some address is missing, and for a
//! few rounds after the watch list changes, every [`FAST_REFRESH`]. A MAC
//! that leaves the table (garbage collected, or failed while the backend is
//! cut off) is kept: only a different MAC replaces it, as the kernel learns
//! it.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    time::Duration,
};

use rtnetlink::Handle;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::net::{self, Interface, Sources};

/// How often the table is read while every MAC is known.
const REFRESH: Duration = Duration::from_secs(2);
/// How often while some are missing (a kernel resolution takes a few ms on
/// a live segment, up to its 3 s timeout on a dead one).
const FAST_REFRESH: Duration = Duration::from_millis(100);
/// Fast rounds after a change of the watch list, before the pace drops to
/// one probe per [`REFRESH`] for addresses that do not answer.
const FAST_ROUNDS: u32 = 30;

/// The watcher; dropping it stops the task.
pub struct MacWatcher {
    watch: watch::Sender<Vec<IpAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MacWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MacWatcher {
    /// Starts watching nothing; [`MacWatcher::watch`] sets the addresses.
    /// Learned MACs arrive on `tx`; the probes that make the kernel
    /// resolve a missing one leave from the source `sources` chooses.
    pub fn start(
        handle: Handle,
        iface: Interface,
        sources: Sources,
        tx: mpsc::UnboundedSender<(IpAddr, [u8; 6])>,
    ) -> Self {
        let (watch, rx) = watch::channel(Vec::new());
        let task = tokio::spawn(run(handle, iface, sources, rx, tx));
        Self { watch, task }
    }

    pub fn watch(&self, addrs: Vec<IpAddr>) {
        self.watch.send_replace(addrs);
    }
}

async fn run(
    handle: Handle,
    iface: Interface,
    sources: Sources,
    mut addrs: watch::Receiver<Vec<IpAddr>>,
    tx: mpsc::UnboundedSender<(IpAddr, [u8; 6])>,
) {
    let mut known: HashMap<IpAddr, [u8; 6]> = HashMap::new();
    let mut warned: HashSet<IpAddr> = HashSet::new();
    let mut fast_rounds = FAST_ROUNDS;
    loop {
        let watched = addrs.borrow_and_update().clone();
        let missing = match net::neighbour_macs(&handle, &iface).await {
            Ok(table) => {
                let mut missing = Vec::new();
                for addr in &watched {
                    match table.get(addr) {
                        Some(mac) if known.get(addr) != Some(mac) => {
                            info!(backend = %addr, mac = %regha_model::Mac(*mac), "backend MAC learned");
                            known.insert(*addr, *mac);
                            if tx.send((*addr, *mac)).is_err() {
                                return;
                            }
                        }
                        Some(_) => {}
                        None => missing.push(*addr),
                    }
                }
                missing
            }
            Err(e) => {
                warn!(error = %e, "cannot read the neighbour table");
                Vec::new()
            }
        };
        for addr in &missing {
            let (src, _) = sources.choose(*addr);
            if let Err(e) = net::provoke_resolution(&iface, *addr, src) {
                tracing::debug!(backend = %addr, error = %e, "resolution probe not sent");
            }
        }
        let pause = if !missing.is_empty() && fast_rounds > 0 {
            fast_rounds -= 1;
            FAST_REFRESH
        } else {
            for addr in missing.iter().filter(|a| !known.contains_key(a)) {
                if warned.insert(*addr) {
                    warn!(backend = %addr, "backend MAC unknown: it stays out until it resolves");
                }
            }
            REFRESH
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            r = addrs.changed() => {
                if r.is_err() {
                    return;
                }
                fast_rounds = FAST_ROUNDS;
            }
        }
    }
}
