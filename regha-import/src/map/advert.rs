//! What goes into every advert, and what a regha host and its keepalived
//! peers must agree on while the cluster migrates: the VRRP version, the
//! advert interval, and the password.

use std::time::Duration;

use regha_config::Secret;
use regha_model::VrrpVersion;

use crate::keepalived::{Instance, Keepalived, seconds};
use crate::notes::Notes;
use crate::warning::Diag;

/// The instance's `vrrp_version`, else `global_defs`', else 2; with the
/// line that says so.
pub(super) fn declared_version(
    i: &Instance,
    conf: &Keepalived,
    diag: &mut Diag<'_>,
) -> (VrrpVersion, Option<usize>) {
    match i.version.as_ref().or(conf.default_version.as_ref()) {
        Some(a) if a.v == "3" => (VrrpVersion::V3, Some(a.line)),
        Some(a) if a.v == "2" => (VrrpVersion::V2, Some(a.line)),
        Some(a) => {
            diag.warn(
                a.line,
                format!(
                    "vrrp_version {:?} is neither 2 nor 3: the import uses 2",
                    a.v
                ),
                None,
            );
            (VrrpVersion::V2, None)
        }
        None => (VrrpVersion::V2, None),
    }
}

/// The declared version, or 3 for IPv6 addresses.
pub(super) fn version(
    i: &Instance,
    (version, line): (VrrpVersion, Option<usize>),
    v6: bool,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> VrrpVersion {
    if v6 && version == VrrpVersion::V2 {
        diag.note(
            i.line,
            "IPv6 virtual addresses need VRRP version 3 (keepalived runs an IPv6 instance as version 3 too): the import uses 3",
            None,
        );
        notes.beside("version", "IPv6 needs version 3");
        VrrpVersion::V3
    } else {
        let note = line.map_or_else(|| "keepalived's default".to_owned(), |l| diag.at(l));
        notes.beside("version", note);
        version
    }
}

/// `advert_int`, rounded to what the version can send.
pub(super) fn interval(
    i: &Instance,
    version: VrrpVersion,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Duration {
    let Some(a) = &i.advert_int else {
        notes.beside("advert_interval", "keepalived's default");
        return Duration::from_secs(1);
    };
    let Some(d) = seconds(&a.v) else {
        diag.warn(
            a.line,
            format!(
                "advert_int {:?} is not a number of seconds: the import uses 1s",
                a.v
            ),
            None,
        );
        notes.beside("advert_interval", "advert_int was invalid; default");
        return Duration::from_secs(1);
    };
    notes.beside(
        "advert_interval",
        format!("advert_int {}, {}", a.v, diag.at(a.line)),
    );
    if version == VrrpVersion::V2 {
        let secs = (d.as_millis().div_ceil(1000) as u64).clamp(1, 255);
        if Duration::from_secs(secs) != d {
            diag.warn(a.line, format!("advert_int {} is not whole seconds in 1..=255, which VRRP version 2 needs: the import uses {secs}s", a.v), Some("use `version: 3` on every host for sub-second adverts"));
        }
        Duration::from_secs(secs)
    } else {
        let cs = (d.as_millis().div_ceil(10) as u64).clamp(1, 4095);
        if Duration::from_millis(cs * 10) != d {
            diag.warn(a.line, format!("advert_int {} is not a multiple of 10ms in 10ms..=40.95s (VRRP version 3): the import uses {}ms", a.v, cs * 10), None);
        }
        Duration::from_millis(cs * 10)
    }
}

/// `authentication`: PASS with version 2 only, cut to 8 bytes as keepalived
/// sent it.
pub(super) fn auth(
    i: &Instance,
    version: VrrpVersion,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Option<Secret> {
    let kind = i.auth_type.as_ref();
    match kind.map(|k| k.v.to_ascii_uppercase()) {
        None if i.auth_pass.is_some() => {
            let line = i.auth_pass.as_ref().map_or(0, |p| p.line);
            diag.warn(
                line,
                "auth_pass without auth_type: keepalived sends no authentication; left out",
                None,
            );
            None
        }
        None => None,
        Some(k) if k == "AH" => {
            diag.warn(
                kind.map_or(0, |k| k.line),
                "auth_type AH (IPsec authentication header) is not supported by regha (RFC 3768 dropped it): no authentication is imported",
                Some("use `auth_pass` (PASS) on every host during the migration, or nothing: VRRP authentication is not security, only a guard against misconfiguration"),
            );
            None
        }
        Some(k) if k == "PASS" => {
            let Some(p) = &i.auth_pass else {
                diag.warn(
                    kind.map_or(0, |k| k.line),
                    "auth_type PASS without auth_pass: left out",
                    None,
                );
                return None;
            };
            if version == VrrpVersion::V3 {
                diag.warn(p.line, "authentication with VRRP version 3: keepalived ignores it and RFC 5798 has none; left out", None);
                return None;
            }
            let mut pass = p.v.clone();
            if pass.len() > 8 {
                let mut cut = 8;
                while !pass.is_char_boundary(cut) {
                    cut -= 1;
                }
                pass.truncate(cut);
                diag.warn(
                    p.line,
                    "auth_pass is longer than 8 bytes: keepalived silently sent only the first 8, the import keeps those (regha refuses longer ones)",
                    None,
                );
            }
            if pass.is_empty() {
                return None;
            }
            notes.beside("auth_pass", format!("auth_type PASS, {}", diag.at(p.line)));
            Some(Secret::new(pass))
        }
        Some(_) => {
            let (line, k) = kind.map(|k| (k.line, k.v.clone())).unwrap_or_default();
            diag.warn(
                line,
                format!("auth_type {k:?} is neither PASS nor AH: no authentication is imported"),
                None,
            );
            None
        }
    }
}
