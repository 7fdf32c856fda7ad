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
    /// run. Reads the file system.
    pub fn script_warnings(&self) -> Vec<ConfigError> {
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
        let Some(vrrp) = &self.vrrp else {
            return Vec::new().into_iter();
        };
        let notify = &vrrp.notify;
        let notify = [
            ("master", &notify.master),
            ("backup", &notify.backup),
            ("fault", &notify.fault),
            ("stop", &notify.stop),
        ]
        .into_iter()
        .filter_map(|(state, p)| Some((format!("vrrp.notify.{state}"), p.as_ref()?)));
        let tracked = vrrp
            .track_scripts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("vrrp.track_scripts[{i}].script"), &t.program));
        notify
            .chain(tracked)
            .map(|(field, path)| (field, path.as_path()))
            .collect::<Vec<_>>()
            .into_iter()
    }
}
