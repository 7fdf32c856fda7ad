//! An operator's commands (`regha-agent backend ...`, `vrrp ...`) as the
//! core carries them out. A backend command changes the admin table, which
//! the reconciler reads (`reconcile::state_of`), and keeps it for the next
//! start; `vrrp resign` stops the VRRP instances the way a shutdown does (a
//! master releases its VIPs and advertises priority 0), and they stay out
//! of the election until `vrrp resume` or a restart: what `systemctl stop
//! keepalived` on one host gives keepalived users, without stopping the
//! dataplane, the checks or the stats.

use tracing::{info, warn};

use super::{Core, Effect};
use crate::admin::{
    AdminError,
    protocol::{Request, Response, apply_backend},
};

impl Core {
    pub(super) fn admin(&mut self, request: Request, out: &mut Vec<Effect>) {
        let reply = match request {
            Request::Backend {
                action,
                service,
                backend,
            } => {
                let mut table = self.admin.clone();
                match apply_backend(&mut table, &self.config, action, &service, &backend) {
                    Err(e) => Response::error(e.to_string()),
                    Ok(change) => {
                        if change.changed() {
                            self.admin = table;
                            out.push(Effect::SaveAdmin(self.admin.clone()));
                            info!(service = %change.service, backend = %change.backend, from = %change.from, to = %change.to, "admin state changed");
                        }
                        Response::ok(change.message())
                    }
                }
            }
            Request::VrrpResign { instance } => {
                self.each_vrrp(instance.as_deref(), out, |h| h.resign())
            }
            Request::VrrpResume { instance } => {
                self.each_vrrp(instance.as_deref(), out, |h| h.resume())
            }
            Request::Drain => self.drain(true, out),
            Request::Undrain => self.drain(false, out),
        };
        out.push(Effect::Reply(reply));
    }

    /// `drain` / `undrain`: every announced VIP; kept in the admin table.
    fn drain(&mut self, drained: bool, out: &mut Vec<Effect>) -> Response {
        let mut messages = Vec::new();
        for h in &mut self.holders {
            if let Some((message, effects)) = h.drain(drained) {
                out.extend(effects);
                messages.push(message);
            }
        }
        if messages.is_empty() {
            return Response::error(
                "no VIP is announced over BGP here (`bgp:` is not configured): drain is for BGP mode; for VRRP use `regha-agent vrrp resign`",
            );
        }
        if self.admin.lb_drained != drained {
            self.admin.lb_drained = drained;
            out.push(Effect::SaveAdmin(self.admin.clone()));
            warn!(drained, "LB drain changed by an operator");
        }
        Response::ok(messages.join("; "))
    }

    /// The holders a VRRP command is for: every one, or the instance named
    /// and the other members of its sync group.
    fn vrrp_targets(&self, instance: Option<&str>) -> Result<Vec<usize>, AdminError> {
        let Some(name) = instance else {
            return Ok((0..self.holders.len()).collect());
        };
        let Some(named) = self.holders.iter().position(|h| h.name() == Some(name)) else {
            let names: Vec<&str> = self.holders.iter().filter_map(|h| h.name()).collect();
            if names.is_empty() {
                return Err(AdminError::NoVrrp);
            }
            return Err(AdminError::UnknownInstance(
                name.to_owned(),
                names.join(", "),
            ));
        };
        let group = self.holders[named].sync_group();
        Ok((0..self.holders.len())
            .filter(|&i| i == named || (group.is_some() && self.holders[i].sync_group() == group))
            .collect())
    }

    /// Runs a VRRP command on the holders it is for that take it.
    fn each_vrrp(
        &mut self,
        instance: Option<&str>,
        out: &mut Vec<Effect>,
        mut command: impl FnMut(
            &mut Box<dyn super::VipHolder>,
        ) -> Option<Result<(String, Vec<Effect>), AdminError>>,
    ) -> Response {
        let targets = match self.vrrp_targets(instance) {
            Ok(t) => t,
            Err(e) => return Response::error(e.to_string()),
        };
        let several = self.holders.iter().filter(|h| h.name().is_some()).count() > 1;
        let mut messages = Vec::new();
        for i in targets {
            let h = &mut self.holders[i];
            match command(h) {
                None => {}
                Some(Ok((message, effects))) => {
                    if !effects.is_empty() {
                        warn!(holder = %h.kind(), instance = h.name(), %message, "VRRP command by an operator");
                    }
                    out.extend(effects);
                    // With several instances, say which said what.
                    let message = match (several, h.name(), h.sync_group()) {
                        (true, Some(n), Some(g)) if Some(n) != instance => {
                            format!("{n} (sync group {g}): {message}")
                        }
                        (true, Some(n), _) => format!("{n}: {message}"),
                        _ => message,
                    };
                    messages.push(message);
                }
                Some(Err(e)) => return Response::error(e.to_string()),
            }
        }
        if messages.is_empty() {
            return Response::error(AdminError::NoVrrp.to_string());
        }
        Response::ok(messages.join("; "))
    }
}
