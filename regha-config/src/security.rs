//! `check-config` warnings about what is valid but unsafe (pure: the
//! config alone decides). Scripts that someone other than root could change
//! are not warnings but errors, from [`super::script_security`].

use regha_model::VrrpVersion;

use crate::types::HealthKind;

use super::{Config, ConfigError};

/// The unsafe settings of `config`, each with its field path.
pub fn security_warnings(config: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    if let Some(stats) = &config.stats
        && stats.auth.is_none()
        && !stats.listen.ip().is_loopback()
    {
        out.push(ConfigError::new(
            "stats.listen",
            format!(
                "{} is not a loopback address and stats.auth is not set: anyone who reaches it reads every service, backend and health check; set stats.auth or listen on 127.0.0.1",
                stats.listen
            ),
        ));
    }
    for (i, s) in config.services.iter().enumerate() {
        if let HealthKind::Http { tls: Some(t), .. } = &s.health.kind
            && !t.verify
        {
            out.push(ConfigError::new(
                format!("services[{i}].health.http.tls.verify"),
                "false: the checks trust any certificate for any name, so they cannot tell the registry from whatever else answers on its address; set ca_file (or install the CA in the system store) and verify: true",
            ));
        }
    }
    for (i, v) in config.vrrp.iter().enumerate() {
        if !v.unicast_peers.is_empty() {
            continue;
        }
        let at = config.vrrp_path(i);
        match v.version {
            VrrpVersion::V2 if v.auth_pass.is_none() => out.push(ConfigError::new(
                format!("{at}.auth_pass"),
                "not set, and adverts are multicast: anyone on the segment can send a higher priority and take the VIPs; set auth_pass on every host (keepalived's auth_type PASS) or list the hosts in unicast_peers",
            )),
            VrrpVersion::V3 => out.push(ConfigError::new(
                format!("{at}.version"),
                "3 has no authentication and adverts are multicast: anyone on the segment can send a higher priority and take the VIPs; list the other hosts in unicast_peers, so that adverts from any other address are dropped",
            )),
            VrrpVersion::V2 => {}
        }
    }
    out
}
