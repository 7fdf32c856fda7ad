//! `cargo xtask setup`: everything a fresh machine of this kind lacks, each
//! step skipped when already done, so it is cheap to run before every test.

use std::process::Command;

use anyhow::{Result, bail};

use crate::util::{exec, output, succeeds};

/// Debian packages the build and the tests need:
/// - llvm-22-dev (+ the libraries it links against): bpf-linker's LLVM, which
///   must match the nightly rustc's LLVM 22;
/// - bpftool: operators' (and tests') view of the pinned maps;
/// - iproute2: namespaces, veths, bridges in the tests;
/// - docker-registry: the real backends of the end-to-end tests;
/// - tcpdump: the tests watch the wire (gratuitous ARP);
/// - keepalived: the VRRP peer of the interop tests;
/// - prometheus (promtool), chromium, man-db, systemd: the package's tests.
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "zlib1g-dev",
    "libzstd-dev",
    "bpftool",
    "iproute2",
    "docker-registry",
    "tcpdump",
    "keepalived",
    // The registry lab (issue 5): the client, the stack regha replaces, and
    // the load generator for `cargo xtask bench-e2e`.
    "skopeo",
    "haproxy",
    "wrk",
    // `regha-agent backend-setup --policy` writes nftables rules (issue 18).
    "nftables",
    // The lab in native XDP mode (issue 13) turns the clients' TX checksum
    // offload off, as frames arrive from a real wire.
    "ethtool",
    // The TLS registries of the lab (issue 12): their CA and certificates.
    "openssl",
    // The package and what ships with it (issue 15): promtool (in Debian's
    // `prometheus`) for the alerting rules' tests, a headless browser for
    // the stats page, and what the package test runs on the installed
    // package (`man -l`, `systemd-analyze verify`; the image has both).
    "prometheus",
    "chromium",
    "man-db",
    "systemd",
    // Active-active over BGP (issue 14): the routing daemon that announces
    // the VIPs (bgpd, bfdd, zebra) on the LBs and the lab's router.
    "frr",
];

const BPF_LINKER_VERSION: &str = "0.13";
/// cargo-deb for `cargo xtask deb` (builds on rustc 1.85 and later).
const CARGO_DEB_VERSION: &str = "3.8.0";
/// cargo-fuzz for `cargo xtask fuzz` (the targets build on nightly).
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

pub fn run() -> Result<()> {
    apt()?;
    rust_src()?;
    bpf_linker()?;
    cargo_fuzz()?;
    cargo_deb()?;
    Ok(())
}

fn apt() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_none_or(|s| !s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        eprintln!("setup: Debian packages present");
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("setup: missing Debian packages {missing:?}; run `sudo cargo xtask setup`");
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn rust_src() -> Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        // Machines of this kind ship a nightly; where one does not, try to
        // install it (rustup's server may be out of reach: say so).
        exec(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
            "--component",
            "rust-src,rustfmt,clippy",
        ]))
        .map_err(|e| {
            anyhow::anyhow!("setup: no nightly toolchain and rustup could not install one: {e}")
        })?;
    }
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]))
    .unwrap_or_default();
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        eprintln!("setup: nightly rust-src present");
        return Ok(());
    }
    exec(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
}

fn bpf_linker() -> Result<()> {
    if let Some(v) = output(Command::new("bpf-linker").arg("--version"))
        && v.contains(&format!("bpf-linker {BPF_LINKER_VERSION}"))
    {
        eprintln!("setup: {}", v.trim());
        return Ok(());
    }
    if !succeeds(Command::new(format!("{LLVM_PREFIX}/bin/llvm-config")).arg("--version")) {
        bail!("setup: {LLVM_PREFIX} has no llvm-config; llvm-22-dev did not install");
    }
    exec(
        Command::new("cargo")
            .args([
                "install",
                "--locked",
                "bpf-linker",
                "--version",
                &format!("~{BPF_LINKER_VERSION}"),
                "--no-default-features",
                "--features",
                "llvm-22",
            ])
            .env("LLVM_PREFIX", LLVM_PREFIX),
    )
}

fn cargo_fuzz() -> Result<()> {
    if let Some(v) = output(Command::new("cargo-fuzz").arg("--version"))
        && v.trim() == format!("cargo-fuzz {CARGO_FUZZ_VERSION}")
    {
        eprintln!("setup: {}", v.trim());
        return Ok(());
    }
    exec(Command::new("cargo").args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        &format!("={CARGO_FUZZ_VERSION}"),
    ]))
}

fn cargo_deb() -> Result<()> {
    if let Some(v) = output(Command::new("cargo-deb").arg("--version"))
        && v.trim() == format!("cargo-deb {CARGO_DEB_VERSION}")
    {
        eprintln!("setup: {}", v.trim());
        return Ok(());
    }
    exec(Command::new("cargo").args([
        "install",
        "--locked",
        "cargo-deb",
        "--version",
        &format!("={CARGO_DEB_VERSION}"),
    ]))
}
