//! The HAProxy settings nothing in regha maps to: timeouts and limits,
//! `mode http`, `option forwardfor`, L7 directives and the stats settings
//! of `defaults`, reported once per kind over every proxy imported.

use std::collections::BTreeMap;

use crate::haproxy::Proxy;
use crate::warning::{Diag, lines_list};

/// One note (or warning) per kind of harmless setting, over every proxy
/// imported and the defaults they inherit, each line once.
pub(super) fn notes(used: &[&Proxy], diag: &mut Diag<'_>) {
    let mut limits: BTreeMap<usize, String> = BTreeMap::new();
    let mut l7: BTreeMap<usize, String> = BTreeMap::new();
    let mut forwardfor: BTreeMap<usize, String> = BTreeMap::new();
    let mut modes: BTreeMap<usize, String> = BTreeMap::new();
    let mut stats: BTreeMap<usize, String> = BTreeMap::new();
    for p in used {
        let st = &p.settings;
        limits.extend(st.limits.iter().cloned());
        for (line, d) in &st.l7 {
            if d.ends_with("forwardfor") {
                forwardfor.insert(*line, d.clone());
            } else {
                l7.insert(*line, d.clone());
            }
        }
        if let Some((line, m)) = &st.mode
            && m == "http"
        {
            modes.insert(*line, m.clone());
        }
        stats.extend(st.stats_lines.iter().cloned());
    }
    let lines = |m: &BTreeMap<usize, String>| lines_list(&m.keys().copied().collect::<Vec<_>>());
    let list = |m: &BTreeMap<usize, String>| {
        let mut v: Vec<&str> = m.values().map(String::as_str).collect();
        v.dedup();
        v.join("; ")
    };
    if let Some(first) = limits.keys().next() {
        diag.note(
            *first,
            format!("connection timeouts and limits ({}: {}): regha holds no connections, packets go straight to the backends, so there is nothing to time out or limit; the backends' own settings now apply", lines(&limits), list(&limits)),
            None,
        );
    }
    if let Some(first) = modes.keys().next() {
        diag.note(
            *first,
            format!("mode http ({}): regha steers TCP packets (L4) and never sees HTTP; health checks still speak HTTP", lines(&modes)),
            None,
        );
    }
    if let Some(first) = forwardfor.keys().next() {
        diag.warn(
            *first,
            format!("option forwardfor ({}) is meaningless with DSR: regha never touches HTTP, so no X-Forwarded-For is added, and none is needed: the registry sees each client's own address as the source", lines(&forwardfor)),
            Some("drop any registry or log setting that trusted X-Forwarded-For from the proxies"),
        );
    }
    if let Some(first) = l7.keys().next() {
        diag.note(
            *first,
            format!(
                "HTTP and proxy settings with no meaning for a packet steerer, ignored ({}): {}",
                lines(&l7),
                list(&l7)
            ),
            None,
        );
    }
    if let Some(first) = stats.keys().next() {
        diag.note(
            *first,
            format!("{} in defaults put HAProxy's stats page on every HTTP proxy; regha has one stats listener (`stats:`)", list(&stats)),
            None,
        );
    }
}
