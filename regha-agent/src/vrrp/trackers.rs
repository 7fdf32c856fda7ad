//! The I/O behind tracking: tracked scripts run on their interval, and link
//! states followed through rtnetlink link events. Each reports to the
//! instance over one channel; the instance keeps the counters and the
//! arithmetic (`track.rs`) and never waits on a script or on netlink.
//!
//! Links are watched through events, not polling: one netlink socket joins
//! `RTMGRP_LINK` first and only then dumps the links, so no change falls
//! between the dump and the first event. A link counts as up when it is
//! administratively up and running (`IFF_UP` and `IFF_RUNNING`: a veth whose
//! peer is down, or a NIC without carrier, is not running); a link that does
//! not exist, or is deleted, is down.

use std::process::Stdio;

use futures::{StreamExt, TryStreamExt};
use netlink_packet_route::{
    RouteNetlinkMessage,
    link::{LinkAttribute, LinkFlags, LinkMessage},
};
use rtnetlink::{
    constants::RTMGRP_LINK,
    packet_core::NetlinkPayload,
    sys::{AsyncSocket, SocketAddr},
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use regha_config::TrackScript;

/// What a tracker saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackEvent {
    /// Tracked script number `index` (in `vrrp.track_scripts`) finished one run.
    Script { index: usize, success: bool },
    /// The link state of interface `name` (a tracked one or the VRRP one).
    Link { name: String, up: bool },
}

/// The tasks feeding one instance; dropping it stops them (and kills any
/// script still running).
pub struct Trackers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Trackers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts a runner per script and, when `links` is not empty, the link watcher.
pub fn start(
    scripts: &[TrackScript],
    links: Vec<String>,
    tx: mpsc::UnboundedSender<TrackEvent>,
) -> std::io::Result<Trackers> {
    let mut tasks = Vec::new();
    for (index, script) in scripts.iter().enumerate() {
        tasks.push(tokio::spawn(run_script(index, script.clone(), tx.clone())));
    }
    if !links.is_empty() {
        let (mut conn, handle, messages) = rtnetlink::new_connection()?;
        conn.socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, RTMGRP_LINK))?;
        tasks.push(tokio::spawn(conn));
        tasks.push(tokio::spawn(watch_links(handle, messages, links, tx)));
    }
    Ok(Trackers { tasks })
}

/// Runs `script` every `interval` (measured start to start; a run that
/// takes longer delays the next), forever.
async fn run_script(index: usize, script: TrackScript, tx: mpsc::UnboundedSender<TrackEvent>) {
    let mut tick = tokio::time::interval(script.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let success = run_once(&script).await;
        if tx.send(TrackEvent::Script { index, success }).is_err() {
            return;
        }
    }
}

/// One run: the program with its arguments, no shell, no stdin, output
/// discarded; killed at the timeout. Whether it exited 0 in time.
async fn run_once(s: &TrackScript) -> bool {
    let started = tokio::process::Command::new(&s.program)
        .args(&s.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match started {
        Ok(c) => c,
        Err(e) => {
            warn!(script = %s.name, program = %s.program.display(), error = %e, "tracked script did not start");
            return false;
        }
    };
    match tokio::time::timeout(s.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            debug!(script = %s.name, %status, "tracked script ran");
            status.success()
        }
        Ok(Err(e)) => {
            warn!(script = %s.name, error = %e, "tracked script: wait failed");
            false
        }
        Err(_) => {
            warn!(script = %s.name, timeout = ?s.timeout, "tracked script timed out: killed, counted as a failure");
            let _ = child.kill().await;
            false
        }
    }
}

type LinkMessages = futures::channel::mpsc::UnboundedReceiver<(
    rtnetlink::packet_core::NetlinkMessage<RouteNetlinkMessage>,
    SocketAddr,
)>;

/// Reports every watched link's state once (down if absent), then each change.
async fn watch_links(
    handle: rtnetlink::Handle,
    mut messages: LinkMessages,
    names: Vec<String>,
    tx: mpsc::UnboundedSender<TrackEvent>,
) {
    let mut known: Vec<(String, Option<u32>, bool)> =
        names.into_iter().map(|n| (n, None, false)).collect();
    let mut dump = handle.link().get().execute();
    loop {
        match dump.try_next().await {
            Ok(Some(msg)) => {
                let _ = update(&mut known, &msg, false);
            }
            Ok(None) => break,
            Err(e) => {
                warn!(error = %e, "cannot list links: tracked interfaces count as down until an event says otherwise");
                break;
            }
        }
    }
    for (name, _, up) in &known {
        info!(iface = %name, up, "tracked link");
        if tx
            .send(TrackEvent::Link {
                name: name.clone(),
                up: *up,
            })
            .is_err()
        {
            return;
        }
    }
    while let Some((msg, _)) = messages.next().await {
        let (link, deleted) = match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => (l, false),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => (l, true),
            _ => continue,
        };
        if let Some((name, up)) = update(&mut known, &link, deleted) {
            info!(iface = %name, up, "tracked link changed");
            if tx.send(TrackEvent::Link { name, up }).is_err() {
                return;
            }
        }
    }
    warn!("link events stopped: tracked interfaces keep their last state");
}

/// Applies one link message to the watched links; the link's name and new
/// state when it changed.
fn update(
    known: &mut [(String, Option<u32>, bool)],
    msg: &LinkMessage,
    deleted: bool,
) -> Option<(String, bool)> {
    let index = msg.header.index;
    let name = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    });
    let entry = known
        .iter_mut()
        .find(|(n, i, _)| Some(n.as_str()) == name || *i == Some(index))?;
    // A rename away from the watched name is a removal for us.
    let gone = deleted || name.is_some_and(|n| n != entry.0);
    let flags = msg.header.flags;
    let up = !gone && flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running);
    entry.1 = if gone { None } else { Some(index) };
    if entry.2 == up {
        return None;
    }
    entry.2 = up;
    Some((entry.0.clone(), up))
}

/// The script's program and arguments as one line, for logs.
pub fn command_line(s: &TrackScript) -> String {
    let mut line = s.program.display().to_string();
    for a in &s.args {
        line.push(' ');
        line.push_str(a);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{path::PathBuf, time::Duration};

    fn script(program: &str, args: &[&str], timeout_ms: u64) -> TrackScript {
        TrackScript {
            name: "t".into(),
            program: PathBuf::from(program),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(timeout_ms),
            weight: 0,
            rise: 1,
            fall: 1,
        }
    }

    #[tokio::test]
    async fn a_run_succeeds_only_on_exit_zero_within_the_timeout() {
        let cases = [
            (script("/bin/true", &[], 2000), true, "exit 0"),
            (script("/bin/false", &[], 2000), false, "exit 1"),
            (
                script("/bin/sh", &["-c", "exit 0"], 2000),
                true,
                "arguments are passed, no shell of ours",
            ),
            (
                script("/nonexistent/check", &[], 2000),
                false,
                "cannot start",
            ),
            (
                script("/bin/sleep", &["5"], 200),
                false,
                "killed at the timeout",
            ),
        ];
        for (s, want, what) in cases {
            let t0 = std::time::Instant::now();
            assert_eq!(run_once(&s).await, want, "{what}");
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "{what}: took {:?}",
                t0.elapsed()
            );
        }
    }

    fn link(index: u32, name: Option<&str>, flags: LinkFlags) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = flags;
        if let Some(n) = name {
            m.attributes.push(LinkAttribute::IfName(n.to_owned()));
        }
        m
    }

    #[test]
    fn link_messages_update_the_watched_links() {
        let up = LinkFlags::Up | LinkFlags::Running;
        let mut known = vec![
            ("eth0".to_owned(), None, false),
            ("eth1".to_owned(), None, true),
        ];
        // (message, deleted, reported change, what)
        /// The message, whether it is a deletion, the change reported, what it shows.
        type Step<'a> = (LinkMessage, bool, Option<(&'a str, bool)>, &'a str);
        let steps: Vec<Step> = vec![
            (
                link(2, Some("eth0"), up),
                false,
                Some(("eth0", true)),
                "eth0 comes up",
            ),
            (
                link(2, Some("eth0"), up),
                false,
                None,
                "no change, no report",
            ),
            (
                link(2, Some("eth0"), LinkFlags::Up),
                false,
                Some(("eth0", false)),
                "up but not running: no carrier",
            ),
            (
                link(2, None, up),
                false,
                Some(("eth0", true)),
                "matched by index without a name",
            ),
            (link(9, Some("lo9"), up), false, None, "an unwatched link"),
            (
                link(3, Some("eth1"), LinkFlags::Running),
                false,
                Some(("eth1", false)),
                "administratively down",
            ),
            (
                link(2, Some("eth0"), up),
                true,
                Some(("eth0", false)),
                "deleted",
            ),
            (
                link(2, Some("eth0"), up),
                false,
                Some(("eth0", true)),
                "created again",
            ),
            (
                link(2, Some("wan0"), up),
                false,
                Some(("eth0", false)),
                "renamed away",
            ),
        ];
        for (msg, deleted, want, what) in steps {
            let got = update(&mut known, &msg, deleted);
            assert_eq!(got, want.map(|(n, u)| (n.to_owned(), u)), "{what}");
        }
    }

    #[test]
    fn command_line_joins_program_and_arguments() {
        assert_eq!(
            command_line(&script("/usr/bin/check", &["-p", "5000"], 1)),
            "/usr/bin/check -p 5000"
        );
    }
}
