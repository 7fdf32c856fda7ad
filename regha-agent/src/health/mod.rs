//! Backend health checks: decide which backends may receive traffic.
//!
//! This replaces HAProxy's `option httpchk GET /v2/` + `check inter 5000
//! fall 3` in front of the registries. Each backend gets its own tokio task
//! ([`spawn_checker`]) that runs the configured check (`regha_config::HealthKind`)
//! every `interval`, each probe
//! bounded by `timeout`:
//!
//! - HTTP: `GET {path}` with a `Host` header (the configured one, or the
//!   backend's `ip:port`); healthy iff the status is in the expected list
//!   (a registry answers 200, or 401 with auth on) and, optionally, the
//!   response carries a given header (`Docker-Distribution-API-Version`).
//!   With `tls` (HAProxy's `check-ssl`) the same request goes over TLS,
//!   the certificate verified against `ca_file` or the system roots and the
//!   backend's address or `server_name`; a failed handshake is the
//!   failure reason `tls`.
//! - TCP: healthy iff the connect completes.
//!
//! # State rules
//!
//! Results feed a [`RiseFall`] counter with HAProxy's semantics: an `Up`
//! backend goes `Down` after `fall` *consecutive* failed checks, a `Down`
//! backend comes `Up` after `rise` *consecutive* successful checks, and a
//! result agreeing with the current state resets the contrary streak.
//!
//! HAProxy starts servers "assumed up", which would send traffic to a dead
//! backend for up to `fall * inter` after a restart; starting them down
//! would instead hold every healthy backend back for `rise * inter`. regha
//! does neither: a backend starts [`Health::Unknown`] (no traffic), and the
//! **first check result decides at once** (success -> `Up`, failure ->
//! `Down`). Rise/fall counting applies from then on.
//!
//! # Publishing
//!
//! Each checker publishes a [`HealthReport`] on a `tokio::sync::watch`
//! channel after every check (last result, latency, counters), but the
//! report's `state` changes only on a rise/fall transition, and each
//! transition is logged once (`warn!` to Down, `info!` to Up).

mod check;
mod counter;
pub mod suspicion;
mod task;
#[cfg(test)]
mod tls_tests;

pub use check::{CheckOutcome, FailReason, run_probe};
pub use counter::RiseFall;
pub use task::{CheckSpec, HealthReport, spawn_checker};
