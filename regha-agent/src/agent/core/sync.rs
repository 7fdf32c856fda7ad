//! VRRP instances in one sync group fail over together, as keepalived's
//! `vrrp_sync_group` makes them (`vrrp_sync.c`): after every report of a
//! member, its group is looked at as a whole.
//!
//! - FAULT: while any member is in Fault for its own reasons (its link, a
//!   tracker at weight 0), every member is held in Fault; when none is any
//!   more, all leave it together (`vrrp_sync_fault`, and the group leaving
//!   FAULT only when every member is up).
//! - BACKUP: a member that leaves master for a higher priority takes the
//!   others out of master with it (`vrrp_sync_backup`).
//! - MASTER: a member never takes over alone: its down timer running out
//!   makes it *want* master (`vrrp/state.rs`), and the group takes over
//!   once every member wants it or already is master
//!   (`vrrp_sync_can_goto_master`: "prefer backup state to avoid
//!   thrashing"). A host whose master died takes over when the last of
//!   its members' timers runs out, within one Master_Down_Interval.
//!
//! A member out of the election (resigned, stopped) is left out of its
//! group's decisions. Each decision is an [`Effect::SyncVrrp`] to the
//! member it moves; holders drop the ones that change nothing.

use tracing::info;

use super::{Core, Effect, GroupView};
use crate::vrrp::state::SyncCommand;
use regha_model::VrrpState;

impl Core {
    /// Looks at the sync group of holder `changed`, which reported and was
    /// `before` until then.
    pub(super) fn sync_group_of(
        &mut self,
        changed: usize,
        before: Option<GroupView>,
        out: &mut Vec<Effect>,
    ) {
        let Some(group) = self.holders[changed].sync_group().map(str::to_owned) else {
            return;
        };
        let members: Vec<(usize, GroupView)> = (self.holders.iter().enumerate())
            .filter(|(_, h)| h.sync_group() == Some(group.as_str()))
            .filter_map(|(i, h)| Some((i, h.group_view()?)))
            .collect();
        let faulted = members.iter().any(|(_, v)| v.own_fault);
        let mut decided: Vec<(usize, SyncCommand)> = members
            .iter()
            .map(|&(i, _)| (i, SyncCommand::Fault(faulted)))
            .collect();
        if !faulted {
            let now = members.iter().find(|(i, _)| *i == changed).map(|(_, v)| *v);
            let left_master = before.is_some_and(|b| b.state == VrrpState::Master)
                && now.is_some_and(|n| n.state == VrrpState::Backup);
            let all_want = members.iter().all(|(_, v)| {
                v.state == VrrpState::Master || (v.state == VrrpState::Backup && v.wants_master)
            });
            if left_master {
                decided.extend(
                    (members.iter())
                        .filter(|(i, v)| *i != changed && v.state == VrrpState::Master)
                        .map(|&(i, _)| (i, SyncCommand::Backup)),
                );
            } else if all_want {
                decided.extend(
                    (members.iter())
                        .filter(|(_, v)| v.state == VrrpState::Backup)
                        .map(|&(i, _)| (i, SyncCommand::Master)),
                );
            }
        }
        for (i, command) in decided {
            let effects = self.holders[i].sync(command);
            if !effects.is_empty() {
                info!(sync_group = %group, holder = %self.holders[i].kind(), ?command, "sync group decision");
            }
            out.extend(effects);
        }
    }
}
