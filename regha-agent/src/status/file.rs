//! The state file, `<state dir>/<iface>.json`: the running agent's
//! [`AgentStatus`], replaced atomically (a new file renamed over the old)
//! after every step of the agent, for `regha-agent status` and people; and
//! beside it the configuration the agent applies, for `check-config`.

use std::path::{Path, PathBuf};

use regha_config::Config;

use super::AgentStatus;

/// Where the agent keeps its state file, admin socket and admin table.
pub const DEFAULT_STATE_DIR: &str = "/run/regha";

pub fn path(dir: &Path, iface: &str) -> PathBuf {
    dir.join(format!("{iface}.json"))
}

/// Writes the file (atomically).
pub fn write(dir: &Path, status: &AgentStatus) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let final_path = path(dir, &status.iface);
    let tmp = final_path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, final_path)
}

/// Removes the state file and the applied configuration.
pub fn remove(dir: &Path, iface: &str) {
    let _ = std::fs::remove_file(path(dir, iface));
    let _ = std::fs::remove_file(applied_path(dir, iface));
}

/// `<dir>/<iface>.applied.yaml`: the configuration the running agent
/// applies (after the command line's overrides and what a reload could not
/// change), for `check-config` to compare a file with.
pub fn applied_path(dir: &Path, iface: &str) -> PathBuf {
    dir.join(format!("{iface}.applied.yaml"))
}

/// Records the applied configuration (atomically).
pub fn write_applied(dir: &Path, iface: &str, config: &Config) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let final_path = applied_path(dir, iface);
    let tmp = final_path.with_extension("yaml.tmp");
    std::fs::write(&tmp, config.to_yaml())?;
    std::fs::rename(tmp, final_path)
}

/// The configuration a running agent applies, if it runs and recorded one.
pub fn read_applied(dir: &Path, iface: &str) -> Option<Config> {
    read(dir, iface)?;
    let text = std::fs::read_to_string(applied_path(dir, iface)).ok()?;
    Config::from_yaml_str(&text).ok()
}

/// The state of a running agent, if its file exists and its process lives.
pub fn read(dir: &Path, iface: &str) -> Option<AgentStatus> {
    let text = std::fs::read_to_string(path(dir, iface)).ok()?;
    let state: AgentStatus = serde_json::from_str(&text).ok()?;
    Path::new(&format!("/proc/{}", state.pid))
        .exists()
        .then_some(state)
}
