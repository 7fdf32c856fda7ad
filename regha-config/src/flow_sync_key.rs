//! `flow_sync.key_file`: the shared key that authenticates flow sync
//! messages (HMAC-SHA256), read when the config is loaded, like the TLS
//! material ([`crate::tls`]): the agent drops the capabilities that would
//! let it read a root-only file once it is set up, and a key file that is
//! missing or too short must refuse the config (at start, at a reload, in
//! `check-config`) rather than leave the LBs unable to sync.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{ConfigError, ConfigErrors};
use crate::load::{ReadError, read_bounded};
use crate::types::{Config, FlowSyncKey, MIN_FLOW_SYNC_KEY_BYTES};

/// The largest key file read: 4 KiB. HMAC-SHA256 hashes a key longer
/// than 64 bytes down to 32 anyway.
pub const MAX_FLOW_SYNC_KEY_BYTES: u64 = 4096;

/// The field path every problem with the key is reported on.
const AT: &str = "flow_sync.key_file";

/// Why the key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "cannot read {path}: {reason}; make the key once and copy the same file to every LB: `head -c 32 /dev/urandom > {path}; chmod 600 {path}`"
    )]
    Read { path: String, reason: ReadError },
    #[error(
        "{path} holds {len} byte(s), fewer than the {MIN_FLOW_SYNC_KEY_BYTES} a key needs: make a longer one and copy it to every LB: `head -c 32 /dev/urandom > {path}; chmod 600 {path}`"
    )]
    TooShort { path: String, len: usize },
}

/// The key in `bytes` (a key file's content): one trailing line break
/// (`\n` or `\r\n`) dropped, so that a key written with `echo` or an
/// editor is the same key on every LB; at least [`MIN_FLOW_SYNC_KEY_BYTES`].
pub fn key_from_bytes(path: &Path, mut bytes: Vec<u8>) -> Result<FlowSyncKey, KeyError> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    if bytes.len() < MIN_FLOW_SYNC_KEY_BYTES {
        return Err(KeyError::TooShort {
            path: path.display().to_string(),
            len: bytes.len(),
        });
    }
    Ok(FlowSyncKey::new(bytes))
}

/// Reads and checks the key file at `path`.
pub fn read_key(path: &Path) -> Result<FlowSyncKey, KeyError> {
    let bytes = read_bounded(path, MAX_FLOW_SYNC_KEY_BYTES).map_err(|reason| KeyError::Read {
        path: path.display().to_string(),
        reason,
    })?;
    key_from_bytes(path, bytes)
}

impl Config {
    /// Reads `flow_sync.key_file` into `flow_sync.key`; nothing to do when
    /// flow sync is off. [`Config::load`] runs it.
    pub fn load_flow_sync_key(&mut self) -> Result<(), ConfigErrors> {
        let Some(f) = &mut self.flow_sync else {
            return Ok(());
        };
        match read_key(&f.key_file) {
            Ok(key) => {
                f.key = Some(key);
                Ok(())
            }
            Err(e) => Err(ConfigError::new(AT, e.to_string()).into()),
        }
    }

    /// A key file that users other than its owner can read or write: a
    /// warning (whoever reads the key can send flows the other LBs accept).
    /// Reads the file system; nothing when the file cannot be stat'ed
    /// (loading the key says why).
    pub fn flow_sync_key_warnings(&self) -> Vec<ConfigError> {
        let Some(f) = &self.flow_sync else {
            return Vec::new();
        };
        let Ok(metadata) = std::fs::metadata(&f.key_file) else {
            return Vec::new();
        };
        let mode = metadata.permissions().mode() & 0o777;
        let can = match (mode & 0o044 != 0, mode & 0o022 != 0) {
            (false, false) => return Vec::new(),
            (true, false) => "read",
            (false, true) => "change",
            (true, true) => "read and change",
        };
        let path = f.key_file.display();
        vec![ConfigError::new(
            AT,
            format!(
                "{path} has mode {mode:04o}: users other than its owner can {can} the key, and whoever holds it can send flows every LB writes into its flow table; `chmod 600 {path}`"
            ),
        )]
    }
}
