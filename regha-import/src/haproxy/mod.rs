//! haproxy.cfg as regha reads it: each frontend, backend and listen with
//! the settings it inherits from the `defaults` section before it; values
//! still as written, each with its line; [`crate::map`] checks and maps
//! them.
//!
//! ```text
//!  text --lex.rs--> Sections --directives.rs--> Proxies { frontend, backend, listen }
//! ```

mod directives;
mod lex;

pub(crate) use lex::Kind;
use lex::{Line, Section, sections};

use std::net::IpAddr;
use std::time::Duration;

use crate::warning::{Diag, Warning};

/// A HAProxy time: a number of milliseconds, or with a unit (`us`, `ms`,
/// `s`, `m`, `h`, `d`).
pub(crate) fn time(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86400)?),
        _ => return None,
    };
    Some(d)
}

/// One `bind` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bind {
    /// None: every address (`:5000`, `*:5000`, `0.0.0.0:5000`, `:::5000`).
    pub address: Option<IpAddr>,
    /// Bound to every IPv6 address (`:::5000`, `[::]:5000`).
    pub any_v6: bool,
    pub port: u16,
    pub line: usize,
}

/// `option httpchk` and `http-check` of a proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HttpCheck {
    pub line: usize,
    pub method: Option<String>,
    pub uri: Option<String>,
    pub host: Option<String>,
    /// (line, `expect` arguments).
    pub expect: Vec<(usize, Vec<String>)>,
    /// Lines of `http-check` directives regha does not use.
    pub unused: Vec<(usize, String)>,
}

/// `default-server` / `server` parameters that matter to regha.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerParams {
    pub inter: Option<(usize, String)>,
    /// `fastinter`: the interval while a server is in transition.
    pub fastinter: Option<(usize, String)>,
    pub rise: Option<(usize, String)>,
    pub fall: Option<(usize, String)>,
    pub weight: Option<(usize, String)>,
    pub check_port: Option<(usize, String)>,
    /// `check-ssl` or `ssl` (checks over TLS; `ssl` also encrypts the
    /// traffic), or `no-check-ssl` / `no-ssl` (plain): (line, the word).
    pub ssl: Option<(usize, String)>,
    /// `verify none|required`.
    pub verify: Option<(usize, String)>,
    /// `ca-file <path>` (`@system-ca`: the system's roots).
    pub ca_file: Option<(usize, String)>,
    /// `crt <path>`: the client certificate, with its key.
    pub crt: Option<(usize, String)>,
    /// `check-sni <name>`: the SNI of the checks.
    pub check_sni: Option<(usize, String)>,
    /// `sni <expression>`: the SNI of the traffic (and of the checks
    /// without `check-sni`).
    pub sni: Option<(usize, String)>,
    /// `verifyhost <name>`: the name verified in the certificate.
    pub verifyhost: Option<(usize, String)>,
}

/// The settings a proxy takes from `defaults` unless it sets its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    pub mode: Option<(usize, String)>,
    pub balance: Option<(usize, Vec<String>)>,
    pub hash_type: Option<(usize, Vec<String>)>,
    pub httpchk: Option<HttpCheck>,
    /// `option tcp-check`, `ssl-hello-chk`, `mysql-check`, ...: (line, name).
    pub other_check: Option<(usize, String)>,
    pub timeout_check: Option<(usize, String)>,
    pub default_server: ServerParams,
    /// Lines that only matter to an L7 proxy: (line, directive).
    pub l7: Vec<(usize, String)>,
    /// `timeout`s, `maxconn`, ... : (line, directive), grouped in one note.
    pub limits: Vec<(usize, String)>,
    /// `stats ...` inherited from defaults.
    pub stats_lines: Vec<(usize, String)>,
}

/// One `server` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Server {
    pub name: String,
    pub line: usize,
    pub address: String,
    pub params: ServerParams,
    pub check: bool,
    pub backup: bool,
    pub disabled: bool,
    /// Parameters with no regha meaning (`maxconn 100`, `send-proxy`, ...).
    pub ignored: Vec<String>,
}

/// A frontend, backend or listen section, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub kind: Kind,
    pub name: String,
    pub line: usize,
    pub binds: Vec<Bind>,
    pub default_backend: Option<(usize, String)>,
    pub use_backend: Vec<usize>,
    pub settings: Settings,
    pub servers: Vec<Server>,
    /// `stats` directives of this section itself: (line, words after `stats`).
    pub stats: Vec<(usize, Vec<String>)>,
    /// Directives the import does not know: (line, directive).
    pub unknown: Vec<(usize, String)>,
}

/// What regha takes from a haproxy.cfg.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Proxies {
    pub proxies: Vec<Proxy>,
}

impl Proxies {
    pub fn find(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && matches!(p.kind, Kind::Backend | Kind::Listen))
    }
}

/// Reads every section. `global` yields one grouped note; `defaults` are
/// folded into the proxies after them.
pub(crate) fn read(file: &str, text: &str, warnings: &mut Vec<Warning>) -> Proxies {
    let mut diag = Diag::new(file, warnings);
    let mut defaults = Settings::default();
    let mut out = Proxies::default();
    for s in sections(text, &mut diag) {
        match s.kind {
            Kind::Global => global(&s, &mut diag),
            Kind::Defaults => {
                let mut d = Proxy::new(&s, Settings::default());
                for l in &s.lines {
                    d.directive(l, &mut diag);
                }
                if !d.binds.is_empty() || !d.servers.is_empty() {
                    diag.warn(s.line, "`bind`/`server` in defaults: ignored", None);
                }
                d.settings.stats_lines = d
                    .stats
                    .iter()
                    .map(|(l, w)| (*l, format!("stats {}", w.join(" "))))
                    .collect();
                report_unknown(&d, &mut diag);
                defaults = d.settings;
            }
            Kind::Frontend | Kind::Backend | Kind::Listen => {
                let mut p = Proxy::new(&s, defaults.clone());
                for l in &s.lines {
                    p.directive(l, &mut diag);
                }
                report_unknown(&p, &mut diag);
                out.proxies.push(p);
            }
            Kind::Other => diag.note(
                s.line,
                format!(
                    "`{} {}` section: nothing for regha in it, ignored",
                    s.keyword, s.name
                ),
                None,
            ),
        }
    }
    out
}

fn report_unknown(p: &Proxy, diag: &mut Diag<'_>) {
    for (line, d) in &p.unknown {
        diag.warn(
            *line,
            format!("`{d}` in {}: not known to the import, ignored", p.name),
            None,
        );
    }
}

fn global(s: &Section, diag: &mut Diag<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for l in &s.lines {
        let w = l.word(0).to_owned();
        match w.as_str() {
            "log" => diag.note(
                l.no,
                "`log` in global: regha logs its own events to stderr (the journal); it sees no requests to log",
                Some("per-service traffic is in the stats listener (`/metrics`) and `regha-agent status`"),
            ),
            _ if !seen.contains(&w) => seen.push(w),
            _ => {}
        }
    }
    if !seen.is_empty() {
        diag.note(
            s.line,
            format!(
                "global settings of the HAProxy process, nothing to map: {}",
                seen.join(", ")
            ),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_times() {
        assert_eq!(time("5000"), Some(Duration::from_secs(5)));
        assert_eq!(time("5s"), Some(Duration::from_secs(5)));
        assert_eq!(time("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(time("2m"), Some(Duration::from_secs(120)));
        assert_eq!(time("10us"), Some(Duration::from_micros(10)));
        assert_eq!(time("5 s"), None);
        assert_eq!(time("fast"), None);
        assert_eq!(time("99999999999999999999d"), None);
    }

    // ---- the reference pair ----
}
