//! Rules across sections, on the raw text so that they judge whatever
//! parsed: a service VIP must be one VRRP moves, and `track_backends` must
//! be satisfiable by the backends configured.

use std::net::IpAddr;

use super::check::Check;
use crate::raw;

/// Every service VIP must be one VRRP moves, and tracking must be satisfiable.
pub(super) fn vrrp_against_services(c: &mut Check, v: &raw::Vrrp, services: &[raw::Service]) {
    if let Some(vips) = v.virtual_ipaddresses.as_ref().filter(|v| !v.is_empty()) {
        let held: Vec<IpAddr> = vips.iter().filter_map(|t| leading_ip(t)).collect();
        for (i, s) in services.iter().enumerate() {
            if let Some(vip) = s.vip.as_deref().and_then(leading_ip)
                && !held.contains(&vip)
            {
                let msg =
                    format!("{vip} is not in vrrp.virtual_ipaddresses: the LB would never hold it");
                c.fail::<()>(format!("services[{i}].vip"), msg);
            }
        }
    }
    let total: usize = services
        .iter()
        .map(|s| s.backends.as_ref().map_or(0, Vec::len))
        .sum();
    if let Some(min) = v.track_backends.as_ref().and_then(|t| t.min_healthy)
        && total > 0
        && usize::try_from(min).is_ok_and(|min| min > total)
    {
        let msg = format!("{min} is more than the {total} backends configured: never satisfied");
        c.fail::<()>("vrrp.track_backends.min_healthy", msg);
    }
}

/// The address of `IP` or `IP/prefix`, for rules across fields.
pub(super) fn leading_ip(text: &str) -> Option<IpAddr> {
    text.trim().split('/').next()?.parse().ok()
}
