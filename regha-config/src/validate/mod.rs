//! The rules: the raw YAML in, the typed [`Config`] out, or every problem.
//!
//! Each check records its problem in [`Check`] and carries on, so that one run
//! of `check-config` lists them all. A field that fails yields `None`; the
//! typed config is assembled only when nothing was recorded. Rules across
//! fields (duplicates, VIPs held by VRRP, totals) look at whatever parsed, so
//! a bad address neither hides an unrelated duplicate nor causes a second,
//! derived complaint.
//!
//! One file per section (`vrrp`, `track`, `service`, `backend`, `health`,
//! `stats`, `flow_sync`); `check` is the framework they share, `names` the name rules,
//! `cross` the rules across sections.

mod backend;
mod bgp;
mod check;
mod cross;
mod flow_sync;
mod health;
pub(crate) mod names;
mod service;
mod stats;
mod track;
mod vrrp;

use std::ops::RangeInclusive;

use regha_common::DEFAULT_FLOW_TABLE_SIZE;
use regha_model::{Role, XdpMode};

use self::check::{Check, maybe};
use crate::error::ConfigErrors;
use crate::raw;
use crate::types::{Config, DEFAULT_STATS_LISTEN, StatsConfig, VrrpConfig};

/// Below 1024 entries the LRU evicts live flows under any real load; above
/// 2^24 the map costs gigabytes of kernel memory.
const FLOW_TABLE_SIZES: RangeInclusive<i64> = 1024..=16_777_216;

pub(crate) fn validate(raw: raw::Config) -> Result<Config, ConfigErrors> {
    let mut c = Check::default();
    let interface = maybe(raw.interface, |n| {
        c.result("interface", names::check_ifname(&n).map(|()| n))
    });
    let xdp_mode = c.word::<XdpMode>("xdp_mode", raw.xdp_mode.as_deref());
    let flow_table_size = c.int(
        "flow_table_size",
        raw.flow_table_size,
        Some(DEFAULT_FLOW_TABLE_SIZE),
        FLOW_TABLE_SIZES,
    );
    let hash_seed = c.int("hash_seed", raw.hash_seed, Some(0), 0..=u32::MAX.into());
    let role = maybe(raw.role.as_deref(), |r| c.word::<Role>("role", Some(r)));
    if raw.role.is_none() && raw.vrrp.is_none() && raw.bgp.is_none() {
        c.fail::<()>(
            "role",
            "set `role: master|backup`, or configure `vrrp` or `bgp`",
        );
    }
    let instances = raw
        .vrrp
        .as_ref()
        .map(raw::VrrpSection::instances)
        .unwrap_or_default();
    let checked: Vec<Option<VrrpConfig>> = instances
        .iter()
        .map(|(at, v)| vrrp::vrrp(&mut c, at, v))
        .collect();
    let vrrp: Option<Vec<VrrpConfig>> = checked.into_iter().collect();
    if matches!(&raw.vrrp, Some(raw::VrrpSection::Many(list)) if list.is_empty()) {
        c.fail::<()>(
            "vrrp",
            "an empty list: give at least one instance, or leave `vrrp` out",
        );
    }
    let services = service::services(&mut c, raw.services.as_deref());
    cross::between_instances(&mut c, &instances);
    let announced = bgp::announced(
        raw.bgp.as_ref(),
        raw.services.as_deref().unwrap_or(&[]),
        &instances,
    );
    cross::vrrp_against_services(
        &mut c,
        &instances,
        raw.services.as_deref().unwrap_or(&[]),
        &announced,
    );
    let stats = match &raw.stats {
        None => Some(Some(StatsConfig {
            listen: DEFAULT_STATS_LISTEN,
            auth: None,
        })),
        Some(s) => maybe(s.as_ref(), |s| stats::stats(&mut c, s)),
    };
    let flow_sync = maybe(raw.flow_sync.as_ref(), |f| {
        let services = raw.services.as_deref().unwrap_or(&[]);
        flow_sync::flow_sync(&mut c, f, services, &instances)
    });
    let bgp = maybe(raw.bgp.as_ref(), |b| {
        let services = raw.services.as_deref().unwrap_or(&[]);
        bgp::bgp(&mut c, b, services, &instances, raw.role.is_some())
    });

    let config = (|| {
        Some(Config {
            interface: interface?,
            xdp_mode: xdp_mode?,
            flow_table_size: flow_table_size?,
            hash_seed: hash_seed?,
            role: role?,
            vrrp: vrrp?,
            services: services?,
            stats: stats?,
            flow_sync: flow_sync?,
            bgp: bgp?,
        })
    })();
    c.finish(config)
}
