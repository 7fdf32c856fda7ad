//! A VIP announced as a route (issue 14): several LBs active at once behind
//! a router doing ECMP, each announcing the VIP over BGP through its own
//! routing daemon (FRR, BIRD). The agent does not speak BGP: announcing is
//! adding `blackhole VIP/32 proto <route_protocol>` to the kernel, which
//! the daemon exports; withdrawing is deleting it. The VIP is never an
//! address on the LB (the daemon would prefer the connected route and
//! withdraw it, and the LB would answer ARP for it).
//!
//! **When a VIP is announced**: once the agent has run `warmup`, its health
//! view has settled once (every check decided, the ring written), and at
//! least `min_healthy` backends of the VIP's services take new flows;
//! withdrawn when the count falls below, on `regha-agent drain`, and when
//! the agent stops. A route found at start (a crashed or restarted agent
//! left it, with the pinned program still steering) is adopted: it stays
//! until the new view decides, so a restart never withdraws in between.
//!
//! Every LB computes the same ring for the same backends (`hash_seed` and
//! backend identity), so a client reaches the same backend whichever LB the
//! router's hash sends it to, and a change of the LB set moves no
//! connection off its backend.

use std::net::IpAddr;

use regha_config::BgpConfig;

use super::{Effect, HolderSpec, HolderStatus, VipHolder};
use crate::{
    net::Vip,
    status::{BgpVipStatus, HolderKind},
};

/// Why a VIP is announced or not, as `status` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Before the agent started its holders.
    NotStarted,
    /// `bgp.warmup` has not passed since the agent started.
    WarmingUp,
    /// The health view has not settled yet (checks without a first
    /// result, a ring write pending).
    Unsettled,
    /// Fewer than `min_healthy` backends take new flows.
    TooFewBackends,
    /// `regha-agent drain`.
    Drained,
    /// The agent stopped (SIGTERM).
    Stopped,
    /// Ready: announced.
    Ready,
}

impl Why {
    fn text(self, up: u32, min: u32) -> String {
        match self {
            Self::NotStarted => "the agent is starting".into(),
            Self::WarmingUp => "warming up (bgp.warmup)".into(),
            Self::Unsettled => {
                "waiting for the health view to settle (every check decided, the ring written, no change for a check interval)".into()
            }
            Self::TooFewBackends => {
                format!("{up} backends up, fewer than bgp.min_healthy ({min})")
            }
            Self::Drained => {
                "drained by an operator (regha-agent drain; undrain to announce)".into()
            }
            Self::Stopped => "the agent stopped".into(),
            Self::Ready => format!("{up} backends up (bgp.min_healthy {min})"),
        }
    }
}

/// One announced VIP. See the module notes.
#[derive(Debug)]
pub struct BgpHolder {
    vip: IpAddr,
    vips: Vec<Vip>,
    config: BgpConfig,
    running: bool,
    /// Whether the route is in the kernel (as last set, or found at start).
    announced: bool,
    /// The route was found at start: kept until the view first decides.
    adopted: bool,
    warm: bool,
    /// The health view has been settled at least once since the start.
    settled_once: bool,
    up: u32,
    drained: bool,
    why: Why,
}

impl BgpHolder {
    pub fn new(vip: IpAddr, config: BgpConfig) -> Self {
        let full = if vip.is_ipv4() { 32 } else { 128 };
        Self {
            vip,
            vips: vec![(vip, full)],
            config,
            running: false,
            announced: false,
            adopted: false,
            warm: false,
            settled_once: false,
            up: 0,
            drained: false,
            why: Why::NotStarted,
        }
    }

    fn route(&self, announce: bool) -> Effect {
        if announce {
            Effect::AnnounceRoute {
                vip: self.vip,
                protocol: self.config.route_protocol,
            }
        } else {
            Effect::WithdrawRoute {
                vip: self.vip,
                protocol: self.config.route_protocol,
            }
        }
    }

    /// Whether the VIP should be announced now, and why.
    fn wanted(&self) -> (bool, Why) {
        if !self.running {
            return (false, Why::NotStarted);
        }
        if self.drained {
            return (false, Why::Drained);
        }
        // An adopted route stays while the new view forms: the pinned
        // program steers by the ring the previous run wrote.
        if !self.warm {
            return (self.adopted, Why::WarmingUp);
        }
        if !self.settled_once {
            return (self.adopted, Why::Unsettled);
        }
        if self.up < self.config.min_healthy {
            return (false, Why::TooFewBackends);
        }
        (true, Why::Ready)
    }

    /// Decides again; the route effect when the decision changed.
    fn decide(&mut self) -> Vec<Effect> {
        let (want, why) = self.wanted();
        self.why = why;
        if self.warm && self.settled_once {
            self.adopted = false;
        }
        if !self.running || want == self.announced {
            return Vec::new();
        }
        self.announced = want;
        if want {
            tracing::info!(vip = %self.vip, up = self.up, "VIP announced (route added)");
        } else {
            tracing::warn!(vip = %self.vip, reason = %why.text(self.up, self.config.min_healthy), "VIP withdrawn (route deleted)");
        }
        vec![self.route(want)]
    }

    /// `regha-agent drain` (`true`) or `undrain`: the message and effects.
    pub fn set_drained(&mut self, drained: bool) -> (String, Vec<Effect>) {
        let was = self.drained;
        let was_announced = self.announced;
        self.drained = drained;
        let effects = self.decide();
        let message = match (was, drained) {
            (false, true) if was_announced => format!("{} withdrawn", self.vip),
            (false, true) => format!("{} drained (it was not announced)", self.vip),
            (true, true) => format!("{} was drained already", self.vip),
            (true, false) if self.announced => format!("{} announced again", self.vip),
            (true, false) => format!(
                "{} undrained, not announced: {}",
                self.vip,
                self.why.text(self.up, self.config.min_healthy)
            ),
            (false, false) => format!("{} was not drained", self.vip),
        };
        (message, effects)
    }
}

impl VipHolder for BgpHolder {
    fn kind(&self) -> HolderKind {
        HolderKind::Bgp { vip: self.vip }
    }

    fn vips(&self) -> &[Vip] {
        &self.vips
    }

    fn holds(&self) -> bool {
        self.running && self.announced
    }

    fn start(&mut self) -> Vec<Effect> {
        self.running = true;
        if self.announced {
            // Found at start: adopted, decided once the view has formed.
            self.adopted = true;
            self.why = Why::WarmingUp;
            return Vec::new();
        }
        // Never the VIP as an address (see the module notes), and no
        // route until ready.
        vec![Effect::RemoveVips(self.vips.clone()), self.route(false)]
    }

    fn stop(&mut self) -> Vec<Effect> {
        self.running = false;
        self.why = Why::Stopped;
        self.announced = false;
        vec![self.route(false)]
    }

    fn reconfigure(&mut self, spec: &HolderSpec) -> Option<Vec<Effect>> {
        let HolderSpec::Bgp { vip, config } = spec else {
            return None;
        };
        if *vip != self.vip || config.route_protocol != self.config.route_protocol {
            return None;
        }
        self.config = config.clone();
        Some(self.decide())
    }

    fn backends_up(&mut self, up: u32) -> Vec<Effect> {
        self.up = up;
        self.decide()
    }

    fn settled(&mut self, settled: bool) -> Vec<Effect> {
        self.settled_once |= settled;
        self.decide()
    }

    fn warm(&mut self) -> Vec<Effect> {
        self.warm = true;
        self.decide()
    }

    fn found_route(&mut self) {
        if !self.running {
            self.announced = true;
        }
    }

    fn drain(&mut self, drained: bool) -> Option<(String, Vec<Effect>)> {
        Some(self.set_drained(drained))
    }

    fn status(&self) -> HolderStatus {
        HolderStatus::Bgp(BgpVipStatus {
            vip: self.vip,
            announced: self.holds(),
            reason: self.why.text(self.up, self.config.min_healthy),
            backends_up: self.up,
            min_healthy: self.config.min_healthy,
            drained: self.drained,
            route_protocol: self.config.route_protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(min: u32) -> BgpConfig {
        BgpConfig {
            vips: vec!["192.0.2.100".parse().unwrap()],
            min_healthy: min,
            warmup: Duration::from_secs(2),
            route_protocol: 250,
            drain_timeout: Duration::from_secs(30),
            frr: None,
        }
    }

    fn holder(min: u32) -> BgpHolder {
        BgpHolder::new("192.0.2.100".parse().unwrap(), config(min))
    }

    fn announce() -> Effect {
        Effect::AnnounceRoute {
            vip: "192.0.2.100".parse().unwrap(),
            protocol: 250,
        }
    }

    fn withdraw() -> Effect {
        Effect::WithdrawRoute {
            vip: "192.0.2.100".parse().unwrap(),
            protocol: 250,
        }
    }

    #[test]
    fn a_fresh_start_announces_only_when_warm_settled_and_healthy() {
        let mut h = holder(2);
        let start = h.start();
        assert!(start.contains(&withdraw()), "{start:?}");
        assert!(h.backends_up(2).is_empty(), "not warm, not settled");
        assert!(h.settled(true).is_empty(), "not warm");
        assert_eq!(h.why, Why::WarmingUp);
        assert_eq!(h.warm(), vec![announce()]);
        assert!(h.holds());
        // Unsettled again (a backend changed): no effect, it stays.
        assert!(h.settled(false).is_empty());
        assert_eq!(h.backends_up(1), vec![withdraw()]);
        assert_eq!(h.why, Why::TooFewBackends);
        assert!(!h.holds());
        assert_eq!(h.backends_up(3), vec![announce()]);
    }

    #[test]
    fn a_warm_host_waits_for_its_first_settled_view() {
        let mut h = holder(1);
        h.start();
        assert!(h.warm().is_empty());
        assert!(h.backends_up(1).is_empty());
        assert_eq!(h.why, Why::Unsettled);
        assert_eq!(h.settled(true), vec![announce()]);
    }

    #[test]
    fn an_adopted_route_stays_until_the_view_decides() {
        let mut h = holder(1);
        h.found_route();
        assert!(h.start().is_empty(), "no withdrawal at a restart");
        assert!(h.holds());
        assert!(h.backends_up(0).is_empty(), "no view yet: kept");
        assert!(h.warm().is_empty());
        assert!(h.holds());
        // The view forms: nothing up, so it goes.
        assert_eq!(h.settled(true), vec![withdraw()]);
        let mut h = holder(1);
        h.found_route();
        h.start();
        h.warm();
        h.backends_up(1);
        assert!(h.settled(true).is_empty(), "ready: the adopted route stays");
        assert!(h.holds());
    }

    #[test]
    fn drain_withdraws_and_undrain_announces_again() {
        let mut h = holder(1);
        h.start();
        h.warm();
        h.settled(true);
        assert_eq!(h.backends_up(1), vec![announce()]);
        let (msg, fx) = h.set_drained(true);
        assert_eq!(fx, vec![withdraw()]);
        assert!(msg.contains("withdrawn"), "{msg}");
        assert!(h.backends_up(2).is_empty(), "drained stays out");
        let (_, fx) = h.set_drained(true);
        assert!(fx.is_empty());
        let (msg, fx) = h.set_drained(false);
        assert_eq!(fx, vec![announce()]);
        assert!(msg.contains("announced"), "{msg}");
    }

    #[test]
    fn stop_withdraws() {
        let mut h = holder(1);
        h.start();
        h.warm();
        h.settled(true);
        h.backends_up(1);
        assert_eq!(h.stop(), vec![withdraw()]);
        assert!(!h.holds());
    }
}
