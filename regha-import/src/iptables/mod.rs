//! `--iptables`: the old pair's firewall rules (a saved `iptables-save`, or
//! a script of `iptables` commands such as the reference
//! `iptables-backends.sh`), read for the one policy regha enforces at the
//! LB: which source networks may reach a service. A rule that accepts a
//! source network to a service's VIP (and port, when it names one) becomes
//! that service's `allow:`; every other rule is said in a warning, with
//! what replaces it.
//!
//! Pure: text in, config edits, notes and warnings out.

mod rule;

use regha_config::Config;

use crate::{
    notes::Notes,
    warning::{Diag, Warning},
};
use rule::{Rule, Target};

/// Reads `text` (named `file` in warnings) and adds what it allows to the
/// services of `config`, with a note beside each `allow` saying where it
/// came from.
pub(crate) fn apply(
    file: &str,
    text: &str,
    config: &mut Config,
    notes: &mut Notes,
    warnings: &mut Vec<Warning>,
) {
    let mut diag = Diag::new(file, warnings);
    let mut saw_rule = false;
    let mut from: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (line, parsed) in rule::rules(text) {
        saw_rule = true;
        let r = match parsed {
            Ok(r) => r,
            Err(why) => {
                diag.warn(line, format!("not read: {why}"), Some("write what it meant by hand: an `allow:` list under the service, or a rule on the backends (`regha-agent backend-setup`)"));
                continue;
            }
        };
        if let Some(i) = map_rule(&mut diag, line, &r, config) {
            from.entry(i).or_default().push(line);
        }
    }
    for (i, lines) in from {
        let name = file.rsplit('/').next().unwrap_or(file);
        notes.beside(
            &format!("services[{i}].allow"),
            format!("from {name}, {}", crate::warning::lines_list(&lines)),
        );
    }
    if !saw_rule {
        diag.warn(
            0,
            "no iptables rule found (lines `iptables -A|-I CHAIN ...` or `-A CHAIN ...`)",
            None,
        );
    }
}

/// Maps one rule; the index of the service whose `allow` it added to.
fn map_rule(diag: &mut Diag<'_>, line: usize, r: &Rule, config: &mut Config) -> Option<usize> {
    let service = r.dest.and_then(|d| {
        config.services.iter().position(|s| {
            d.prefix_len() == if s.vip.is_ipv4() { 32 } else { 128 }
                && d.addr() == s.vip
                && r.dport.is_none_or(|p| p == s.port)
        })
    });
    let backend = r.dest.is_some_and(|d| {
        config
            .services
            .iter()
            .flat_map(|s| &s.backends)
            .any(|b| d.contains(b.address))
    });
    match (r.target, service, r.source) {
        (Target::Accept, Some(i), Some(src)) => {
            let s = &mut config.services[i];
            if s.vip.is_ipv4() != src.is_ipv4() {
                diag.warn(
                    line,
                    format!("accepts {src} to {}, of another family: not mapped", s.vip),
                    None,
                );
                return None;
            }
            if !s.allow.contains(&src) {
                s.allow.push(src);
            }
            diag.note(
                line,
                format!(
                    "accepts {src} to the VIP {}: now `allow: [{}]` on service {:?}, enforced by the LB's XDP program (other sources are dropped and counted as `denied`)",
                    s.vip,
                    s.allow.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    s.name
                ),
                Some("list every network that must reach the registry: a source not listed can no longer connect"),
            );
            return Some(i);
        }
        (Target::Accept, None, Some(src)) if !backend => {
            let what = r.dest.map_or("any address".to_owned(), |d| d.to_string());
            diag.warn(
                line,
                format!("accepts {src} to {what}, which is no service's VIP: not mapped"),
                Some(&format!(
                    "if it meant a service, write under it: `allow: [{src}]`"
                )),
            );
        }
        (_, _, _) if backend => {
            let d = r.dest.expect("a backend rule names its destination");
            diag.warn(
                line,
                format!(
                    "{} to the backend {d}{}: a rule of the backends, not of the LB; with direct server return the backends receive the clients' own packets, so rules that admit only the proxies would block every client",
                    r.target.verb(),
                    r.source.map_or(String::new(), |s| format!(" from {s}"))
                ),
                Some("on each backend, `regha-agent backend-setup --apply` installs the equivalent policy: the VIP only through the LBs (their MACs), the backend's own address only from the LBs"),
            );
        }
        _ => {
            diag.warn(
                line,
                format!(
                    "{}: not a source allowed to a service, not mapped",
                    r.target.verb()
                ),
                None,
            );
        }
    }
    None
}
