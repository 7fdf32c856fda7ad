//! The checking framework every section uses: [`Check`] records a problem
//! and returns `None`, so that a section checks all of its fields and the
//! caller assembles a value only from those that passed; [`maybe`] and
//! [`each`] do the same for optional fields and lists.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regha_model::Word;

use crate::duration;
use crate::error::{ConfigError, ConfigErrors};

/// The problems found so far. Every method returns `None` after recording one.
#[derive(Default)]
pub(super) struct Check(Vec<ConfigError>);

impl Check {
    /// The value assembled from the fields when nothing was recorded, else
    /// every problem recorded.
    pub(super) fn finish<T>(self, value: Option<T>) -> Result<T, ConfigErrors> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => {
                debug_assert!(!self.0.is_empty(), "a field failed without saying why");
                Err(ConfigErrors(self.0))
            }
        }
    }

    pub(super) fn fail<T>(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Option<T> {
        self.0.push(ConfigError::new(path, message));
        None
    }

    pub(super) fn result<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.fail::<()>(path, message))
            .ok()
    }

    pub(super) fn required<'a>(
        &mut self,
        path: &str,
        value: Option<&'a str>,
        what: &str,
    ) -> Option<&'a str> {
        value.or_else(|| self.fail(path, format!("required: {what}")))
    }

    /// An integer in `range`; absent means `default`, or is a problem without one.
    pub(super) fn int<T: TryFrom<i64>>(
        &mut self,
        path: &str,
        value: Option<i64>,
        default: Option<T>,
        range: RangeInclusive<i64>,
    ) -> Option<T> {
        let (lo, hi) = range.clone().into_inner();
        match value {
            None if default.is_none() => {
                self.fail(path, format!("required: an integer in {lo}..={hi}"))
            }
            None => default,
            Some(v) if !range.contains(&v) => {
                self.fail(path, format!("{v} is out of range {lo}..={hi}"))
            }
            Some(v) => T::try_from(v).ok(),
        }
    }

    /// One of a model enum's words; absent, its first value (the default).
    pub(super) fn word<T: Word>(&mut self, path: &str, value: Option<&str>) -> Option<T> {
        let Some(value) = value else {
            return T::ALL.first().copied();
        };
        match T::from_word(value) {
            Some(t) => Some(t),
            None => self.fail(
                path,
                format!("{value:?} is not one of: {}", T::WORDS.join(", ")),
            ),
        }
    }

    pub(super) fn dur(
        &mut self,
        path: &str,
        text: Option<&str>,
        default: Duration,
    ) -> Option<Duration> {
        match text {
            None => Some(default),
            Some(text) => self.result(path, duration::parse(text).map_err(|e| e.to_string())),
        }
    }

    /// One host's address: not unspecified, multicast, loopback or broadcast.
    pub(super) fn ip(&mut self, path: &str, text: &str) -> Option<IpAddr> {
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => self.unicast(path, ip),
            Err(_) => self.fail(path, format!("{text:?} is not an IP address")),
        }
    }

    pub(super) fn unicast(&mut self, path: &str, ip: IpAddr) -> Option<IpAddr> {
        let what = match ip {
            _ if ip.is_unspecified() => "the unspecified address",
            _ if ip.is_multicast() => "a multicast address",
            _ if ip.is_loopback() => "a loopback address",
            IpAddr::V4(v4) if v4.is_broadcast() => "the broadcast address",
            _ => return Some(ip),
        };
        self.fail(
            path,
            format!("{ip} is {what}: expected a host's unicast address"),
        )
    }

    pub(super) fn absolute(&mut self, path: &str, text: &str) -> Option<PathBuf> {
        if !Path::new(text).is_absolute() {
            return self.fail(path, format!("{text:?} is not an absolute path"));
        }
        Some(PathBuf::from(text))
    }
}

/// An optional field: `Some(None)` when absent, `None` when present and bad.
pub(super) fn maybe<T, U>(
    value: Option<T>,
    check: impl FnOnce(T) -> Option<U>,
) -> Option<Option<U>> {
    match value {
        None => Some(None),
        Some(v) => check(v).map(Some),
    }
}

/// Checks every item of a list (at `{at}[i]`), all of them even after a bad one.
pub(super) fn each<'a, T, U>(
    c: &mut Check,
    at: &str,
    items: &'a [T],
    mut check: impl FnMut(&mut Check, &str, &'a T) -> Option<U>,
) -> Option<Vec<U>> {
    let checked: Vec<Option<U>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| check(c, &format!("{at}[{i}]"), item))
        .collect();
    checked.into_iter().collect()
}

/// `0 < d <= max`.
pub(super) fn at_most(d: Duration, max: Duration, max_text: &str) -> Result<Duration, String> {
    if d.is_zero() {
        Err("0s: must be more than zero".into())
    } else if d > max {
        Err(format!("{} is longer than {max_text}", duration::format(d)))
    } else {
        Ok(d)
    }
}
