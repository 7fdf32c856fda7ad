//! A reload (SIGHUP) applies every section it can, as keepalived's and
//! HAProxy's reloads do: services and backends as a difference (removed
//! backends drain), health checks, the hash seed, admin states of backends
//! that left, each VIP holder in place where it can be (a VRRP instance
//! keeps its state: a master stays master through a priority, timer,
//! tracking or VIP change), and the stats listener. What the running agent
//! cannot change is named in the log and keeps its running value:
//! `interface`, `xdp_mode`, `flow_table_size` (the dataplane was attached
//! and sized with them), and a stats listener on a port below 1024 once the
//! agent has dropped the capability to bind one.

use tracing::{info, warn};

use super::{Core, Effect, HolderSpec, holders_for};
use regha_config::{Config, restart_only_changes};

impl Core {
    pub(super) fn reload(&mut self, mut new: Config, out: &mut Vec<Effect>) {
        for change in restart_only_changes(&self.config, &new) {
            warn!(field = %change.path, "not applied by a reload: {}", change.message);
        }
        // Those keep what the running dataplane was built with.
        new.interface.clone_from(&self.config.interface);
        new.xdp_mode = self.config.xdp_mode;
        new.flow_table_size = self.config.flow_table_size;

        if new.hash_seed != self.config.hash_seed {
            warn!(
                old = self.config.hash_seed,
                new = new.hash_seed,
                "hash_seed changed: every ring is rewritten, new flows of most clients move to other backends (every LB needs the same seed)"
            );
            self.reconciler.set_seed(new.hash_seed);
        }
        self.reload_stats(&mut new, out);
        let gone = self.admin.retain_configured(&new);
        for e in &gone {
            warn!(service = %e.service, backend = %e.backend, state = %e.state, "admin state dropped: the backend left the config");
        }
        if !gone.is_empty() {
            out.push(Effect::SaveAdmin(self.admin.clone()));
        }
        let specs = holders_for(&new, self.opts.role_override);
        self.config = new;
        self.sync_inputs(out);
        self.reload_holders(&specs, out);
        out.push(Effect::RecordConfig(Box::new(self.config.clone())));
        info!(
            services = self.config.services.len(),
            "configuration reloaded"
        );
    }

    /// Holders the new config no longer has stop first (their VIPs go),
    /// then the others are reconfigured in place or replaced, then the new
    /// ones start.
    fn reload_holders(&mut self, specs: &[HolderSpec], out: &mut Vec<Effect>) {
        let mut kept = Vec::new();
        for mut h in std::mem::take(&mut self.holders) {
            if specs.iter().any(|s| s.kind() == h.kind()) {
                kept.push(h);
            } else {
                info!(holder = %h.kind(), "VIP holder removed by the reload");
                out.extend(h.stop());
            }
        }
        let mut starts = Vec::new();
        for spec in specs {
            match kept.iter().position(|h| h.kind() == spec.kind()) {
                Some(i) => {
                    let mut h = kept.swap_remove(i);
                    match h.reconfigure(spec) {
                        Some(effects) => {
                            out.extend(effects);
                            self.holders.push(h);
                        }
                        None => {
                            warn!(holder = %h.kind(), "VIP holder changed beyond an in-place reload (VRID, version, family or address owner): restarted");
                            out.extend(h.stop());
                            starts.push(spec.build());
                        }
                    }
                }
                None => starts.push(spec.build()),
            }
        }
        for mut h in starts {
            h.drain(self.admin.lb_drained);
            out.extend(h.start());
            if self.started && self.warm_at.is_none() {
                // The agent's warm-up is long over (or `bgp:` is new to a
                // running agent): a new announced VIP waits only for a
                // settled view.
                out.extend(h.warm());
            }
            self.holders.push(h);
        }
    }

    /// A changed `stats` section restarts the listener, unless it moves to a
    /// port the agent can no longer bind: then the running one stays.
    fn reload_stats(&mut self, new: &mut Config, out: &mut Vec<Effect>) {
        if new.stats == self.config.stats {
            return;
        }
        match &new.stats {
            Some(s)
                if !self.privileged
                    && s.listen.port() < 1024
                    && self.config.stats.as_ref().map(|o| o.listen) != Some(s.listen) =>
            {
                warn!(
                    field = "stats.listen",
                    listen = %s.listen,
                    "not applied by a reload: a port below 1024 needs a restart (the agent dropped CAP_NET_BIND_SERVICE after setup); the listener keeps running as it was"
                );
                new.stats.clone_from(&self.config.stats);
            }
            Some(s) => out.push(Effect::StartStats(s.clone())),
            None => out.push(Effect::StopStats),
        }
    }
}
