//! Why nothing could be imported: each error names the file (and line) and
//! what to do.

use std::path::PathBuf;

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
        "{file}: no `vrrp_instance` and no `virtual_server` block: leave --keepalived out for a static role, or point it at the file with the instances"
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
