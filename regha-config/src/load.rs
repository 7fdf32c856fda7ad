//! Reading the config file, bounded. An operator's path is not trusted to
//! name a small regular file: `--config /dev/zero` once read until the agent
//! held 7.8 GB. So a path that is not a regular file once symbolic links are
//! followed (a device, a directory, a FIFO) is refused before it is read,
//! a file over [`MAX_CONFIG_BYTES`] is refused by its size, and the read
//! itself stops one byte past the limit, so that a file that grows while it
//! is read (or, like `/proc` files, says it is empty) cannot get past it.
//!
//! [`read_bounded`] is that reader for any text an operator points regha at
//! (the importer reads keepalived.conf and haproxy.cfg through it).

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{ConfigError, ConfigErrors};
use crate::types::Config;

/// Where the agent reads its configuration unless told otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/regha/regha.yaml";

/// The largest config file read: 1 MiB. The largest config the dataplane
/// can hold (256 services, 4096 backends in all, IPv6, every key written
/// out as [`Config::to_yaml`] does) takes about half of it; a file past it
/// is not a regha config.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a file was not read. Displays what is wrong without the path, which
/// the caller names (as [`Config::load`] does in the error's field path).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// stat(2), open(2) or read(2) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The path, symbolic links followed, is not a regular file.
    #[error("it is {kind}, not a regular file: give the path of the file itself")]
    NotAFile {
        /// What it is instead: "a directory", "a character device", ...
        kind: &'static str,
    },
    /// The file holds more than the limit.
    #[error(
        "it is larger than the {limit} bytes read at most{}: is it the right file?",
        size.map(|s| format!(" ({s} bytes)")).unwrap_or_default()
    )]
    TooLarge {
        /// The most that is read.
        limit: u64,
        /// The size stat(2) gave, when that is what showed it; none when
        /// the file turned out longer than it said while it was read.
        size: Option<u64>,
    },
}

impl From<ReadError> for io::Error {
    /// For callers whose errors carry an [`io::Error`] (the importer's):
    /// the kind says which refusal it was, the text is the same.
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::Io(e) => e,
            ReadError::NotAFile { .. } => io::Error::new(io::ErrorKind::InvalidInput, err),
            ReadError::TooLarge { .. } => io::Error::new(io::ErrorKind::FileTooLarge, err),
        }
    }
}

/// The bytes of the regular file at `path` (symbolic links followed), at
/// most `limit` of them: anything else is refused without reading it, and a
/// file longer than `limit` is refused once `limit + 1` bytes were read.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Stat before opening: opening a FIFO waits for a writer, and opening a
    // device can have effects of its own (a tape rewinds, a tty becomes
    // the controlling one).
    check_regular(&std::fs::metadata(path)?, limit)?;
    // Should the path be swapped for a FIFO or a device after the stat,
    // O_NONBLOCK makes open(2) return at once rather than wait for a writer,
    // O_NOCTTY keeps a tty from becoming the agent's, and the stat of what
    // was opened refuses it. Neither flag changes how a regular file reads.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let metadata = file.metadata()?;
    check_regular(&metadata, limit)?;
    let expected = usize::try_from(metadata.len().min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge { limit, size: None });
    }
    Ok(bytes)
}

/// Refuses what is not a regular file, or is one larger than `limit`.
fn check_regular(metadata: &Metadata, limit: u64) -> Result<(), ReadError> {
    let file_type = metadata.file_type();
    if !file_type.is_file() {
        return Err(ReadError::NotAFile {
            kind: kind(file_type),
        });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            limit,
            size: Some(metadata.len()),
        });
    }
    Ok(())
}

/// What a file that is not a regular file is, for the error.
fn kind(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "something other than a file"
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`: at most
    /// [`MAX_CONFIG_BYTES`] of UTF-8 text, with the scripts it names
    /// checked on the file system ([`Config::script_errors`]), the
    /// HTTPS checks' PEM files read ([`Config::load_tls_material`]) and
    /// the flow sync key ([`Config::load_flow_sync_key`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let mut config = Self::read(path)?;
        let unsafe_scripts = config.script_errors();
        if !unsafe_scripts.is_empty() {
            return Err(ConfigErrors(unsafe_scripts));
        }
        // Both read, so that a bad PEM file does not hide a bad key.
        let mut errors = Vec::new();
        for read in [config.load_tls_material(), config.load_flow_sync_key()] {
            if let Err(ConfigErrors(e)) = read {
                errors.extend(e);
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(config)
    }

    /// Reads, parses and validates the file at `path` without touching the
    /// files it names (scripts, PEM files, the flow sync key): for a host that only needs its
    /// shape, such as a backend running `backend-setup` with a copy of the
    /// LBs' config. The agent itself uses [`Config::load`].
    pub fn read(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let unreadable = |why: String| {
            ConfigError::new(
                path.display().to_string(),
                format!("cannot read the config file: {why}"),
            )
        };
        let bytes = read_bounded(path, MAX_CONFIG_BYTES).map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            unreadable(format!(
                "it is not UTF-8 text (byte {at} is not): save it as UTF-8"
            ))
        })?;
        Self::from_yaml_str(&text)
    }
}
