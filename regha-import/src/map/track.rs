//! What a `vrrp_instance` tracks and runs: its `track_script`s (with the
//! `vrrp_script`s they name) as `vrrp.track_scripts`, `track_interface` as
//! `vrrp.track_interfaces`, and `notify_*` as `vrrp.notify`.
//!
//! regha runs these programs without a shell: a command that needs one is
//! left out, kept as a comment at the end of `vrrp:`.

use std::path::PathBuf;
use std::time::Duration;

use regha_config::{NotifyScripts, TrackInterface, TrackScript};

use super::{sanitize_name, sync};
use crate::keepalived::{At, Instance, Keepalived, Script, SyncGroup, seconds};
use crate::notes::Notes;
use crate::warning::Diag;

/// Characters that need a shell: regha runs scripts without one.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '$', '`', '(', ')', '*', '?', '\'', '"', '~',
];
/// What is left out goes here, at the end of `vrrp:` (`notify` is always
/// written, if only as `{}`).
const LEFT_OUT: &str = "notify";

/// What to do about a weight keepalived ignored.
const IGNORED_HINT: &str = "to have it move the group, add it back with weight 0 (its FAULT takes the whole group), or with the same weight on every member: regha applies the weights of a sync group's members";

/// Why a weighted tracker of a sync group's member is left out.
fn ignored_weight(what: &str, name: &str, weight: i32, group: &str) -> String {
    format!(
        "{what} {name} (weight {weight}): keepalived ignores a tracker's weight in vrrp_sync_group {group} (no `sync_group_tracking_weight`), so it did nothing: left out"
    )
}

/// Whether a script looks like a check of HAProxy (`killall -0 haproxy`,
/// `chk_haproxy.sh`, `pidof haproxy`, ...).
fn checks_haproxy(name: &str, script: &str) -> bool {
    name.to_ascii_lowercase().contains("haproxy") || script.to_ascii_lowercase().contains("haproxy")
}

/// The instance's `track_script` list, each with its `vrrp_script`.
pub(super) fn scripts(
    i: &Instance,
    conf: &Keepalived,
    group: Option<&SyncGroup>,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Vec<TrackScript> {
    let mut out: Vec<TrackScript> = Vec::new();
    let mut hint = None;
    for t in &i.track_scripts {
        let (name, weight_override) = &t.v;
        let Some(s) = conf.scripts.iter().find(|s| &s.name == name) else {
            diag.warn(
                t.line,
                format!("track_script {name}: no `vrrp_script {name}` in the file: left out"),
                None,
            );
            continue;
        };
        let weight_override = weight_override.as_ref().map(|w| (w.as_str(), t.line));
        let Some((script, item)) = script(s, weight_override, diag, notes) else {
            continue;
        };
        if let Some(g) = sync::ignores_weights(group)
            && script.weight != 0
        {
            diag.warn(
                t.line,
                ignored_weight("track_script", name, script.weight, g),
                Some(IGNORED_HINT),
            );
            continue;
        }
        if out.iter().any(|o| o.name == script.name) {
            diag.warn(
                t.line,
                format!("track_script {name} is listed twice: once is kept"),
                None,
            );
            continue;
        }
        let command = format!("{} {}", script.program.display(), script.args.join(" "));
        if checks_haproxy(&s.name, &command) {
            diag.warn(
                s.line,
                format!("vrrp_script {} checks HAProxy, which regha replaces: once HAProxy is gone it fails (or restarts a proxy that is no longer used), {}", s.name,
                    match script.weight {
                        0 => "and with weight 0 it holds the instance in FAULT".to_owned(),
                        w if w > 0 => format!("so this host loses its +{w} and may give up the VIP"),
                        w => format!("so this host's priority drops by {}", -w),
                    }),
                Some("remove it from `vrrp.track_scripts` after the migration and track what HAProxy was for, the backends: `track_backends: { min_healthy: 1, weight: -50 }` (suggested, commented out, in the output)"),
            );
            hint = Some(&s.name);
        }
        notes.mount(&format!("track_scripts[{}]", out.len()), item);
        out.push(script);
    }
    if let Some(name) = hint {
        let path = "track_scripts";
        notes.below(
            path,
            format!(
                "Instead of {name}, track the backends themselves: with fewer than min_healthy"
            ),
        );
        notes.below(
            path,
            "healthy backends this host's priority drops by 50 and a peer takes the VIP.",
        );
        notes.below(path, "track_backends: { min_healthy: 1, weight: -50 }");
    }
    out
}

/// One `vrrp_script` as a track script with its notes, or None (with a
/// comment at the end of `vrrp:`) when regha could not run its command.
/// Values it leaves out are keepalived's defaults, which are regha's.
fn script(
    s: &Script,
    weight_override: Option<(&str, usize)>,
    diag: &mut Diag<'_>,
    section: &mut Notes,
) -> Option<(TrackScript, Notes)> {
    let mut notes = Notes::default();
    notes.above("", format!("vrrp_script {} ({})", s.name, diag.at(s.line)));
    let Some(cmd) = &s.script else {
        diag.warn(
            s.line,
            format!("vrrp_script {} has no `script`: left out", s.name),
            None,
        );
        return None;
    };
    let text = cmd.v.trim();
    if text.contains(SHELL_CHARS) {
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: `{text}` needs a shell, and regha runs track scripts without one: left out (kept as a comment)", s.name),
            Some("put the command in an executable script file and give its absolute path"),
        );
        section.below(
            LEFT_OUT,
            format!(
                "vrrp_script {} ({}) needs a shell: `{text}`",
                s.name,
                diag.at(cmd.line)
            ),
        );
        return None;
    }
    let mut words = text.split_whitespace();
    let Some(program) = words.next() else {
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: empty `script`: left out", s.name),
            None,
        );
        return None;
    };
    let args: Vec<String> = words.map(str::to_owned).collect();
    let program = if program.starts_with('/') {
        program.to_owned()
    } else {
        let guess = format!("/usr/bin/{program}");
        diag.warn(
            cmd.line,
            format!("vrrp_script {}: `{program}` is not an absolute path and regha does not search PATH: the import guessed {guess}", s.name),
            Some("check it with `command -v` on the LB host"),
        );
        notes.above(
            "",
            format!("{program} was found through PATH by keepalived: check {guess}"),
        );
        guess
    };
    notes.beside(
        "script",
        "absolute path, then arguments; run without a shell",
    );

    let dur = |v: &Option<At<String>>, key: &str, diag: &mut Diag<'_>| -> Option<Duration> {
        let a = v.as_ref()?;
        match seconds(&a.v) {
            Some(d) if d > Duration::ZERO && d <= Duration::from_secs(3600) => Some(d),
            _ => {
                diag.warn(a.line, format!("vrrp_script {} {key} {:?} is not 1..=3600 seconds: regha's default is used", s.name, a.v), None);
                None
            }
        }
    };
    let interval = dur(&s.interval, "interval", diag).unwrap_or(Duration::from_secs(1));
    let timeout = dur(&s.timeout, "timeout", diag).unwrap_or(interval);
    let weight_text = match weight_override {
        Some((w, line)) => Some(At {
            v: w.to_owned(),
            line,
        }),
        None => s.weight.clone(),
    };
    let weight = weight_text.as_ref().and_then(|a| match a.v.parse::<i32>() {
        Ok(w) if (-254..=254).contains(&w) => Some(w),
        _ => {
            diag.warn(
                a.line,
                format!(
                    "weight {:?} is not in -254..=254: left out (0: FAULT on failure)",
                    a.v
                ),
                None,
            );
            None
        }
    });
    if s.reverse {
        diag.warn(s.line, format!("vrrp_script {}: `weight ... reverse` is not supported: the weight is applied the usual way", s.name), Some("negate the weight and invert the script's exit status"));
    }
    let count = |v: &Option<At<String>>, key: &str, diag: &mut Diag<'_>| -> Option<u32> {
        let a = v.as_ref()?;
        match a.v.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Some(n),
            _ => {
                diag.warn(
                    a.line,
                    format!(
                        "vrrp_script {} {key} {:?} is not in 1..=100: regha's default 1 is used",
                        s.name, a.v
                    ),
                    None,
                );
                None
            }
        }
    };
    let rise = count(&s.rise, "rise", diag).unwrap_or(1);
    let fall = count(&s.fall, "fall", diag).unwrap_or(1);
    if weight_override.is_some() {
        notes.above("", "weight from the instance's track_script line");
    }
    let script = TrackScript {
        name: sanitize_name(&s.name, "script"),
        program: PathBuf::from(program),
        args,
        interval,
        timeout,
        weight: weight.unwrap_or(0),
        rise,
        fall,
    };
    Some((script, notes))
}

/// `track_interface`: valid interface names, each once.
pub(super) fn interfaces(
    i: &Instance,
    group: Option<&SyncGroup>,
    diag: &mut Diag<'_>,
    notes: &mut Notes,
) -> Vec<TrackInterface> {
    let mut out: Vec<TrackInterface> = Vec::new();
    for t in &i.track_interfaces {
        let (name, weight) = &t.v;
        let ok = !name.is_empty()
            && name.len() <= 15
            && !name.contains(['/', ':'])
            && name != "."
            && name != "..";
        if !ok || out.iter().any(|o| &o.name == name) {
            diag.warn(t.line, format!("track_interface {name:?}: not a valid interface name, or listed twice: left out"), None);
            continue;
        }
        let weight = match weight.as_ref().map(|w| w.parse::<i32>()) {
            None => 0,
            Some(Ok(w)) if (-254..=254).contains(&w) => w,
            Some(_) => {
                diag.warn(t.line, format!("track_interface {name}: weight not in -254..=254: 0 (FAULT when down) is used"), None);
                0
            }
        };
        if let Some(g) = sync::ignores_weights(group)
            && weight != 0
        {
            diag.warn(
                t.line,
                ignored_weight("track_interface", name, weight, g),
                Some(IGNORED_HINT),
            );
            continue;
        }
        notes.beside(&format!("track_interfaces[{}]", out.len()), diag.at(t.line));
        out.push(TrackInterface {
            name: name.clone(),
            weight,
        });
    }
    out
}

/// `notify_master`, `_backup`, `_fault`, `_stop`: a script by absolute
/// path, without arguments.
pub(super) fn notify(i: &Instance, diag: &mut Diag<'_>, notes: &mut Notes) -> NotifyScripts {
    let mut out = NotifyScripts::default();
    for n in &i.notify {
        let (kind, cmd) = &n.v;
        let cmd = cmd.trim();
        if kind.is_empty() {
            diag.warn(
                n.line,
                format!("`notify {cmd}`: regha has no catch-all notify script (keepalived passed it TYPE NAME STATE PRIORITY)"),
                Some("set `vrrp.notify.master`, `backup` and `fault` to small scripts that call it with the arguments it expects"),
            );
            notes.below(
                LEFT_OUT,
                format!("notify (every transition): `{cmd}` ({})", diag.at(n.line)),
            );
            continue;
        }
        let slot = match kind.as_str() {
            "master" => &mut out.master,
            "backup" => &mut out.backup,
            "fault" => &mut out.fault,
            _ => &mut out.stop,
        };
        let single = !cmd.contains(char::is_whitespace) && !cmd.contains(SHELL_CHARS);
        if !single || !cmd.starts_with('/') {
            diag.warn(
                n.line,
                format!("notify_{kind} `{cmd}`: regha runs a notify script by absolute path, without arguments or a shell: left out (kept as a comment)"),
                Some("put the command in an executable script file and set its absolute path"),
            );
            notes.below(
                LEFT_OUT,
                format!("notify.{kind}: `{cmd}` ({})", diag.at(n.line)),
            );
            continue;
        }
        if slot.is_some() {
            diag.warn(
                n.line,
                format!("notify_{kind} set twice: the last is kept"),
                None,
            );
        }
        *slot = Some(PathBuf::from(cmd));
        notes.beside(&format!("notify.{kind}"), diag.at(n.line));
    }
    out
}
