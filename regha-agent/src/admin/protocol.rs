//! The admin socket's protocol: one JSON request per line, one JSON answer
//! per line, then the connection closes. For example:
//!
//! ```text
//! > {"command":"backend","action":"drain","service":"registry","backend":"192.0.2.11"}
//! < {"ok":true,"message":"registry 192.0.2.11:5000: drain (was enabled)"}
//! > {"command":"vrrp_resign"}
//! < {"ok":true,"message":"resigned: ..."}
//! > {"command":"vrrp_resign","instance":"registry-v6"}
//! < {"ok":true,"message":"registry-v6: resigned ...; registry-v4 (sync group registry): resigned ..."}
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use regha_model::AdminState;

use super::{AdminError, AdminTable, resolve_backend};
use regha_config::Config;

/// A longer line is refused: no command needs more.
pub const MAX_REQUEST: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendAction {
    Drain,
    Disable,
    Enable,
}

impl BackendAction {
    pub fn state(self) -> AdminState {
        match self {
            Self::Drain => AdminState::Drain,
            Self::Disable => AdminState::Disabled,
            Self::Enable => AdminState::Enabled,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Backend {
        action: BackendAction,
        service: String,
        /// `IP` or `IP:port` (`[v6]:port`).
        backend: String,
    },
    /// `vrrp resign [NAME]`: every instance, or the one named and the
    /// other members of its sync group (they fail over together).
    VrrpResign {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// `vrrp resume [NAME]`, likewise.
    VrrpResume {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// `drain`: withdraw every VIP `bgp:` announces, and keep them
    /// withdrawn (across restarts) until `undrain`.
    Drain,
    /// `undrain`: announce them again once ready.
    Undrain,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    pub message: String,
}

impl Response {
    pub fn ok(message: impl Into<String>) -> Self {
        Self {
            ok: true,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: message.into(),
        }
    }
}

/// Parses one request line.
pub fn parse_request(line: &str) -> Result<Request, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    serde_json::from_str(line.trim()).map_err(|e| format!("not a regha admin request: {e}"))
}

/// What a backend command changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendChange {
    pub service: String,
    pub backend: SocketAddr,
    pub from: AdminState,
    pub to: AdminState,
}

impl BackendChange {
    pub fn changed(&self) -> bool {
        self.from != self.to
    }

    pub fn message(&self) -> String {
        if self.changed() {
            format!(
                "{} {}: {} (was {})",
                self.service,
                self.backend,
                self.to.as_str(),
                self.from.as_str()
            )
        } else {
            format!(
                "{} {}: already {}",
                self.service,
                self.backend,
                self.to.as_str()
            )
        }
    }
}

/// Applies a backend command to `table` if the config has that backend;
/// on error nothing changes.
pub fn apply_backend(
    table: &mut AdminTable,
    config: &Config,
    action: BackendAction,
    service: &str,
    backend: &str,
) -> Result<BackendChange, AdminError> {
    let addr = resolve_backend(config, service, backend)?;
    let from = table.get(service, addr);
    table.set(service, addr, action.state());
    Ok(BackendChange {
        service: service.to_owned(),
        backend: addr,
        from,
        to: action.state(),
    })
}
