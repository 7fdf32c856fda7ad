//! `cargo xtask lab`: installs what is missing, builds, and runs the
//! registry HA demo (`tests/src/bin/regha_lab.rs`) as root.

use anyhow::{Result, bail};

use crate::{build_ebpf, setup, util};

pub fn run(keep: bool, big_layer_mib: u64) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the lab creates network namespaces and loads XDP programs: run it as root (sudo cargo xtask lab)"
        );
    }
    setup::run()?;
    build_ebpf::run()?;
    util::exec(util::cargo().args(["build", "--locked", "-p", "regha-agent", "--bins"]))?;
    util::exec(util::cargo().args([
        "build",
        "--locked",
        "-p",
        "regha-tests",
        "--bin",
        "regha-lab",
    ]))?;
    // Ctrl-C reaches the whole foreground group: the lab tears itself down
    // on it, and xtask waits for that instead of returning the prompt
    // while namespaces are still being removed.
    // SAFETY: ignoring SIGINT in this process; the lab installs its own
    // handler, and its children start with the default one.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut cmd = std::process::Command::new(util::root().join("target/debug/regha-lab"));
    cmd.arg("--big-layer-mib").arg(big_layer_mib.to_string());
    if keep {
        cmd.arg("--keep");
    }
    util::exec(&mut cmd)
}

/// `cargo xtask bench-e2e`: the same preparation, then
/// `tests/src/bin/bench_e2e.rs` (HAProxy + keepalived against regha).
pub fn bench_e2e(runs: u32, secs: u32, push_mib: u64) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("bench-e2e creates network namespaces and loads XDP programs: run it as root");
    }
    setup::run()?;
    build_ebpf::run()?;
    util::exec(util::cargo().args(["build", "--locked", "-p", "regha-agent", "--bins"]))?;
    util::exec(util::cargo().args([
        "build",
        "--locked",
        "-p",
        "regha-tests",
        "--bin",
        "bench-e2e",
    ]))?;
    util::exec(
        std::process::Command::new(util::root().join("target/debug/bench-e2e")).args([
            "--runs",
            &runs.to_string(),
            "--secs",
            &secs.to_string(),
            "--push-mib",
            &push_mib.to_string(),
        ]),
    )
}
