//! regha's vocabulary. Each concept the agent, its config, its status
//! document and the importer share is declared here once, as an enum that
//! travels as itself (never as a string compared by hand):
//!
//! - `word.rs`: the one macro behind every enum that is also a word in a
//!   config file, a JSON document or a metric label;
//! - `service.rs`: protocol, hash mode, forwarding, service and backend
//!   identity;
//! - `backend.rs`: what the dataplane does with a backend, what the checks
//!   say, what an operator asked;
//! - `mac.rs`: an Ethernet address as people write it;
//! - `prefix.rs`: an IP network as people write it (a service's `allow`);
//! - `vrrp.rs`: VRRP version, protocol state, address family and virtual
//!   router (family + VRID), and the role a host plays;
//! - `xdp.rs`: how the program is attached.
//!
//! Pure data: no I/O, no async, only `serde` and the dataplane's constants.

#[macro_use]
mod word;
pub mod backend;
pub mod mac;
pub mod prefix;
pub mod service;
pub mod vrrp;
pub mod xdp;

pub use backend::{AdminState, BackendState, Health};
pub use mac::Mac;
pub use prefix::{BadPrefix, IpPrefix};
pub use service::{BackendIdentity, Forwarding, HashMode, Protocol, ServiceIdentity};
pub use vrrp::{IpFamily, Role, VirtualRouter, VrrpState, VrrpVersion};
pub use word::{UnknownWord, Word};
pub use xdp::XdpMode;
