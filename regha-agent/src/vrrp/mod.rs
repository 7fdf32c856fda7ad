//! VRRP (RFC 3768 v2, RFC 5798 v3) as keepalived speaks it, so regha and
//! keepalived can share a VRID while a cluster migrates:
//! - `packet.rs`: the codec (pure), with every receive check;
//! - `state.rs`: the state machine (pure: events in, actions out);
//! - `network.rs`: the raw socket;
//! - `track.rs`: tracking (pure: weights, rise/fall counters, FAULT);
//! - `trackers.rs`: the tracked scripts and link events that feed it;
//! - `instance/`: the task that ties them together and owns the VIPs, over
//!   an I/O trait (`instance/io.rs`) so tests replay it against recorded
//!   keepalived adverts.

mod instance;
pub mod network;
pub mod packet;
pub mod state;
pub mod track;
mod trackers;

pub use instance::{InstanceHandle, NetIo, Tracked, VrrpIo, VrrpStatus, source_address, start};
pub use track::{Condition, effective_priority};
