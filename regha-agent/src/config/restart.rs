//! Settings a running agent cannot change (a reload names them instead).

use super::{Config, ConfigError};

/// The settings that differ between `old` (running) and `new` (the file)
/// and take effect only when the agent restarts: `interface`, `xdp_mode`,
/// `flow_table_size`.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut check = |field: &str, running: String, file: String| {
        if running != file {
            out.push(ConfigError::new(
                field,
                format!("changes only when the agent restarts (running: {running}, file: {file})"),
            ));
        }
    };
    let iface = |c: &Config| c.interface.clone().unwrap_or_else(|| "-".to_owned());
    check("interface", iface(old), iface(new));
    check(
        "xdp_mode",
        old.xdp_mode.to_string(),
        new.xdp_mode.to_string(),
    );
    check(
        "flow_table_size",
        old.flow_table_size.to_string(),
        new.flow_table_size.to_string(),
    );
    out
}
