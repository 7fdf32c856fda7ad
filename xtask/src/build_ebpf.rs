//! `cargo xtask build-ebpf`: the XDP object, built for bpfel-unknown-none on
//! nightly with bpf-linker (regha-ebpf/.cargo/config.toml holds the target,
//! build-std and the --btf link argument). The agent embeds the result.

use std::path::PathBuf;

use anyhow::Result;

use crate::util::{exec, root};

/// Builds the objects and returns their directory.
pub fn run() -> Result<PathBuf> {
    let dir = root().join("regha-ebpf");
    let mut cmd = std::process::Command::new("cargo");
    cmd.current_dir(&dir)
        // The outer cargo's toolchain variables would pin the inner build to
        // stable; regha-ebpf/rust-toolchain.toml asks for nightly.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO")
        .args(["+nightly", "build", "--release", "--locked"]);
    exec(&mut cmd)?;
    let out = dir.join("target/bpfel-unknown-none/release");
    eprintln!("build-ebpf: {}", out.join("regha").display());
    Ok(out)
}
