//! regha-import (`regha-agent import`): a regha config from the
//! keepalived.conf and haproxy.cfg of the HAProxy + keepalived pair it
//! replaces.
//!
//! ```text
//!  keepalived.conf --keepalived/--> Keepalived --map/vrrp.rs (instances, sync groups)--.
//!                                       \-------map/lvs.rs (virtual_servers)-----------+--> Config + Notes
//!  haproxy.cfg -----haproxy/-----> Proxies ----map/services.rs------------------------'        |
//!                                                                                              v
//!                                    YAML <--annotate.rs-- Config::to_yaml() + Notes + header
//! ```
//!
//! The output is a typed [`regha_config::Config`], written by its own
//! `to_yaml`: a schema change breaks this crate's build, not its users.
//! The comments a reader needs (where each value came from, what changed,
//! what was left out) are notes by key path (`notes`), put into the written
//! YAML by `annotate`.
//!
//! Everything here is pure: text in, YAML text and warnings out, no panics
//! on any input. [`read_inputs`] is the only function that touches the file
//! system. What cannot be mapped becomes a [`Warning`] naming the file and
//! line, why, and what to do instead; harmless lines are grouped into one
//! note rather than warned about one by one.
//!
//! Where things are: `lex` holds what the two input languages share;
//! `keepalived/` and `haproxy/` read each into its model (values as
//! written, with their lines); `map/` checks and maps them to the config,
//! section by section (services come from HAProxy's frontends, keepalived's
//! `virtual_server`s, or both); `rstatus` turns `http-check expect rstatus` into
//! status codes.

mod annotate;
mod error;
mod haproxy;
mod iptables;
mod keepalived;
mod lex;
mod map;
mod notes;
mod rstatus;
mod warning;

use std::net::IpAddr;
use std::path::Path;

use regha_config::Config;

pub use error::ImportError;
pub use warning::{Severity, Warning};

/// What [`import`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The config as YAML, commented for a reader.
    pub yaml: String,
    /// The config itself: `yaml` without its comments and layout reads
    /// back as `config.to_yaml()` does.
    pub config: Config,
    /// Sorted by file, then line.
    pub warnings: Vec<Warning>,
}

/// Why nothing was imported, and what the import said about the lines it
/// had read before it stopped: when no service could be imported, the
/// warnings are why.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ImportFailure {
    pub error: ImportError,
    /// Sorted by file, then line.
    pub warnings: Vec<Warning>,
}

/// Choices the command line can make for the import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--interface`: wins over keepalived's `interface`.
    pub interface: Option<String>,
    /// `--instance`: import only this `vrrp_instance` (by default every
    /// one is, as keepalived ran them all).
    pub instance: Option<String>,
    /// `--vip`: the service address when there is no keepalived config and
    /// HAProxy binds every address.
    pub vip: Option<IpAddr>,
    /// `--iptables`: the old firewall rules, `(name, text)` (see `iptables/`).
    pub iptables: Option<(String, String)>,
}

/// Imports with the default options. `keepalived` and `haproxy` are
/// `(name, text)`: the name is what warnings and comments cite.
pub fn import(
    keepalived: Option<(&str, &str)>,
    haproxy: Option<(&str, &str)>,
) -> Result<Imported, ImportFailure> {
    import_with(keepalived, haproxy, &ImportOptions::default())
}

/// Imports with explicit [`ImportOptions`].
pub fn import_with(
    keepalived: Option<(&str, &str)>,
    haproxy: Option<(&str, &str)>,
    options: &ImportOptions,
) -> Result<Imported, ImportFailure> {
    let mut warnings = Vec::new();
    let mapped = match (keepalived, haproxy) {
        (None, None) => Err(ImportError::NoInput),
        _ => map::config(keepalived, haproxy, options, &mut warnings),
    };
    let mut mapped = match mapped {
        Ok(mapped) => mapped,
        Err(error) => {
            warning::finish(&mut warnings);
            return Err(ImportFailure { error, warnings });
        }
    };
    if let Some((name, text)) = &options.iptables {
        iptables::apply(
            name,
            text,
            &mut mapped.config,
            &mut mapped.notes,
            &mut warnings,
        );
        mapped.sources.push(format!("iptables:   {name}"));
    }
    warning::finish(&mut warnings);
    let body = annotate::annotate(&mapped.config.to_yaml(), &mapped.notes);
    debug_assert!(
        body.unplaced.is_empty(),
        "notes on keys the YAML does not have: {:?}",
        body.unplaced
    );
    Ok(Imported {
        yaml: header(&mapped.sources) + "\n" + &body.text,
        config: mapped.config,
        warnings,
    })
}

/// The comment that opens the file: what it was made from, and what the
/// backends need before regha can serve them.
fn header(sources: &[String]) -> String {
    let mut lines =
        vec!["regha-agent configuration, generated by `regha-agent import` from:".to_owned()];
    lines.extend(sources.iter().map(|s| format!("  {s}")));
    lines.extend(
        [
            "Comments name the line each value came from. Read the warnings the import",
            "printed, then check the file with `regha-agent check-config`.",
            "",
            "regha steers packets with XDP and the backends answer clients directly (DSR):",
            "each backend must hold the VIP on `lo` (`ip addr add VIP/32 dev lo`, sysctl",
            "arp_ignore=1, arp_announce=2), share the LB's L2 segment, and let clients in",
            "(rules that admitted only the proxies must now admit the clients, to the VIP).",
        ]
        .map(str::to_owned),
    );
    lines.iter().map(|l| annotate::comment_line(0, l)).collect()
}

/// Reads one more input (`--iptables`) as [`read_inputs`] reads the others.
pub fn read_text(path: &Path) -> Result<String, ImportError> {
    regha_config::load::read_bounded(path, regha_config::MAX_CONFIG_BYTES)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| ImportError::Read {
            path: path.to_owned(),
            source: e.into(),
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
