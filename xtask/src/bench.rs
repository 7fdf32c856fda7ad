//! `cargo xtask bench`: runs the dataplane benchmark binary (tests crate) in
//! release mode; it prints the table and writes target/bench/dataplane.json.

use anyhow::Result;

use crate::util::{cargo, exec};

pub fn run(rounds: u32, repeat: u32, fresh: u32) -> Result<()> {
    exec(cargo().args([
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
    ]))
}
