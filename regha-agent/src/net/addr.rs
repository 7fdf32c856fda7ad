//! The interface's addresses as netlink lists them, in the kernel's order
//! (for IPv4 the first address of a subnet is its primary, for IPv6 the
//! newest comes first): what the VIP code and the source choice read.

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};

use super::{Interface, NetError, busy, nl, source::IfAddr};

/// Tries of a dump that met another on its socket (EBUSY), 20 ms apart.
const BUSY_TRIES: u32 = 5;

/// The address a message is about. IFA_LOCAL is the interface's own
/// address on point-to-point links, IFA_ADDRESS otherwise: LOCAL wins
/// when present.
pub(super) fn address_of(msg: &AddressMessage) -> Option<IpAddr> {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        })
        .or_else(|| {
            msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
        })
}

/// The 32-bit flags (IFA_FLAGS) when the kernel sends them, else the 8-bit
/// header's.
pub(super) fn flags_of(msg: &AddressMessage) -> AddressFlags {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or_else(|| {
            let h = msg.header.flags;
            let mut f = AddressFlags::empty();
            for (hf, af) in [
                (AddressHeaderFlags::Secondary, AddressFlags::Secondary),
                (AddressHeaderFlags::Deprecated, AddressFlags::Deprecated),
                (AddressHeaderFlags::Tentative, AddressFlags::Tentative),
                (AddressHeaderFlags::Dadfailed, AddressFlags::Dadfailed),
                (AddressHeaderFlags::Nodad, AddressFlags::Nodad),
            ] {
                if h.contains(hf) {
                    f |= af;
                }
            }
            f
        })
}

/// The preferred lifetime (seconds; `u32::MAX` is forever), if the kernel
/// sent IFA_CACHEINFO.
pub(super) fn preferred_lft_of(msg: &AddressMessage) -> Option<u32> {
    msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::CacheInfo(c) => Some(c.ifa_preferred),
        _ => None,
    })
}

impl Interface {
    /// Every address message of the interface, in the kernel's order. A
    /// dump that meets another on the handle's socket (EBUSY: see
    /// [`super::connect`]) is tried again.
    pub(super) async fn address_messages(
        &self,
        handle: &rtnetlink::Handle,
    ) -> Result<Vec<AddressMessage>, NetError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.dump_addresses(handle).await {
                Err(e) if busy(&e) && tries < BUSY_TRIES => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                r => return r.map_err(nl(format!("list addresses of {}", self.name))),
            }
        }
    }

    async fn dump_addresses(
        &self,
        handle: &rtnetlink::Handle,
    ) -> Result<Vec<AddressMessage>, rtnetlink::Error> {
        let mut out = Vec::new();
        let mut addrs = handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        // Read the whole dump: dropping the stream early leaves netlink
        // answers with nowhere to go.
        while let Some(msg) = addrs.try_next().await? {
            out.push(msg);
        }
        Ok(out)
    }

    /// The interface's addresses, both families, for the source choice
    /// (`source.rs`).
    pub async fn addresses(&self, handle: &rtnetlink::Handle) -> Result<Vec<IfAddr>, NetError> {
        Ok(self
            .address_messages(handle)
            .await?
            .iter()
            .filter_map(|msg| {
                let addr = address_of(msg)?;
                let flags = flags_of(msg);
                Some(IfAddr {
                    addr,
                    prefix: msg.header.prefix_len,
                    secondary: flags.contains(AddressFlags::Secondary),
                    deprecated: flags.contains(AddressFlags::Deprecated),
                    tentative: flags.contains(AddressFlags::Tentative)
                        || flags.contains(AddressFlags::Dadfailed),
                    host_scope: msg.header.scope == AddressScope::Host,
                })
            })
            .collect())
    }
}
