//! `stats:`: the listener's address and its basic auth.

use std::net::SocketAddr;

use super::check::{Check, maybe};
use crate::raw;
use crate::types::{DEFAULT_STATS_LISTEN, PasswordSource, StatsAuth, StatsConfig};

pub(super) fn stats(c: &mut Check, s: &raw::Stats) -> Option<StatsConfig> {
    let listen = match s.listen.as_deref().map(str::trim) {
        None => Some(DEFAULT_STATS_LISTEN),
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(sa) if sa.port() == 0 => c.fail("stats.listen", format!("{text}: port 0 is not a port to listen on")),
            Ok(sa) => Some(sa),
            Err(_) => c.fail(
                "stats.listen",
                format!("{text:?} is not a socket address: expected IP:port, e.g. 127.0.0.1:1158 or [::1]:1158"),
            ),
        },
    };
    let auth = maybe(s.auth.as_ref(), |a| {
        let user = c.required(
            "stats.auth.user",
            a.user.as_deref(),
            "the basic auth user name",
        );
        let user = user.and_then(|u| {
            if u.is_empty() || u.contains(':') {
                let msg =
                    format!("{u:?}: must be non-empty, without ':' (basic auth splits on it)");
                return c.fail("stats.auth.user", msg);
            }
            Some(u.to_owned())
        });
        let password = match (a.password_file.as_deref(), a.password_env.as_deref()) {
            (Some(f), None) => c
                .absolute("stats.auth.password_file", f)
                .map(PasswordSource::File),
            (None, Some(v)) => {
                let valid = v.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    Some(PasswordSource::Env(v.to_owned()))
                } else {
                    c.fail(
                        "stats.auth.password_env",
                        format!("{v:?} is not an environment variable name: letters, digits and '_', not starting with a digit"),
                    )
                }
            }
            (Some(_), Some(_)) => c.fail(
                "stats.auth",
                "password_file and password_env are both set: keep one",
            ),
            (None, None) => c.fail(
                "stats.auth.password_file",
                "required: password_file (a file holding the password) or password_env (a variable holding it)",
            ),
        };
        Some(StatsAuth {
            user: user?,
            password: password?,
        })
    });
    Some(StatsConfig {
        listen: listen?,
        auth: auth?,
    })
}
