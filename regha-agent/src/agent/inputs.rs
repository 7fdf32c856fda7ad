//! From the config (and what the checks and the neighbour table say) to the
//! reconciler's inputs: plain conversions, no I/O.

use regha_config::{Config, ServiceConfig};
use regha_model::{BackendIdentity, Health, ServiceIdentity};
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
};

use crate::{
    admin::AdminTable,
    health::CheckSpec,
    reconcile::{BackendInput, ServiceInput},
};

pub fn service_identity(s: &ServiceConfig) -> ServiceIdentity {
    ServiceIdentity {
        vip: s.vip,
        port: s.port,
        protocol: s.protocol,
    }
}

/// Every VIP of the config (what a VRRP instance moves, and every
/// service's): none is ever the source of the agent's own traffic.
pub fn vips(config: &Config) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = config
        .vrrp
        .iter()
        .flat_map(|v| &v.virtual_ipaddresses)
        .map(|(ip, _)| *ip)
        .chain(config.services.iter().map(|s| s.vip))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Every backend of the config, with what its checker needs.
pub fn checks(config: &Config) -> Vec<(BackendIdentity, CheckSpec)> {
    let mut out = Vec::new();
    for s in &config.services {
        let service = service_identity(s);
        let probe = s.health.kind.clone();
        for b in &s.backends {
            let addr = SocketAddr::new(b.address, b.port);
            out.push((
                BackendIdentity { service, addr },
                CheckSpec {
                    probe: probe.clone(),
                    target: addr,
                    interval: s.health.interval,
                    timeout: s.health.timeout,
                    rise: s.health.rise,
                    fall: s.health.fall,
                    fast_interval: s.health.fast_interval,
                    fast_timeout: s.health.fast_timeout,
                },
            ));
        }
    }
    out
}

/// The reconciler's view of the config now.
pub fn services(
    config: &Config,
    health: &HashMap<BackendIdentity, Health>,
    macs: &HashMap<IpAddr, [u8; 6]>,
    admin: &AdminTable,
) -> Vec<ServiceInput> {
    config
        .services
        .iter()
        .map(|s| {
            let identity = service_identity(s);
            ServiceInput {
                identity,
                protocol: s.protocol,
                hash: s.hash,
                ring_size: s.ring_size,
                allow: s.allow.clone(),
                backends: s
                    .backends
                    .iter()
                    .map(|b| {
                        let addr = SocketAddr::new(b.address, b.port);
                        BackendInput {
                            addr,
                            weight: b.weight,
                            health: health
                                .get(&BackendIdentity {
                                    service: identity,
                                    addr,
                                })
                                .copied()
                                .unwrap_or(Health::Unknown),
                            mac: b.mac.or_else(|| macs.get(&b.address).copied()),
                            admin: admin.get(&s.name, addr),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Backend addresses whose MAC comes from the neighbour table.
pub fn dynamic_mac_addresses(config: &Config) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = config
        .services
        .iter()
        .flat_map(|s| &s.backends)
        .filter(|b| b.mac.is_none())
        .map(|b| b.address)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
