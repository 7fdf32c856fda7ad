//! What this host knows of each peer that sent it authenticated datagrams:
//! the last sequence number (to refuse replays), its ring fingerprint and
//! whether its view is settled. Pure: times are passed in.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use super::packet::Message;

/// One peer, as its last accepted datagram said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub incarnation: u64,
    pub seq: u64,
    pub fingerprint: u64,
    pub settled: bool,
    pub last_seen: Instant,
    /// Times its agent started anew (a new incarnation) since this host
    /// first heard it.
    pub restarts: u64,
}

/// The peers heard from, by source address.
#[derive(Clone, Debug, Default)]
pub struct Peers {
    peers: BTreeMap<IpAddr, Peer>,
}

/// A peer silent this long (a hello goes out every second) missed what
/// was sent meanwhile: a partition, or its agent was down.
pub const SILENCE: Duration = Duration::from_secs(3);

/// What an accepted datagram says about its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact {
    /// Heard before, without a gap.
    Steady,
    /// First heard now, restarted (a new incarnation), or back after
    /// [`SILENCE`]: it missed flows this host sent, so this host sends it
    /// its whole flow table again.
    Returned,
}

/// A datagram at or below the last sequence number of its sender's
/// incarnation: a copy (replayed by someone on the segment) or one
/// overtaken by a later one. Refused: a flow it carries may be stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replay;

impl Peers {
    /// Records `m` (already authenticated) from `from`, unless it is a
    /// replay. A new incarnation (the peer's agent restarted) starts its
    /// sequence anew.
    pub fn accept(&mut self, from: IpAddr, m: &Message, now: Instant) -> Result<Contact, Replay> {
        let next = |restarts| Peer {
            incarnation: m.incarnation,
            seq: m.seq,
            fingerprint: m.fingerprint,
            settled: m.settled,
            last_seen: now,
            restarts,
        };
        match self.peers.get_mut(&from) {
            Some(p) if p.incarnation == m.incarnation => {
                if m.seq <= p.seq {
                    return Err(Replay);
                }
                let gap = now.saturating_duration_since(p.last_seen);
                *p = next(p.restarts);
                Ok(if gap >= SILENCE {
                    Contact::Returned
                } else {
                    Contact::Steady
                })
            }
            Some(p) => {
                *p = next(p.restarts + 1);
                Ok(Contact::Returned)
            }
            None => {
                self.peers.insert(from, next(0));
                Ok(Contact::Returned)
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &Peer)> {
        self.peers.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn m(incarnation: u64, seq: u64) -> Message {
        Message {
            incarnation,
            seq,
            fingerprint: seq * 10,
            settled: true,
            flows: vec![],
        }
    }

    #[test]
    fn replays_and_late_datagrams_are_refused_a_restart_starts_over() {
        let mut p = Peers::default();
        let a: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(
            p.accept(a, &m(1, 1), t0),
            Ok(Contact::Returned),
            "first heard"
        );
        assert_eq!(p.accept(a, &m(1, 2), t0), Ok(Contact::Steady));
        assert_eq!(p.accept(a, &m(1, 2), t0), Err(Replay));
        assert_eq!(p.accept(a, &m(1, 1), t0), Err(Replay));
        // Another sender's sequence is its own.
        let b: IpAddr = "192.0.2.3".parse().unwrap();
        assert_eq!(p.accept(b, &m(7, 1), t0), Ok(Contact::Returned));
        // The peer restarted: a new incarnation, from 1 again.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(p.accept(a, &m(2, 1), t1), Ok(Contact::Returned));
        let (_, peer) = p.iter().next().unwrap();
        assert_eq!((peer.incarnation, peer.seq, peer.restarts), (2, 1, 1));
        assert_eq!((peer.fingerprint, peer.last_seen), (10, t1));
        // Heard again within the silence, then after it (a partition).
        let t2 = t1 + SILENCE - Duration::from_millis(1);
        assert_eq!(p.accept(a, &m(2, 2), t2), Ok(Contact::Steady));
        assert_eq!(p.accept(a, &m(2, 3), t2 + SILENCE), Ok(Contact::Returned));
    }
}
