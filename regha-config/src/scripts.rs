//! The scripts a config names (`vrrp.notify.*`, `vrrp.track_scripts[].script`)
//! against the file system: refused when someone other than root could
//! change them, warned about when they do not exist yet. The rule itself is
//! [`crate::script_security`]; this is the part that knows the config.

use std::path::Path;

use crate::error::ConfigError;
use crate::script_security;
use crate::types::Config;

impl Config {
    /// Every notify and tracked script that only root should be able to
    /// change but someone else could (see [`script_security`]). It reads the
    /// file system, so [`Config::load`] runs it, not [`Config::from_yaml_str`].
    pub fn script_errors(&self) -> Vec<ConfigError> {
        self.scripts()
            .filter_map(|(field, path)| {
                script_security::check(path)
                    .err()
                    .map(|e| ConfigError::new(field, format!("refused: {e}")))
            })
            .collect()
    }

    /// Every notify and tracked script that does not exist (yet), below
    /// directories only root can write: a warning, since it will fail when
    /// run. Reads the file system. Also the warnings about the other files
    /// a config names, which the agent and `check-config` print with these:
    /// a flow sync key others can read ([`Config::flow_sync_key_warnings`]).
    pub fn script_warnings(&self) -> Vec<ConfigError> {
        let mut out = self.missing_scripts();
        out.extend(self.flow_sync_key_warnings());
        out
    }

    fn missing_scripts(&self) -> Vec<ConfigError> {
        self.scripts()
            .filter_map(|(field, path)| match script_security::check(path) {
                Ok(script_security::Found::Missing { missing }) => Some(ConfigError::new(
                    field,
                    format!(
                        "{}: {} does not exist: every run will fail until it is installed",
                        path.display(),
                        missing.display()
                    ),
                )),
                _ => None,
            })
            .collect()
    }

    /// The scripts of the config, each with its field path.
    fn scripts(&self) -> impl Iterator<Item = (String, &Path)> {
        let mut out = Vec::new();
        for (i, vrrp) in self.vrrp.iter().enumerate() {
            let at = self.vrrp_path(i);
            let notify = &vrrp.notify;
            for (state, p) in [
                ("master", &notify.master),
                ("backup", &notify.backup),
                ("fault", &notify.fault),
                ("stop", &notify.stop),
            ] {
                if let Some(p) = p {
                    out.push((format!("{at}.notify.{state}"), p.as_path()));
                }
            }
            for (j, t) in vrrp.track_scripts.iter().enumerate() {
                out.push((
                    format!("{at}.track_scripts[{j}].script"),
                    t.program.as_path(),
                ));
            }
        }
        out.into_iter()
    }
}
