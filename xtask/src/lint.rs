//! `cargo xtask lint`: formatting and clippy, host crates on stable and the
//! eBPF crate on nightly for its own target.

use std::process::Command;

use anyhow::Result;

use crate::util::{cargo, exec, root};

pub fn run() -> Result<()> {
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    exec(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    let ebpf = root().join("regha-ebpf");
    let nightly = |args: &[&str]| {
        let mut c = Command::new("cargo");
        c.current_dir(&ebpf)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("CARGO")
            .arg("+nightly")
            .args(args);
        c
    };
    exec(&mut nightly(&["fmt", "--check"]))?;
    exec(&mut nightly(&[
        "clippy",
        "--release",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The fuzz crate is its own workspace on nightly: formatting only (its
    // clippy would build libFuzzer; `cargo xtask fuzz` compiles it anyway).
    exec(
        Command::new("cargo")
            .current_dir(root().join("fuzz"))
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("CARGO")
            .args(["+nightly", "fmt", "--check"]),
    )
}
