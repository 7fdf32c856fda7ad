//! Whether this host's health view is settled, and one write per view.
//!
//! Two LBs steer a connection alike only while they agree on which
//! backends are up. Around a takeover they often do not: a host whose
//! partition just healed sees its backends come back one check result at a
//! time, and a host that preempted in that window would steer the flows
//! its peer started onto a ring that differs from the peer's (issue 16).
//! So a host takes a VIP from a peer that holds it only when its view is
//! **settled**:
//! - the core is started and any hold after an adoption is over;
//! - every check has a first result;
//! - no ring write is pending (see below);
//! - no backend changed health in the last check `interval` (the longest
//!   over the services): backends that come back after the same event (a
//!   healed partition, a returning link) pass their `rise` checks within
//!   one interval of each other, so the view is whole once it is quiet that
//!   long.
//!
//! An unsettled VRRP instance accepts a lower priority master as if
//! `preempt` were off (`vrrp/state.rs`); it never stops a takeover when no
//! master is heard. The rule sits beside `preempt_delay`, which holds
//! preemption after startup for a fixed time; both may hold at once.
//!
//! **One ring write per view**: health decisions that arrive together (the
//! same event seen by several checkers) become one write. The first change
//! opens a window of [`COALESCE`]; the maps are written when it ends, with
//! every decision that arrived in it. Other events (a MAC, a reload, an
//! operator's command) write at once, the open window's decisions with
//! them.

use std::time::{Duration, Instant};

use regha_model::Health;

use super::{Core, Effect};

/// How long the first health change waits for the others of the same
/// event before the maps are written.
pub const COALESCE: Duration = Duration::from_millis(50);

impl Core {
    /// How long the view must have been quiet to be settled.
    fn settle_window(&self) -> Duration {
        (self.config.services.iter())
            .map(|s| s.health.interval)
            .max()
            .unwrap_or_default()
    }

    /// See the module notes.
    pub(super) fn is_settled(&self, now: Instant) -> bool {
        self.started
            && self.hold_writes_until.is_none()
            && self.coalesce_until.is_none()
            && self.health.values().all(|r| r.state != Health::Unknown)
            && self
                .last_change
                .is_none_or(|t| now >= t + self.settle_window())
    }

    /// When a quiet view becomes settled, if that is all it waits for (so
    /// that a deadline in the past is met by the next tick, never repeated).
    pub(super) fn settle_deadline(&self) -> Option<Instant> {
        let at = self.last_change? + self.settle_window();
        let waits_only_for_quiet = self.started
            && self.hold_writes_until.is_none()
            && self.coalesce_until.is_none()
            && self.health.values().all(|r| r.state != Health::Unknown)
            && self.settled_told != Some(true);
        waits_only_for_quiet.then_some(at)
    }

    /// Tells every holder whether the view is settled (each sends only a
    /// change).
    pub(super) fn tell_settled(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let settled = self.is_settled(now);
        self.settled_told = Some(settled);
        for h in &mut self.holders {
            out.extend(h.settled(settled));
        }
    }
}
