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
            Request::VrrpResign => self.each_vrrp(out, |h| h.resign()),
            Request::VrrpResume => self.each_vrrp(out, |h| h.resume()),
        };
        out.push(Effect::Reply(reply));
    }

    /// Runs a VRRP command on every holder that takes it.
    fn each_vrrp(
        &mut self,
        out: &mut Vec<Effect>,
        mut command: impl FnMut(
            &mut Box<dyn super::VipHolder>,
        ) -> Option<Result<(String, Vec<Effect>), AdminError>>,
    ) -> Response {
        let mut messages = Vec::new();
        for h in &mut self.holders {
            match command(h) {
                None => {}
                Some(Ok((message, effects))) => {
                    if !effects.is_empty() {
                        warn!(holder = %h.kind(), %message, "VRRP command by an operator");
                    }
                    out.extend(effects);
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
