//! Embeds the XDP object built by `cargo xtask build-ebpf`.
//!
//! The eBPF crate needs nightly and bpf-linker, so it is built by its own
//! command rather than from here; a build without the object stops with the
//! command to run instead of embedding something stale or empty.
use std::{env, path::PathBuf};

fn main() {
    let dir = match env::var_os("REGHA_EBPF_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
            .join("../regha-ebpf/target/bpfel-unknown-none/release"),
    };
    println!("cargo:rerun-if-env-changed=REGHA_EBPF_DIR");
    for name in ["regha", "regha-baselines"] {
        let path = dir.join(name);
        if !path.is_file() {
            panic!(
                "\n\nThe XDP object {} is missing.\nBuild it first with:\n\n    cargo xtask build-ebpf --release\n\n(on a new machine run `cargo xtask setup` once before that)\n",
                path.display()
            );
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let dir = dir
        .canonicalize()
        .expect("the directory exists: its files do");
    println!("cargo:rustc-env=REGHA_EBPF_DIR={}", dir.display());
}
