//! regha-agent as a library: the binary is a thin shell around these modules,
//! and the end-to-end tests drive the same code the agent runs.

pub mod admin;
pub mod agent;
pub mod backend_host;
pub mod bgp;
pub mod cli;
pub mod dataplane;
pub mod docs;
pub mod explain;
pub mod flowsync;
pub mod health;
pub mod ids;
pub mod maglev;
pub mod net;
pub mod privileges;
pub mod reconcile;
pub mod stats;
pub mod status;
pub mod vrrp;
