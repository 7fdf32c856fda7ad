//! keepalived (Debian's 2.2) as a VRRP peer in a lab namespace, the way the
//! stack regha replaces runs it: one `vrrp_instance` (or several, in a
//! `vrrp_sync_group`), in the foreground, logging to a file the test reads.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{lab::Host, tempdir::TempDir, wait::wait_for};

pub const KEEPALIVED_BIN: &str = "/usr/sbin/keepalived";

/// The `vrrp_instance` a test wants.
pub struct KeepalivedInstance<'a> {
    pub vrid: u8,
    pub priority: u8,
    /// `advert_int` in seconds (fractions allowed for v3).
    pub advert_int: f64,
    pub version: u8,
    pub auth_pass: Option<&'a str>,
    pub vips: &'a [&'a str],
    pub nopreempt: bool,
    pub unicast_peers: &'a [&'a str],
}

impl<'a> KeepalivedInstance<'a> {
    /// An instance on `vrid` at `priority` for `vips` (`address/prefix`),
    /// with keepalived's defaults otherwise: VRRP v2, `advert_int 1`, no
    /// authentication, preemption, multicast.
    pub fn new(vrid: u8, priority: u8, vips: &'a [&'a str]) -> Self {
        Self {
            vrid,
            priority,
            advert_int: 1.0,
            version: 2,
            auth_pass: None,
            vips,
            nopreempt: false,
            unicast_peers: &[],
        }
    }
}

pub struct Keepalived {
    dir: TempDir,
    ns: String,
    child: Option<Child>,
}

impl Keepalived {
    /// One instance, as the reference deployment runs it.
    pub fn config(i: &KeepalivedInstance) -> String {
        Self::config_group(std::slice::from_ref(i), None)
    }

    /// Instances `VI_1`, `VI_2`, ... and, with `sync_group`, a
    /// `vrrp_sync_group` of all of them.
    pub fn config_group(instances: &[KeepalivedInstance], sync_group: Option<&str>) -> String {
        let mut out = format!(
            "global_defs {{\n    vrrp_version {}\n    enable_script_security\n    vrrp_garp_master_delay 1\n}}\n",
            instances.first().map_or(2, |i| i.version)
        );
        for (n, i) in instances.iter().enumerate() {
            out += &instance(&format!("VI_{}", n + 1), i);
        }
        if let Some(g) = sync_group {
            let members: String = (1..=instances.len()).map(|n| format!(" VI_{n}")).collect();
            out += &format!("vrrp_sync_group {g} {{\n    group {{{members} }}\n}}\n");
        }
        out
    }

    pub fn start(host: &Host, instance: &KeepalivedInstance) -> Self {
        Self::start_config(host, &Self::config(instance))
    }

    /// keepalived with `instances` in the sync group `group` (keepalived's
    /// `vrrp_sync_group`: they fail over together).
    pub fn start_group(host: &Host, instances: &[KeepalivedInstance], group: &str) -> Self {
        Self::start_config(host, &Self::config_group(instances, Some(group)))
    }

    fn start_config(host: &Host, config: &str) -> Self {
        assert!(
            std::path::Path::new(KEEPALIVED_BIN).exists(),
            "{KEEPALIVED_BIN} is missing: `cargo xtask setup` installs Debian's keepalived"
        );
        let dir = TempDir::new("keepalived");
        std::fs::write(dir.path().join("keepalived.conf"), config).unwrap();
        let mut k = Self {
            dir,
            ns: host.ns.name().to_owned(),
            child: None,
        };
        k.spawn();
        k
    }

    fn spawn(&mut self) {
        let p = |f: &str| self.dir.path().join(f);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p("log"))
            .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, KEEPALIVED_BIN])
            .args([
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "--no-syslog",
                "--vrrp",
                "-f",
            ])
            .arg(p("keepalived.conf"))
            .arg("-p")
            .arg(p("keepalived.pid"))
            .arg("-r")
            .arg(p("vrrp.pid"))
            .arg("-c")
            .arg(p("checkers.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start keepalived"));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// SIGKILL keepalived and its VRRP child (a crash: no priority 0 advert).
    /// Waits until both are dead, then removes their pid files: the VRRP
    /// child is reparented when its parent dies and may linger as a zombie
    /// for a while, and a keepalived started meanwhile would find its pid
    /// in `vrrp.pid` and refuse to start ("daemon is already running").
    pub fn kill(&mut self) {
        let mut pids = Vec::new();
        for f in ["vrrp.pid", "keepalived.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.path().join(f))
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                // SAFETY: kill(2) on a pid keepalived wrote.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                pids.push(pid);
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Best effort: a process that will not die is reported by the
        // next start, not here (this runs in Drop too).
        let _ = wait_for("keepalived's processes to die", Duration::from_secs(2))
            .every(Duration::from_millis(10))
            .try_until(|| !pids.iter().any(|&p| alive(p)));
        for f in ["vrrp.pid", "keepalived.pid", "checkers.pid"] {
            let _ = std::fs::remove_file(self.dir.path().join(f));
        }
    }

    /// Sends SIGTERM without waiting: keepalived releases its VIPs, sends
    /// priority 0 and exits.
    pub fn terminate(&self) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our child (ip netns exec execs keepalived).
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
    }

    /// SIGTERM: keepalived sends priority 0 and releases its VIPs.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our child (ip netns exec execs keepalived).
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let exited = wait_for("keepalived to exit on SIGTERM", Duration::from_secs(5))
                .try_until(|| matches!(c.try_wait(), Ok(Some(_))));
            if exited.is_err() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }
}

/// One `vrrp_instance` block.
fn instance(name: &str, i: &KeepalivedInstance) -> String {
    let auth = i
        .auth_pass
        .map(|p| {
            format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            )
        })
        .unwrap_or_default();
    let peers = if i.unicast_peers.is_empty() {
        String::new()
    } else {
        format!(
            "    unicast_peer {{\n{}    }}\n",
            i.unicast_peers
                .iter()
                .map(|p| format!("        {p}\n"))
                .collect::<String>()
        )
    };
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    version {version}\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int {adv}\n{nopreempt}{auth}{peers}    virtual_ipaddress {{\n{vips}    }}\n}}\n",
        version = i.version,
        vrid = i.vrid,
        prio = i.priority,
        adv = i.advert_int,
        nopreempt = if i.nopreempt { "    nopreempt\n" } else { "" },
        vips = i
            .vips
            .iter()
            .map(|v| format!("        {v}\n"))
            .collect::<String>(),
    )
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.kill();
    }
}
