//! `cargo xtask lab` and `cargo xtask bench-e2e`: install what is missing,
//! build, and run the registry HA demo (`tests/src/bin/regha_lab.rs`) or
//! the comparison (`tests/src/bin/bench_e2e.rs`), as root.

use anyhow::{Result, bail};

use crate::{build_ebpf, setup, util};

/// Root check, setup, the XDP object, the agent and the `bin` of the tests
/// crate; returns the path of that binary.
fn prepare(bin: &str, what: &str) -> Result<std::path::PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "{what} creates network namespaces and loads XDP programs: run it as root (sudo cargo xtask ...)"
        );
    }
    setup::run()?;
    build_ebpf::run()?;
    util::exec(util::cargo().args(["build", "--locked", "-p", "regha-agent", "--bins"]))?;
    util::exec(util::cargo().args(["build", "--locked", "-p", "regha-tests", "--bin", bin]))?;
    Ok(util::root().join("target/debug").join(bin))
}

/// `stack`: `--ipv6` or `--dual-stack` for the lab binary, or IPv4.
pub fn run(keep: bool, big_layer_mib: u64, stack: Option<&str>) -> Result<()> {
    let bin = prepare("regha-lab", "the lab")?;
    // Ctrl-C reaches the whole foreground group: the lab tears itself down
    // on it, and xtask waits for that instead of returning the prompt
    // while namespaces are still being removed.
    // SAFETY: ignoring SIGINT in this process; the lab installs its own
    // handler, and its children start with the default one.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--big-layer-mib").arg(big_layer_mib.to_string());
    if keep {
        cmd.arg("--keep");
    }
    cmd.args(stack);
    util::exec(&mut cmd)
}

pub fn bench_e2e(runs: u32, secs: u32, push_mib: u64, backends_only: bool) -> Result<()> {
    let bin = prepare("bench-e2e", "bench-e2e")?;
    let mut cmd = std::process::Command::new(bin);
    cmd.args([
        "--runs",
        &runs.to_string(),
        "--secs",
        &secs.to_string(),
        "--push-mib",
        &push_mib.to_string(),
    ]);
    if backends_only {
        cmd.arg("--backends-only");
    }
    util::exec(&mut cmd)
}

/// `bench-e2e --bgp`: BGP mode's scenarios, `runs` times each.
pub fn bench_bgp(runs: u32) -> Result<()> {
    let bin = prepare("bench-bgp", "bench-e2e --bgp")?;
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--runs", &runs.to_string()]);
    util::exec(&mut cmd)
}
