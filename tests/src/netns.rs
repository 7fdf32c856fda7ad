//! Guards for namespaces, links and processes. Each owns what it created and
//! removes it on drop, so a failing (panicking) test cleans up too. Names
//! carry the creating process id: a later run finds leftovers of a run that
//! was killed (its process is gone) and removes them.

use std::{
    fs::File,
    os::fd::AsRawFd,
    process::{Child, Command, Output},
};

/// Prefix of every namespace a test creates.
const NS_PREFIX: &str = "regha-t";

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is iproute2 installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `ip <args>`, panicking with its output on failure.
pub fn ip(args: &[&str]) -> String {
    String::from_utf8_lossy(&run(Command::new("ip").args(args)).stdout).into_owned()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces left by test runs whose process no longer exists,
/// with the processes still running in them.
pub fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !pid_alive(pid)
        {
            // A run killed outright (SIGKILL, or Ctrl-C on `cargo test`)
            // leaves its daemons running in its namespaces: stop them too.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &name]).output() {
                for p in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(p) = p.parse::<i32>() {
                        // SAFETY: kill(2) on a process living in a namespace
                        // this test suite created and no run owns any more.
                        unsafe { libc::kill(p, libc::SIGKILL) };
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}

/// A network namespace, deleted on drop (with every link inside it).
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates `regha-t-<pid>-<n>-<role>` with loopback up.
    pub fn new(role: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        remove_stale_namespaces();
        let name = format!(
            "{NS_PREFIX}-{}-{}-{role}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs a command inside the namespace to completion, panicking on failure.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        String::from_utf8_lossy(&run(self.command(program).args(args)).stdout).into_owned()
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")]);
    }

    /// Runs `f` on a thread that has entered this namespace, and returns its
    /// result. Sockets made there belong to the namespace, and so do
    /// interface names (XDP attach looks them up there).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(move || {
                enter(&path);
                f()
            })
            .join()
            .expect("the thread in the namespace panicked")
        })
    }

    /// Like [`NetNs::run`] on a detached thread (servers).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = self.path();
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

/// Moves the calling thread into the network namespace at `path`.
fn enter(path: &str) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    // SAFETY: setns on a namespace fd we opened; affects this thread only.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair between two namespaces, with fixed MACs. It lives inside the
/// namespaces and goes away with them; nothing touches the root namespace.
pub struct VethSpec<'a> {
    pub ns: &'a NetNs,
    pub name: &'a str,
    pub mac: [u8; 6],
}

pub fn mac_str(m: [u8; 6]) -> String {
    crate::packet::mac_str(&m)
}

/// Creates a veth pair with ends `a` and `b` (created in `a.ns`, the peer
/// moved to `b.ns` in the same request) and sets both up.
pub fn veth(a: &VethSpec, b: &VethSpec) {
    a.ns.ip(&[
        "link",
        "add",
        a.name,
        "address",
        &mac_str(a.mac),
        "type",
        "veth",
        "peer",
        "name",
        b.name,
        "address",
        &mac_str(b.mac),
        "netns",
        b.ns.name(),
    ]);
    a.ns.ip(&["link", "set", a.name, "up"]);
    b.ns.ip(&["link", "set", b.name, "up"]);
}

/// A child process killed (and reaped) on drop.
pub struct ProcessGuard {
    child: Child,
}

impl ProcessGuard {
    pub fn spawn(cmd: &mut Command) -> Self {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Self { child }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
