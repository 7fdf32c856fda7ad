//! Least privilege: once set up, the agent keeps three capabilities for the
//! rest of its life and drops every other one from its effective, permitted,
//! inheritable, ambient and bounding sets, and sets `no_new_privs`.
//!
//! Kept ([`KEPT`]), because the running agent still needs them:
//! - `CAP_NET_ADMIN`: adding and removing the VIPs over netlink on every
//!   role change and reload (RTM_NEWADDR / RTM_DELADDR), and detaching the
//!   XDP program on stop when the kernel attached it through netlink.
//! - `CAP_NET_RAW`: the VRRP raw sockets (IP protocol 112), which an admin
//!   `vrrp resign` / `resume` reopens with a new instance, and the AF_PACKET
//!   socket each gratuitous ARP / unsolicited NA burst opens.
//! - `CAP_BPF`: every Maglev ring swap creates a new inner map
//!   (`BPF_MAP_CREATE`), which needs `CAP_BPF` (or `CAP_SYS_ADMIN`) when
//!   `kernel.unprivileged_bpf_disabled` is set, as distributions set it;
//!   on kernels before 6.5 that setting gates every `bpf()` call, map
//!   updates and the stats listener's `BPF_OBJ_GET` of the pins included.
//!
//! Dropped, among others: `CAP_SYS_ADMIN` (mounting bpffs, only at start),
//! `CAP_PERFMON` (program load, at start), `CAP_NET_BIND_SERVICE` (the
//! stats listener is bound before the drop), `CAP_DAC_OVERRIDE` and
//! `CAP_DAC_READ_SEARCH` (the agent runs as uid 0, so root-owned config,
//! state and pin files stay reachable through their owner bits; a config
//! file a reload must read has to be readable by root as its owner or
//! through its mode), `CAP_KILL` (the only processes it signals are the
//! scripts it started, with its own uid), `CAP_SETUID`, `CAP_SYS_MODULE`.
//!
//! Scripts (notify and tracked ones) run as uid 0 with an empty ambient set.
//! Being root, each `execve` gives them the bounding set, which is now the
//! kept set, and `no_new_privs` stops a setuid or file-capability binary
//! from adding any: a script holds at most what the agent holds.
//!
//! Capabilities belong to threads, not processes, and the tokio runtime
//! runs threads started before the drop. [`drop_all_threads`] therefore
//! drops on the calling thread, then on every other thread of the process
//! through a real-time signal whose handler makes the same raw system calls
//! (as glibc does for `setuid` and libcap's psx for `capset`), and finally
//! reads `/proc/self/task/*/status` back: a thread left with more than the
//! kept set fails the start.

use std::{
    collections::HashSet,
    sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

/// One capability: its number (linux/capability.h), name and why the agent
/// keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub number: u32,
    pub name: &'static str,
    pub why: &'static str,
}

pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_BPF: u32 = 39;

/// What the agent keeps after setup (see the module documentation).
pub const KEPT: [Capability; 3] = [
    Capability {
        number: CAP_NET_ADMIN,
        name: "CAP_NET_ADMIN",
        why: "VIPs added and removed over netlink",
    },
    Capability {
        number: CAP_NET_RAW,
        name: "CAP_NET_RAW",
        why: "VRRP raw sockets, gratuitous ARP / NA packet sockets",
    },
    Capability {
        number: CAP_BPF,
        name: "CAP_BPF",
        why: "BPF_MAP_CREATE for each ring swap",
    },
];

/// The bit mask of `caps`.
pub fn mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | 1 << c.number)
}

/// Why the drop failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot read {path}: {source}")]
    Proc {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "this kernel knows capabilities up to {last} only: CAP_BPF (39) needs Linux 5.8 or later"
    )]
    KernelTooOld { last: u32 },
    #[error("{call} failed: {source} (does the agent run as root with these capabilities?)")]
    Syscall {
        call: &'static str,
        source: std::io::Error,
    },
    #[error("{pending} thread(s) did not drop their capabilities within {waited:?}")]
    Timeout { pending: usize, waited: Duration },
    #[error("thread {tid} still has {field} {found:016x}, expected {expected:016x}")]
    NotDropped {
        tid: u32,
        field: &'static str,
        found: u64,
        expected: u64,
    },
}

/// The capability lines of a `/proc/<pid>/status` (or `task/<tid>/status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcCaps {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub no_new_privs: bool,
}

impl ProcCaps {
    /// Parses the status text; `None` when a line is missing or malformed.
    pub fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let hex = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
        Some(Self {
            inheritable: hex("CapInh")?,
            permitted: hex("CapPrm")?,
            effective: hex("CapEff")?,
            bounding: hex("CapBnd")?,
            ambient: hex("CapAmb")?,
            no_new_privs: field("NoNewPrivs")? == "1",
        })
    }

    /// The first set that differs from "exactly `keep`" (inheritable and
    /// ambient: empty; `no_new_privs`: set), as (field, found, expected).
    pub fn mismatch(&self, keep: u64) -> Option<(&'static str, u64, u64)> {
        [
            ("CapEff", self.effective, keep),
            ("CapPrm", self.permitted, keep),
            ("CapBnd", self.bounding, keep),
            ("CapInh", self.inheritable, 0),
            ("CapAmb", self.ambient, 0),
            ("NoNewPrivs", u64::from(self.no_new_privs), 1),
        ]
        .into_iter()
        .find(|(_, found, expected)| found != expected)
    }
}

/// Names of the capabilities in `mask`, for logs.
pub fn names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|n| mask & (1 << n) != 0)
        .map(|n| {
            KEPT.iter()
                .find(|c| c.number == n)
                .map_or_else(|| format!("cap{n}"), |c| c.name.to_owned())
        })
        .collect()
}

fn last_cap() -> Result<u32, PrivilegeError> {
    let path = "/proc/sys/kernel/cap_last_cap";
    let text = std::fs::read_to_string(path).map_err(|source| PrivilegeError::Proc {
        path: path.into(),
        source,
    })?;
    text.trim().parse().map_err(|e| PrivilegeError::Proc {
        path: path.into(),
        source: std::io::Error::other(format!("{e}")),
    })
}

fn task_ids() -> Result<Vec<u32>, PrivilegeError> {
    let path = "/proc/self/task";
    let proc_err = |source| PrivilegeError::Proc {
        path: path.into(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(proc_err)? {
        let entry = entry.map_err(proc_err)?;
        if let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push(tid);
        }
    }
    Ok(out)
}

// The plan the signal handler applies (set before any signal is sent).
static KEEP: AtomicU64 = AtomicU64::new(0);
static LAST_CAP: AtomicU32 = AtomicU32::new(0);
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// The errno of the first failure in a handler (0: none).
static FAILED: AtomicI32 = AtomicI32::new(0);

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// prctl(2) with every argument as the `unsigned long` the kernel reads.
///
/// # Safety
/// `op` must be an option that takes integers only.
unsafe fn prctl(op: libc::c_int, arg: u64) -> libc::c_int {
    let zero: libc::c_ulong = 0;
    // SAFETY: the caller passes an integer-only option.
    unsafe { libc::prctl(op, arg as libc::c_ulong, zero, zero, zero) }
}

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always readable.
    unsafe { *libc::__errno_location() }
}

/// The drop on the calling thread, with raw system calls only, so that the
/// signal handler may run it: ambient cleared, the bounding set cut to
/// `keep` (each still present cap dropped, which needs CAP_SETPCAP, so
/// before capset), effective and permitted set to `keep`, inheritable
/// emptied, then `no_new_privs`. Idempotent. Err is the errno.
fn drop_this_thread(keep: u64, last: u32) -> Result<(), (&'static str, i32)> {
    // SAFETY: prctl and capset with integer arguments and pointers to live
    // structs of the layout the kernel expects.
    unsafe {
        if prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64) != 0 {
            return Err(("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno()));
        }
        for cap in 0..=last.min(63) {
            if keep & (1 << cap) != 0 {
                continue;
            }
            if prctl(libc::PR_CAPBSET_READ, u64::from(cap)) == 1
                && prctl(libc::PR_CAPBSET_DROP, u64::from(cap)) != 0
            {
                return Err(("prctl(PR_CAPBSET_DROP)", errno()));
            }
        }
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: keep as u32,
                permitted: keep as u32,
                inheritable: 0,
            },
            CapData {
                effective: (keep >> 32) as u32,
                permitted: (keep >> 32) as u32,
                inheritable: 0,
            },
        ];
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return Err(("capset", errno()));
        }
        if prctl(libc::PR_SET_NO_NEW_PRIVS, 1) != 0 {
            return Err(("prctl(PR_SET_NO_NEW_PRIVS)", errno()));
        }
    }
    Ok(())
}

extern "C" fn on_signal(_: libc::c_int) {
    let saved = errno();
    if let Err((_, e)) =
        drop_this_thread(KEEP.load(Ordering::SeqCst), LAST_CAP.load(Ordering::SeqCst))
    {
        let _ = FAILED.compare_exchange(0, e, Ordering::SeqCst, Ordering::SeqCst);
    }
    PENDING.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: restoring the interrupted code's errno.
    unsafe { *libc::__errno_location() = saved };
}

/// How long the other threads get to run the handler.
const THREAD_WAIT: Duration = Duration::from_secs(2);

/// Drops every capability outside `keep` on every thread of the process,
/// then checks each thread's status. Call once, after setup.
pub fn drop_all_threads(keep: u64) -> Result<(), PrivilegeError> {
    let last = last_cap()?;
    if last < CAP_BPF {
        return Err(PrivilegeError::KernelTooOld { last });
    }
    let syscall = |call, e| PrivilegeError::Syscall {
        call,
        source: std::io::Error::from_raw_os_error(e),
    };
    KEEP.store(keep, Ordering::SeqCst);
    LAST_CAP.store(last, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    let signal = libc::SIGRTMIN() + 5;
    // SAFETY: installs a handler that only makes raw system calls and
    // touches atomics (async-signal-safe); the old action is restored below.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, &mut old) != 0 {
            return Err(syscall("sigaction", errno()));
        }
    }
    let result = (|| {
        // This thread first: threads it starts from now on inherit the drop.
        drop_this_thread(keep, last).map_err(|(call, e)| syscall(call, e))?;
        // SAFETY: plain getters.
        let (pid, me) = unsafe { (libc::getpid(), libc::gettid()) };
        let mut done: HashSet<u32> = HashSet::from([me as u32]);
        // A thread not yet dropped may start another while we signal:
        // repeat until a listing shows no thread we have not signalled.
        loop {
            let new: Vec<u32> = task_ids()?
                .into_iter()
                .filter(|t| !done.contains(t))
                .collect();
            if new.is_empty() {
                break;
            }
            for tid in new {
                done.insert(tid);
                PENDING.fetch_add(1, Ordering::SeqCst);
                // SAFETY: signals one thread of this process.
                if unsafe { libc::tgkill(pid, tid as libc::pid_t, signal) } != 0 {
                    PENDING.fetch_sub(1, Ordering::SeqCst);
                    let e = errno();
                    if e != libc::ESRCH {
                        return Err(syscall("tgkill", e));
                    } // ESRCH: the thread is gone.
                }
            }
            let start = Instant::now();
            while PENDING.load(Ordering::SeqCst) > 0 {
                if start.elapsed() > THREAD_WAIT {
                    return Err(PrivilegeError::Timeout {
                        pending: PENDING.load(Ordering::SeqCst),
                        waited: THREAD_WAIT,
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        match FAILED.load(Ordering::SeqCst) {
            0 => Ok(()),
            e => Err(syscall("a thread's capability drop", e)),
        }
    })();
    // SAFETY: puts back the action found.
    unsafe { libc::sigaction(signal, &old, std::ptr::null_mut()) };
    result?;
    verify(keep)
}

/// Reads every thread's status back: each must hold exactly `keep`.
pub fn verify(keep: u64) -> Result<(), PrivilegeError> {
    for tid in task_ids()? {
        let path = format!("/proc/self/task/{tid}/status");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // exited
            Err(source) => return Err(PrivilegeError::Proc { path, source }),
        };
        let caps = ProcCaps::parse(&text).ok_or_else(|| PrivilegeError::Proc {
            path: path.clone(),
            source: std::io::Error::other("no capability lines"),
        })?;
        if let Some((field, found, expected)) = caps.mismatch(keep) {
            return Err(PrivilegeError::NotDropped {
                tid,
                field,
                found,
                expected,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tregha-agent\nNoNewPrivs:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000008000003000\nCapEff:\t0000008000003000\nCapBnd:\t0000008000003000\nCapAmb:\t0000000000000000\n";

    #[test]
    fn the_kept_mask_is_net_admin_net_raw_and_bpf() {
        assert_eq!(mask(&KEPT), 0x0000_0080_0000_3000);
        assert_eq!(
            names(mask(&KEPT)),
            ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"]
        );
        assert_eq!(names(1 << CAP_SETPCAP), ["cap8"]);
    }

    #[test]
    fn status_lines_are_parsed_and_compared() {
        let caps = ProcCaps::parse(STATUS).expect("parses");
        assert_eq!(caps.effective, mask(&KEPT));
        assert!(caps.no_new_privs);
        assert_eq!(caps.mismatch(mask(&KEPT)), None);
        let cases: [(&str, &str, &str); 4] = [
            (
                "CapEff:\t0000008000003000",
                "CapEff:\t000001ffffffffff",
                "CapEff",
            ),
            (
                "CapBnd:\t0000008000003000",
                "CapBnd:\t000001ffffffffff",
                "CapBnd",
            ),
            (
                "CapInh:\t0000000000000000",
                "CapInh:\t0000000000001000",
                "CapInh",
            ),
            ("NoNewPrivs:\t1", "NoNewPrivs:\t0", "NoNewPrivs"),
        ];
        for (from, to, field) in cases {
            let caps = ProcCaps::parse(&STATUS.replace(from, to)).expect("parses");
            assert_eq!(caps.mismatch(mask(&KEPT)).map(|m| m.0), Some(field), "{to}");
        }
        assert_eq!(ProcCaps::parse("Name:\tx\n"), None);
        assert_eq!(
            ProcCaps::parse(&STATUS.replace("0000008000003000", "zz")),
            None
        );
    }
}
