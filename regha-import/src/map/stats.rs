//! HAProxy's stats page (`listen` with `stats ...`) as regha's stats
//! listener. The password is never copied: the output names the file to
//! write a new one to.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use regha_config::{DEFAULT_STATS_LISTEN, PasswordSource, StatsAuth, StatsConfig};

use crate::haproxy::Proxy;
use crate::notes::Notes;
use crate::warning::Diag;

/// Where the import tells the operator to put the stats password.
const STATS_PASSWORD_FILE: &str = "/etc/regha/stats.pass";

/// The stats page of `x` (a section with `stats` and a `bind`, but no
/// servers) as the stats listener, with its notes (paths relative to
/// `stats`).
pub(super) fn stats(x: &Proxy, diag: &mut Diag<'_>) -> (StatsConfig, Notes) {
    let mut notes = Notes::default();
    above_stats(&mut notes);
    notes.above(
        "",
        format!("HAProxy's `listen {}` ({}).", x.name, diag.at(x.line)),
    );
    let b = &x.binds[0];
    let listen = match b.address {
        Some(a) if !a.is_unspecified() && !a.is_multicast() => {
            notes.beside(
                "listen",
                format!("bind {a}:{}, {}", b.port, diag.at(b.line)),
            );
            SocketAddr::new(a, b.port)
        }
        _ => {
            diag.warn(
                b.line,
                format!("the stats page listened on every address (bind *:{}); regha's listener binds 127.0.0.1:{} by default, so it is reachable only from the LB host itself", b.port, b.port),
                Some("set `stats.listen` to this host's own address to reach it from elsewhere (with `auth`)"),
            );
            notes.above(
                "",
                format!(
                    "HAProxy listened on every address (bind *:{}); regha binds localhost unless told.",
                    b.port
                ),
            );
            notes.beside(
                "listen",
                format!("bind *:{}, {}: localhost only", b.port, diag.at(b.line)),
            );
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), b.port)
        }
    };
    let mut auth = None;
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    for (line, words) in &x.stats {
        match words.first().map(String::as_str) {
            Some("auth") => {
                let cred = words.get(1).map(String::as_str).unwrap_or_default();
                let (user, pass) = cred.split_once(':').unwrap_or((cred, ""));
                if auth.is_some() {
                    diag.warn(*line, format!("another `stats auth` user ({user}): regha's listener has one user, the first is kept"), None);
                } else if user.is_empty() || pass.is_empty() {
                    diag.warn(*line, "`stats auth` without user:password: no auth imported", None);
                } else {
                    diag.warn(
                        *line,
                        format!("`stats auth {user}:...`: regha reads the password from a file, never from the config: the output names {STATS_PASSWORD_FILE}, which you must create"),
                        Some(&format!(
                            "install -m 600 /dev/null {STATS_PASSWORD_FILE} && printf '%s' 'NEW-PASSWORD' > {STATS_PASSWORD_FILE}  (the old password sat in a world-readable haproxy.cfg: choose a new one; it is not copied to the output)"
                        )),
                    );
                    notes.beside(
                        "auth.password_file",
                        format!("stats auth, {}: write the password here, mode 600", diag.at(*line)),
                    );
                    auth = Some(StatsAuth {
                        user: user.to_owned(),
                        password: PasswordSource::File(PathBuf::from(STATS_PASSWORD_FILE)),
                    });
                }
            }
            Some("uri") => diag.note(
                *line,
                format!("stats uri {}: regha's page is at `/`, with `/metrics` (Prometheus) and `/status` (JSON) beside it", words.get(1).map_or("", String::as_str)),
                None,
            ),
            Some(w) => {
                others.entry(format!("stats {w}")).or_insert(*line);
            }
            None => {}
        }
    }
    if let Some((_, line)) = others.iter().next() {
        let list: Vec<&str> = others.keys().map(String::as_str).collect();
        diag.note(
            *line,
            format!(
                "{}: not needed: regha's page refreshes itself, shows no version, and is read-only",
                list.join(", ")
            ),
            None,
        );
    }
    (StatsConfig { listen, auth }, notes)
}

/// What HAProxy had no stats page for: regha's default listener, said so.
pub(super) fn default_stats(haproxy: bool, notes: &mut Notes) -> StatsConfig {
    let mut own = Notes::default();
    above_stats(&mut own);
    own.above(
        "",
        if haproxy {
            "HAProxy had no stats page: regha's default listener is kept."
        } else {
            "No HAProxy config was imported: regha's default listener is kept."
        },
    );
    own.beside("listen", "the default");
    notes.mount("stats", own);
    StatsConfig {
        listen: DEFAULT_STATS_LISTEN,
        auth: None,
    }
}

/// What the stats listener is, above `stats:` either way.
fn above_stats(notes: &mut Notes) {
    notes.gap("");
    notes.above(
        "",
        "The stats listener: /metrics (Prometheus), /status (JSON) and a page like",
    );
    notes.above("", "HAProxy's. `stats: null` turns it off.");
}
