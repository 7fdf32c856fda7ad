//! `cargo xtask bench`: runs the dataplane benchmark binary (tests crate) in
//! release mode; it prints the table and writes target/bench/dataplane.json.
//! regha is the object the agent embeds; the reference programs are the
//! staged `regha-baselines`, passed by path.

use std::path::Path;

use anyhow::Result;

use crate::util::{cargo, exec};

/// `ebpf_dir`: where `build-ebpf` staged the objects.
pub fn run(ebpf_dir: &Path, rounds: u32, repeat: u32, fresh: u32) -> Result<()> {
    let baselines = ebpf_dir.join("regha-baselines");
    exec(
        cargo()
            .args([
                "run",
                "--release",
                "--locked",
                "-p",
                "regha-tests",
                "--bin",
                "dataplane-bench",
                "--",
                "--rounds",
                &rounds.to_string(),
                "--repeat",
                &repeat.to_string(),
                "--fresh",
                &fresh.to_string(),
                "--baselines",
            ])
            .arg(baselines),
    )
}
