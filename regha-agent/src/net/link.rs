//! The interface the dataplane serves: its index and MAC.

use futures::TryStreamExt;
use netlink_packet_route::link::LinkAttribute;
use rtnetlink::Handle;

use super::{NetError, nl};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
}

impl Interface {
    pub async fn lookup(handle: &Handle, name: &str) -> Result<Self, NetError> {
        let mut links = handle.link().get().match_name(name.to_owned()).execute();
        let link = match links.try_next().await {
            Ok(Some(l)) => {
                // Drain the (single-message) answer so netlink has nowhere
                // left to deliver.
                while let Ok(Some(_)) = links.try_next().await {}
                l
            }
            Ok(None) => return Err(NetError::NoInterface(name.to_owned())),
            // The kernel answers ENODEV for an unknown name.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                return Err(NetError::NoInterface(name.to_owned()));
            }
            Err(e) => return Err(nl(format!("get link {name}"))(e)),
        };
        let mac = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(m) if m.len() == 6 => m.as_slice().try_into().ok(),
                _ => None,
            })
            .ok_or_else(|| NetError::NoMac {
                iface: name.to_owned(),
            })?;
        Ok(Self {
            name: name.to_owned(),
            index: link.header.index,
            mac,
        })
    }
}
