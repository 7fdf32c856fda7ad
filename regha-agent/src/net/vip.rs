//! VIPs on the interface: added on master, removed otherwise.
//!
//! An IPv6 VIP is added deprecated (`preferred_lft 0`, valid forever) and
//! without duplicate address detection, as keepalived 2.2 adds it (checked:
//! `ip -6 addr` shows `nodad deprecated`). Deprecated, it stays a full
//! local address (it answers, it is announced) but the kernel never picks
//! it as the source of the host's own traffic while a preferred address
//! exists (RFC 6724 rule 3): otherwise a `/128` VIP wins rule 8 against the
//! host's `/64`, and the host's traffic to the backends, which hold the
//! same VIP on `lo`, leaves from the VIP and is answered to the backends
//! themselves. Every add goes through [`Interface::add_vip`], and a VIP
//! found already there (a crash, another keepalived, a hand) but not in
//! that form is replaced in place: keepalived leaves such an address as it
//! is. IPv4 has no such rule (the kernel ignores `preferred_lft` when it
//! picks a source), so the agent's own connections choose their source
//! themselves (`source.rs`).

use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, CacheInfo};
use tracing::info;

use super::{
    Interface, NetError,
    addr::{address_of, flags_of, preferred_lft_of},
    nl,
};

/// One address with its prefix length, as configured.
pub type Vip = (IpAddr, u8);

/// `valid_lft forever` in IFA_CACHEINFO.
const FOREVER: u32 = u32::MAX;

/// The attributes a VIP is added with beyond its address: none for IPv4;
/// for IPv6 no DAD (a VIP moves between hosts by design, and one a crashed
/// peer left behind would fail DAD and never become usable here) and
/// deprecated, valid forever (see the module notes).
fn vip_attributes(ip: IpAddr) -> Vec<AddressAttribute> {
    match ip {
        IpAddr::V4(_) => Vec::new(),
        IpAddr::V6(_) => {
            let mut lifetimes = CacheInfo::default();
            lifetimes.ifa_preferred = 0;
            lifetimes.ifa_valid = FOREVER;
            vec![
                AddressAttribute::Flags(AddressFlags::Nodad),
                AddressAttribute::CacheInfo(lifetimes),
            ]
        }
    }
}

/// Whether an address already on the interface is the VIP as it must be:
/// an IPv6 VIP deprecated and without DAD; any IPv4 one.
fn in_vip_form(msg: &AddressMessage) -> bool {
    match address_of(msg) {
        Some(IpAddr::V6(_)) => {
            let flags = flags_of(msg);
            flags.contains(AddressFlags::Nodad)
                && (flags.contains(AddressFlags::Deprecated) || preferred_lft_of(msg) == Some(0))
        }
        _ => true,
    }
}

impl Interface {
    /// The messages of the addresses on the interface equal to `vip`.
    async fn vip_messages(
        &self,
        handle: &rtnetlink::Handle,
        vip: IpAddr,
    ) -> Result<Vec<AddressMessage>, NetError> {
        let mut all = self.address_messages(handle).await?;
        all.retain(|m| address_of(m) == Some(vip));
        Ok(all)
    }

    /// The interface's first IPv4 address that is not one of `exclude`
    /// (every VIP of every instance): the source of VRRP adverts, as
    /// keepalived picks it (the interface's primary address).
    pub async fn primary_ipv4(
        &self,
        handle: &rtnetlink::Handle,
        exclude: &[IpAddr],
    ) -> Result<Option<std::net::Ipv4Addr>, NetError> {
        Ok(self
            .address_messages(handle)
            .await?
            .iter()
            .find_map(|m| match address_of(m) {
                Some(IpAddr::V4(a)) if !exclude.contains(&IpAddr::V4(a)) => Some(a),
                _ => None,
            }))
    }

    pub async fn has_address(
        &self,
        handle: &rtnetlink::Handle,
        vip: IpAddr,
    ) -> Result<bool, NetError> {
        Ok(!self.vip_messages(handle, vip).await?.is_empty())
    }

    /// Adds `vip/prefix` unless it is there in the form a VIP takes (an
    /// IPv6 one deprecated, without DAD); one there in another form is
    /// replaced in place, so it stops being a source at once. Returns
    /// whether it was added (not merely corrected).
    pub async fn add_vip(
        &self,
        handle: &rtnetlink::Handle,
        (ip, prefix): Vip,
    ) -> Result<bool, NetError> {
        let found = self.vip_messages(handle, ip).await?;
        if !found.is_empty() && found.iter().all(in_vip_form) {
            return Ok(false);
        }
        let mut add = handle.address().add(self.index, ip, prefix);
        add.message_mut().attributes.extend(vip_attributes(ip));
        let replacing = !found.is_empty();
        if replacing {
            // NLM_F_REPLACE: the kernel keeps the address (and every
            // connection on it) and takes the new flags and lifetimes.
            add = add.replace();
        }
        add.execute()
            .await
            .map_err(nl(format!("add {ip}/{prefix} to {}", self.name)))?;
        if replacing {
            info!(iface = %self.name, vip = %ip, prefix, "VIP was already there: made deprecated, without DAD, so it is never a source");
        } else {
            info!(iface = %self.name, vip = %ip, prefix, "VIP added");
        }
        Ok(!replacing)
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

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::address::AddressHeader;

    fn message(ip: &str, attributes: Vec<AddressAttribute>) -> AddressMessage {
        let ip: IpAddr = ip.parse().unwrap();
        let mut m = AddressMessage::default();
        m.header = AddressHeader::default();
        m.attributes.push(AddressAttribute::Address(ip));
        m.attributes.extend(attributes);
        m
    }

    /// The IPv6 VIP goes in as keepalived 2.2 puts it (`nodad deprecated`,
    /// `valid_lft forever preferred_lft 0sec`); IPv4 as a plain address.
    #[test]
    fn an_ipv6_vip_is_added_deprecated_without_dad() {
        let attrs = vip_attributes("2001:db8::100".parse().unwrap());
        assert!(attrs.contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        let lifetimes = attrs.iter().find_map(|a| match a {
            AddressAttribute::CacheInfo(c) => Some(*c),
            _ => None,
        });
        let lifetimes = lifetimes.expect("lifetimes are set");
        assert_eq!((lifetimes.ifa_preferred, lifetimes.ifa_valid), (0, FOREVER));
        assert!(vip_attributes("192.0.2.100".parse().unwrap()).is_empty());
    }

    /// What the kernel lists back decides whether a VIP found on the
    /// interface is left alone or replaced.
    #[test]
    fn a_vip_found_in_another_form_is_replaced() {
        let mut preferred = CacheInfo::default();
        preferred.ifa_preferred = FOREVER;
        preferred.ifa_valid = FOREVER;
        let mut deprecated = preferred;
        deprecated.ifa_preferred = 0;
        let cases = [
            (
                "as keepalived or regha adds it",
                vec![
                    AddressAttribute::Flags(AddressFlags::Nodad | AddressFlags::Deprecated),
                    AddressAttribute::CacheInfo(deprecated),
                ],
                true,
            ),
            (
                "by hand, preferred",
                vec![
                    AddressAttribute::Flags(AddressFlags::Nodad),
                    AddressAttribute::CacheInfo(preferred),
                ],
                false,
            ),
            (
                "deprecated, but with DAD",
                vec![
                    AddressAttribute::Flags(AddressFlags::Deprecated),
                    AddressAttribute::CacheInfo(deprecated),
                ],
                false,
            ),
        ];
        for (what, attrs, kept) in cases {
            assert_eq!(
                in_vip_form(&message("2001:db8::100", attrs)),
                kept,
                "{what}"
            );
        }
        assert!(in_vip_form(&message("192.0.2.100", Vec::new())), "IPv4");
    }
}
