//! Runtime administration: what an operator asks of the running agent, and
//! what it keeps of it.
//!
//! - `regha-agent backend drain|disable|enable <service> <address[:port]>`:
//!   a drained backend keeps its existing flows and takes no new ones until
//!   `enable`; a disabled one loses them all at once (they re-hash onto the
//!   others). The reconciler turns these into dataplane states
//!   (`reconcile::state_of`).
//! - `regha-agent vrrp resign|resume`: leave master now and stay out of the
//!   election until `resume` (or a restart of the agent).
//!
//! The backend table is kept in `<state dir>/<iface>.admin.json`, beside the
//! state file, and read again on start: a restarted agent keeps a drain. The
//! state dir is `/run/regha` (a tmpfs), so it vanishes on reboot together
//! with the pins in `/sys/fs/bpf`. A resign is not kept: a restarted agent
//! joins the election again, as keepalived does after a restart.
//!
//! - `protocol.rs`: the requests and answers on the socket (JSON lines), and
//!   the pure part of carrying them out;
//! - `socket.rs`: the root-only unix socket, server and client.

pub mod protocol;
pub mod socket;

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use regha_config::Config;
use regha_model::AdminState;

/// Errors of the admin commands and of the file that keeps them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    #[error("no service named {0:?} (services: {1})")]
    UnknownService(String, String),
    #[error("service {service:?} has no backend {backend} (backends: {known})")]
    UnknownBackend {
        service: String,
        backend: String,
        known: String,
    },
    #[error("{backend} matches several backends of service {service:?} ({known}): add the port")]
    AmbiguousBackend {
        service: String,
        backend: String,
        known: String,
    },
    #[error(
        "{0:?} is not a backend address: expected IP or IP:port, e.g. 192.0.2.11:5000 or [2001:db8::11]:5000"
    )]
    BadAddress(String),
    #[error("this agent has no VRRP instance (static role): there is nothing to resign")]
    NoVrrp,
    #[error("no VRRP instance named {0:?} (instances: {1})")]
    UnknownInstance(String, String),
    #[error("{0}")]
    File(String),
}

/// One backend's admin state, as the file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminEntry {
    pub service: String,
    pub backend: SocketAddr,
    pub state: AdminState,
}

/// Every backend an operator took out (enabled ones are not listed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTable {
    pub backends: Vec<AdminEntry>,
    /// `regha-agent drain`: every VIP `bgp:` announces is withdrawn until
    /// `undrain`, across restarts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lb_drained: bool,
}

impl AdminTable {
    pub fn get(&self, service: &str, backend: SocketAddr) -> AdminState {
        self.backends
            .iter()
            .find(|e| e.service == service && e.backend == backend)
            .map_or(AdminState::Enabled, |e| e.state)
    }

    /// Sets a backend's state; returns whether anything changed.
    pub fn set(&mut self, service: &str, backend: SocketAddr, state: AdminState) -> bool {
        let before = self.get(service, backend);
        self.backends
            .retain(|e| !(e.service == service && e.backend == backend));
        if state != AdminState::Enabled {
            self.backends.push(AdminEntry {
                service: service.to_owned(),
                backend,
                state,
            });
            self.backends
                .sort_by(|a, b| (&a.service, a.backend).cmp(&(&b.service, b.backend)));
        }
        before != state
    }

    /// Drops the entries of backends the config no longer has; returns them.
    pub fn retain_configured(&mut self, config: &Config) -> Vec<AdminEntry> {
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.backends)
            .into_iter()
            .partition(|e| {
                config.services.iter().any(|s| {
                    s.name == e.service
                        && s.backends
                            .iter()
                            .any(|b| SocketAddr::new(b.address, b.port) == e.backend)
                })
            });
        self.backends = keep;
        gone
    }

    /// Reads the file; a missing file is an empty table.
    pub fn load(path: &Path) -> Result<Self, AdminError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| AdminError::File(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(AdminError::File(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the file atomically (a new file renamed over the old), 0600.
    pub fn save(&self, path: &Path) -> Result<(), AdminError> {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let err = |e: std::io::Error| AdminError::File(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).expect("plain data serializes");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(&text).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

/// `<dir>/<iface>.admin.json`.
pub fn table_path(dir: &Path, iface: &str) -> PathBuf {
    dir.join(format!("{iface}.admin.json"))
}

/// `<dir>/<iface>.sock`.
pub fn socket_path(dir: &Path, iface: &str) -> PathBuf {
    dir.join(format!("{iface}.sock"))
}

/// A backend as an operator names it: an address, with or without the port.
fn parse_backend(text: &str) -> Result<(IpAddr, Option<u16>), AdminError> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .map(|ip| (ip, None))
        .map_err(|_| AdminError::BadAddress(text.to_owned()))
}

/// Finds the configured backend `backend` of service `service`. Without a
/// port, the address must name one backend of the service.
pub fn resolve_backend(
    config: &Config,
    service: &str,
    backend: &str,
) -> Result<SocketAddr, AdminError> {
    let svc = config
        .services
        .iter()
        .find(|s| s.name == service)
        .ok_or_else(|| {
            let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
            AdminError::UnknownService(service.to_owned(), names.join(", "))
        })?;
    let (ip, port) = parse_backend(backend)?;
    let all: Vec<SocketAddr> = svc
        .backends
        .iter()
        .map(|b| SocketAddr::new(b.address, b.port))
        .collect();
    let known = || {
        all.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matching: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|sa| sa.ip() == ip && port.is_none_or(|p| p == sa.port()))
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(AdminError::UnknownBackend {
            service: service.to_owned(),
            backend: backend.to_owned(),
            known: known(),
        }),
        _ => Err(AdminError::AmbiguousBackend {
            service: service.to_owned(),
            backend: backend.to_owned(),
            known: known(),
        }),
    }
}

#[cfg(test)]
mod tests;
