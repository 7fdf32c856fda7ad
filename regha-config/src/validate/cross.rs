//! Rules across sections, on the raw text so that they judge whatever
//! parsed: between VRRP instances (names, virtual routers, VIPs, unicast
//! addresses, sync groups), and between the instances and the services
//! (every service VIP is held by one instance, the one it names if it
//! names one; `track_backends` can be satisfied by the backends of the
//! services an instance holds).

use std::net::IpAddr;

use regha_model::IpFamily;

use super::check::Check;
use crate::raw;
use crate::types::default_instance_name;

/// An instance as the rules across fields see it: what parsed of it.
struct Seen<'a> {
    at: &'a str,
    name: Option<String>,
    vrid: Option<i64>,
    family: Option<IpFamily>,
    vips: Vec<IpAddr>,
    raw: &'a raw::Vrrp,
}

fn seen<'a>(instances: &'a [(String, &'a raw::Vrrp)]) -> Vec<Seen<'a>> {
    instances
        .iter()
        .map(|(at, v)| {
            let vips: Vec<IpAddr> = v
                .virtual_ipaddresses
                .iter()
                .flatten()
                .filter_map(|t| leading_ip(t))
                .collect();
            Seen {
                at,
                name: v.name.clone().or_else(|| {
                    v.virtual_router_id
                        .and_then(|n| u8::try_from(n).ok())
                        .map(default_instance_name)
                }),
                vrid: v.virtual_router_id,
                family: vips.first().map(|ip| IpFamily::of(*ip)),
                vips,
                raw: v,
            }
        })
        .collect()
}

/// Names, virtual routers and VIPs are each one instance's; unicast
/// addresses are no instance's VIP; a sync group's members all own their
/// addresses or none does.
pub(super) fn between_instances(c: &mut Check, instances: &[(String, &raw::Vrrp)]) {
    let all = seen(instances);
    for (i, a) in all.iter().enumerate() {
        for b in &all[..i] {
            if a.name.is_some() && a.name == b.name {
                let name = a.name.as_deref().unwrap_or_default();
                let (field, hint) = if a.raw.name.is_some() {
                    ("name", "")
                } else {
                    ("virtual_router_id", ": give each instance a `name`")
                };
                c.fail::<()>(
                    format!("{}.{field}", a.at),
                    format!("the instance name {name:?} is also {}'s{hint}", b.at),
                );
            }
            if a.vrid.is_some() && a.vrid == b.vrid && a.family.is_some() && a.family == b.family {
                c.fail::<()>(
                    format!("{}.virtual_router_id", a.at),
                    format!(
                        "{} is also the VRID of {} ({}): one interface runs one virtual router per VRID and family; give it another VRID",
                        a.vrid.unwrap_or_default(),
                        b.at,
                        a.family.map_or("", IpFamily::as_str),
                    ),
                );
            }
            for vip in a.vips.iter().filter(|v| b.vips.contains(v)) {
                c.fail::<()>(
                    format!("{}.virtual_ipaddresses", a.at),
                    format!(
                        "{vip} is also a virtual address of {}: one instance holds a VIP",
                        b.at
                    ),
                );
            }
        }
        for b in (all.iter().enumerate())
            .filter(|(j, _)| *j != i)
            .map(|(_, b)| b)
        {
            let speakers = a
                .raw
                .unicast_src
                .iter()
                .map(|t| ("unicast_src".to_owned(), t));
            let peers = (a.raw.unicast_peers.iter().enumerate())
                .map(|(k, t)| (format!("unicast_peers[{k}]"), t));
            for (field, text) in speakers.chain(peers) {
                if let Some(ip) = leading_ip(text)
                    && b.vips.contains(&ip)
                {
                    c.fail::<()>(
                        format!("{}.{field}", a.at),
                        format!(
                            "{ip} is a virtual address of {}: it moves with that instance's role",
                            b.at
                        ),
                    );
                }
            }
        }
    }
    sync_groups(c, &all);
}

/// keepalived refuses a sync group whose members are partly address owners
/// (priority 255, master at once) and partly not: the group could never
/// agree.
fn sync_groups(c: &mut Check, all: &[Seen<'_>]) {
    let mut groups: Vec<&str> = all
        .iter()
        .filter_map(|s| s.raw.sync_group.as_deref())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for g in groups {
        let members: Vec<&Seen<'_>> = all
            .iter()
            .filter(|s| s.raw.sync_group.as_deref() == Some(g))
            .collect();
        let owner = |s: &&Seen<'_>| s.raw.priority == Some(255);
        if members.iter().any(owner) && !members.iter().all(owner) {
            for m in members.iter().filter(|m| owner(m)) {
                c.fail::<()>(
                    format!("{}.priority", m.at),
                    format!("255 (address owner) in sync group {g:?}, whose other members are not owners: an owner is master at once and the group could never agree; give every member of the group priority 255, or none"),
                );
            }
        }
    }
}

/// Every service VIP is one an instance moves (the one the service names,
/// if it names one), and tracking must be satisfiable by the backends of
/// the services each instance holds.
pub(super) fn vrrp_against_services(
    c: &mut Check,
    instances: &[(String, &raw::Vrrp)],
    services: &[raw::Service],
    announced: &[IpAddr],
) {
    let all = seen(instances);
    let holder = |s: &raw::Service| -> Option<usize> {
        let vip = s.vip.as_deref().and_then(leading_ip)?;
        match &s.vrrp_instance {
            Some(name) => all
                .iter()
                .position(|i| i.name.as_deref() == Some(name.as_str())),
            None => all.iter().position(|i| i.vips.contains(&vip)),
        }
    };
    for (i, s) in services.iter().enumerate() {
        let at = format!("services[{i}]");
        let Some(vip) = s.vip.as_deref().and_then(leading_ip) else {
            continue;
        };
        match (&s.vrrp_instance, holder(s)) {
            (Some(name), _) if all.is_empty() => {
                c.fail::<()>(
                    format!("{at}.vrrp_instance"),
                    format!("{name:?}: there is no `vrrp` section to name an instance of"),
                );
            }
            (Some(name), None) => {
                let names: Vec<&str> = all.iter().filter_map(|i| i.name.as_deref()).collect();
                c.fail::<()>(
                    format!("{at}.vrrp_instance"),
                    format!(
                        "{name:?} is not an instance: the instances are {}",
                        names.join(", ")
                    ),
                );
            }
            (Some(name), Some(h)) if !all[h].vips.contains(&vip) => {
                c.fail::<()>(
                    format!("{at}.vip"),
                    format!("{vip} is not in {}.virtual_ipaddresses (instance {name:?}): the LB would never hold it", all[h].at),
                );
            }
            (None, None) if !all.is_empty() && !announced.contains(&vip) => {
                let path = if all.len() == 1 {
                    "vrrp.virtual_ipaddresses".to_owned()
                } else {
                    "the virtual_ipaddresses of any vrrp instance".to_owned()
                };
                c.fail::<()>(
                    format!("{at}.vip"),
                    format!("{vip} is not in {path}: the LB would never hold it"),
                );
            }
            _ => {}
        }
    }
    for (h, inst) in all.iter().enumerate() {
        let Some(min) = inst.raw.track_backends.as_ref().and_then(|t| t.min_healthy) else {
            continue;
        };
        let held: Vec<&raw::Service> = services.iter().filter(|s| holder(s) == Some(h)).collect();
        let total: usize = held
            .iter()
            .map(|s| s.backends.as_ref().map_or(0, Vec::len))
            .sum();
        let at = format!("{}.track_backends.min_healthy", inst.at);
        if held.is_empty() && !services.is_empty() {
            c.fail::<()>(
                at,
                format!(
                    "{min}: the instance holds no service's VIP, so it has no backends to track"
                ),
            );
        } else if total > 0 && usize::try_from(min).is_ok_and(|min| min > total) {
            let whose = if all.len() == 1 {
                ""
            } else {
                " of the services this instance holds"
            };
            c.fail::<()>(
                at,
                format!(
                    "{min} is more than the {total} backends configured{whose}: never satisfied"
                ),
            );
        }
    }
}

/// The address of `IP` or `IP/prefix`, for rules across fields.
pub(super) fn leading_ip(text: &str) -> Option<IpAddr> {
    text.trim().split('/').next()?.parse().ok()
}
