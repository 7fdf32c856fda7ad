//! regha's test library: what every privileged test stands on.
//!
//! - `netns`: guards that own namespaces, veths and processes and remove them
//!   on drop (and so on panic), with names unique to the run.
//! - `packet`: exact frames for BPF_PROG_TEST_RUN fixtures.
//! - `dataplane`: a loaded dataplane with pins of its own, removed on drop.
//! - `lab`: the one lab every end-to-end test, `cargo xtask lab` and
//!   `bench-e2e` stand on (clients, LBs running regha or keepalived and
//!   HAProxy, registries), and `lab::config`, the agent configs it writes;
//!   `agent`, `keepalived`, `haproxy` and `registry` run the daemons, `oci`
//!   makes the images and `skopeo` pushes and pulls them.
//! - `wait`: the one way to wait for something; `rng`: the one seeded
//!   generator; `metrics`: `/metrics` read strictly.
//! - `browser`: a headless Chromium driven over the DevTools protocol;
//!   `unit`: the agent as the packaged systemd unit starts it.

pub mod agent;
pub mod browser;
pub mod client;
pub mod dataplane;
pub mod haproxy;
pub mod keepalived;
pub mod lab;
pub mod metrics;
pub mod netns;
pub mod oci;
pub mod packet;
pub mod pki;
pub mod registry;
pub mod rng;
pub mod skopeo;
pub mod tempdir;
pub mod unit;
pub mod wait;

/// Privileged tests need root; they fail, never skip, without it.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (BPF, namespaces): run the suite as root, e.g. `sudo cargo xtask test`"
    );
}

/// A short name unique to this process and call: `<prefix><pid><n>`, kept
/// within the 15 characters an interface name may have.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}x{n}", std::process::id() % 100_000);
    assert!(
        name.len() <= 15,
        "name {name} is longer than an interface name may be"
    );
    name
}
