//! The agent as the packaged systemd unit (`regha@.service`) starts it,
//! where systemd is not PID 1 (CI's machine, a container): the command
//! line is the unit's own `ExecStart=` with the instance name put in, run
//! in a lab namespace, optionally under `setpriv` with the unit's
//! `CapabilityBoundingSet=`. What systemd would add around it (the mount
//! namespace, the runtime directory) is not there; `systemd-analyze
//! verify` is what checks the unit file itself.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use crate::{netns::NetNs, wait::wait_for};

/// The unit in the source tree.
pub const SOURCE_UNIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../regha-agent/debian/regha@.service"
);

/// Where the package installs it.
pub const INSTALLED_UNIT: &str = "/lib/systemd/system/regha@.service";

/// A unit file's settings.
pub struct UnitFile {
    text: String,
}

impl UnitFile {
    pub fn read(path: &str) -> Self {
        Self {
            text: std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}")),
        }
    }

    /// Every value of `key=` (in file order; comments skipped).
    pub fn values(&self, key: &str) -> Vec<String> {
        self.text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().to_owned())
            .collect()
    }

    /// The one value of `key=`.
    pub fn value(&self, key: &str) -> String {
        let v = self.values(key);
        assert_eq!(v.len(), 1, "{key}= set {} times", v.len());
        v[0].clone()
    }

    /// `ExecStart=` of instance `instance`, split into words (the unit
    /// uses no quoting).
    pub fn exec_start(&self, instance: &str) -> Vec<String> {
        self.value("ExecStart")
            .split_whitespace()
            .map(|w| w.replace("%i", instance).replace("%I", instance))
            .collect()
    }

    /// `CapabilityBoundingSet=`, as `setpriv` names them (`net_admin`).
    pub fn capabilities(&self) -> Vec<String> {
        self.value("CapabilityBoundingSet")
            .split_whitespace()
            .map(|c| {
                c.strip_prefix("CAP_")
                    .unwrap_or_else(|| panic!("{c} is not a capability name"))
                    .to_lowercase()
            })
            .collect()
    }
}

/// `setpriv` that leaves a root process exactly `caps` (bounding set; as
/// uid 0 an exec's permitted and effective sets are the bounding set), and
/// nothing inheritable or ambient, with `no_new_privs` set: what the unit's
/// `CapabilityBoundingSet=` and `NoNewPrivileges=yes` do for a root
/// service.
pub fn with_capabilities(caps: &[String]) -> Vec<String> {
    let set: Vec<String> = caps.iter().map(|c| format!("+{c}")).collect();
    vec![
        "setpriv".into(),
        "--no-new-privs".into(),
        "--bounding-set".into(),
        format!("-all,{}", set.join(",")),
        "--inh-caps".into(),
        "-all".into(),
        "--ambient-caps".into(),
        "-all".into(),
        "--".into(),
    ]
}

/// An agent started from a command line in a namespace; killed on drop
/// if it still runs.
pub struct UnitAgent {
    child: Option<Child>,
    log: PathBuf,
}

impl UnitAgent {
    /// Runs `wrapper` + `argv` in `ns` (entered with `nsenter --net`, so the
    /// process sees the host's bpffs, as under systemd), output to `log`.
    pub fn start(ns: &NetNs, wrapper: &[String], argv: &[String], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", ns.name()))
            .args(wrapper)
            .args(argv)
            .env("REGHA_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {argv:?}: {e}"));
        Self {
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("try_wait")
    }

    /// Sends SIGTERM (what `systemctl stop` sends) and waits for the exit.
    #[track_caller]
    pub fn stop(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our child's pid (nsenter execs: the same pid).
        unsafe { libc::kill(self.pid() as i32, libc::SIGTERM) };
        self.wait_exit(Duration::from_secs(10))
    }

    /// Waits for the process to exit by itself.
    #[track_caller]
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let log = self.log.clone();
        let child = self.child.as_mut().expect("running");
        let status = wait_for("the agent to exit", limit)
            .context(|| std::fs::read_to_string(&log).unwrap_or_default())
            .until(|| child.try_wait().expect("try_wait"));
        self.child = None;
        status
    }
}

impl Drop for UnitAgent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
