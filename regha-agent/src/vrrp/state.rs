//! The VRRP state machine of one virtual router: pure logic, no sockets, no clock.
//!
//! RFC 5798 §6.4 (version 3) and RFC 3768 §6.4 (version 2), with keepalived
//! 2.2's choices where the RFCs leave room, so that regha and keepalived can
//! share a VRID while a cluster is migrated one host at a time.
//!
//! The caller feeds [`Event`]s stamped with `now`, performs the returned
//! [`Action`]s in the order given, and feeds [`Event::Timer`] once
//! [`Machine::deadline`] has passed (the machine runs one timer: the
//! Master_Down_Timer in Backup, the Adver_Timer in Master).
//!
//! ```text
//!                   Startup, priority < 255
//!     Initialize -----------------------------> Backup
//!         |                                      |  ^
//!         | Startup,                  down timer |  | advert: higher priority, or equal
//!         | priority 255                runs out |  | priority from a higher address
//!         v                                      v  |
//!       Master <---------------------------------+  |
//!         +-----------------------------------------+
//!
//!   Backup, Master --Fault(true)--> Fault --Fault(false)--> Backup (Master if owner)
//!   any state --Shutdown--> Initialize
//! ```
//!
//! A member of a sync group (`Params::sync_group`, keepalived's
//! `vrrp_sync_group`, `vrrp_sync.c`) does not take over on its own: when
//! its down timer runs out it only *wants* master ([`Machine::wants_master`],
//! its timer re-armed, as keepalived's `vrrp_sync_can_goto_master` does),
//! and the group, which sees every member, sends [`SyncCommand::Master`]
//! once all of them want it ("prefer backup state to avoid thrashing").
//! [`SyncCommand::Backup`] makes a master leave (a member heard a higher
//! priority), [`SyncCommand::Fault`] holds a member in Fault while another
//! one is: its own fault and the group's are kept apart, and it leaves
//! Fault when neither holds.
//!
//! Order of actions: becoming master is `[SendAdvert, TakeVips, Transition]`
//! (the advertisement first, so the old master drops the VIPs before our
//! gratuitous ARPs move them: keepalived's `vrrp_state_master_tx`); leaving
//! master starts with `ReleaseVips`, before anything else, so that no peer
//! can take the VIPs while we still hold them. `Transition` always comes last.
//!
//! Where regha follows keepalived rather than the letter of the RFCs:
//! - A master that hears a lower priority (or an equal priority from a lower
//!   address) answers at once with an advertisement and repeats its
//!   gratuitous ARPs ("forcing new election", `garp_lower_prio_repeat`): the
//!   other side stops being master sooner and stale ARP caches are mended.
//! - `preempt_delay` works as keepalived's `preempt_time`: the hold starts
//!   when a backup first hears a lower priority master (after startup, after
//!   leaving master or fault, or after a higher priority master was last
//!   heard) and lasts `preempt_delay`; while it lasts, lower priority adverts
//!   are accepted as if `preempt` were off. Hearing an equal or higher
//!   priority ends the hold, so the next lower master starts a fresh one.
//!   Takeover thus comes about `preempt_delay + Master_Down_Interval` after
//!   the lower master is first heard, at startup and when tracking raises our
//!   priority alike.
//! - A host whose health view is not settled (the agent says so: see
//!   `agent/core/settle.rs`) does not preempt: while it is unsettled, lower
//!   priority adverts are accepted as if `preempt` were off, as during a
//!   `preempt_delay` hold. Once settled, the next lower advert is discarded
//!   and the down timer runs out as usual. It never stops a takeover when
//!   no master is heard. A keepalived peer sees only a later preemption.
//!   Nor does an unsettled host raise its tracked priority: a fall applies
//!   at once, a rise once the view settles. So a host that became master
//!   while cut off (it heard no one) yields to its peer after the heal
//!   instead of outbidding it with a view still changing.
//! - Tracking never changes an address owner's priority, and clamps every
//!   other effective priority to 1..=254 (`vrrp_set_effective_priority`). A
//!   backup's running down timer moves by the change in Skew_Time.
//! - Going to fault from master sends a priority 0 advertisement (keepalived
//!   2.x), after the VIPs are released.
//! - An equal priority advert from our own address, or from the other
//!   address family, is ignored (keepalived logs it and does nothing).
//!
//! Where regha differs from keepalived:
//! - v3 Skew_Time uses the RFC's centisecond integer arithmetic
//!   (`((256 - priority) * interval_cs) / 256` cs); keepalived computes the
//!   same formula in microseconds. Takeover after a master is lost comes up
//!   to 10 ms sooner, and neighbouring priorities can share a skew (100 and
//!   101 both get 60 cs at 1 s): two backups racing for a dead master may
//!   then both take over, and their first adverts settle it as above.
//! - A master whose priority changes advertises the new one at once (and
//!   restarts its advert timer); keepalived waits for the next advert.
//! - Resigning (shutdown, fault) removes the VIPs before the priority 0
//!   advert; keepalived sends the advert first. The new master waits
//!   Skew_Time after the advert anyway, so the order costs nothing and no
//!   two hosts hold the VIPs at once.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use regha_model::{VrrpState, VrrpVersion};

/// Priority of the address owner (RFC 5798 §5.2.4): master at once, never tracked.
pub const PRIORITY_OWNER: u8 = 255;

/// Priority a master advertises when it stops (RFC 5798 §5.2.4): backups
/// take over after Skew_Time instead of Master_Down_Interval.
pub const PRIORITY_STOP: u8 = 0;

/// Configuration of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// VRRP version spoken on the wire.
    pub version: VrrpVersion,
    /// Configured priority: 255 makes the instance the address owner; 0 is
    /// not a valid configured priority and is treated as 1.
    pub priority: u8,
    /// Advertisement_Interval: whole seconds for v2, whole centiseconds for
    /// v3 (config validation enforces both).
    pub advert_interval: Duration,
    /// Preempt_Mode: take over from a lower priority master. `nopreempt` is `false`.
    pub preempt: bool,
    /// keepalived's `preempt_delay` (zero: none); see the module notes.
    pub preempt_delay: Duration,
    /// The address our advertisements come from; breaks ties between equal
    /// priorities (the higher address wins).
    pub primary_addr: IpAddr,
    /// A member of a sync group: takes over only on [`SyncCommand::Master`]
    /// (an address owner still takes over at once, as in keepalived).
    pub sync_group: bool,
}

/// What a sync group asks of one of its members (keepalived's
/// `vrrp_sync_master`, `vrrp_sync_backup`, `vrrp_sync_fault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCommand {
    /// Every member wants master: a backup that still wants it takes over
    /// (one that heard a master since stays backup).
    Master,
    /// Another member left master for a higher priority: a master leaves
    /// too, releasing its VIPs without a priority 0 advert (keepalived's
    /// `vrrp_state_leave_master(vrrp, false)`), so the group moves as one.
    Backup,
    /// Another member is in Fault (`true`), or none is any more (`false`).
    Fault(bool),
}

/// Something the instance must react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start the instance (RFC 5798 §6.4.1).
    Startup,
    /// Stop the instance; a master resigns with priority 0.
    Shutdown,
    /// [`Machine::deadline`] has passed. A timer fed before the deadline (a
    /// sleep that was armed for an older deadline) is ignored.
    Timer,
    /// A valid advertisement from a peer (the codec has checked TTL,
    /// checksum, VRID, authentication and, for v2, the interval, and has
    /// dropped our own looped-back adverts).
    Advert {
        /// Source address of the advertisement (the peer's primary address).
        from: IpAddr,
        /// Advertised priority.
        priority: u8,
        /// Advertised interval (v3 only: v2 adverts carry ours).
        interval: Duration,
    },
    /// Tracking recomputed the effective priority.
    SetPriority(u8),
    /// The interface (or a tracked object) went down (`true`) or came back (`false`).
    Fault(bool),
    /// The instance's sync group decided (see [`SyncCommand`]).
    Sync(SyncCommand),
    /// The agent's health view is settled (`true`) or not: an unsettled
    /// host does not preempt (see the module notes).
    Settled(bool),
    /// A reload changed the instance's settings in place (same VRID,
    /// version, family and address ownership), with the effective priority
    /// tracking gives the new settings (`None`: tracking says FAULT, fed
    /// next as [`Event::Fault`]). A master keeps the VIPs and advertises a
    /// changed priority or interval at once, in one advert; a backup
    /// restarts its down timer on a new interval (the master it follows
    /// gets a whole one), or moves it by a new Skew_Time.
    Reconfigure {
        params: Params,
        priority: Option<u8>,
    },
}

/// What the caller must do, in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority and our configured interval.
    SendAdvert {
        /// Priority to advertise (0 when resigning).
        priority: u8,
    },
    /// Add the VIPs, then announce them (gratuitous ARP / unsolicited NA).
    TakeVips,
    /// Remove the VIPs.
    ReleaseVips,
    /// Announce the VIPs again (gratuitous ARP / unsolicited NA) without adding them.
    AnnounceVips,
    /// The state changed (run notify scripts, publish the role, log it once).
    Transition {
        /// State left.
        from: VrrpState,
        /// State entered.
        to: VrrpState,
    },
}

/// One VRRP instance's state machine.
#[derive(Clone, Debug)]
pub struct Machine {
    params: Params,
    state: VrrpState,
    /// Effective priority: the configured one, as changed by tracking.
    priority: u8,
    /// Master_Adver_Interval: our own interval, or (v3, in Backup) the master's.
    master_adver_interval: Duration,
    /// The one timer: Master_Down_Timer in Backup, Adver_Timer in Master.
    timer: Option<Instant>,
    /// End of the preempt hold (keepalived's `preempt_time`); `None`: no hold started.
    preempt_hold_until: Option<Instant>,
    /// The last `Fault` event said down; remembered across shutdown and startup.
    faulted: bool,
    /// The sync group holds this member in Fault (another member is).
    group_fault: bool,
    /// A sync group member whose down timer ran out: it would be master
    /// but for the group.
    wants_master: bool,
    /// The agent's health view is not settled: no preemption, and no
    /// tracked priority raised.
    unsettled: bool,
    /// A tracked priority above the current one, held while unsettled;
    /// applied once the view settles.
    raise_held: Option<u8>,
}

impl Machine {
    /// A stopped instance (state Initialize); feed [`Event::Startup`] to run it.
    pub fn new(params: Params) -> Self {
        let priority = match params.priority {
            PRIORITY_OWNER => PRIORITY_OWNER,
            p => tracked_priority(p),
        };
        Machine {
            master_adver_interval: params.advert_interval,
            params,
            state: VrrpState::Initialize,
            priority,
            timer: None,
            preempt_hold_until: None,
            faulted: false,
            group_fault: false,
            wants_master: false,
            unsettled: false,
            raise_held: None,
        }
    }

    /// Reacts to `event` at `now`; returns the actions in execution order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Startup => self.startup(now, &mut out),
            Event::Shutdown => self.shutdown(&mut out),
            Event::Timer => self.timer_fired(now, &mut out),
            Event::Advert {
                from,
                priority,
                interval,
            } => match self.state {
                VrrpState::Backup => self.backup_rx(priority, interval, now),
                VrrpState::Master => self.master_rx(from, priority, interval, now, &mut out),
                VrrpState::Initialize | VrrpState::Fault => {}
            },
            Event::SetPriority(priority) => self.set_priority(priority, now, &mut out),
            Event::Fault(true) => self.fault(&mut out),
            Event::Fault(false) => self.fault_cleared(now, &mut out),
            Event::Sync(command) => self.sync(command, now, &mut out),
            Event::Settled(settled) => {
                self.unsettled = !settled;
                if settled && let Some(p) = self.raise_held.take() {
                    self.set_priority(p, now, &mut out);
                }
            }
            Event::Reconfigure { params, priority } => {
                self.reconfigure(params, priority, now, &mut out)
            }
        }
        out
    }

    /// Current state.
    pub fn state(&self) -> VrrpState {
        self.state
    }

    /// When to feed [`Event::Timer`]; `None` in Initialize and Fault.
    pub fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    /// Effective priority (configured, changed by [`Event::SetPriority`]).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// A sync group member that would be master but for its group.
    pub fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// In Fault (or to start in it) for its own reasons (its interface,
    /// its trackers), not its group's.
    pub fn own_fault(&self) -> bool {
        self.faulted
    }

    /// Master_Adver_Interval: our own, or in v3 the one the master advertises.
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_interval * 3 + self.skew_time()
    }

    /// Skew_Time: v2 `(256 - priority) / 256` s; v3
    /// `((256 - priority) * Master_Adver_Interval) / 256` in whole centiseconds.
    pub fn skew_time(&self) -> Duration {
        let weight = 256 - u64::from(self.priority);
        match self.params.version {
            VrrpVersion::V2 => Duration::from_nanos(weight * 1_000_000_000 / 256),
            VrrpVersion::V3 => {
                Duration::from_millis(weight * centiseconds(self.master_adver_interval) / 256 * 10)
            }
        }
    }

    /// The configuration the machine was built with.
    pub fn params(&self) -> &Params {
        &self.params
    }

    // RFC 5798 §6.4.1: the owner becomes master at once, everyone else waits
    // a Master_Down_Interval for a master to show up.
    fn startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != VrrpState::Initialize {
            return;
        }
        if self.faulted || self.group_fault {
            self.enter(VrrpState::Fault, out);
        } else {
            self.start(now, out);
        }
    }

    /// Leaves Initialize or Fault for Backup, or Master if we own the address.
    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.master_adver_interval = self.params.advert_interval;
        if self.priority == PRIORITY_OWNER {
            self.become_master(now, out);
        } else {
            self.become_backup(now, out);
        }
    }

    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        // A master advertises its own interval; keepalived likewise drops the
        // one it adopted as a backup.
        self.master_adver_interval = self.params.advert_interval;
        self.preempt_hold_until = None;
        self.wants_master = false;
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::TakeVips);
        self.timer = Some(now + self.params.advert_interval);
        self.enter(VrrpState::Master, out);
    }

    /// Enters Backup with a full down timer; a master pushes `ReleaseVips` first.
    fn become_backup(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.preempt_hold_until = None;
        self.wants_master = false;
        self.timer = Some(now + self.master_down_interval());
        self.enter(VrrpState::Backup, out);
    }

    fn enter(&mut self, to: VrrpState, out: &mut Vec<Action>) {
        out.push(Action::Transition {
            from: self.state,
            to,
        });
        self.state = to;
    }

    /// Returns to a stopped instance's timers (Initialize and Fault run none).
    fn stop_timers(&mut self) {
        self.timer = None;
        self.wants_master = false;
        self.preempt_hold_until = None;
        self.master_adver_interval = self.params.advert_interval;
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            VrrpState::Initialize => return,
            VrrpState::Master => {
                out.push(Action::ReleaseVips);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
            }
            VrrpState::Backup | VrrpState::Fault => {}
        }
        self.stop_timers();
        self.enter(VrrpState::Initialize, out);
    }

    fn timer_fired(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.timer.is_none_or(|deadline| now < deadline) {
            return; // Stale: fed for a deadline that has since moved, or none.
        }
        match self.state {
            // A sync group member wants master and waits for its group; the
            // timer runs again (keepalived re-arms ms_down_timer).
            VrrpState::Backup if self.gated() => {
                self.wants_master = true;
                self.timer = Some(now + self.master_down_interval());
            }
            // RFC 5798 §6.4.2: Master_Down_Timer fired.
            VrrpState::Backup => self.become_master(now, out),
            // RFC 5798 §6.4.3: Adver_Timer fired.
            VrrpState::Master => {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.timer = Some(now + self.params.advert_interval);
            }
            VrrpState::Initialize | VrrpState::Fault => {}
        }
    }

    // RFC 5798 §6.4.2, with keepalived's preempt_delay (vrrp_state_backup).
    fn backup_rx(&mut self, priority: u8, interval: Duration, now: Instant) {
        if priority == PRIORITY_STOP {
            self.timer = Some(now + self.skew_time());
            return;
        }
        let lower = priority < self.priority;
        if lower && self.params.preempt && !self.preempt_held(now) && !self.unsettled {
            // Discard it: the down timer runs out and we preempt.
            return;
        }
        if self.params.version == VrrpVersion::V3 {
            self.master_adver_interval = whole_centiseconds(interval);
        }
        self.timer = Some(now + self.master_down_interval());
        // A master is heard: a sync group member no longer wants to take over.
        self.wants_master = false;
        if !self.params.preempt_delay.is_zero() {
            if !lower {
                self.preempt_hold_until = None;
            } else if self.preempt_hold_until.is_none() {
                self.preempt_hold_until = Some(now + self.params.preempt_delay);
            }
        }
    }

    /// Whether a lower priority master is still to be tolerated.
    fn preempt_held(&self, now: Instant) -> bool {
        !self.params.preempt_delay.is_zero()
            && self.preempt_hold_until.is_none_or(|until| until > now)
    }

    // RFC 5798 §6.4.3, with keepalived's answer to lower priorities (vrrp_state_master_rx).
    fn master_rx(
        &mut self,
        from: IpAddr,
        priority: u8,
        interval: Duration,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if priority == PRIORITY_STOP {
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.timer = Some(now + self.params.advert_interval);
            return;
        }
        let theirs = priority
            .cmp(&self.priority)
            .then(compare_addresses(from, self.params.primary_addr));
        match theirs {
            Ordering::Greater => {
                out.push(Action::ReleaseVips);
                // Two masters met (a healed partition): say once more, at our
                // own priority, that we were master. The survivor then hears
                // a lower-priority master and refreshes the segment's ARP
                // caches (keepalived's survivor does the same on a lower
                // advert), which otherwise could keep pointing here: without
                // this the race of the first crossing adverts decides.
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                if self.params.version == VrrpVersion::V3 {
                    self.master_adver_interval = whole_centiseconds(interval);
                }
                self.become_backup(now, out);
            }
            Ordering::Less => {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                out.push(Action::AnnounceVips);
            }
            Ordering::Equal => {}
        }
    }

    fn set_priority(&mut self, priority: u8, now: Instant, out: &mut Vec<Action>) {
        if self.params.priority == PRIORITY_OWNER {
            return;
        }
        let priority = tracked_priority(priority);
        // Unsettled: a priority may fall at once but rises only once the
        // view settles. A host that became master while cut off (it heard
        // no one) would otherwise outbid its peer with a view that is
        // still changing, and keep the VIPs it should take back only once
        // settled.
        if self.unsettled && priority > self.priority {
            self.raise_held = Some(priority);
            return;
        }
        self.raise_held = None;
        if priority == self.priority {
            return;
        }
        let old_skew = self.skew_time();
        self.priority = priority;
        match self.state {
            VrrpState::Backup => self.move_down_timer(old_skew),
            VrrpState::Master => {
                out.push(Action::SendAdvert { priority });
                self.timer = Some(now + self.params.advert_interval);
            }
            VrrpState::Initialize | VrrpState::Fault => {}
        }
    }

    fn reconfigure(
        &mut self,
        params: Params,
        priority: Option<u8>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let interval_changed = params.advert_interval != self.params.advert_interval;
        if params.preempt_delay != self.params.preempt_delay {
            self.preempt_hold_until = None;
        }
        self.params = params;
        let old_skew = self.skew_time();
        let priority_changed = match priority {
            Some(p) if self.params.priority != PRIORITY_OWNER => {
                let p = tracked_priority(p);
                let changed = p != self.priority;
                self.priority = p;
                changed
            }
            _ => false,
        };
        match self.state {
            VrrpState::Master if interval_changed || priority_changed => {
                self.master_adver_interval = self.params.advert_interval;
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.timer = Some(now + self.params.advert_interval);
            }
            VrrpState::Backup if interval_changed => {
                // v2 backups time the master by their own interval; a v3
                // backup keeps the master's until the master's next advert.
                if self.params.version == VrrpVersion::V2 {
                    self.master_adver_interval = self.params.advert_interval;
                }
                self.timer = Some(now + self.master_down_interval());
            }
            VrrpState::Backup if priority_changed => self.move_down_timer(old_skew),
            VrrpState::Initialize | VrrpState::Fault => {
                self.master_adver_interval = self.params.advert_interval;
            }
            VrrpState::Master | VrrpState::Backup => {}
        }
    }

    /// The down timer was armed with `old_skew`: move it by the difference
    /// to the current Skew_Time, as keepalived does.
    fn move_down_timer(&mut self, old_skew: Duration) {
        let new_skew = self.skew_time();
        self.timer = self.timer.map(|deadline| {
            if new_skew >= old_skew {
                deadline + (new_skew - old_skew)
            } else {
                deadline
                    .checked_sub(old_skew - new_skew)
                    .unwrap_or(deadline)
            }
        });
    }

    /// Whether taking over waits for the sync group.
    fn gated(&self) -> bool {
        self.params.sync_group && self.params.priority != PRIORITY_OWNER
    }

    fn fault(&mut self, out: &mut Vec<Action>) {
        self.faulted = true;
        self.enter_fault(out);
    }

    /// Into Fault, for our own reasons or the group's: a master releases the
    /// VIPs and advertises priority 0, so that the peers take over after
    /// Skew_Time (keepalived's group fault sends nothing there, and its
    /// peers wait a whole Master_Down_Interval).
    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        match self.state {
            VrrpState::Master => {
                out.push(Action::ReleaseVips);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
            }
            VrrpState::Backup => {}
            VrrpState::Initialize | VrrpState::Fault => return,
        }
        self.stop_timers();
        self.enter(VrrpState::Fault, out);
    }

    fn fault_cleared(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.faulted = false;
        if self.state == VrrpState::Fault && !self.group_fault {
            self.start(now, out);
        }
    }

    fn sync(&mut self, command: SyncCommand, now: Instant, out: &mut Vec<Action>) {
        match command {
            SyncCommand::Master => {
                if self.state == VrrpState::Backup && self.wants_master {
                    self.become_master(now, out);
                }
            }
            SyncCommand::Backup => {
                if self.state == VrrpState::Master {
                    out.push(Action::ReleaseVips);
                    self.become_backup(now, out);
                }
            }
            SyncCommand::Fault(true) => {
                self.group_fault = true;
                self.enter_fault(out);
            }
            SyncCommand::Fault(false) => {
                self.group_fault = false;
                if self.state == VrrpState::Fault && !self.faulted {
                    self.start(now, out);
                }
            }
        }
    }
}

/// A non-owner's effective priority: 0 would mean "resigning" and 255 "owner".
fn tracked_priority(priority: u8) -> u8 {
    priority.clamp(1, PRIORITY_OWNER - 1)
}

/// Orders a peer's primary address against ours; addresses of different
/// families are not comparable and count as equal (keepalived's `vrrp_saddr_cmp`).
fn compare_addresses(theirs: IpAddr, ours: IpAddr) -> Ordering {
    match (theirs, ours) {
        (IpAddr::V4(theirs), IpAddr::V4(ours)) => theirs.cmp(&ours),
        (IpAddr::V6(theirs), IpAddr::V6(ours)) => theirs.cmp(&ours),
        _ => Ordering::Equal,
    }
}

fn centiseconds(interval: Duration) -> u64 {
    u64::try_from(interval.as_millis() / 10).unwrap_or(u64::MAX)
}

/// An advertised v3 interval as the wire carries it: whole centiseconds, at
/// least one (a zero interval would make the down timer fire at once).
fn whole_centiseconds(interval: Duration) -> Duration {
    Duration::from_millis(centiseconds(interval).max(1) * 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LB1: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const LB2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const LB9: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
    const LB10: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const LB20: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
    const LL1: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    const LL2: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2));

    const SEC: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn params(version: VrrpVersion, priority: u8, primary_addr: IpAddr) -> Params {
        Params {
            version,
            priority,
            advert_interval: SEC,
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary_addr,
            sync_group: false,
        }
    }

    fn advert(from: IpAddr, priority: u8) -> Event {
        Event::Advert {
            from,
            priority,
            interval: SEC,
        }
    }

    fn transition(from: VrrpState, to: VrrpState) -> Action {
        Action::Transition { from, to }
    }

    fn send(priority: u8) -> Action {
        Action::SendAdvert { priority }
    }

    /// A started backup at `t0`.
    fn backup(params: Params, t0: Instant) -> Machine {
        let mut m = Machine::new(params);
        assert_eq!(
            m.handle(Event::Startup, t0),
            [transition(VrrpState::Initialize, VrrpState::Backup)]
        );
        m
    }

    /// A master: started at `t0`, down timer run out; returns when it took over.
    fn master(params: Params, t0: Instant) -> (Machine, Instant) {
        let mut m = backup(params, t0);
        let at = m.deadline().expect("backup runs a down timer");
        m.handle(Event::Timer, at);
        assert_eq!(m.state(), VrrpState::Master);
        (m, at)
    }

    #[test]
    fn startup() {
        let t0 = Instant::now();
        let cases = [
            ("owner v2", VrrpVersion::V2, 255, VrrpState::Master),
            ("owner v3", VrrpVersion::V3, 255, VrrpState::Master),
            ("non-owner v2", VrrpVersion::V2, 100, VrrpState::Backup),
            ("non-owner v3", VrrpVersion::V3, 254, VrrpState::Backup),
        ];
        for (name, version, priority, state) in cases {
            let mut m = Machine::new(params(version, priority, LB1));
            assert_eq!(m.state(), VrrpState::Initialize, "{name}");
            assert_eq!(m.deadline(), None, "{name}");
            let actions = m.handle(Event::Startup, t0);
            assert_eq!(m.state(), state, "{name}");
            if state == VrrpState::Master {
                let expected = [
                    send(255),
                    Action::TakeVips,
                    transition(VrrpState::Initialize, VrrpState::Master),
                ];
                assert_eq!(actions, expected, "{name}");
                assert_eq!(m.deadline(), Some(t0 + SEC), "{name}: advert timer");
            } else {
                assert_eq!(
                    actions,
                    [transition(VrrpState::Initialize, VrrpState::Backup)]
                );
                let down = t0 + m.master_down_interval();
                assert_eq!(m.deadline(), Some(down), "{name}: down timer");
            }
            assert_eq!(m.handle(Event::Startup, t0), [], "{name}: started twice");
        }
    }

    #[test]
    fn a_reload_in_place_keeps_the_state_and_retimes() {
        let t0 = Instant::now();
        let t = t0 + ms(100);
        let with = |interval: Duration, delay: Duration| Params {
            advert_interval: interval,
            preempt_delay: delay,
            ..params(VrrpVersion::V2, 100, LB1)
        };
        let reload = |p: Params, priority: Option<u8>| Event::Reconfigure {
            params: p,
            priority,
        };
        // (what, master?, new interval, new priority, actions, timer after)
        type Case = (
            &'static str,
            bool,
            Duration,
            Option<u8>,
            Vec<Action>,
            Duration,
        );
        let cases: Vec<Case> = vec![
            ("master, nothing changed", true, SEC, Some(100), vec![], SEC),
            (
                "master, priority",
                true,
                SEC,
                Some(120),
                vec![send(120)],
                SEC,
            ),
            (
                "master, interval and priority: one advert",
                true,
                2 * SEC,
                Some(120),
                vec![send(120)],
                2 * SEC,
            ),
            ("master, fault pending", true, SEC, None, vec![], SEC),
            (
                "backup, interval: a whole new down interval",
                false,
                2 * SEC,
                Some(100),
                vec![],
                2 * SEC * 3 + ms(609) + Duration::from_nanos(375_000),
            ),
        ];
        for (name, is_master, interval, priority, actions, timer) in cases {
            let mut m = if is_master {
                master(params(VrrpVersion::V2, 100, LB1), t0).0
            } else {
                backup(params(VrrpVersion::V2, 100, LB1), t0)
            };
            let deadline = m.deadline();
            let got = m.handle(reload(with(interval, Duration::ZERO), priority), t);
            assert_eq!(got, actions, "{name}");
            assert_eq!(
                m.state(),
                if is_master {
                    VrrpState::Master
                } else {
                    VrrpState::Backup
                },
                "{name}"
            );
            if actions.is_empty() && interval == SEC {
                assert_eq!(m.deadline(), deadline, "{name}: timer untouched");
            } else {
                assert_eq!(m.deadline(), Some(t + timer), "{name}");
            }
        }
        // A backup's new priority moves its down timer by the Skew_Time
        // difference, as tracking does.
        let mut m = backup(params(VrrpVersion::V2, 100, LB1), t0);
        let before = m.deadline().unwrap();
        let old_skew = m.skew_time();
        m.handle(reload(with(SEC, Duration::ZERO), Some(200)), t);
        assert_eq!(m.priority(), 200);
        assert_eq!(m.deadline(), Some(before - (old_skew - m.skew_time())));
    }

    #[test]
    fn backup_takes_over_when_the_down_timer_runs_out() {
        let t0 = Instant::now();
        let mut m = backup(params(VrrpVersion::V2, 100, LB1), t0);
        let down = t0 + ms(3609) + Duration::from_micros(375);
        assert_eq!(m.deadline(), Some(down));
        assert_eq!(m.handle(Event::Timer, down - ms(1)), [], "stale timer");
        assert_eq!(m.state(), VrrpState::Backup);
        let expected = [
            send(100),
            Action::TakeVips,
            transition(VrrpState::Backup, VrrpState::Master),
        ];
        assert_eq!(m.handle(Event::Timer, down), expected);
        assert_eq!(m.deadline(), Some(down + SEC));
    }

    #[test]
    fn an_unsettled_backup_does_not_preempt_until_it_is_settled() {
        let t0 = Instant::now();
        let mut m = backup(params(VrrpVersion::V2, 150, LB1), t0);
        m.handle(Event::Settled(false), t0);
        // A lower master is followed as if preempt were off...
        let t1 = t0 + ms(500);
        m.handle(advert(LB2, 100), t1);
        assert_eq!(m.deadline(), Some(t1 + m.master_down_interval()));
        let t2 = t1 + SEC;
        m.handle(advert(LB2, 100), t2);
        assert_eq!(m.deadline(), Some(t2 + m.master_down_interval()));
        assert_eq!(m.state(), VrrpState::Backup);
        // ...until the view settles: the next one is discarded, and the
        // down timer runs out.
        m.handle(Event::Settled(true), t2 + ms(10));
        m.handle(advert(LB2, 100), t2 + SEC);
        assert_eq!(m.deadline(), Some(t2 + m.master_down_interval()));
        m.handle(Event::Timer, t2 + m.master_down_interval());
        assert_eq!(m.state(), VrrpState::Master);
    }

    #[test]
    fn an_unsettled_backup_still_takes_over_when_no_master_is_heard() {
        let t0 = Instant::now();
        let mut m = backup(params(VrrpVersion::V2, 150, LB1), t0);
        m.handle(Event::Settled(false), t0);
        let down = m.deadline().expect("down timer");
        m.handle(Event::Timer, down);
        assert_eq!(m.state(), VrrpState::Master);
    }

    /// The issue-16 heal: lb1 became master while cut off, with its
    /// tracked priority down. Its backends come back before it hears lb2,
    /// but its view is not settled: the rise waits, so lb2's higher advert
    /// sends lb1 to backup; once settled lb1 raises its priority and
    /// preempts as usual.
    #[test]
    fn an_unsettled_host_does_not_raise_its_tracked_priority() {
        let t0 = Instant::now();
        let (mut m, since) = master(params(VrrpVersion::V2, 101, LB1), t0);
        let t1 = since + ms(100);
        assert_eq!(
            m.handle(Event::SetPriority(51), t1),
            [send(51)],
            "a fall applies at once"
        );
        m.handle(Event::Settled(false), t1);
        assert_eq!(
            m.handle(Event::SetPriority(101), t1 + ms(10)),
            [],
            "the rise is held"
        );
        assert_eq!(m.priority(), 51);
        m.handle(advert(LB2, 100), t1 + ms(20));
        assert_eq!(m.state(), VrrpState::Backup, "lb2's higher advert wins");
        // Settled: the held rise applies; the next lower advert is
        // discarded and the down timer runs out.
        let t2 = t1 + SEC;
        assert_eq!(m.handle(Event::Settled(true), t2), []);
        assert_eq!(m.priority(), 101);
        let down = m.deadline().expect("down timer");
        m.handle(advert(LB2, 100), t2 + ms(10));
        assert_eq!(m.deadline(), Some(down));
        m.handle(Event::Timer, down);
        assert_eq!(m.state(), VrrpState::Master);
        // A fall while unsettled drops a held rise.
        m.handle(Event::Settled(false), down);
        m.handle(Event::SetPriority(120), down);
        m.handle(Event::SetPriority(90), down);
        m.handle(Event::Settled(true), down + SEC);
        assert_eq!(m.priority(), 90);
    }

    /// What a backup's down timer does when an advert arrives.
    #[derive(Debug, PartialEq)]
    enum Down {
        /// Restarted at Master_Down_Interval: the advert was accepted.
        Reset,
        /// Left running: the advert was discarded, we will preempt.
        Running,
        /// Shortened to Skew_Time: the master resigned.
        Skew,
    }

    /// (name, preempt, preempt_delay in s, earlier adverts (ms, priority),
    /// the advert's time in ms and priority, what the down timer does)
    type BackupCase = (&'static str, bool, u64, Vec<(u64, u8)>, u64, u8, Down);

    #[test]
    fn backup_hears_an_advert() {
        let t0 = Instant::now();
        // Adverts from a priority 50 master every second from 1 s to `last` s.
        let lower_until = |last: u64| (1..=last).map(|s| (s * 1000, 50)).collect::<Vec<_>>();
        #[rustfmt::skip]
        let cases: Vec<BackupCase> = vec![
            ("higher, preempt",              true,  0,  vec![], 1000, 150, Down::Reset),
            ("higher, nopreempt",            false, 0,  vec![], 1000, 150, Down::Reset),
            ("equal, preempt",               true,  0,  vec![], 1000, 100, Down::Reset),
            ("lower, preempt",               true,  0,  vec![], 1000, 50,  Down::Running),
            ("lower, nopreempt",             false, 0,  vec![], 1000, 50,  Down::Reset),
            ("priority 0",                   true,  0,  vec![], 1000, 0,   Down::Skew),
            ("priority 0, nopreempt",        false, 0,  vec![], 1000, 0,   Down::Skew),
            ("lower, first in delay",        true,  10, vec![], 1000, 50,  Down::Reset),
            ("lower, in delay",              true,  10, lower_until(9),  10_000, 50, Down::Reset),
            ("lower, delay over",            true,  10, lower_until(10), 11_000, 50, Down::Running),
            ("lower, delay over, nopreempt", false, 10, lower_until(10), 11_000, 50, Down::Reset),
            ("higher ends the delay",        true,  10, vec![(1000, 50), (5000, 150)], 12_000, 50, Down::Reset),
            ("priority 0 in delay",          true,  10, vec![(1000, 50)], 2000, 0, Down::Skew),
        ];
        for (name, preempt, delay, earlier, at, priority, expected) in cases {
            let mut p = params(VrrpVersion::V2, 100, LB1);
            p.preempt = preempt;
            p.preempt_delay = Duration::from_secs(delay);
            let mut m = backup(p, t0);
            for (at, priority) in earlier {
                assert_eq!(m.handle(advert(LB2, priority), t0 + ms(at)), [], "{name}");
            }
            let before = m.deadline();
            let now = t0 + ms(at);
            assert_eq!(m.handle(advert(LB2, priority), now), [], "{name}");
            assert_eq!(m.state(), VrrpState::Backup, "{name}");
            let got = match m.deadline() {
                d if d == Some(now + m.master_down_interval()) => Down::Reset,
                d if d == Some(now + m.skew_time()) => Down::Skew,
                d if d == before => Down::Running,
                d => panic!("{name}: unexpected deadline {d:?}"),
            };
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn preempt_delay_postpones_taking_over_from_a_lower_master() {
        let t0 = Instant::now();
        let down = ms(3609) + Duration::from_micros(375);
        // (preempt_delay, takeover): the first lower advert comes at 1 s; with
        // a 10 s delay the last one accepted is at 10 s (the hold ends at 11 s).
        for (delay, takeover) in [(0, down), (10, 10 * SEC + down)] {
            let mut p = params(VrrpVersion::V2, 100, LB1);
            p.preempt_delay = Duration::from_secs(delay);
            let mut m = backup(p, t0);
            for s in 1..=30 {
                let now = t0 + Duration::from_secs(s);
                if let Some(deadline) = m.deadline().filter(|d| *d <= now) {
                    m.handle(Event::Timer, deadline);
                    assert_eq!(m.state(), VrrpState::Master, "delay {delay}");
                    assert_eq!(deadline - t0, takeover, "delay {delay}");
                    break;
                }
                m.handle(advert(LB2, 50), now);
            }
            assert_eq!(
                m.state(),
                VrrpState::Master,
                "delay {delay}: never took over"
            );
        }
    }

    /// Where a master's timer points after an advert.
    #[derive(Debug)]
    enum Timer {
        Unchanged,
        AdvertInterval,
        MasterDown,
    }

    #[test]
    fn master_hears_an_advert() {
        let t0 = Instant::now();
        let stays = |first: Vec<Action>| (VrrpState::Master, first);
        // A master that steps down tells the survivor once more (at its own
        // priority, 100 here), so the survivor refreshes ARP caches.
        let steps_down = (
            VrrpState::Backup,
            vec![
                Action::ReleaseVips,
                send(100),
                transition(VrrpState::Master, VrrpState::Backup),
            ],
        );
        let answers = stays(vec![send(100), Action::AnnounceVips]);
        // Our priority is 100, our address 192.0.2.10.
        #[rustfmt::skip]
        let cases = [
            ("higher",                LB1,  150, steps_down.clone(),      Timer::MasterDown),
            ("equal, higher address", LB20, 100, steps_down,              Timer::MasterDown),
            ("equal, lower address",  LB9,  100, answers.clone(),         Timer::Unchanged),
            ("lower",                 LB20, 50,  answers,                 Timer::Unchanged),
            ("priority 0",            LB20, 0,   stays(vec![send(100)]),  Timer::AdvertInterval),
            ("equal, our address",    LB10, 100, stays(vec![]),           Timer::Unchanged),
            ("equal, other family",   LL2,  100, stays(vec![]),           Timer::Unchanged),
        ];
        for (name, from, priority, (state, actions), timer) in cases {
            let (mut m, since) = master(params(VrrpVersion::V2, 100, LB10), t0);
            let now = since + ms(300);
            assert_eq!(m.handle(advert(from, priority), now), actions, "{name}");
            assert_eq!(m.state(), state, "{name}");
            let expected = match timer {
                Timer::Unchanged => since + SEC,
                Timer::AdvertInterval => now + SEC,
                Timer::MasterDown => now + m.master_down_interval(),
            };
            assert_eq!(m.deadline(), Some(expected), "{name}");
        }
    }

    #[test]
    fn two_masters_that_meet_leave_one() {
        let t0 = Instant::now();
        // (name, a's priority and address, b's priority and address, a wins)
        let cases = [
            ("higher priority wins", 101, LB1, 100, LB2, true),
            ("tie: higher address wins", 100, LB1, 100, LB2, false),
            ("tie, other way round", 100, LB2, 100, LB1, true),
            ("tie: numeric, not textual", 100, LB9, 100, LB10, false),
            ("extremes", 254, LB1, 1, LB2, true),
            ("tie in IPv6", 100, LL1, 100, LL2, false),
        ];
        for (name, prio_a, addr_a, prio_b, addr_b, a_wins) in cases {
            let (mut a, _) = master(params(VrrpVersion::V3, prio_a, addr_a), t0);
            let (mut b, _) = master(params(VrrpVersion::V3, prio_b, addr_b), t0);
            let now = t0 + 5 * SEC;
            // Their adverts cross on the wire: each hears the other as master.
            let from_b = a.handle(advert(addr_b, prio_b), now);
            let from_a = b.handle(advert(addr_a, prio_a), now);
            let (winner, loser, won, lost) = if a_wins {
                (&a, &mut b, from_b, from_a)
            } else {
                (&b, &mut a, from_a, from_b)
            };
            assert_eq!(
                (winner.state(), loser.state()),
                (VrrpState::Master, VrrpState::Backup),
                "{name}"
            );
            let expected = [send(winner.priority()), Action::AnnounceVips];
            assert_eq!(won, expected, "{name}");
            let expected = [
                Action::ReleaseVips,
                send(loser.priority()),
                transition(VrrpState::Master, VrrpState::Backup),
            ];
            assert_eq!(lost, expected, "{name}");
            // The winner's answer keeps the loser quiet.
            let answer = advert(winner.params().primary_addr, winner.priority());
            assert_eq!(loser.handle(answer, now), [], "{name}");
            assert_eq!(loser.state(), VrrpState::Backup, "{name}");
        }
    }

    #[test]
    fn advert_timer_rearms_at_the_advert_interval() {
        let t0 = Instant::now();
        for interval in [SEC, ms(100), 3 * SEC] {
            let mut p = params(VrrpVersion::V3, 255, LB1);
            p.advert_interval = interval;
            let mut m = Machine::new(p);
            m.handle(Event::Startup, t0);
            for n in 1..=3 {
                let due = t0 + interval * n;
                assert_eq!(m.deadline(), Some(due), "{interval:?}");
                assert_eq!(
                    m.handle(Event::Timer, due - ms(5)),
                    [],
                    "{interval:?}: early"
                );
                assert_eq!(m.handle(Event::Timer, due), [send(255)], "{interval:?}");
            }
        }
    }

    #[test]
    fn skew_and_master_down_interval() {
        // (version, priority, interval, Skew_Time, Master_Down_Interval), in µs.
        let cases = [
            (VrrpVersion::V2, 100, SEC, 609_375, 3_609_375),
            (VrrpVersion::V2, 101, SEC, 605_469, 3_605_469),
            (VrrpVersion::V2, 254, SEC, 7_813, 3_007_813),
            (VrrpVersion::V2, 100, 2 * SEC, 609_375, 6_609_375),
            (VrrpVersion::V3, 100, SEC, 600_000, 3_600_000),
            (VrrpVersion::V3, 101, SEC, 600_000, 3_600_000),
            (VrrpVersion::V3, 254, SEC, 0, 3_000_000),
            (VrrpVersion::V3, 100, ms(100), 60_000, 360_000),
            (VrrpVersion::V3, 101, ms(100), 60_000, 360_000),
            (VrrpVersion::V3, 254, ms(100), 0, 300_000),
            (VrrpVersion::V3, 1, ms(100), 90_000, 390_000),
        ];
        for (version, priority, interval, skew, down) in cases {
            let mut p = params(version, priority, LB1);
            p.advert_interval = interval;
            let m = Machine::new(p);
            let case = format!("{version:?} priority {priority} interval {interval:?}");
            // Rounded to the microsecond: v2 prio 101 is 605.46875 ms.
            let us = |d: Duration| (d.as_nanos() + 500) / 1000;
            assert_eq!(us(m.skew_time()), skew, "{case}: skew");
            assert_eq!(us(m.master_down_interval()), down, "{case}: down");
        }
        // v2 exactly: 156/256 s and 3 s + 156/256 s.
        let m = Machine::new(params(VrrpVersion::V2, 100, LB1));
        assert_eq!(m.skew_time(), Duration::from_nanos(609_375_000));
        assert_eq!(
            m.master_down_interval(),
            Duration::from_nanos(3_609_375_000)
        );
    }

    #[test]
    fn v3_backup_adopts_the_masters_interval() {
        let t0 = Instant::now();
        let fast = |priority| Event::Advert {
            from: LB2,
            priority,
            interval: ms(100),
        };
        let mut m = backup(params(VrrpVersion::V3, 100, LB1), t0);
        let now = t0 + ms(500);
        m.handle(fast(150), now);
        assert_eq!(m.master_adver_interval(), ms(100));
        assert_eq!(m.master_down_interval(), ms(360));
        assert_eq!(m.deadline(), Some(now + ms(360)));
        // A discarded lower priority advert teaches nothing.
        m.handle(fast(50), now + ms(50));
        assert_eq!(m.deadline(), Some(now + ms(360)));
        // As master it advertises its own interval again.
        m.handle(Event::Timer, now + ms(360));
        assert_eq!(m.state(), VrrpState::Master);
        assert_eq!(m.master_adver_interval(), SEC);
        assert_eq!(m.deadline(), Some(now + ms(360) + SEC));
        // Stepping down adopts the new master's: 3 * 200 ms + (156 * 20 / 256) cs.
        let slow = Event::Advert {
            from: LB2,
            priority: 150,
            interval: ms(200),
        };
        let then = now + 2 * SEC;
        assert_eq!(m.handle(slow, then)[0], Action::ReleaseVips);
        assert_eq!(m.deadline(), Some(then + ms(720)));
    }

    #[test]
    fn v2_backup_keeps_its_own_interval() {
        let t0 = Instant::now();
        let mut m = backup(params(VrrpVersion::V2, 100, LB1), t0);
        let odd = Event::Advert {
            from: LB2,
            priority: 150,
            interval: 3 * SEC,
        };
        m.handle(odd, t0 + SEC);
        assert_eq!(m.master_adver_interval(), SEC);
        assert_eq!(m.deadline(), Some(t0 + SEC + m.master_down_interval()));
    }

    /// One step of a scenario: at (ms after t0), event, expected actions, state after.
    type Step = (u64, Event, Vec<Action>, VrrpState);

    /// Feeds `steps` and checks each.
    fn run(m: &mut Machine, t0: Instant, name: &str, steps: &[Step]) {
        for (at, event, actions, state) in steps {
            let got = m.handle(event.clone(), t0 + ms(*at));
            assert_eq!(got, *actions, "{name}: {event:?} at {at} ms");
            assert_eq!(m.state(), *state, "{name}: {event:?} at {at} ms");
            if matches!(state, VrrpState::Initialize | VrrpState::Fault) {
                assert_eq!(m.deadline(), None, "{name}: {event:?} at {at} ms");
            }
        }
    }

    #[test]
    fn shutdown() {
        use VrrpState::{Backup, Initialize, Master};
        let t0 = Instant::now();
        let start = || vec![transition(Initialize, Backup)];
        let take = vec![send(100), Action::TakeVips, transition(Backup, Master)];
        let resign = vec![Action::ReleaseVips, send(0), transition(Master, Initialize)];
        let cases: [(&str, Vec<Step>); 3] = [
            (
                "master",
                vec![
                    (0, Event::Startup, start(), Backup),
                    (3610, Event::Timer, take, Master),
                    (5000, Event::Shutdown, resign, Initialize),
                    (5001, advert(LB2, 150), vec![], Initialize),
                    (5002, Event::Timer, vec![], Initialize),
                    (6000, Event::Startup, start(), Backup),
                ],
            ),
            (
                "backup",
                vec![
                    (0, Event::Startup, start(), Backup),
                    (
                        1000,
                        Event::Shutdown,
                        vec![transition(Backup, Initialize)],
                        Initialize,
                    ),
                ],
            ),
            (
                "not started",
                vec![(0, Event::Shutdown, vec![], Initialize)],
            ),
        ];
        for (name, steps) in cases {
            let mut m = Machine::new(params(VrrpVersion::V2, 100, LB1));
            run(&mut m, t0, name, &steps);
        }
    }

    #[test]
    fn fault_in_and_out() {
        use VrrpState::{Backup, Fault, Initialize, Master};
        let t0 = Instant::now();
        let to = |from, to| vec![transition(from, to)];
        let take = || vec![send(100), Action::TakeVips, transition(Backup, Master)];
        let own = |from| vec![send(255), Action::TakeVips, transition(from, Master)];
        let resign = || vec![Action::ReleaseVips, send(0), transition(Master, Fault)];
        let down = 3610;
        let cases: [(&str, u8, Vec<Step>); 5] = [
            (
                "master",
                100,
                vec![
                    (0, Event::Startup, to(Initialize, Backup), Backup),
                    (down, Event::Timer, take(), Master),
                    (5000, Event::Fault(true), resign(), Fault),
                    (5001, advert(LB2, 50), vec![], Fault),
                    (5002, Event::Timer, vec![], Fault),
                    (5003, Event::Fault(true), vec![], Fault),
                    (5004, Event::Startup, vec![], Fault),
                    (6000, Event::Fault(false), to(Fault, Backup), Backup),
                    (6000 + down, Event::Timer, take(), Master),
                ],
            ),
            (
                "owner",
                255,
                vec![
                    (0, Event::Startup, own(Initialize), Master),
                    (500, Event::Fault(true), resign(), Fault),
                    (900, Event::Fault(false), own(Fault), Master),
                ],
            ),
            (
                "backup",
                100,
                vec![
                    (0, Event::Startup, to(Initialize, Backup), Backup),
                    (1000, Event::Fault(true), to(Backup, Fault), Fault),
                    (down + 1, Event::Timer, vec![], Fault),
                    (5000, Event::Fault(false), to(Fault, Backup), Backup),
                ],
            ),
            (
                "faulted before startup",
                100,
                vec![
                    (0, Event::Fault(true), vec![], Initialize),
                    (1, Event::Startup, to(Initialize, Fault), Fault),
                    (2, Event::Shutdown, to(Fault, Initialize), Initialize),
                    (3, Event::Startup, to(Initialize, Fault), Fault),
                    (4, Event::Fault(false), to(Fault, Backup), Backup),
                ],
            ),
            (
                "fault cleared before startup",
                100,
                vec![
                    (0, Event::Fault(true), vec![], Initialize),
                    (1, Event::Fault(false), vec![], Initialize),
                    (2, Event::Startup, to(Initialize, Backup), Backup),
                ],
            ),
        ];
        for (name, priority, steps) in cases {
            let mut m = Machine::new(params(VrrpVersion::V2, priority, LB1));
            run(&mut m, t0, name, &steps);
        }
        // Leaving fault starts a full down timer with our own interval.
        let mut m = backup(params(VrrpVersion::V3, 100, LB1), t0);
        let fast = Event::Advert {
            from: LB2,
            priority: 150,
            interval: ms(100),
        };
        m.handle(fast, t0 + SEC);
        m.handle(Event::Fault(true), t0 + 2 * SEC);
        m.handle(Event::Fault(false), t0 + 3 * SEC);
        assert_eq!(m.deadline(), Some(t0 + 3 * SEC + ms(3600)));
    }

    /// A sync group member: its timer makes it want master, the group's
    /// command makes it master; the group's Backup and Fault move it like
    /// its own events would, and its own fault and the group's are apart.
    #[test]
    fn sync_group_member() {
        use VrrpState::{Backup, Fault, Initialize, Master};
        let t0 = Instant::now();
        let member = |priority| Params {
            sync_group: true,
            ..params(VrrpVersion::V2, priority, LB1)
        };
        let to = |from, to| vec![transition(from, to)];
        let take = || vec![send(100), Action::TakeVips, transition(Backup, Master)];
        let down = 3610;
        let cases: [(&str, u8, Vec<Step>); 5] = [
            (
                "waits for its group, then takes over",
                100,
                vec![
                    (0, Event::Startup, to(Initialize, Backup), Backup),
                    (down, Event::Timer, vec![], Backup),
                    (down + 10, Event::Sync(SyncCommand::Master), take(), Master),
                    (
                        down + 20,
                        Event::Sync(SyncCommand::Backup),
                        vec![Action::ReleaseVips, transition(Master, Backup)],
                        Backup,
                    ),
                    (down + 30, Event::Sync(SyncCommand::Master), vec![], Backup),
                ],
            ),
            (
                "a master heard since: it no longer wants master",
                100,
                vec![
                    (0, Event::Startup, to(Initialize, Backup), Backup),
                    (down, Event::Timer, vec![], Backup),
                    (down + 10, advert(LB2, 150), vec![], Backup),
                    (down + 20, Event::Sync(SyncCommand::Master), vec![], Backup),
                ],
            ),
            (
                "the group's fault and its own",
                100,
                vec![
                    (0, Event::Startup, to(Initialize, Backup), Backup),
                    (down, Event::Timer, vec![], Backup),
                    (down + 1, Event::Sync(SyncCommand::Master), take(), Master),
                    (
                        5000,
                        Event::Sync(SyncCommand::Fault(true)),
                        vec![Action::ReleaseVips, send(0), transition(Master, Fault)],
                        Fault,
                    ),
                    (5001, Event::Fault(true), vec![], Fault),
                    (5002, Event::Sync(SyncCommand::Fault(false)), vec![], Fault),
                    (5003, Event::Sync(SyncCommand::Fault(true)), vec![], Fault),
                    (5004, Event::Fault(false), vec![], Fault),
                    (
                        5005,
                        Event::Sync(SyncCommand::Fault(false)),
                        to(Fault, Backup),
                        Backup,
                    ),
                ],
            ),
            (
                "held in fault by its group from the start",
                100,
                vec![
                    (0, Event::Sync(SyncCommand::Fault(true)), vec![], Initialize),
                    (1, Event::Startup, to(Initialize, Fault), Fault),
                    (
                        2,
                        Event::Sync(SyncCommand::Fault(false)),
                        to(Fault, Backup),
                        Backup,
                    ),
                ],
            ),
            (
                "an address owner does not wait",
                255,
                vec![(
                    0,
                    Event::Startup,
                    vec![send(255), Action::TakeVips, transition(Initialize, Master)],
                    Master,
                )],
            ),
        ];
        for (name, priority, steps) in cases {
            let mut m = Machine::new(member(priority));
            run(&mut m, t0, name, &steps);
        }
        // Wanting master re-arms the down timer and is what the group reads.
        let mut m = backup(member(100), t0);
        m.handle(Event::Timer, t0 + ms(down));
        assert!(m.wants_master());
        assert_eq!(m.deadline(), Some(t0 + ms(down) + m.master_down_interval()));
        assert!(!m.own_fault());
        m.handle(Event::Fault(true), t0 + ms(down + 1));
        assert!(m.own_fault() && !m.wants_master());
    }

    #[test]
    fn set_priority() {
        let t0 = Instant::now();
        // Master: advertises the new priority at once and stays master.
        for new in [50, 150] {
            let (mut m, since) = master(params(VrrpVersion::V2, 100, LB1), t0);
            let now = since + ms(400);
            assert_eq!(m.handle(Event::SetPriority(new), now), [send(new)]);
            assert_eq!((m.state(), m.priority()), (VrrpState::Master, new));
            assert_eq!(m.deadline(), Some(now + SEC));
            assert_eq!(m.handle(Event::SetPriority(new), now), [], "no change");
            assert_eq!(m.handle(Event::Timer, now + SEC), [send(new)]);
        }
        // Backup: nothing sent; the down timer moves by the change in skew
        // (156/256 s at 100, 56/256 s at 200).
        let mut m = backup(params(VrrpVersion::V2, 100, LB1), t0);
        assert_eq!(m.handle(Event::SetPriority(200), t0 + SEC), []);
        assert_eq!(
            m.deadline(),
            Some(t0 + ms(3218) + Duration::from_micros(750))
        );
        assert_eq!(m.handle(Event::SetPriority(100), t0 + SEC), []);
        assert_eq!(
            m.deadline(),
            Some(t0 + ms(3609) + Duration::from_micros(375))
        );
        // Clamped to 1..=254; an owner is never tracked.
        for (configured, set, effective) in
            [(100, 0, 1), (100, 255, 254), (255, 100, 255), (255, 0, 255)]
        {
            let mut m = Machine::new(params(VrrpVersion::V2, configured, LB1));
            m.handle(Event::SetPriority(set), t0);
            assert_eq!(m.priority(), effective, "{configured} set to {set}");
        }
        assert_eq!(Machine::new(params(VrrpVersion::V2, 0, LB1)).priority(), 1);
    }

    /// Machines on one segment: adverts reach every other machine at once.
    struct Lan {
        nodes: Vec<Machine>,
        t0: Instant,
        now: Instant,
        /// (time since t0, node, state entered)
        log: Vec<(Duration, usize, VrrpState)>,
    }

    impl Lan {
        fn new(nodes: Vec<Params>) -> Self {
            let t0 = Instant::now();
            let nodes = nodes.into_iter().map(Machine::new).collect();
            Lan {
                nodes,
                t0,
                now: t0,
                log: Vec::new(),
            }
        }

        fn feed(&mut self, node: usize, event: Event) {
            let mut queue = vec![(node, event)];
            while let Some((node, event)) = queue.pop() {
                for action in self.nodes[node].handle(event, self.now) {
                    match action {
                        Action::SendAdvert { priority } => {
                            let p = self.nodes[node].params();
                            let (from, interval) = (p.primary_addr, p.advert_interval);
                            let heard = Event::Advert {
                                from,
                                priority,
                                interval,
                            };
                            let others = (0..self.nodes.len()).filter(|&n| n != node);
                            queue.extend(others.map(|n| (n, heard.clone())));
                        }
                        Action::Transition { to, .. } => {
                            self.log.push((self.now - self.t0, node, to));
                        }
                        _ => {}
                    }
                }
            }
        }

        /// Runs every timer due up to `at` (ms after t0), then sets the clock there.
        fn run_until(&mut self, at: u64) {
            let until = self.t0 + ms(at);
            loop {
                let due = (0..self.nodes.len())
                    .filter_map(|n| self.nodes[n].deadline().map(|d| (d, n)))
                    .min()
                    .filter(|(d, _)| *d <= until);
                let Some((deadline, node)) = due else { break };
                self.now = deadline;
                self.feed(node, Event::Timer);
            }
            self.now = until;
        }

        fn states(&self) -> Vec<VrrpState> {
            self.nodes.iter().map(Machine::state).collect()
        }

        /// When `node` last entered `state`.
        fn entered(&self, node: usize, state: VrrpState) -> Duration {
            let last = self
                .log
                .iter()
                .rev()
                .find(|(_, n, s)| *n == node && *s == state);
            last.expect("never entered").0
        }
    }

    #[test]
    fn two_routers_fail_over_and_preempt_back() {
        use VrrpState::{Backup, Initialize, Master};
        for preempt in [true, false] {
            let mut lb1 = params(VrrpVersion::V2, 101, LB1);
            lb1.preempt = preempt;
            let mut lan = Lan::new(vec![lb1, params(VrrpVersion::V2, 100, LB2)]);
            lan.feed(0, Event::Startup);
            lan.feed(1, Event::Startup);
            lan.run_until(10_000);
            assert_eq!(lan.states(), [Master, Backup], "preempt {preempt}");
            // 3 s + 155/256 s: the higher priority's shorter skew wins the start.
            assert_eq!(
                lan.entered(0, Master),
                ms(3605) + Duration::from_nanos(468_750)
            );

            // lb1 stops: lb2 takes over after its skew, 156/256 s.
            lan.feed(0, Event::Shutdown);
            lan.run_until(20_000);
            assert_eq!(lan.states(), [Initialize, Master], "preempt {preempt}");
            assert_eq!(
                lan.entered(1, Master),
                ms(10_609) + Duration::from_micros(375)
            );

            // lb1 comes back: it preempts when its down timer runs out, unless nopreempt.
            lan.feed(0, Event::Startup);
            lan.run_until(40_000);
            if preempt {
                assert_eq!(lan.states(), [Master, Backup]);
                let at = ms(23_605) + Duration::from_nanos(468_750);
                assert_eq!(lan.entered(0, Master), at);
                assert_eq!(lan.entered(1, Backup), at);
            } else {
                assert_eq!(lan.states(), [Backup, Master]);
            }
        }
    }
}
