//! `vrrp.track_scripts` and `vrrp.track_interfaces`: what keepalived
//! calls `vrrp_script`/`track_script` and `track_interface`.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::check::{Check, at_most, each};
use super::health::MAX_HEALTH_INTERVAL;
use super::names::{check_ifname, check_name};
use crate::raw;
use crate::types::{TrackInterface, TrackScript};

/// The weight of a tracked object, as keepalived bounds it.
pub(super) const TRACK_WEIGHTS: RangeInclusive<i64> = -254..=254;

/// `track_scripts` of an instance, at `path` (`vrrp.track_scripts`).
pub(super) fn track_scripts(
    c: &mut Check,
    path: &str,
    list: &[raw::TrackScript],
) -> Option<Vec<TrackScript>> {
    let mut names: Vec<(String, String)> = Vec::new();
    each(c, path, list, |c, at, s| {
        let path = |key: &str| format!("{at}.{key}");
        let name = c.required(&path("name"), s.name.as_deref(), "a name for logs");
        let name = name.and_then(|n| c.result(&path("name"), check_name(n).map(|()| n.to_owned())));
        if let Some(n) = &name {
            if let Some((_, other)) = names.iter().find(|(m, _)| m == n) {
                c.fail::<()>(path("name"), format!("{n:?} is also the name of {other}"));
            }
            names.push((n.clone(), at.to_owned()));
        }
        let script = c.required(
            &path("script"),
            s.script.as_deref(),
            "an absolute path, then arguments (run without a shell)",
        );
        let command = script.and_then(|text| {
            let mut words = text.split_whitespace();
            let Some(program) = words.next() else {
                return c.fail(path("script"), "empty: expected an absolute path");
            };
            let program = c.absolute(&path("script"), program)?;
            Some((program, words.map(str::to_owned).collect::<Vec<_>>()))
        });
        let interval = c.dur(
            &path("interval"),
            s.interval.as_deref(),
            Duration::from_secs(1),
        );
        let interval = interval
            .and_then(|i| c.result(&path("interval"), at_most(i, MAX_HEALTH_INTERVAL, "1h")));
        let timeout = match s.timeout.as_deref() {
            None => interval,
            Some(t) => c
                .dur(&path("timeout"), Some(t), Duration::ZERO)
                .and_then(|t| c.result(&path("timeout"), at_most(t, MAX_HEALTH_INTERVAL, "1h"))),
        };
        let weight = c.int(&path("weight"), s.weight, Some(0), TRACK_WEIGHTS);
        let rise = c.int(&path("rise"), s.rise, Some(1), 1..=100);
        let fall = c.int(&path("fall"), s.fall, Some(1), 1..=100);
        let (program, args) = command?;
        Some(TrackScript {
            name: name?,
            program,
            args,
            interval: interval?,
            timeout: timeout?,
            weight: weight?,
            rise: rise?,
            fall: fall?,
        })
    })
}

/// `track_interfaces` of an instance, at `path`.
pub(super) fn track_interfaces(
    c: &mut Check,
    path: &str,
    list: &[raw::TrackInterface],
) -> Option<Vec<TrackInterface>> {
    let mut names: Vec<(String, String)> = Vec::new();
    each(c, path, list, |c, at, t| {
        let path = |key: &str| format!("{at}.{key}");
        let name = c.required(&path("name"), t.name.as_deref(), "an interface name");
        let name =
            name.and_then(|n| c.result(&path("name"), check_ifname(n).map(|()| n.to_owned())));
        if let Some(n) = &name {
            if let Some((_, other)) = names.iter().find(|(m, _)| m == n) {
                c.fail::<()>(
                    path("name"),
                    format!("{n:?} is listed twice (also {other})"),
                );
            }
            names.push((n.clone(), at.to_owned()));
        }
        let weight = c.int(&path("weight"), t.weight, Some(0), TRACK_WEIGHTS);
        Some(TrackInterface {
            name: name?,
            weight: weight?,
        })
    })
}
