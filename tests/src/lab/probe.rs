//! A client probing the VIP as a registry's users would notice an outage:
//! a new connection and `GET /v2/` every few milliseconds, and the longest
//! time between two answered probes.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{Lab, PORT, VIP};
use crate::client::answers_200;

/// What a prober saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gaps {
    /// The longest time between two answered probes (or from the start to
    /// the first, or from the last to the end).
    pub longest: Duration,
    pub probes: u32,
    pub failed: u32,
}

/// A running prober; [`Prober::stop`] ends it and returns what it saw.
pub struct Prober {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Gaps>,
}

impl Prober {
    /// Probes the VIP from client `c`'s own address every `every`, each
    /// probe bounded by `timeout`.
    pub fn start(lab: &Lab, c: usize, every: Duration, timeout: Duration) -> Self {
        let src = IpAddr::V4(lab.clients[c].ip);
        let dst = SocketAddr::new(IpAddr::V4(VIP), PORT);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = lab.clients[c].ns.spawn(move || {
            let mut g = Gaps::default();
            let mut last_ok = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let ok = answers_200(src, dst, timeout);
                let now = Instant::now();
                g.probes += 1;
                if ok {
                    g.longest = g.longest.max(now - last_ok);
                    last_ok = now;
                } else {
                    g.failed += 1;
                }
                std::thread::sleep(every);
            }
            g.longest = g.longest.max(last_ok.elapsed());
            g
        });
        Self { stop, handle }
    }

    pub fn stop(self) -> Gaps {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("prober thread")
    }
}
