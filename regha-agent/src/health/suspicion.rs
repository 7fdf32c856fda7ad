//! Suspicion: from the dataplane's per-backend handshake counters to "check
//! this backend now, and often".
//!
//! The XDP program counts, per backend, the SYNs that started a connection
//! to it, the SYNs of an attempt already steered to it (retransmissions:
//! the client heard no SYN-ACK in time), and the attempts seen completing
//! (the client's first packet after its SYN). The agent samples the totals
//! every [`SAMPLE_EVERY`] and keeps the last `window` of them. A backend is
//! *suspect* when:
//!
//! - since its last completed attempt (looking back at most `window`), it
//!   was sent at least `min_syns` connection attempts (new SYNs plus
//!   retransmissions) and **none completed** (the process is gone and the
//!   host answers with RSTs, or the host is gone and nothing answers). The
//!   span starts at the first sample after the last completion, so the
//!   completions of the traffic before a failure do not hide it for a whole
//!   window; or
//! - within the window, it saw at least `min_retransmits` SYN
//!   retransmissions and **more retransmissions than completions** (a host
//!   that drops most SYNs).
//!
//! Suspicion is never a verdict: the core only switches the backend's
//! active checks to `fast_interval`/`fast_timeout` until they decide
//! (`fall` failures: down; `rise` successes in a row: cleared). So a SYN
//! flood from spoofed sources (attempts that never complete) costs a few
//! extra checks and never takes a healthy backend out.
//!
//! Pure: no clock, no maps. [`judge`] is the rule, [`Window`] the sums over
//! time, [`Tracker`] one backend's suspicion from start to end.

use std::{
    collections::VecDeque,
    fmt,
    time::{Duration, Instant},
};

use regha_config::SuspectConfig;
use regha_model::Health;

use super::HealthReport;

/// How often the shell samples the counters.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One backend's handshake counters (totals, or a difference of two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub syns: u64,
    pub syn_retransmits: u64,
    pub completions: u64,
}

impl Counts {
    pub const fn new(syns: u64, syn_retransmits: u64, completions: u64) -> Self {
        Self {
            syns,
            syn_retransmits,
            completions,
        }
    }

    /// `self - earlier`, or `None` when a counter went backwards (the
    /// backend's id and its counters were reused or cleared).
    fn since(self, earlier: Counts) -> Option<Counts> {
        Some(Counts {
            syns: self.syns.checked_sub(earlier.syns)?,
            syn_retransmits: self.syn_retransmits.checked_sub(earlier.syn_retransmits)?,
            completions: self.completions.checked_sub(earlier.completions)?,
        })
    }
}

impl From<regha_common::Signals> for Counts {
    fn from(s: regha_common::Signals) -> Self {
        Self::new(s.syns, s.syn_retransmits, s.completions)
    }
}

/// The thresholds of the rule (`services[].health.suspect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub enabled: bool,
    pub window: Duration,
    pub min_syns: u64,
    pub min_retransmits: u64,
}

impl From<&SuspectConfig> for Rule {
    fn from(c: &SuspectConfig) -> Self {
        Self {
            enabled: c.enabled,
            window: c.window,
            min_syns: c.min_syns.into(),
            min_retransmits: c.min_retransmits.into(),
        }
    }
}

impl Default for Rule {
    fn default() -> Self {
        Self::from(&SuspectConfig::default())
    }
}

/// Why a backend is suspect: the window's counts that made it so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Attempts (new SYNs plus retransmissions) and no completion.
    NoneCompleted { attempts: u64, window: Duration },
    /// More retransmissions than completions.
    Retransmits {
        retransmits: u64,
        completions: u64,
        window: Duration,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::NoneCompleted { attempts, window } => write!(
                f,
                "{attempts} connection attempts in {}ms, none completed",
                window.as_millis()
            ),
            Reason::Retransmits {
                retransmits,
                completions,
                window,
            } => write!(
                f,
                "{retransmits} SYN retransmissions in {}ms, {completions} completed",
                window.as_millis()
            ),
        }
    }
}

/// The rule: is a backend whose counters moved by `delta` over `window`
/// suspect, and why.
pub fn judge(rule: &Rule, delta: Counts, window: Duration) -> Option<Reason> {
    if !rule.enabled {
        return None;
    }
    let attempts = delta.syns.saturating_add(delta.syn_retransmits);
    if delta.completions == 0 && attempts >= rule.min_syns {
        return Some(Reason::NoneCompleted { attempts, window });
    }
    if delta.syn_retransmits >= rule.min_retransmits && delta.syn_retransmits > delta.completions {
        return Some(Reason::Retransmits {
            retransmits: delta.syn_retransmits,
            completions: delta.completions,
            window,
        });
    }
    None
}

/// The samples of one backend's totals over the last `window`.
#[derive(Clone, Debug, Default)]
pub struct Window {
    samples: VecDeque<(Instant, Counts)>,
}

impl Window {
    /// Adds the totals read at `at`; returns how much they moved since the
    /// oldest sample still within `window` of `at`, and over how long (none
    /// before there are two samples, or after the counters went backwards,
    /// which restarts the window).
    pub fn push(
        &mut self,
        at: Instant,
        total: Counts,
        window: Duration,
    ) -> Option<(Counts, Duration)> {
        if let Some(&(_, last)) = self.samples.back()
            && total.since(last).is_none()
        {
            self.samples.clear();
        }
        self.samples.push_back((at, total));
        while let Some(&(t, _)) = self.samples.front() {
            if at.saturating_duration_since(t) > window {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        let &(first_at, first) = self.samples.front()?;
        if self.samples.len() < 2 {
            return None;
        }
        Some((total.since(first)?, at.saturating_duration_since(first_at)))
    }

    /// How much the totals moved since the last completion the window
    /// holds: from the oldest sample whose completions equal the newest's
    /// (nothing completed after it) to the newest, and over how long. Zero
    /// when the newest sample saw a completion.
    pub fn since_last_completion(&self) -> Option<(Counts, Duration)> {
        let &(at, total) = self.samples.back()?;
        let &(from_at, from) =
            (self.samples.iter()).find(|(_, c)| c.completions == total.completions)?;
        Some((total.since(from)?, at.saturating_duration_since(from_at)))
    }

    /// Forgets every sample but the newest: what follows must make its own
    /// case.
    pub fn restart(&mut self) {
        while self.samples.len() > 1 {
            self.samples.pop_front();
        }
    }
}

/// A suspicion under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspect {
    pub since: Instant,
    pub reason: Reason,
    /// The checker's count of checks when it started: only later checks
    /// can clear it.
    pub checks_before: u64,
}

/// How a suspicion ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `rise` checks in a row passed: the signals were not the backend's
    /// fault (a flood, a client that gave up).
    Cleared,
    /// The fast checks took it down.
    WentDown,
    /// It is no longer checked as up (rule turned off, health unknown).
    Dropped,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ended::Cleared => "cleared",
            Ended::WentDown => "went down",
            Ended::Dropped => "dropped",
        })
    }
}

/// What changed for one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Started(Reason),
    Ended(Ended),
}

/// One backend's suspicion.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    window: Window,
    suspect: Option<Suspect>,
}

impl Tracker {
    pub fn suspect(&self) -> Option<&Suspect> {
        self.suspect.as_ref()
    }

    /// A sample of the counters at `at`. Only an up backend can become
    /// suspect: a down one is out of the ring already, an unknown one is
    /// being checked anyway.
    pub fn sample(
        &mut self,
        rule: &Rule,
        at: Instant,
        total: Counts,
        report: &HealthReport,
    ) -> Option<Change> {
        let moved = self.window.push(at, total, rule.window);
        if self.suspect.is_some() {
            if !rule.enabled || report.state != Health::Up {
                self.suspect = None;
                return Some(Change::Ended(Ended::Dropped));
            }
            return None;
        }
        if report.state != Health::Up {
            return None;
        }
        let (delta, over) = moved?;
        // Attempts since the last completion first: after a failure they
        // are all there is; the whole window for the retransmission rule.
        let reason = (self.window.since_last_completion())
            .and_then(|(quiet, span)| judge(rule, quiet, span))
            .or_else(|| judge(rule, delta, over))?;
        self.suspect = Some(Suspect {
            since: at,
            reason,
            checks_before: report.checks,
        });
        Some(Change::Started(reason))
    }

    /// A checker's report: ends the suspicion once the checks decided.
    pub fn report(&mut self, report: &HealthReport, rise: u32) -> Option<Change> {
        let s = self.suspect?;
        let ended = if report.state == Health::Down {
            Ended::WentDown
        } else if report.state != Health::Up {
            Ended::Dropped
        } else if report.checks >= s.checks_before + u64::from(rise)
            && report.passed_in_a_row >= rise
        {
            Ended::Cleared
        } else {
            return None;
        };
        self.suspect = None;
        // What made it suspect is spent; a new suspicion needs new signals.
        self.window.restart();
        Some(Change::Ended(ended))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn rule() -> Rule {
        Rule::default()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        assert_eq!(
            rule(),
            Rule {
                enabled: true,
                window: Duration::from_secs(1),
                min_syns: 3,
                min_retransmits: 2,
            }
        );
    }

    /// Counts over one window in, verdict out.
    #[test]
    fn the_rule_from_a_table() {
        /// What, the window's delta (SYNs, retransmissions, completions),
        /// and why it is suspect (none: it is not).
        type Case = (&'static str, (u64, u64, u64), Option<&'static str>);
        const CASES: &[Case] = &[
            ("idle", (0, 0, 0), None),
            ("healthy traffic", (50, 0, 50), None),
            (
                "two attempts, none completed: below min_syns",
                (2, 0, 0),
                None,
            ),
            (
                "registry killed: RSTs, nothing completes",
                (3, 0, 0),
                Some("3 connection attempts in 1000ms, none completed"),
            ),
            (
                "host cut off: new SYNs and their retransmissions",
                (2, 1, 0),
                Some("3 connection attempts in 1000ms, none completed"),
            ),
            (
                "one completion among many attempts: not this rule",
                (40, 0, 1),
                None,
            ),
            (
                "retransmissions dominate",
                (10, 4, 3),
                Some("4 SYN retransmissions in 1000ms, 3 completed"),
            ),
            (
                "retransmissions equal to completions: not dominant",
                (10, 3, 3),
                None,
            ),
            (
                "one retransmission: below min_retransmits",
                (10, 1, 5),
                None,
            ),
            ("a lost SYN among healthy traffic", (100, 2, 99), None),
        ];
        for &(what, (s, r, c), want) in CASES {
            let got = judge(&rule(), Counts::new(s, r, c), MS(1000)).map(|r| r.to_string());
            assert_eq!(got.as_deref(), want, "{what}");
        }
        let off = Rule {
            enabled: false,
            ..rule()
        };
        assert_eq!(judge(&off, Counts::new(100, 100, 0), MS(1000)), None);
        let strict = Rule {
            min_syns: 10,
            min_retransmits: 10,
            ..rule()
        };
        assert_eq!(judge(&strict, Counts::new(9, 0, 0), MS(1000)), None);
        assert!(judge(&strict, Counts::new(10, 0, 0), MS(1000)).is_some());
    }

    /// Totals every 200 ms in, the window's delta out.
    #[test]
    fn the_window_sums_the_last_second() {
        let t0 = Instant::now();
        let mut w = Window::default();
        let at = |ms: u64| t0 + MS(ms);
        assert_eq!(w.push(at(0), Counts::new(10, 0, 10), MS(1000)), None);
        assert_eq!(
            w.push(at(200), Counts::new(12, 0, 12), MS(1000)),
            Some((Counts::new(2, 0, 2), MS(200)))
        );
        for ms in [400, 600, 800, 1000] {
            w.push(at(ms), Counts::new(12 + ms / 200, 0, 12), MS(1000));
        }
        // The sample at 0 is exactly 1 s old: still in.
        assert_eq!(
            w.push(at(1000), Counts::new(17, 0, 12), MS(1000)),
            Some((Counts::new(7, 0, 2), MS(1000)))
        );
        // At 1200 the samples at 0 leaves: from 200 on.
        assert_eq!(
            w.push(at(1200), Counts::new(18, 0, 12), MS(1000)),
            Some((Counts::new(6, 0, 0), MS(1000)))
        );
        // Counters that went backwards restart the window.
        assert_eq!(w.push(at(1400), Counts::new(1, 0, 0), MS(1000)), None);
        assert_eq!(
            w.push(at(1600), Counts::new(4, 0, 0), MS(1000)),
            Some((Counts::new(3, 0, 0), MS(200)))
        );
        w.restart();
        assert_eq!(
            w.push(at(1800), Counts::new(4, 0, 0), MS(1000)),
            Some((Counts::new(0, 0, 0), MS(200)))
        );
    }

    /// A backend with steady traffic fails: the completions still in the
    /// window do not hide the attempts made after the failure.
    #[test]
    fn attempts_since_the_last_completion_make_a_backend_suspect() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + MS(ms);
        let r = rule();
        // 5 connections per 100 ms sample, all completed, until it fails at
        // 950: of the 3 attempts before the sample at 1000, 2 completed.
        let mut samples: Vec<(u64, Counts)> = (0..10)
            .map(|i| (i * 100, Counts::new(5 * i, 0, 5 * i)))
            .collect();
        samples.push((1000, Counts::new(48, 0, 47)));
        let failed = (1100, Counts::new(53, 0, 47));

        let mut w = Window::default();
        for &(ms, c) in &samples {
            w.push(at(ms), c, r.window);
            // Every sample so far saw a completion: nothing quiet to judge.
            assert_eq!(w.since_last_completion(), Some((Counts::default(), MS(0))));
        }
        let (moved, over) = w.push(at(failed.0), failed.1, r.window).unwrap();
        // The window alone: 42 completions hide the failure for a second.
        assert_eq!((moved, over), (Counts::new(48, 0, 42), MS(1000)));
        assert_eq!(judge(&r, moved, over), None);
        let (quiet, span) = w.since_last_completion().unwrap();
        assert_eq!((quiet, span), (Counts::new(5, 0, 0), MS(100)));
        assert_eq!(
            judge(&r, quiet, span).map(|r| r.to_string()).as_deref(),
            Some("5 connection attempts in 100ms, none completed")
        );

        // The tracker sees it at the same sample.
        let mut t = Tracker::default();
        for &(ms, c) in &samples {
            assert_eq!(t.sample(&r, at(ms), c, &up(9, 9)), None);
        }
        assert_eq!(
            t.sample(&r, at(failed.0), failed.1, &up(9, 9)),
            Some(Change::Started(Reason::NoneCompleted {
                attempts: 5,
                window: MS(100)
            }))
        );
    }

    fn up(checks: u64, passed_in_a_row: u32) -> HealthReport {
        HealthReport {
            state: Health::Up,
            checks,
            passed_in_a_row,
            ..HealthReport::new()
        }
    }

    #[test]
    fn a_suspicion_starts_on_signals_and_ends_with_the_checks() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + MS(ms);
        let mut t = Tracker::default();
        let r = rule();
        assert_eq!(
            t.sample(&r, at(0), Counts::new(100, 0, 100), &up(10, 10)),
            None
        );
        assert_eq!(
            t.sample(&r, at(200), Counts::new(103, 0, 100), &up(10, 10)),
            Some(Change::Started(Reason::NoneCompleted {
                attempts: 3,
                window: MS(200)
            }))
        );
        // Suspect: later samples change nothing.
        assert_eq!(
            t.sample(&r, at(400), Counts::new(110, 0, 100), &up(10, 10)),
            None
        );
        assert_eq!(t.suspect().map(|s| s.checks_before), Some(10));
        // Fast checks: a failure, then rise=2 passes in a row clear it.
        assert_eq!(t.report(&up(11, 0), 2), None);
        assert_eq!(t.report(&up(12, 1), 2), None);
        assert_eq!(t.report(&up(13, 2), 2), Some(Change::Ended(Ended::Cleared)));
        assert!(t.suspect().is_none());
        // The evidence is spent: the next sample alone starts nothing.
        assert_eq!(
            t.sample(&r, at(600), Counts::new(110, 0, 100), &up(13, 2)),
            None
        );
        // New evidence does.
        assert!(matches!(
            t.sample(&r, at(800), Counts::new(113, 0, 100), &up(13, 2)),
            Some(Change::Started(_))
        ));
        let down = HealthReport {
            state: Health::Down,
            checks: 14,
            ..HealthReport::new()
        };
        assert_eq!(t.report(&down, 2), Some(Change::Ended(Ended::WentDown)));
    }

    #[test]
    fn passes_counted_before_the_suspicion_do_not_clear_it() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.sample(&rule(), t0, Counts::default(), &up(10, 10));
        assert!(
            t.sample(&rule(), t0 + MS(200), Counts::new(5, 0, 0), &up(10, 10))
                .is_some()
        );
        // A report of the check that ran before: 10 in a row, but no new check.
        assert_eq!(t.report(&up(10, 10), 2), None);
        assert_eq!(t.report(&up(11, 11), 2), None);
        assert_eq!(
            t.report(&up(12, 12), 2),
            Some(Change::Ended(Ended::Cleared))
        );
    }

    #[test]
    fn only_an_up_backend_becomes_suspect() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        let down = HealthReport {
            state: Health::Down,
            ..HealthReport::new()
        };
        t.sample(&rule(), t0, Counts::default(), &down);
        assert_eq!(
            t.sample(&rule(), t0 + MS(200), Counts::new(9, 9, 0), &down),
            None
        );
        assert_eq!(
            t.sample(
                &rule(),
                t0 + MS(200),
                Counts::new(9, 9, 0),
                &HealthReport::new()
            ),
            None
        );
        // Suspect, then the rule is turned off: dropped.
        assert!(
            t.sample(&rule(), t0 + MS(400), Counts::new(9, 9, 0), &up(1, 1))
                .is_some()
        );
        let off = Rule {
            enabled: false,
            ..rule()
        };
        assert_eq!(
            t.sample(&off, t0 + MS(800), Counts::new(19, 9, 0), &up(1, 1)),
            Some(Change::Ended(Ended::Dropped))
        );
    }
}
