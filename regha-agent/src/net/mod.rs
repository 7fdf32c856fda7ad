//! The agent's view of the host's network, over rtnetlink: the interface,
//! its addresses (`addr.rs`) and the VIPs among them (`vip.rs`), the source
//! address of the agent's own traffic (`source.rs`: never a VIP), and the
//! neighbour table (backend MACs); plus the gratuitous ARP a new master
//! sends (`garp.rs` builds the frames, `announce.rs` sends them).

mod addr;
pub mod announce;
pub mod garp;
mod link;
mod neighbour;
pub mod source;
mod vip;

pub use link::Interface;
pub use neighbour::{neighbour_macs, provoke_resolution};
pub use source::{IfAddr, SourceView, Sources};
pub use vip::Vip;

/// A MAC as people write it.
pub fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

use rtnetlink::Handle;

/// Errors talking to the kernel's network configuration.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("interface {0} does not exist (check --iface / `interface:`)")]
    NoInterface(String),
    #[error("interface {iface} has no MAC address (not an Ethernet device?)")]
    NoMac { iface: String },
    #[error("netlink {what}: {source}")]
    Netlink {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("raw socket on {iface}: {source}")]
    Raw {
        iface: String,
        #[source]
        source: std::io::Error,
    },
}

/// A netlink connection, its task spawned on the current tokio runtime.
///
/// Each task that talks to the kernel on its own (each VRRP instance, the
/// address and MAC watchers, the agent's loop) gets its own connection:
/// rtnetlink sends every request of a handle on one socket, and the kernel
/// runs one dump per socket at a time (`netlink_dump_start` answers EBUSY
/// to a second), so two tasks dumping addresses at once on a shared
/// handle made one of them fail, and a new master come up without its VIPs.
pub fn connect() -> Result<Handle, NetError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(NetError::Socket)?;
    tokio::spawn(conn);
    Ok(handle)
}

/// Whether a netlink request failed because a dump was running on its
/// socket (EBUSY): worth another try.
pub(crate) fn busy(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EBUSY)
}

pub(crate) fn nl(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let what = what.into();
    move |source| NetError::Netlink { what, source }
}
