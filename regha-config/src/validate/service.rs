//! `services:`: the list as a whole (count, totals, duplicates) and each
//! service's own fields. Health checks and backends have their own files.

use std::collections::HashMap;
use std::net::IpAddr;

use regha_common::{
    DEFAULT_RING_SIZE, MAX_ALLOW_PREFIXES, MAX_BACKENDS, MAX_RING_SIZE, MAX_SERVICES,
};
use regha_model::{Forwarding, HashMode, IpPrefix, Protocol};

use super::backend::backends;
use super::check::{Check, each};
use super::cross::leading_ip;
use super::health::health;
use super::names::check_name;
use crate::primes::{is_prime, next_prime, prev_prime};
use crate::raw;
use crate::types::ServiceConfig;

pub(super) fn services(c: &mut Check, list: Option<&[raw::Service]>) -> Option<Vec<ServiceConfig>> {
    let list = match list {
        None => return c.fail("services", "required: at least one service"),
        Some([]) => return c.fail("services", "empty: at least one service is required"),
        Some(list) => list,
    };
    if list.len() > MAX_SERVICES as usize {
        c.fail::<()>(
            "services",
            format!("{} services: at most {MAX_SERVICES}", list.len()),
        );
    }
    let total: usize = list
        .iter()
        .map(|s| s.backends.as_ref().map_or(0, Vec::len))
        .sum();
    if total > MAX_BACKENDS as usize {
        let msg = format!("{total} backends in all: the dataplane holds at most {MAX_BACKENDS}");
        c.fail::<()>("services", msg);
    }
    let prefixes: usize = list
        .iter()
        .map(|s| s.allow.as_ref().map_or(0, Vec::len))
        .sum();
    if prefixes > MAX_ALLOW_PREFIXES as usize {
        let msg = format!(
            "{prefixes} `allow` prefixes in all: the dataplane holds at most {MAX_ALLOW_PREFIXES}; merge adjacent networks"
        );
        c.fail::<()>("services", msg);
    }
    let mut names: HashMap<&str, String> = HashMap::new();
    let mut keys: HashMap<(IpAddr, i64, &str), String> = HashMap::new();
    each(c, "services", list, |c, at, s| {
        let service = service(c, at, s);
        if let Some(name) = s.name.as_deref().filter(|n| !n.is_empty())
            && let Some(other) = names.insert(name, at.to_owned())
        {
            c.fail::<()>(
                format!("{at}.name"),
                format!("{name:?} is also the name of {other}"),
            );
        }
        let protocol = s.protocol.as_deref().unwrap_or("tcp");
        if let Some(vip) = s.vip.as_deref().and_then(leading_ip)
            && let Some(port) = s.port
            && let Some(other) = keys.insert((vip, port, protocol), at.to_owned())
        {
            let msg = format!(
                "{vip} port {port}/{protocol} is also {other}: packets could not tell them apart"
            );
            c.fail::<()>(at, msg);
        }
        service
    })
}

fn service(c: &mut Check, at: &str, s: &raw::Service) -> Option<ServiceConfig> {
    let path = |key: &str| format!("{at}.{key}");
    let name = c.required(
        &path("name"),
        s.name.as_deref(),
        "a name for logs and stats",
    );
    let name = name.and_then(|n| c.result(&path("name"), check_name(n).map(|()| n.to_owned())));
    let vip = c.required(
        &path("vip"),
        s.vip.as_deref(),
        "the address clients connect to",
    );
    let vip = vip.and_then(|t| c.ip(&path("vip"), t));
    let port = c.int(&path("port"), s.port, None, 1..=65535);
    let protocol = c.word::<Protocol>(&path("protocol"), s.protocol.as_deref());
    let hash = c.word::<HashMode>(&path("hash"), s.hash.as_deref());
    let forwarding = match s.forwarding.as_deref() {
        None | Some("dsr") => Some(Forwarding::Dsr),
        Some(other) => c.fail(
            path("forwarding"),
            format!(
                "{other:?} is not implemented: only `dsr` (direct server return at L2) is, for now"
            ),
        ),
    };
    let n_backends = s.backends.as_ref().map_or(0, Vec::len);
    let ring_size = c.int(
        &path("ring_size"),
        s.ring_size,
        Some(DEFAULT_RING_SIZE),
        1..=MAX_RING_SIZE.into(),
    );
    let ring_size = ring_size.and_then(|r| c.result(&path("ring_size"), check_ring(r, n_backends)));
    let health = health(c, &path("health"), s.health.as_ref());
    let backends = backends(c, &path("backends"), s.backends.as_deref(), vip, port);
    // Whether it names an instance that exists and holds the VIP is a rule
    // across sections (`cross.rs`).
    let vrrp_instance = match &s.vrrp_instance {
        None => Some(None),
        Some(n) => c
            .result(&path("vrrp_instance"), check_name(n))
            .map(|()| Some(n.clone())),
    };
    let allow = allow_list(c, &path("allow"), s.allow.as_deref(), vip);
    Some(ServiceConfig {
        name: name?,
        vip: vip?,
        port: port?,
        protocol: protocol?,
        hash: hash?,
        forwarding: forwarding?,
        ring_size: ring_size?,
        health: health?,
        backends: backends?,
        vrrp_instance: vrrp_instance?,
        allow: allow?,
    })
}

/// `allow`: networks of the VIP's family, each once.
fn allow_list(
    c: &mut Check,
    at: &str,
    list: Option<&[String]>,
    vip: Option<IpAddr>,
) -> Option<Vec<IpPrefix>> {
    let Some(list) = list else {
        return Some(Vec::new());
    };
    if list.is_empty() {
        return c.fail(
            at,
            "empty: list the source networks allowed, or leave `allow` out to allow every source",
        );
    }
    let mut seen: HashMap<IpPrefix, usize> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    let mut ok = true;
    for (i, text) in list.iter().enumerate() {
        let item = format!("{at}[{i}]");
        let Some(p) = c.result(
            &item,
            text.trim().parse::<IpPrefix>().map_err(|e| e.to_string()),
        ) else {
            ok = false;
            continue;
        };
        if let Some(vip) = vip
            && vip.is_ipv4() != p.is_ipv4()
        {
            let (fam, other) = if vip.is_ipv4() {
                ("IPv4", "IPv6")
            } else {
                ("IPv6", "IPv4")
            };
            c.fail::<()>(
                &item,
                format!("{p} is {other}, but the vip {vip} is {fam}: clients reach it over {fam} only; write an {fam} network, or a second service on an {other} VIP"),
            );
            ok = false;
            continue;
        }
        if let Some(first) = seen.insert(p, i) {
            c.fail::<()>(
                &item,
                format!("{p} is also {at}[{first}]: list each network once"),
            );
            ok = false;
            continue;
        }
        out.push(p);
    }
    ok.then_some(out)
}

/// Maglev needs a prime table size (its permutations step through every slot
/// only then), and a slot for each backend.
fn check_ring(size: u32, backends: usize) -> Result<u32, String> {
    if !is_prime(size) {
        let next = next_prime(size);
        let suggestion = if next <= MAX_RING_SIZE {
            next
        } else {
            prev_prime(MAX_RING_SIZE)
        };
        return Err(format!(
            "{size} is not prime: Maglev needs a prime size; try {suggestion}"
        ));
    }
    if (size as usize) < backends {
        return Err(format!(
            "{size} is smaller than the {backends} backends: each needs a slot"
        ));
    }
    Ok(size)
}
