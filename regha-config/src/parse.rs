//! YAML text to a validated [`Config`]: serde_yaml reads the text into the
//! `raw` mirror, `validate` does the rest. serde_yaml's own errors (syntax,
//! a type where another belongs, an unknown key) stop at the first one and
//! become a [`ConfigError`] with serde's field path and the position.

use crate::error::{ConfigError, ConfigErrors};
use crate::types::Config;
use crate::{nesting, raw, validate};

impl Config {
    /// Parses and validates a YAML document. One nested deeper than any
    /// config could be is refused first, in time linear in its length
    /// (see `nesting` for why serde_yaml alone would take far longer).
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigErrors> {
        nesting::check(text)?;
        let raw: raw::Config = serde_yaml::from_str(text).map_err(|e| yaml_error(&e))?;
        validate::validate(raw)
    }
}

/// One serde_yaml error as a [`ConfigError`]: serde_yaml's path (`services[0]
/// .health`, empty at the top level) and `line L column C: <serde's message>`.
fn yaml_error(err: &serde_yaml::Error) -> ConfigError {
    let text = err.to_string();
    let location = err.location().map(|l| (l.line(), l.column()));
    // Display is "[path: ]message[ at line L column C]"; libyaml syntax errors
    // name their own positions and no path.
    let mut message = text.as_str();
    let mut position = None;
    if let Some((line, column)) = location {
        let suffix = format!(" at line {line} column {column}");
        message = message.strip_suffix(suffix.as_str()).unwrap_or(message);
        if !message.contains(" at line ") {
            position = Some(format!("line {line} column {column}"));
        }
    }
    let (path, message) = match message.split_once(": ") {
        Some((head, rest)) if is_yaml_path(head) => (head, rest),
        _ => ("", message),
    };
    match position {
        Some(position) => ConfigError::new(path, format!("{position}: {message}")),
        None => ConfigError::new(path, message),
    }
}

/// Whether `head` looks like a serde_yaml path (`stats`, `services[0].port`)
/// rather than the start of a message (`invalid type`).
fn is_yaml_path(head: &str) -> bool {
    !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]-?".contains(c))
}
