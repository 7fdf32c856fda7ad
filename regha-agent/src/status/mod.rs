//! The status document, typed: what the running agent knows (`agent.rs`,
//! written to `<state dir>/<iface>.json` by `file.rs`), joined with what the
//! pinned maps count (`document.rs`) for `regha-agent status [--json]`,
//! `/status`, `/metrics` and the page. States travel as the model's enums
//! (`regha_model`), never as strings; `render.rs` holds the few phrases more
//! than one view prints, so each fact has one renderer.

pub mod agent;
pub mod document;
pub mod file;
pub mod render;

pub use agent::{
    AgentStatus, BackendStatus, BgpVipStatus, HolderKind, ServiceStatus, VipStatus,
    VrrpInstanceStatus,
};
pub use document::{BackendTraffic, ServiceTraffic, StatusDocument};
