//! Rise/fall counting: turns a stream of check results into UP/DOWN
//! transitions the way HAProxy does, plus regha's `Unknown` start state.
//!
//! Pure logic, no I/O and no clock, so every rule is unit-tested exactly.

use regha_model::Health;

/// HAProxy-style rise/fall counter for one backend.
///
/// - `Up`: `fall` consecutive failures take it `Down`.
/// - `Down`: `rise` consecutive successes bring it `Up`.
/// - A result that agrees with the current state resets the streak, so only
///   *consecutive* contrary results count.
/// - `Unknown`: the first result decides at once (success -> `Up`, failure ->
///   `Down`), so a dead backend never gets traffic at start and a live one does
///   not wait `rise * interval` after every agent restart.
#[derive(Clone, Debug)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    state: Health,
    /// Consecutive results against the current state (0 when the last result
    /// agreed with it).
    streak: u32,
}

impl RiseFall {
    /// `rise` and `fall` of 0 are treated as 1: a threshold of zero results
    /// has no meaning, and clamping keeps `record` total instead of panicking
    /// on a config mistake (config validation is expected to reject 0).
    pub fn new(rise: u32, fall: u32) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            state: Health::Unknown,
            streak: 0,
        }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    /// Consecutive results against the current state so far (HAProxy's
    /// "UP 1/3" in its stats page); useful for status output.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    pub fn rise(&self) -> u32 {
        self.rise
    }

    pub fn fall(&self) -> u32 {
        self.fall
    }

    /// Feeds one check result; returns `Some(new_state)` when the state
    /// changes (a transition), `None` otherwise.
    pub fn record(&mut self, ok: bool) -> Option<Health> {
        let (against, threshold, next) = match self.state {
            Health::Unknown => {
                let next = if ok { Health::Up } else { Health::Down };
                return Some(self.enter(next));
            }
            Health::Up => (!ok, self.fall, Health::Down),
            Health::Down => (ok, self.rise, Health::Up),
        };
        if !against {
            self.streak = 0;
            return None;
        }
        // Saturating: the streak is reset on every transition, so it can only
        // grow past the threshold in theory; never let it wrap.
        self.streak = self.streak.saturating_add(1);
        if self.streak >= threshold {
            Some(self.enter(next))
        } else {
            None
        }
    }

    /// A definite failure (the connection was refused: nothing listens):
    /// an up (or unknown) backend goes down at once, whatever `fall` says.
    /// Returns the transition, as [`record`](Self::record) does.
    pub fn record_definite_failure(&mut self) -> Option<Health> {
        match self.state {
            Health::Down => {
                self.streak = 0;
                None
            }
            Health::Up | Health::Unknown => Some(self.enter(Health::Down)),
        }
    }

    fn enter(&mut self, next: Health) -> Health {
        self.state = next;
        self.streak = 0;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::Health::{Down, Unknown, Up};
    use super::*;

    /// One scenario: thresholds, then (result, expected transition, expected
    /// state afterwards) per step.
    struct Case {
        name: &'static str,
        rise: u32,
        fall: u32,
        steps: &'static [(bool, Option<Health>, Health)],
    }

    const T: bool = true;
    const F: bool = false;

    const CASES: &[Case] = &[
        Case {
            name: "unknown: first success decides Up",
            rise: 2,
            fall: 3,
            steps: &[(T, Some(Up), Up), (T, None, Up)],
        },
        Case {
            name: "unknown: first failure decides Down",
            rise: 2,
            fall: 3,
            steps: &[(F, Some(Down), Down), (F, None, Down)],
        },
        Case {
            name: "fall=3 needs exactly 3 consecutive failures from Up",
            rise: 2,
            fall: 3,
            steps: &[
                (T, Some(Up), Up),
                (F, None, Up),
                (F, None, Up),
                (F, Some(Down), Down),
            ],
        },
        Case {
            name: "interleaved success resets the failure streak",
            rise: 2,
            fall: 3,
            steps: &[
                (T, Some(Up), Up),
                (F, None, Up),
                (F, None, Up),
                (T, None, Up),
                (F, None, Up),
                (F, None, Up),
                (F, Some(Down), Down),
            ],
        },
        Case {
            name: "rise=2 from Down, interleaved failure resets",
            rise: 2,
            fall: 3,
            steps: &[
                (F, Some(Down), Down),
                (T, None, Down),
                (F, None, Down),
                (T, None, Down),
                (T, Some(Up), Up),
            ],
        },
        Case {
            name: "full cycle Up -> Down -> Up",
            rise: 2,
            fall: 3,
            steps: &[
                (T, Some(Up), Up),
                (F, None, Up),
                (F, None, Up),
                (F, Some(Down), Down),
                (T, None, Down),
                (T, Some(Up), Up),
            ],
        },
        Case {
            name: "rise=1 fall=1 flips on every contrary result",
            rise: 1,
            fall: 1,
            steps: &[
                (T, Some(Up), Up),
                (T, None, Up),
                (F, Some(Down), Down),
                (F, None, Down),
                (T, Some(Up), Up),
                (F, Some(Down), Down),
            ],
        },
        Case {
            name: "rise=0 fall=0 behave as 1",
            rise: 0,
            fall: 0,
            steps: &[
                (F, Some(Down), Down),
                (T, Some(Up), Up),
                (F, Some(Down), Down),
            ],
        },
        Case {
            name: "no transition reported twice while failures continue",
            rise: 2,
            fall: 2,
            steps: &[
                (T, Some(Up), Up),
                (F, None, Up),
                (F, Some(Down), Down),
                (F, None, Down),
                (F, None, Down),
                (F, None, Down),
            ],
        },
        Case {
            name: "no transition reported twice while successes continue",
            rise: 3,
            fall: 1,
            steps: &[
                (F, Some(Down), Down),
                (T, None, Down),
                (T, None, Down),
                (T, Some(Up), Up),
                (T, None, Up),
                (T, None, Up),
            ],
        },
    ];

    #[test]
    fn table() {
        for case in CASES {
            let mut rf = RiseFall::new(case.rise, case.fall);
            assert_eq!(rf.state(), Unknown, "{}: initial state", case.name);
            for (i, &(ok, want_transition, want_state)) in case.steps.iter().enumerate() {
                let got = rf.record(ok);
                assert_eq!(got, want_transition, "{}: step {i} transition", case.name);
                assert_eq!(rf.state(), want_state, "{}: step {i} state", case.name);
            }
        }
    }

    #[test]
    fn streak_counts_contrary_results_and_resets() {
        let mut rf = RiseFall::new(2, 3);
        rf.record(true);
        assert_eq!(rf.streak(), 0);
        rf.record(false);
        rf.record(false);
        assert_eq!(rf.streak(), 2);
        rf.record(true);
        assert_eq!(rf.streak(), 0);
        rf.record(false);
        rf.record(false);
        rf.record(false);
        assert_eq!((rf.state(), rf.streak()), (Down, 0));
    }

    #[test]
    fn long_runs_report_each_transition_once() {
        let mut rf = RiseFall::new(2, 3);
        let mut transitions = Vec::new();
        for ok in [true; 50].into_iter().chain([false; 50]).chain([true; 50]) {
            if let Some(t) = rf.record(ok) {
                transitions.push(t);
            }
        }
        assert_eq!(transitions, vec![Up, Down, Up]);
    }

    #[test]
    fn a_definite_failure_takes_an_up_backend_down_at_once() {
        let mut rf = RiseFall::new(2, 3);
        assert_eq!(rf.record_definite_failure(), Some(Down));
        assert_eq!(rf.record(true), None);
        // In the middle of a rise it restarts the count.
        assert_eq!(rf.record_definite_failure(), None);
        assert_eq!(rf.record(true), None);
        assert_eq!(rf.record(true), Some(Up));
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record_definite_failure(), Some(Down));
        assert_eq!(rf.streak(), 0);
    }

    #[test]
    fn thresholds_are_clamped() {
        let rf = RiseFall::new(0, 0);
        assert_eq!((rf.rise(), rf.fall()), (1, 1));
        let rf = RiseFall::new(2, 3);
        assert_eq!((rf.rise(), rf.fall()), (2, 3));
    }
}
