//! `cargo xtask deb`: the Debian package, `target/debian/regha_<version>_<arch>.deb`.
//!
//! After `build-ebpf` (the agent embeds the XDP object), `regha-docs`
//! writes what the package ships beside the binary (the man pages, which
//! Debian wants gzipped, and the bash and zsh completions) into
//! `target/deb-assets/`, then cargo-deb (installed by `setup`, pinned)
//! builds the agent and the package as `regha-agent/Cargo.toml`'s
//! `[package.metadata.deb]` says: the unit, the maintainer scripts in
//! `regha-agent/debian/`, the example as a conffile, the monitoring in
//! `contrib/`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, exec, root};

/// Which build of the agent goes into the package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// What operators install: `cargo deb`'s release build.
    Release,
    /// The debug build the tests already made (`cargo xtask test`): the
    /// same package around a binary that costs no second, optimised build
    /// of the whole dependency tree in CI.
    Dev,
}

/// The generated assets' directory (what `[package.metadata.deb]` names).
pub fn assets_dir() -> PathBuf {
    root().join("target/deb-assets")
}

/// Builds the package; returns its path.
pub fn run(build: Build) -> Result<PathBuf> {
    let assets = assets_dir();
    let _ = std::fs::remove_dir_all(&assets);
    exec(
        cargo()
            .args([
                "run",
                "--quiet",
                "--locked",
                "-p",
                "regha-agent",
                "--bin",
                "regha-docs",
                "--",
            ])
            .arg(&assets),
    )?;
    for page in ["regha-agent.8", "regha.yaml.5"] {
        // -n: no name or time stamp inside, so the package is reproducible.
        exec(Command::new("gzip").args(["-9nf"]).arg(assets.join(page)))?;
    }
    let out = root().join("target/debian");
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let mut cmd = cargo();
    cmd.args(["deb", "--locked", "-p", "regha-agent", "-o"])
        .arg(&out);
    if build == Build::Dev {
        // The `dev` variant packages target/debug/regha-agent as built
        // (cargo-deb builds release profiles only); quick to compress, as
        // it is installed and removed again.
        exec(cargo().args([
            "build",
            "--locked",
            "-p",
            "regha-agent",
            "--bin",
            "regha-agent",
        ]))?;
        exec(
            Command::new("strip")
                .arg("-o")
                .arg(assets.join("regha-agent"))
                .arg(debug_binary()),
        )?;
        cmd.args(["--variant", "dev", "--no-build", "--fast"]);
    }
    exec(&mut cmd)?;
    newest_deb(&out)
}

/// The debug build of the agent (`CARGO_TARGET_DIR` or the workspace's
/// `target/`).
fn debug_binary() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("debug/regha-agent")
}

/// The newest `regha_*.deb` in `dir`.
pub fn newest_deb(dir: &Path) -> Result<PathBuf> {
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("regha_") && n.ends_with(".deb"))
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    match debs.pop() {
        Some((_, p)) => {
            eprintln!("deb: {}", p.display());
            Ok(p)
        }
        None => bail!("cargo deb made no regha_*.deb in {}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    /// The `assets = [...]` lines of the TOML section that starts at `header`.
    fn assets(manifest: &str, header: &str) -> Vec<String> {
        let section = &manifest[manifest.find(header).expect(header)..];
        let list = &section[section.find("assets = [").expect("assets")..];
        list.lines()
            .skip(1)
            .take_while(|l| l.trim() != "]")
            .map(|l| l.trim().to_owned())
            .collect()
    }

    /// The dev variant (what CI installs) ships what the release package
    /// does, from the binary's source path alone apart.
    #[test]
    fn the_dev_variant_ships_what_the_release_does() {
        let manifest = include_str!("../../regha-agent/Cargo.toml");
        let release = assets(manifest, "[package.metadata.deb]");
        let dev = assets(manifest, "[package.metadata.deb.variants.dev]");
        assert_eq!(release.len(), dev.len(), "{release:#?}\n{dev:#?}");
        for (r, d) in release.iter().zip(&dev) {
            if r.contains("usr/sbin/") {
                assert!(r.starts_with("[\"target/release/regha-agent\""), "{r}");
                assert!(
                    d.starts_with("[\"../target/deb-assets/regha-agent\""),
                    "{d}"
                );
                assert_eq!(r.split_once(',').unwrap().1, d.split_once(',').unwrap().1);
            } else {
                assert_eq!(r, d);
            }
        }
    }
}
