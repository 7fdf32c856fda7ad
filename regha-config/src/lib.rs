//! regha's configuration: one YAML file (default [`DEFAULT_CONFIG_PATH`]),
//! checked as a whole before anything touches the system. Its own crate so
//! that whatever reads or writes a config (the agent, the importer, the
//! tests) depends on these types and not on the agent.
//!
//! Two layers. `raw` mirrors the YAML with serde (unknown keys refused
//! everywhere), keeping addresses, enum words and durations as text and
//! integers as `i64`, so that a value that does not parse is not a serde
//! error that stops at the first bad field. `validate` then turns it into
//! the typed [`Config`], applying the defaults and collecting *every*
//! problem, each named by its field path (`services[0].backends[1].address`).
//! Only YAML syntax and type errors (a list where a number belongs, an
//! unknown key) stop early; they carry the line and column.
//!
//! Every default is written on the typed field it applies to, and
//! `regha.example.yaml` beside this crate's manifest spells out a complete
//! file.
//!
//! # Where things are
//!
//! * [`types`]: the typed config, one file per section (`vrrp`, `service`
//!   with health and backends, `stats`, `flow_sync`), and [`error`]: what a refusal says.
//! * [`load`]: the file, read with bounds; `parse`: YAML text to a
//!   [`Config`] (serde errors with their position), after `nesting` has
//!   refused documents nested too deep for the YAML parser to be quick.
//! * `raw`: the serde mirror of the YAML; `yaml`: [`Config::to_yaml`],
//!   writing a typed config back through it.
//! * `validate`: raw to typed, one file per section, the checking framework
//!   in `validate/check.rs` and the rules across sections in
//!   `validate/cross.rs`.
//! * [`tls`]: the HTTPS check's PEM files, read at load, and the rustls
//!   client made from them; [`flow_sync_key`]: `flow_sync.key_file`, read
//!   at load the same way.
//! * `warnings` and `security`: what is valid but probably not meant or
//!   unsafe; `scripts` and [`script_security`]: scripts only root may
//!   change.
//! * [`restart`]: what a reload cannot apply ([`restart_only_changes`]).
//! * [`duration`]: how durations are written; [`primes`]: Maglev's prime
//!   ring sizes.
//! * [`reference`]: every key, its type, default and meaning, written once
//!   and rendered as the README's tables and the regha.yaml(5) man page;
//!   [`example`]: the packaged example's guard (`unedited_example: true`).

pub mod duration;
pub mod error;
pub mod example;
pub mod flow_sync_key;
pub mod load;
pub mod primes;
pub mod reference;
pub mod restart;
pub mod script_security;
pub mod tls;
pub mod types;

mod nesting;
mod parse;
mod raw;
mod scripts;
mod security;
mod validate;
mod warnings;
mod yaml;

#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigErrors};
pub use load::{DEFAULT_CONFIG_PATH, MAX_CONFIG_BYTES};
pub use restart::restart_only_changes;
pub use types::{
    BackendConfig, BgpConfig, Config, DEFAULT_BGP_DRAIN_TIMEOUT, DEFAULT_BGP_ROUTE_PROTOCOL,
    DEFAULT_BGP_WARMUP, DEFAULT_FAST_INTERVAL, DEFAULT_FAST_TIMEOUT, DEFAULT_FLOW_SYNC_GROUP,
    DEFAULT_FLOW_SYNC_MAX_RATE, DEFAULT_FLOW_SYNC_PORT, DEFAULT_STATS_LISTEN, FlowSyncConfig,
    FlowSyncKey, FrrConfig, GarpConfig, HealthConfig, HealthKind, MAX_BACKENDS_PER_SERVICE,
    MIN_FLOW_SYNC_KEY_BYTES, NotifyScripts, PasswordSource, Secret, ServiceConfig, StatsAuth,
    StatsConfig, SuspectConfig, TlsCheck, TrackBackends, TrackInterface, TrackScript, VrrpConfig,
    default_instance_name,
};
