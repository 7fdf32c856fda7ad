//! Reading the config file.

use std::path::Path;

use crate::error::{ConfigError, ConfigErrors};
use crate::types::Config;

/// Where the agent reads its configuration unless told otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/regha/regha.yaml";

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                path.display().to_string(),
                format!("cannot read the config file: {e}"),
            )
        })?;
        let config = Self::from_yaml_str(&text)?;
        let unsafe_scripts = config.script_errors();
        if !unsafe_scripts.is_empty() {
            return Err(ConfigErrors(unsafe_scripts));
        }
        Ok(config)
    }
}
