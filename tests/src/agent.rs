//! `regha-agent` as a process in an LB namespace, the way an operator runs
//! it, with pins and state of its own so tests can run side by side.
//!
//! It is started with `nsenter --net`, not `ip netns exec`: the latter also
//! gives the process a private mount of /sys, and a bpffs mounted there
//! would vanish with the process, taking the pins a restarted agent must
//! find.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use regha_agent::{
    dataplane::MapWriter,
    status::{AgentStatus, BackendStatus},
};
use regha_config::Config;

use crate::{lab::Host, tempdir::TempDir, wait::wait_for};

/// The agent binary `cargo build -p regha-agent` makes (xtask test builds it
/// before the tests), or the one `REGHA_AGENT_BIN` names (a release build, or
/// one under another `CARGO_TARGET_DIR`).
pub fn agent_bin() -> PathBuf {
    let p = std::env::var_os("REGHA_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/debug/regha-agent"
            ))
        });
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build -p regha-agent` (cargo xtask test does)",
        p.display()
    );
    p
}

pub struct Agent {
    ns: String,
    dir: TempDir,
    bpffs_root: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
    starts: u32,
}

/// Parent of the tests' pin roots (removed per agent on drop).
const PIN_ROOT: &str = "/sys/fs/bpf/regha-test";

impl Agent {
    /// Writes `config` and starts the agent on `eth0` of `host`.
    pub fn start(host: &Host, config: &Config, extra: &[&str]) -> Self {
        let dir = TempDir::new("agent");
        std::fs::write(dir.path().join("regha.yaml"), config.to_yaml()).expect("write config");
        let bpffs_root = PathBuf::from(PIN_ROOT).join(format!(
            "a{}-{}",
            std::process::id(),
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .rsplit('-')
                .nth(1)
                .unwrap_or("0")
        ));
        let mut a = Self {
            ns: host.ns.name().to_owned(),
            dir,
            bpffs_root,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            starts: 0,
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("agent log");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.ns))
            .arg(agent_bin())
            .arg("--config")
            .arg(self.dir.path().join("regha.yaml"))
            .arg("--iface")
            .arg("eth0")
            .arg("--bpffs-root")
            .arg(&self.bpffs_root)
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(&self.extra)
            .env("REGHA_LOG", "info,regha_agent=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start regha-agent under nsenter"));
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("regha.yaml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("agent.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn pin_dir(&self) -> PathBuf {
        self.bpffs_root.join("eth0")
    }

    /// The agent's state file, while it runs.
    pub fn state(&self) -> Option<AgentStatus> {
        regha_agent::status::file::read(&self.state_dir(), "eth0")
    }

    /// Waits until `cond` holds for the state (panics with the last state
    /// and the log after `limit`).
    #[track_caller]
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        cond: impl Fn(&AgentStatus) -> bool,
    ) -> AgentStatus {
        wait_for(what, limit)
            .every(Duration::from_millis(50))
            .context(|| format!("agent log:\n{}", self.log()))
            .until(|| match self.state() {
                Some(s) if cond(&s) => Ok(s),
                other => Err(Box::new(other)),
            })
    }

    /// The pinned maps (the test's own view of the dataplane).
    pub fn maps(&self) -> MapWriter {
        MapWriter::open(&self.pin_dir())
            .unwrap_or_else(|e| panic!("open pinned maps: {e}\n{}", self.log()))
    }

    /// Replaces the config file (the agent reads it on SIGHUP or restart).
    pub fn rewrite_config(&self, config: &Config) {
        std::fs::write(self.config_path(), config.to_yaml()).expect("write config");
    }

    /// Replaces the config file with `text` as it is: for configs the agent
    /// must refuse, which a typed [`Config`] cannot hold.
    pub fn write_invalid_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write config");
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: kill(2) on our child's pid.
        unsafe { libc::kill(pid, sig) };
    }

    /// Waits for the process to exit and returns its status.
    #[track_caller]
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let log = self.log_path();
        let child = self.child.as_mut().expect("running");
        let status = wait_for("the agent to exit", limit)
            .context(|| std::fs::read_to_string(&log).unwrap_or_default())
            .until(|| child.try_wait().expect("try_wait"));
        self.child = None;
        status
    }

    /// SIGKILL, as a crash: the dataplane stays pinned and steering.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait_exit(Duration::from_secs(5));
    }

    /// Starts the agent again with the same config and pins.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// The agent's process id while it runs (nsenter execs it: same pid).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Runs `regha-agent <args>` beside this agent (its interface, pins and
    /// state dir), as root, or through `wrapper` (e.g. `setpriv` to run it
    /// as another user).
    pub fn cli(&self, wrapper: &[&str], args: &[&str]) -> std::process::Output {
        let bin = agent_bin();
        let mut all: Vec<std::ffi::OsString> = wrapper.iter().map(Into::into).collect();
        all.push(bin.into());
        all.extend(args.iter().map(Into::into));
        all.extend(["--iface".into(), "eth0".into(), "--bpffs-root".into()]);
        all.push(self.bpffs_root.clone().into());
        all.push("--state-dir".into());
        all.push(self.state_dir().into());
        Command::new(&all[0])
            .args(&all[1..])
            .stdin(Stdio::null())
            .output()
            .expect("run regha-agent")
    }
}

/// Backend `addr` (`ip:port`) of the first service in `state`, if listed.
pub fn find_backend<'a>(state: &'a AgentStatus, addr: &str) -> Option<&'a BackendStatus> {
    state.services[0]
        .backends
        .iter()
        .find(|b| b.address.to_string() == addr)
}

/// Backend `addr` of the first service in `state`; panics when it is not
/// listed.
pub fn backend_state<'a>(state: &'a AgentStatus, addr: &str) -> &'a BackendStatus {
    find_backend(state, addr).unwrap_or_else(|| panic!("{addr} not in the state: {state:#?}"))
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = regha_agent::dataplane::Dataplane::remove_pins(&self.pin_dir());
        let _ = std::fs::remove_dir(&self.bpffs_root);
    }
}

/// Removes pin roots of agents whose test process is gone.
pub fn remove_stale_agent_pins() {
    let Ok(entries) = std::fs::read_dir(PIN_ROOT) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix('a')
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = regha_agent::dataplane::Dataplane::remove_pins(&e.path().join("eth0"));
            let _ = std::fs::remove_dir(e.path());
        }
    }
}
