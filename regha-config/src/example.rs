//! The packaged example's guard. The Debian package installs the commented
//! example as `/etc/regha/regha.example.yaml` with `unedited_example: true`
//! at its top. The line is valid (so `check-config` accepts the file and a
//! person can read what the example means), but the agent refuses to run a
//! file that carries it: a copy of the example starts no traffic until
//! someone has made it this host's and deleted the line.
//!
//! It is a mark on the file, not a setting: the typed [`Config`](crate::Config)
//! does not hold it, and [`Config::to_yaml`](crate::Config::to_yaml) never
//! writes it.

use std::path::Path;

use serde::Deserialize;

use crate::load::{MAX_CONFIG_BYTES, read_bounded};

/// The key that marks the example.
pub const GUARD_KEY: &str = "unedited_example";

/// Only the guard, out of a whole document (other keys are ignored here:
/// the config's own parser is what refuses unknown ones).
#[derive(Deserialize)]
struct Guard {
    #[serde(default)]
    unedited_example: Option<bool>,
}

/// Where `text` sets `unedited_example: true`: the 1-based line of the key
/// (1 when it is not written at the start of a line, as in a flow mapping).
/// `None` when the key is absent or false, or the text is no YAML mapping
/// (the config's parser reports that).
pub fn guard_line(text: &str) -> Option<usize> {
    let guard: Guard = serde_yaml::from_str(text).ok()?;
    if guard.unedited_example != Some(true) {
        return None;
    }
    let line = text
        .lines()
        .position(|l| {
            l.strip_prefix(GUARD_KEY)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or(1, |i| i + 1);
    Some(line)
}

/// [`guard_line`] of the file at `path`, read with the same bounds as the
/// config (`None` when it cannot be read: loading it says why).
pub fn file_guard_line(path: &Path) -> Option<usize> {
    let bytes = read_bounded(path, MAX_CONFIG_BYTES).ok()?;
    guard_line(std::str::from_utf8(&bytes).ok()?)
}

/// What the agent says when it refuses the file at `path`.
pub fn refusal(path: &Path, line: usize) -> String {
    format!(
        "{}:{line}: `{GUARD_KEY}: true`: this is the packaged example, not this host's configuration. \
Make it this host's (interface, addresses, priority, password), delete that line, and check it with \
`regha-agent --config {} check-config`",
        path.display(),
        path.display()
    )
}

/// What `check-config` notes about a file that carries the guard.
pub fn note(line: usize) -> String {
    format!(
        "line {line}: the packaged example's guard: the agent refuses to run this file (exit status 78) until the line is deleted"
    )
}
