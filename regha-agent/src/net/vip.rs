//! VIPs on the interface: added on master, removed otherwise.

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use tracing::info;

use super::{Interface, NetError, nl};

/// One address with its prefix length, as configured.
pub type Vip = (IpAddr, u8);

fn address_of(msg: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address on point-to-point links;
    // IFA_ADDRESS otherwise. Prefer LOCAL when present.
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

impl Interface {
    /// The addresses on the interface that are VIPs, with their messages.
    async fn vip_messages(
        &self,
        handle: &rtnetlink::Handle,
        vip: IpAddr,
    ) -> Result<Vec<AddressMessage>, NetError> {
        let mut out = Vec::new();
        let mut addrs = handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(nl(format!("list addresses of {}", self.name)))?
        {
            if address_of(&msg) == Some(vip) {
                out.push(msg);
            }
        }
        Ok(out)
    }

    /// The interface's first IPv4 address that is not one of `exclude`
    /// (the VIPs): the source of VRRP adverts, as keepalived picks it.
    pub async fn primary_ipv4(
        &self,
        handle: &rtnetlink::Handle,
        exclude: &[IpAddr],
    ) -> Result<Option<std::net::Ipv4Addr>, NetError> {
        let mut addrs = handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        let mut found = None;
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(nl(format!("list addresses of {}", self.name)))?
        {
            if let Some(IpAddr::V4(a)) = address_of(&msg)
                && found.is_none()
                && !exclude.contains(&IpAddr::V4(a))
            {
                found = Some(a);
            }
        }
        Ok(found)
    }

    pub async fn has_address(
        &self,
        handle: &rtnetlink::Handle,
        vip: IpAddr,
    ) -> Result<bool, NetError> {
        Ok(!self.vip_messages(handle, vip).await?.is_empty())
    }

    /// Adds `vip/prefix` unless it is there. Returns whether it was added.
    pub async fn add_vip(
        &self,
        handle: &rtnetlink::Handle,
        (ip, prefix): Vip,
    ) -> Result<bool, NetError> {
        if self.has_address(handle, ip).await? {
            return Ok(false);
        }
        let mut add = handle.address().add(self.index, ip, prefix);
        if ip.is_ipv6() {
            // No duplicate address detection, as keepalived adds its VIPs:
            // a VIP moves between hosts by design, and one a crashed peer
            // left behind would fail DAD and never become usable here.
            add.message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        add.execute()
            .await
            .map_err(nl(format!("add {ip}/{prefix} to {}", self.name)))?;
        info!(iface = %self.name, vip = %ip, prefix, "VIP added");
        Ok(true)
    }

    /// Removes `vip` (whatever its prefix) if present. Returns whether it was there.
    pub async fn remove_vip(
        &self,
        handle: &rtnetlink::Handle,
        ip: IpAddr,
    ) -> Result<bool, NetError> {
        let msgs = self.vip_messages(handle, ip).await?;
        let found = !msgs.is_empty();
        for msg in msgs {
            handle
                .address()
                .del(msg)
                .execute()
                .await
                .map_err(nl(format!("remove {ip} from {}", self.name)))?;
        }
        if found {
            info!(iface = %self.name, vip = %ip, "VIP removed");
        }
        Ok(found)
    }
}

impl Interface {
    /// Adds every VIP that is not there yet; returns those it added.
    pub async fn add_vips(
        &self,
        handle: &rtnetlink::Handle,
        vips: &[Vip],
    ) -> Result<Vec<IpAddr>, NetError> {
        let mut added = Vec::new();
        for &vip in vips {
            if self.add_vip(handle, vip).await? {
                added.push(vip.0);
            }
        }
        Ok(added)
    }

    /// Removes every VIP that is there.
    pub async fn remove_vips(
        &self,
        handle: &rtnetlink::Handle,
        vips: &[Vip],
    ) -> Result<(), NetError> {
        for &(ip, _) in vips {
            self.remove_vip(handle, ip).await?;
        }
        Ok(())
    }
}
