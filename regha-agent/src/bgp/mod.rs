//! Active-active over BGP (issue 14), the parts that touch the host: the
//! VIP routes a routing daemon exports (`route.rs`), what FRR says of its
//! sessions (`frr.rs`), and the FRR configuration `regha-agent bgp-setup`
//! prints (`setup.rs`). When a VIP is announced is decided by the core
//! (`agent/core/bgp.rs`).

pub mod frr;
pub mod route;
pub mod setup;

pub use frr::RoutingStatus;
