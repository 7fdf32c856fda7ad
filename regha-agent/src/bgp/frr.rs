//! The routing daemon's side, as FRR shows it: the BGP sessions (`show bgp
//! summary json`) and the BFD peers (`show bfd peers json`), read with
//! vtysh every [`READ_EVERY`] for `status`, the page and `/metrics`.
//!
//! vtysh talks to FRR's daemons over their sockets in `/var/run/frr/`,
//! which only the `frrvty` group may open. The agent drops its capabilities
//! after setup, so before it does it joins that group (`join_vty_group`):
//! the one privilege it keeps for this is a group membership, not a
//! capability. Parsing is pure and tested on FRR 8.4's output.

use std::{process::Stdio, time::Duration};

use regha_config::FrrConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

/// How often vtysh is run.
pub const READ_EVERY: Duration = Duration::from_secs(5);
/// How long one vtysh run may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The group FRR's vty sockets belong to (Debian's `frr` package).
pub const VTY_GROUP: &str = "frrvty";

/// What FRR says of its sessions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RoutingStatus {
    /// Why FRR could not be read (vtysh missing, FRR not running, no
    /// access), if it could not.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub bgp: Vec<BgpSession>,
    #[serde(default)]
    pub bfd: Vec<BfdSession>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BgpSession {
    /// `ipv4Unicast` or `ipv6Unicast`.
    pub afi: String,
    pub peer: String,
    pub remote_as: Option<u64>,
    /// `Established`, `Active`, `Idle`...
    pub state: String,
    pub uptime: Option<String>,
    /// Prefixes announced to the peer.
    pub prefixes_sent: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BfdSession {
    pub peer: String,
    pub interface: Option<String>,
    /// `up`, `down`, `init`...
    pub status: String,
    /// The detection multiplier times the receive interval, in ms.
    pub detect_ms: Option<u64>,
}

/// `show bgp summary json`: every address family's peers.
pub fn parse_bgp_summary(json: &str) -> Result<Vec<BgpSession>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("bgp summary: {e}"))?;
    let mut out = Vec::new();
    let Some(families) = v.as_object() else {
        return Err("bgp summary: not a JSON object".into());
    };
    for (afi, family) in families {
        let Some(peers) = family.get("peers").and_then(Value::as_object) else {
            continue;
        };
        for (peer, p) in peers {
            out.push(BgpSession {
                afi: afi.clone(),
                peer: peer.clone(),
                remote_as: p.get("remoteAs").and_then(Value::as_u64),
                state: p
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
                uptime: p
                    .get("peerUptime")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                prefixes_sent: p.get("pfxSnt").and_then(Value::as_u64),
            });
        }
    }
    Ok(out)
}

/// `show bfd peers json`: a list of peers.
pub fn parse_bfd_peers(json: &str) -> Result<Vec<BfdSession>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("bfd peers: {e}"))?;
    let Some(list) = v.as_array() else {
        return Err("bfd peers: not a JSON list".into());
    };
    Ok(list
        .iter()
        .map(|p| BfdSession {
            peer: p
                .get("peer")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            interface: p
                .get("interface")
                .and_then(Value::as_str)
                .map(str::to_owned),
            status: p
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            detect_ms: match (
                p.get("detect-multiplier").and_then(Value::as_u64),
                p.get("receive-interval").and_then(Value::as_u64),
            ) {
                (Some(m), Some(rx)) => Some(m * rx),
                _ => None,
            },
        })
        .collect())
}

async fn vtysh(config: &FrrConfig, command: &str) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(&config.vtysh);
    if let Some(ns) = &config.pathspace {
        cmd.args(["-N", ns]);
    }
    cmd.args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let shown = config.vtysh.display();
    let out = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("{shown} -c '{command}' took over {TIMEOUT:?}"))?
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{shown} -c '{command}' failed ({}): {}",
            out.status,
            err.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One read of both.
pub async fn read(config: &FrrConfig) -> RoutingStatus {
    let bgp = match vtysh(config, "show bgp summary json").await {
        Ok(text) => parse_bgp_summary(&text),
        Err(e) => Err(e),
    };
    let bfd = match vtysh(config, "show bfd peers json").await {
        Ok(text) => parse_bfd_peers(&text),
        Err(e) => Err(e),
    };
    let errors: Vec<String> = [bgp.as_ref().err(), bfd.as_ref().err()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    RoutingStatus {
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        bgp: bgp.unwrap_or_default(),
        bfd: bfd.unwrap_or_default(),
    }
}

/// Reads FRR every [`READ_EVERY`] into the watch, until dropped.
pub fn start(
    config: FrrConfig,
) -> (
    watch::Receiver<Option<RoutingStatus>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(READ_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let status = read(&config).await;
            if let Some(e) = &status.error {
                tracing::debug!(error = %e, "cannot read FRR's sessions");
            }
            tx.send_replace(Some(status));
        }
    });
    (rx, task)
}

/// Adds [`VTY_GROUP`] to the process's supplementary groups (every
/// thread: glibc's `setgroups` applies to all), so vtysh can reach FRR
/// after the capabilities are dropped. Needs CAP_SETGID: call it before.
/// `Ok(false)` when the group does not exist (FRR not installed).
pub fn join_vty_group() -> std::io::Result<bool> {
    let name = std::ffi::CString::new(VTY_GROUP).expect("no NUL");
    // SAFETY: getgrnam returns a pointer into static storage or null; read
    // once, before any other call that could overwrite it.
    let gid = unsafe {
        let g = libc::getgrnam(name.as_ptr());
        if g.is_null() {
            return Ok(false);
        }
        (*g).gr_gid
    };
    // SAFETY: getgroups with a buffer of the size it reported.
    let mut groups = unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut());
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut v = vec![0 as libc::gid_t; n as usize];
        if libc::getgroups(n, v.as_mut_ptr()) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        v
    };
    if groups.contains(&gid) {
        return Ok(true);
    }
    groups.push(gid);
    // SAFETY: a valid list of `groups.len()` gids.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from FRR 8.4.4's `show bgp summary json` on an LB.
    const SUMMARY: &str = r#"{
  "ipv4Unicast":{
    "routerId":"198.51.100.11","as":65011,"vrfId":0,"vrfName":"default",
    "peers":{
      "198.51.100.1":{"hostname":"router","remoteAs":65000,"localAs":65011,"version":4,
        "msgRcvd":12,"msgSent":14,"tableVersion":0,"outq":0,"inq":0,
        "peerUptime":"00:00:09","peerUptimeMsec":9000,"peerUptimeEstablishedEpoch":1764567000,
        "pfxRcd":0,"pfxSnt":1,"state":"Established","peerState":"OK",
        "connectionsEstablished":1,"connectionsDropped":0,"idType":"ipv4"}
    },
    "failedPeers":0,"displayedPeers":1,"totalPeers":1,"dynamicPeers":0,"bestPath":{"multiPathRelax":"false"}
  },
  "ipv6Unicast":{
    "routerId":"198.51.100.11","as":65011,
    "peers":{"2001:db8::1":{"remoteAs":65000,"peerUptime":"never","state":"Active","pfxSnt":0}}
  }
}"#;

    const BFD: &str = r#"[{"multihop":false,"peer":"198.51.100.1","local":"198.51.100.11","vrf":"default","interface":"eth0","id":1843289541,"remote-id":3066512410,"passive-mode":false,"status":"up","uptime":9,"diagnostic":"ok","remote-diagnostic":"ok","receive-interval":100,"transmit-interval":100,"echo-receive-interval":50,"echo-transmit-interval":0,"detect-multiplier":3,"remote-receive-interval":100,"remote-transmit-interval":100,"remote-echo-receive-interval":50,"remote-detect-multiplier":3}]"#;

    #[test]
    fn bgp_summary_lists_every_family_s_peers() {
        let s = parse_bgp_summary(SUMMARY).unwrap();
        assert_eq!(s.len(), 2);
        let v4 = s.iter().find(|p| p.afi == "ipv4Unicast").unwrap();
        assert_eq!(v4.peer, "198.51.100.1");
        assert_eq!(v4.state, "Established");
        assert_eq!(v4.remote_as, Some(65000));
        assert_eq!(v4.prefixes_sent, Some(1));
        assert_eq!(v4.uptime.as_deref(), Some("00:00:09"));
        let v6 = s.iter().find(|p| p.afi == "ipv6Unicast").unwrap();
        assert_eq!(v6.state, "Active");
        assert_eq!(parse_bgp_summary("{}").unwrap(), Vec::new());
        assert!(parse_bgp_summary("% BGP instance not found").is_err());
    }

    #[test]
    fn bfd_peers_with_their_detection_time() {
        let b = parse_bfd_peers(BFD).unwrap();
        assert_eq!(
            b,
            vec![BfdSession {
                peer: "198.51.100.1".into(),
                interface: Some("eth0".into()),
                status: "up".into(),
                detect_ms: Some(300),
            }]
        );
        assert!(parse_bfd_peers("{}").is_err());
    }
}
