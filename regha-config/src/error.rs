//! What a refusal says: one [`ConfigError`] per problem, named by the field
//! it is about, and [`ConfigErrors`], every problem of one pass.

use std::fmt;

/// One problem with the configuration: the field it is about and what is
/// wrong. Displays as `{path}: {message}` (just the message when the path is
/// empty, i.e. the document as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path as written in YAML, e.g. `services[0].backends[1].address`;
    /// the file's path for a file that cannot be read; `--iface` for the flag.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one pass: field by field in file order, then the
/// rules across fields (never empty when returned as an error). Displays one
/// problem per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(err: ConfigError) -> Self {
        Self(vec![err])
    }
}
