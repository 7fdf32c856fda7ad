//! `cargo xtask fuzz`: every cargo-fuzz target in `fuzz/` for a bounded
//! time, each from a scratch copy of its committed seed corpus (so a run
//! never dirties the tree), failing on a crash, a timeout or running out of
//! memory with the reproducer's path. One grep-able line per target:
//!
//! ```text
//! FUZZ <target> execs=<n> secs=<s> corpus=<n>
//! ```

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::util::{exec, root};

/// The targets, in the order they run.
pub const TARGETS: &[&str] = &["vrrp_decode", "config_load", "import", "flowsync_decode"];
/// Seconds a single input may take before libFuzzer calls it a hang.
const INPUT_TIMEOUT_S: u32 = 10;
/// Memory one fuzzing process may use before libFuzzer calls it an OOM.
const RSS_LIMIT_MB: u32 = 2048;
/// Where cargo fuzz puts its binaries under the target directory.
const HOST_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// The targets that exist in `fuzz/Cargo.toml` (the importer's arrives with
/// the importer).
fn available_targets() -> Result<Vec<&'static str>> {
    let manifest =
        std::fs::read_to_string(root().join("fuzz/Cargo.toml")).context("read fuzz/Cargo.toml")?;
    Ok(TARGETS
        .iter()
        .copied()
        .filter(|t| manifest.contains(&format!("name = \"{t}\"")))
        .collect())
}

/// The workspace's target directory, which git ignores: the fuzz build
/// goes to `fuzz/` under it, the scratch corpora and logs to `fuzz-run/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo +nightly fuzz …`, with the outer (stable) cargo's toolchain
/// variables removed so that the nightly toolchain is the one used.
fn cargo_fuzz() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO")
        .args(["+nightly", "fuzz"]);
    cmd
}

/// Runs every target, or `only`, for `seconds` each. `sanitizer` is cargo
/// fuzz's (`none` or `address`); each has a build directory of its own.
pub fn run(seconds: u64, only: Option<&str>, sanitizer: &str) -> Result<()> {
    let available = available_targets()?;
    let targets: Vec<&str> = match only {
        Some(t) if available.contains(&t) => vec![t],
        Some(t) => bail!("fuzz: no target {t:?}; the targets are {available:?}"),
        None => available,
    };
    let build_dir = match sanitizer {
        "none" => target_dir().join("fuzz"),
        other => target_dir().join(format!("fuzz-{other}")),
    };
    let work = target_dir().join("fuzz-run");
    let started = Instant::now();
    let mut build = cargo_fuzz();
    build.args([
        "build",
        "--fuzz-dir",
        "fuzz",
        "--sanitizer",
        sanitizer,
        "--target-dir",
    ]);
    build.arg(&build_dir);
    exec(&mut build)?;
    eprintln!("fuzz: built in {:.0} s", started.elapsed().as_secs_f64());

    let mut failures = Vec::new();
    for target in &targets {
        match run_target(target, seconds, &work, &build_dir) {
            Ok(stats) => println!(
                "FUZZ {target} execs={} secs={} corpus={}",
                stats.execs, stats.secs, stats.corpus
            ),
            Err(e) => {
                println!("FUZZ {target} FAILED");
                eprintln!("fuzz: {target}: {e:#}");
                failures.push(*target);
            }
        }
    }
    if !failures.is_empty() {
        bail!("fuzz: {failures:?} failed; each reproducer's path is printed above");
    }
    Ok(())
}

struct Stats {
    execs: u64,
    secs: u64,
    corpus: u64,
}

fn run_target(target: &str, seconds: u64, work: &Path, build_dir: &Path) -> Result<Stats> {
    let seeds = root().join("fuzz/corpus").join(target);
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut seeded = 0u64;
    if seeds.is_dir() {
        for entry in std::fs::read_dir(&seeds)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::copy(&path, corpus.join(path.file_name().expect("a file name")))?;
                seeded += 1;
            }
        }
    }
    let dict = root().join("fuzz/dict").join(format!("{target}.dict"));

    let log_path = work.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)?;
    // The binary `cargo fuzz build` made, run directly: `cargo fuzz run`
    // would first rebuild whatever changed in the tree since.
    let binary = build_dir.join(HOST_TRIPLE).join("release").join(target);
    let mut cmd = Command::new(&binary);
    cmd.current_dir(root())
        .arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1");
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    eprintln!("+ {cmd:?} ({seeded} seeds; log {})", log_path.display());
    let started = Instant::now();
    let status = cmd
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let secs = started.elapsed().as_secs();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.into_iter().rev() {
            eprintln!("  | {line}");
        }
        let found: Vec<PathBuf> = std::fs::read_dir(&artifacts)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        for path in &found {
            eprintln!(
                "fuzz: reproducer {}\n      run it again with: {} {}\n      or: cargo +nightly fuzz run {target} {}",
                path.display(),
                binary.display(),
                path.display(),
                path.display()
            );
        }
        bail!(
            "{status} after {secs} s ({} reproducer(s) in {}; log {})",
            found.len(),
            artifacts.display(),
            log_path.display()
        );
    }
    let execs = stat(&text, "stat::number_of_executed_units:")
        .with_context(|| format!("no execution count in {}", log_path.display()))?;
    let corpus_files = std::fs::read_dir(&corpus)?.count() as u64;
    Ok(Stats {
        execs,
        secs,
        corpus: corpus_files,
    })
}

/// The number after `key` in libFuzzer's final stats.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_stats() {
        let log = "#1024\tpulse  cov: 10\nstat::number_of_executed_units: 123456\nstat::average_exec_per_sec:     2057\n";
        assert_eq!(stat(log, "stat::number_of_executed_units:"), Some(123456));
        assert_eq!(stat(log, "stat::peak_rss_mb:"), None);
    }
}
