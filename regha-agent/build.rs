//! Embeds the XDP object `regha`, staged by `cargo xtask build-ebpf`.
//!
//! Where the object comes from, in one place:
//! - `$REGHA_EBPF_DIR/regha` when `REGHA_EBPF_DIR` is set (a build of the
//!   object elsewhere: another worktree, a packaging step);
//! - otherwise `<workspace>/target/bpf/regha`, where `cargo xtask build-ebpf`
//!   stages it (`xtask/src/build_ebpf.rs`, `STAGING_DIR`).
//!
//! Only `regha` is needed: the bench's reference programs (`regha-baselines`)
//! are loaded by the bench at run time, from the same directory.
//!
//! The eBPF crate needs nightly and bpf-linker, so it is built by its own
//! command rather than from here (aya-build would build it from this script,
//! on every host build, on nightly). The object is copied into `OUT_DIR` and
//! embedded from there, as aya-build does, after a check that it is a BPF
//! ELF; a build without it stops with the command to run instead of
//! embedding something stale or empty.
use std::{env, path::PathBuf};

/// `e_machine` of a BPF ELF (EM_BPF in elf.h).
const EM_BPF: u16 = 247;

fn main() {
    println!("cargo:rerun-if-env-changed=REGHA_EBPF_DIR");
    let dir = match env::var_os("REGHA_EBPF_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
            .join("../target/bpf"),
    };
    let source = dir.join("regha");
    println!("cargo:rerun-if-changed={}", source.display());
    let bytes = std::fs::read(&source).unwrap_or_else(|e| {
        panic!(
            "\n\nThe XDP object {} is missing ({e}).\nBuild it first with:\n\n    cargo xtask build-ebpf --release\n\n(on a new machine run `cargo xtask setup` once before that; REGHA_EBPF_DIR names another directory holding it)\n",
            source.display()
        )
    });
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[18..20] != EM_BPF.to_le_bytes() {
        panic!(
            "\n\n{} is not a little-endian BPF object: rebuild it with\n\n    cargo xtask build-ebpf --release\n",
            source.display()
        );
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("regha");
    std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    // The directory, for tools that load the sibling objects at run time
    // (the bench's `regha-baselines`); the agent itself never reads it.
    let dir = dir
        .canonicalize()
        .expect("the directory exists: its file does");
    println!("cargo:rustc-env=REGHA_EBPF_DIR={}", dir.display());
}
