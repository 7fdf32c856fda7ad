//! `cargo xtask build-ebpf`: the XDP objects, built for bpfel-unknown-none on
//! nightly with bpf-linker (regha-ebpf/.cargo/config.toml holds the target,
//! build-std and the --btf link argument), then staged in `target/bpf/`:
//! the one place `regha-agent/build.rs` embeds `regha` from and the bench
//! loads `regha-baselines` from at run time.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::util::{exec, root};

/// Where the objects are staged, under the workspace root. `regha-agent/build.rs`
/// reads the same directory (it cannot import this constant; keep the two equal).
pub const STAGING_DIR: &str = "target/bpf";

/// The objects regha-ebpf builds: the program the agent embeds, and the
/// bench's reference programs.
const OBJECTS: [&str; 2] = ["regha", "regha-baselines"];

/// Builds the objects, stages them and returns the staging directory.
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
    let built = dir.join("target/bpfel-unknown-none/release");
    let staged = root().join(STAGING_DIR);
    std::fs::create_dir_all(&staged)
        .with_context(|| format!("cannot create {}", staged.display()))?;
    for name in OBJECTS {
        stage(&built.join(name), &staged.join(name))?;
    }
    eprintln!("build-ebpf: {}", staged.join("regha").display());
    Ok(staged)
}

/// Copies `from` to `to` through a temporary file and a rename, so that a
/// build reading `to` at the same time sees the old object or the new one,
/// never half of one. An unchanged object is left alone: a new mtime would
/// make cargo rebuild the agent and everything above it for nothing.
fn stage(from: &Path, to: &Path) -> Result<()> {
    let new = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    if std::fs::read(to).is_ok_and(|old| old == new) {
        return Ok(());
    }
    let tmp = to.with_extension("tmp");
    std::fs::write(&tmp, &new).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, to)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), to.display()))
}
