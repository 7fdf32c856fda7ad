//! regha-import (`regha-agent import`): a regha config from the keepalived.conf and
//! haproxy.cfg of the HAProxy + keepalived pair it replaces.
//!
//! ```text
//!  keepalived.conf --keepalived.rs--> Stmt tree --> Keepalived --vrrp.rs----.
//!                                                                          +--> Draft --emit.rs--> YAML
//!  haproxy.cfg -----haproxy.rs------> Sections --> Proxies ---services.rs--'
//! ```
//!
//! Everything here is pure: text in, YAML text and warnings out, no panics
//! on any input. [`read_inputs`] is the only function that touches the file
//! system. What cannot be mapped becomes a [`Warning`] naming the file and
//! line, why, and what to do instead; harmless lines are grouped into one
//! note rather than warned about one by one.

mod emit;
mod haproxy;
mod keepalived;
mod rstatus;
mod services;
mod vrrp;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What [`import`] produced: the YAML (commented for a reader) and what it
/// could not map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub yaml: String,
    /// Sorted by file, then line.
    pub warnings: Vec<Warning>,
}

/// How much a [`Warning`] matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Mapped, but differently: read it once.
    Note,
    /// Not mapped, or mapped to something that behaves differently.
    Warning,
}

/// One thing the import could not map, or mapped with a difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The input's name as given to [`import`].
    pub file: String,
    /// 1-based; 0 when about the file as a whole.
    pub line: usize,
    pub severity: Severity,
    /// What was not mapped and why.
    pub message: String,
    /// What to do instead, if there is something to do.
    pub hint: Option<String>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {level}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}: {level}: {}", self.file, self.line, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why nothing could be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing to import: give --keepalived FILE, --haproxy FILE, or both")]
    NoInput,
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error(
        "{file}: no `vrrp_instance` block: leave --keepalived out for a static role, or point it at the file with the instance"
    )]
    NoInstance { file: String },
    #[error("{file}: no `vrrp_instance {name}`; the file has: {available}")]
    InstanceNotFound {
        file: String,
        name: String,
        available: String,
    },
    #[error("{file}:{line}: {message}")]
    Instance {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    NoServices(String),
    #[error("{file}:{line}: {message}")]
    NoVip {
        file: String,
        line: usize,
        message: String,
    },
}

/// Choices the command line can make for the import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--interface`: wins over keepalived's `interface`.
    pub interface: Option<String>,
    /// `--instance`: the `vrrp_instance` to import when there are several.
    pub instance: Option<String>,
    /// `--vip`: the service address when there is no keepalived config and
    /// HAProxy binds every address.
    pub vip: Option<IpAddr>,
}

/// Imports with the default options. `keepalived` and `haproxy` are
/// `(name, text)`: the name is what warnings and comments cite.
pub fn import(
    keepalived: Option<(&str, &str)>,
    haproxy: Option<(&str, &str)>,
) -> Result<Imported, ImportError> {
    import_with(keepalived, haproxy, &ImportOptions::default())
}

/// Imports with explicit [`ImportOptions`].
pub fn import_with(
    keepalived: Option<(&str, &str)>,
    haproxy: Option<(&str, &str)>,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    if keepalived.is_none() && haproxy.is_none() {
        return Err(ImportError::NoInput);
    }
    let mut warnings = Vec::new();

    let proxies = haproxy.map(|(name, text)| (name, haproxy::read(name, text, &mut warnings)));
    let vrrp = match keepalived {
        Some((name, text)) => {
            let conf = keepalived::read(name, text, &mut warnings)?;
            let bound: Vec<IpAddr> = proxies
                .as_ref()
                .map(|(_, p)| p.bound_addresses())
                .unwrap_or_default();
            Some(vrrp::draft(name, &conf, &bound, options, &mut warnings)?)
        }
        None => None,
    };
    let vips: Vec<IpAddr> = vrrp
        .as_ref()
        .map(|v| v.virtual_ipaddresses.iter().map(|a| a.value.0).collect())
        .unwrap_or_default();

    let (services, stats) = match &proxies {
        Some((name, p)) => services::draft(name, p, &vips, options.vip, &mut warnings)?,
        None => {
            let file = keepalived.map(|(n, _)| n).unwrap_or_default();
            return Err(ImportError::NoServices(format!(
                "{file}: keepalived's VRRP instance alone has nothing to balance: \
                 give --haproxy haproxy.cfg as well, for the services and their backends"
            )));
        }
    };

    let mut sources = Vec::new();
    if let (Some((name, _)), Some(v)) = (keepalived, &vrrp) {
        sources.push(format!("keepalived: {name} (vrrp_instance {})", v.instance));
    }
    if let Some((name, _)) = haproxy {
        sources.push(format!("haproxy:    {name}"));
    }
    let interface = match (&options.interface, &vrrp) {
        (Some(i), _) => Some(emit::Noted::new(
            i.clone(),
            "--interface on the command line",
        )),
        (None, Some(v)) => v.interface.clone(),
        (None, None) => None,
    };
    let role = if vrrp.is_none() {
        let file = haproxy.map(|(n, _)| n).unwrap_or_default();
        warnings.push(Warning {
            file: file.to_owned(),
            line: 0,
            severity: Severity::Warning,
            message: "no keepalived config: the output uses the static `role: master`, \
                      which holds the VIP unconditionally"
                .to_owned(),
            hint: Some(
                "write `role: backup` on the other LB host, or import with --keepalived \
                 for VRRP failover"
                    .to_owned(),
            ),
        });
        Some("master")
    } else {
        None
    };
    let draft = emit::Draft {
        sources,
        interface,
        role,
        vrrp,
        services,
        stats,
    };
    // A backend shared by several services is read once per service: the
    // same warning twice says nothing new.
    warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let mut seen: Vec<(String, usize, String)> = Vec::new();
    warnings.retain(|w| {
        let key = (w.file.clone(), w.line, w.message.clone());
        let new = !seen.contains(&key);
        if new {
            seen.push(key);
        }
        new
    });
    Ok(Imported {
        yaml: emit::yaml(&draft),
        warnings,
    })
}

/// Reads the two files (the only I/O of the import), as text: invalid UTF-8
/// is replaced rather than refused, since only comments are ever non-ASCII.
pub fn read_inputs(
    keepalived: Option<&Path>,
    haproxy: Option<&Path>,
) -> Result<(Option<String>, Option<String>), ImportError> {
    let read = |path: Option<&Path>| -> Result<Option<String>, ImportError> {
        path.map(|p| {
            regha_config::load::read_bounded(p, regha_config::MAX_CONFIG_BYTES)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .map_err(|e| ImportError::Read {
                    path: p.to_owned(),
                    source: e.into(),
                })
        })
        .transpose()
    };
    Ok((read(keepalived)?, read(haproxy)?))
}

/// Where warnings go while one file is read.
pub(crate) struct Diag<'a> {
    file: &'a str,
    out: &'a mut Vec<Warning>,
}

impl<'a> Diag<'a> {
    fn new(file: &'a str, out: &'a mut Vec<Warning>) -> Self {
        Self { file, out }
    }

    fn push(&mut self, line: usize, severity: Severity, message: String, hint: Option<&str>) {
        self.out.push(Warning {
            file: self.file.to_owned(),
            line,
            severity,
            message,
            hint: hint.map(str::to_owned),
        });
    }

    fn warn(&mut self, line: usize, message: impl Into<String>, hint: Option<&str>) {
        self.push(line, Severity::Warning, message.into(), hint);
    }

    fn note(&mut self, line: usize, message: impl Into<String>, hint: Option<&str>) {
        self.push(line, Severity::Note, message.into(), hint);
    }

    /// `file:line` for comments in the YAML, with the file's last path
    /// component only: the header names the full paths.
    fn at(&self, line: usize) -> String {
        let name = self.file.rsplit('/').next().unwrap_or(self.file);
        format!("{name}:{line}")
    }
}

/// `line 3`, `lines 3, 7, 9`: for grouped warnings.
fn lines_list(lines: &[usize]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    lines.dedup();
    let list: Vec<String> = lines.iter().map(usize::to_string).collect();
    match list.len() {
        1 => format!("line {}", list[0]),
        _ => format!("lines {}", list.join(", ")),
    }
}

/// A name regha accepts (`[A-Za-z0-9_.-]{1,63}`) from any text: other
/// characters become `-`, and an empty result becomes `fallback`.
fn sanitize_name(text: &str, fallback: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if name.is_empty() {
        fallback.to_owned()
    } else {
        name
    }
}
