//! Priority tracking as keepalived does it: pure arithmetic and counters, no
//! I/O (the scripts and link events that feed it are in `trackers.rs`).
//!
//! Every tracked object is a condition with a weight:
//! - weight > 0: added to the priority while the condition holds;
//! - weight < 0: added (subtracted) while it fails;
//! - weight 0: the instance is in FAULT while it fails.
//!
//! The effective priority is the configured one plus every applicable
//! weight, kept in 1..=254; an address owner (255) is never changed
//! (keepalived's `vrrp_set_effective_priority`). The VRRP interface itself
//! being down is FAULT whatever the weights.

use super::Tracked;
use regha_config::VrrpConfig;

/// One tracked condition as the priority arithmetic sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub weight: i32,
    pub ok: bool,
}

/// keepalived's tracking arithmetic over every tracked condition.
pub fn effective_priority(base: u8, conditions: &[Condition]) -> Tracked {
    if conditions.iter().any(|c| c.weight == 0 && !c.ok) {
        return Tracked::Fault;
    }
    if base == 255 {
        return Tracked::Priority(255);
    }
    let delta: i32 = conditions
        .iter()
        .map(|c| match (c.weight, c.ok) {
            (w, true) if w > 0 => w,
            (w, false) if w < 0 => w,
            _ => 0,
        })
        .sum();
    Tracked::Priority((i32::from(base) + delta).clamp(1, 254) as u8)
}

/// A tracked script's rise/fall counter, as keepalived keeps it: `result`
/// runs from 0 to `rise + fall - 1`, the script is up while `result >= rise`.
/// A script starts up but at the edge (`result == rise`): its first failure
/// takes it down at once and its first success makes it fully up, so the
/// first run decides, and later ones need `rise` successes or `fall`
/// failures in a row to change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    result: u32,
}

impl RiseFall {
    /// `rise` and `fall` are at least 1 (validation enforces it; 0 is read as 1).
    pub fn new(rise: u32, fall: u32) -> Self {
        let (rise, fall) = (rise.max(1), fall.max(1));
        Self {
            rise,
            fall,
            result: rise,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.result >= self.rise
    }

    /// Records one run; returns the new condition when it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let before = self.is_ok();
        let full = self.rise + self.fall - 1;
        self.result = if success {
            if self.result + 1 >= self.rise {
                full
            } else {
                self.result + 1
            }
        } else if self.result > self.rise {
            self.result - 1
        } else {
            0
        };
        let after = self.is_ok();
        (before != after).then_some(after)
    }
}

/// Every tracked object of one instance and its current condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackState {
    base: u8,
    /// `track_backends`: weight and "at least min_healthy are up".
    backends: Option<(i32, bool)>,
    /// `track_scripts`, in config order: weight and counter.
    scripts: Vec<(i32, RiseFall)>,
    /// `track_interfaces`: name, weight, link up.
    links: Vec<(String, i32, bool)>,
    /// The VRRP interface and whether its link is up (down is FAULT).
    vrrp_link: (String, bool),
}

impl TrackState {
    /// Everything starts as holding (scripts as keepalived's: up, at the edge).
    pub fn new(config: &VrrpConfig, vrrp_iface: &str) -> Self {
        Self {
            base: config.priority,
            backends: config.track_backends.map(|t| (t.weight, true)),
            scripts: config
                .track_scripts
                .iter()
                .map(|s| (s.weight, RiseFall::new(s.rise, s.fall)))
                .collect(),
            links: config
                .track_interfaces
                .iter()
                .map(|t| (t.name.clone(), t.weight, true))
                .collect(),
            vrrp_link: (vrrp_iface.to_owned(), true),
        }
    }

    /// The state for a reloaded `config`: what is still tracked keeps its
    /// condition (the backend condition, links by name, scripts by name
    /// with unchanged rise/fall); what is new starts as [`TrackState::new`]
    /// starts it. `old` is the config `self` was built from.
    pub fn reconfigured(&self, old: &VrrpConfig, config: &VrrpConfig) -> Self {
        let mut next = Self::new(config, &self.vrrp_link.0);
        next.vrrp_link = self.vrrp_link.clone();
        if let (Some((_, ok)), Some((_, cur))) = (self.backends, next.backends.as_mut()) {
            *cur = ok;
        }
        for (name, _, up) in &mut next.links {
            if let Some((_, _, was)) = self.links.iter().find(|(n, _, _)| n == name) {
                *up = *was;
            }
        }
        for (script, (_, counter)) in config.track_scripts.iter().zip(&mut next.scripts) {
            let kept = old.track_scripts.iter().zip(&self.scripts).find(|(s, _)| {
                s.name == script.name && s.rise == script.rise && s.fall == script.fall
            });
            if let Some((_, (_, was))) = kept {
                *counter = *was;
            }
        }
        next
    }

    /// The backend condition as the agent computed it.
    pub fn set_backends(&mut self, ok: bool) {
        if let Some((_, cur)) = &mut self.backends {
            *cur = ok;
        }
    }

    /// One run of script `index`; its new condition when it changed.
    pub fn script_ran(&mut self, index: usize, success: bool) -> Option<bool> {
        self.scripts.get_mut(index)?.1.record(success)
    }

    /// A link state report (the VRRP interface, a tracked one, or both).
    pub fn link(&mut self, name: &str, up: bool) {
        if self.vrrp_link.0 == name {
            self.vrrp_link.1 = up;
        }
        for (n, _, cur) in &mut self.links {
            if n == name {
                *cur = up;
            }
        }
    }

    /// The effective priority, or FAULT.
    pub fn tracked(&self) -> Tracked {
        if !self.vrrp_link.1 {
            return Tracked::Fault;
        }
        let conditions: Vec<Condition> = self
            .backends
            .iter()
            .map(|&(weight, ok)| Condition { weight, ok })
            .chain(self.scripts.iter().map(|(weight, rf)| Condition {
                weight: *weight,
                ok: rf.is_ok(),
            }))
            .chain(self.links.iter().map(|(_, weight, ok)| Condition {
                weight: *weight,
                ok: *ok,
            }))
            .collect();
        effective_priority(self.base, &conditions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regha_config::{TrackBackends, TrackInterface, TrackScript};
    use std::time::Duration;

    fn c(weight: i32, ok: bool) -> Condition {
        Condition { weight, ok }
    }

    #[test]
    fn effective_priority_follows_keepalived_weights() {
        use Tracked::{Fault, Priority};
        let cases: &[(u8, &[Condition], Tracked, &str)] = &[
            (101, &[], Priority(101), "nothing tracked"),
            (101, &[c(-50, true)], Priority(101), "negative, holds"),
            (101, &[c(-50, false)], Priority(51), "negative, fails"),
            (100, &[c(2, true)], Priority(102), "positive, holds"),
            (100, &[c(2, false)], Priority(100), "positive, fails"),
            (100, &[c(0, false)], Fault, "weight 0 fails: fault"),
            (100, &[c(0, true)], Priority(100), "weight 0 holds"),
            (20, &[c(-50, false)], Priority(1), "clamped low"),
            (250, &[c(20, true)], Priority(254), "clamped high"),
            (255, &[c(-50, false)], Priority(255), "owner untouched"),
            (255, &[c(0, false)], Fault, "owner still faults"),
            (
                100,
                &[c(2, true), c(-20, false), c(5, false)],
                Priority(82),
                "sum of the applicable weights",
            ),
            (
                100,
                &[c(-200, false), c(100, true)],
                Priority(1),
                "summed before clamping",
            ),
            (
                100,
                &[c(2, true), c(0, false), c(-1, true)],
                Fault,
                "one weight-0 failure is enough",
            ),
        ];
        for (base, conditions, want, what) in cases {
            assert_eq!(effective_priority(*base, conditions), *want, "{what}");
        }
    }

    #[test]
    fn rise_fall_counts_as_keepalived() {
        // (rise, fall, runs, condition after each run)
        /// rise, fall, the runs, the condition after each, what it shows.
        type Case<'a> = (u32, u32, &'a [bool], &'a [bool], &'a str);
        let cases: &[Case] = &[
            (
                1,
                1,
                &[false, true, false],
                &[false, true, false],
                "1/1 follows each run",
            ),
            (
                2,
                3,
                &[false, true, true, false, false, false],
                &[false, false, true, true, true, false],
                "first failure decides, then rise 2 and fall 3",
            ),
            (
                3,
                2,
                &[true, false, true, false, false],
                &[true, true, true, true, false],
                "first success makes it fully up; a failure in between resets nothing",
            ),
            (
                2,
                2,
                &[false, true, false, true, true],
                &[false, false, false, false, true],
                "a failure while rising starts the count again",
            ),
        ];
        for (rise, fall, runs, want, what) in cases {
            let mut rf = RiseFall::new(*rise, *fall);
            assert!(rf.is_ok(), "{what}: starts up");
            let got: Vec<bool> = runs
                .iter()
                .map(|&s| {
                    rf.record(s);
                    rf.is_ok()
                })
                .collect();
            assert_eq!(&got, want, "{what}");
        }
    }

    #[test]
    fn record_reports_only_changes() {
        let mut rf = RiseFall::new(1, 2);
        assert_eq!(rf.record(true), None);
        assert_eq!(rf.record(false), None, "fall 2: one failure keeps it up");
        assert_eq!(rf.record(false), Some(false));
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(true), Some(true));
    }

    fn vrrp_config() -> VrrpConfig {
        let yaml = "vrrp:\n  virtual_router_id: 51\n  priority: 100\n  virtual_ipaddresses: [192.0.2.100]\nservices:\n  - { name: r, vip: 192.0.2.100, port: 5000, backends: [{ address: 192.0.2.11 }] }\n";
        let mut v = regha_config::Config::from_yaml_str(yaml)
            .unwrap()
            .vrrp
            .remove(0);
        v.track_backends = Some(TrackBackends {
            min_healthy: 1,
            weight: -50,
        });
        let script = |weight, fall| TrackScript {
            name: "s".into(),
            program: "/bin/true".into(),
            args: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            weight,
            rise: 1,
            fall,
        };
        v.track_scripts = vec![script(2, 1), script(0, 2)];
        v.track_interfaces = vec![TrackInterface {
            name: "eth1".into(),
            weight: -20,
        }];
        v
    }

    #[test]
    fn track_state_recomputes_on_every_input() {
        use Tracked::{Fault, Priority};
        let mut t = TrackState::new(&vrrp_config(), "eth0");
        assert_eq!(t.tracked(), Priority(102), "all hold: +2 from the script");
        t.set_backends(false);
        assert_eq!(t.tracked(), Priority(52));
        assert_eq!(t.script_ran(0, false), Some(false));
        assert_eq!(t.tracked(), Priority(50));
        t.link("eth1", false);
        assert_eq!(t.tracked(), Priority(30));
        assert_eq!(t.script_ran(1, false), Some(false), "first failure decides");
        assert_eq!(t.tracked(), Fault, "weight-0 script failing");
        assert_eq!(t.script_ran(1, true), Some(true));
        t.link("eth0", false);
        assert_eq!(t.tracked(), Fault, "the VRRP interface is down");
        t.link("eth0", true);
        t.link("eth1", true);
        t.set_backends(true);
        assert_eq!(t.tracked(), Priority(100));
        assert_eq!(t.script_ran(7, true), None, "unknown script ignored");
        t.link("eth9", false);
        assert_eq!(t.tracked(), Priority(100), "untracked link ignored");
    }
}
