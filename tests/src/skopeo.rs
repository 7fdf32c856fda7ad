//! skopeo, the client of the registry lab: it pushes and pulls images
//! through the VIP from inside a client namespace, as `docker push/pull`
//! would, with TLS off (`--*-tls-verify=false`, as the reference setup's
//! `--insecure-registry`) or, against the lab's TLS registries, verifying
//! them against the lab CA ([`Trust::CertDir`]), and no retries, so that a
//! connection the LB broke shows up as a failed copy instead of a silent
//! second attempt.
//!
//! skopeo 1.9 (Debian's) refuses an IPv6 literal in an image reference
//! (`docker://[2001:db8::100]:5000/...`: "invalid reference format"), so
//! the lab names the IPv6 VIP. The name lives in a hosts file bind-mounted
//! over `/etc/hosts` in a mount namespace of skopeo's own (`unshare
//! --mount`, private propagation): nothing outside the test sees it.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{netns::NetNs, wait::wait_for};

pub const SKOPEO_BIN: &str = "/usr/bin/skopeo";

/// `docker://<registry>/<repo>:<tag>`.
pub fn docker_ref(registry: &str, repo: &str, tag: &str) -> String {
    format!("docker://{registry}/{repo}:{tag}")
}

/// How skopeo treats the registry's TLS: as the reference setup's
/// `--insecure-registry` (no verification, plain HTTP allowed), or
/// verifying it against the CA in a certs directory (`ca.crt`), as a docker
/// client with `/etc/docker/certs.d/<registry>/ca.crt` does.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    Insecure,
    CertDir(&'a Path),
}

fn command(
    ns: &str,
    hosts: Option<&Path>,
    trust: Trust<'_>,
    src: &str,
    dst: &str,
    log: &Path,
) -> Command {
    assert!(
        Path::new(SKOPEO_BIN).exists(),
        "{SKOPEO_BIN} is missing: `cargo xtask setup` installs Debian's skopeo"
    );
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]);
    if let Some(hosts) = hosts {
        // `exec` keeps skopeo the process the test waits for and kills.
        cmd.args(["unshare", "--mount", "--propagation", "private", "--"]);
        cmd.args(["sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\""]);
        cmd.arg(hosts);
    }
    cmd.arg(SKOPEO_BIN);
    cmd.args([
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--preserve-digests",
    ]);
    match trust {
        Trust::Insecure => cmd.args(["--src-tls-verify=false", "--dest-tls-verify=false"]),
        Trust::CertDir(dir) => cmd
            .args(["--src-tls-verify=true", "--dest-tls-verify=true"])
            .arg("--src-cert-dir")
            .arg(dir)
            .arg("--dest-cert-dir")
            .arg(dir),
    };
    cmd.args([src, dst])
        .env("TMPDIR", log.parent().unwrap_or(Path::new("/tmp")))
        .stdin(Stdio::null());
    cmd
}

/// A copy running in the background.
pub struct Copy {
    child: std::process::Child,
    started: Instant,
    what: String,
    log: std::path::PathBuf,
}

impl Copy {
    /// Starts `skopeo copy src dst` in `ns`; its output goes to `log`.
    pub fn start(ns: &NetNs, src: &str, dst: &str, log: &Path) -> Self {
        Self::spawn(ns.name(), None, Trust::Insecure, src, dst, log)
    }

    /// [`Copy::start`] with names resolved through `hosts` (the lab's
    /// file: the VIPs by name) instead of the host's `/etc/hosts`.
    pub fn start_resolving(ns: &NetNs, hosts: &Path, src: &str, dst: &str, log: &Path) -> Self {
        Self::spawn(ns.name(), Some(hosts), Trust::Insecure, src, dst, log)
    }

    /// [`Copy::start_resolving`] verifying the registry's certificate
    /// against the CA in `certs` (`ca.crt`), over HTTPS only.
    pub fn start_trusting(
        ns: &NetNs,
        hosts: &Path,
        certs: &Path,
        src: &str,
        dst: &str,
        log: &Path,
    ) -> Self {
        Self::spawn(ns.name(), Some(hosts), Trust::CertDir(certs), src, dst, log)
    }

    /// [`Copy::start`] by namespace name (for threads that do not own the
    /// namespace).
    pub fn start_in(ns: &str, src: &str, dst: &str, log: &Path) -> Self {
        Self::spawn(ns, None, Trust::Insecure, src, dst, log)
    }

    fn spawn(
        ns: &str,
        hosts: Option<&Path>,
        trust: Trust<'_>,
        src: &str,
        dst: &str,
        log: &Path,
    ) -> Self {
        let out = std::fs::File::create(log).expect("skopeo log");
        let child = command(ns, hosts, trust, src, dst, log)
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("start skopeo");
        Self {
            child,
            started: Instant::now(),
            what: format!("skopeo copy {src} {dst}"),
            log: log.to_path_buf(),
        }
    }

    /// Has it finished?
    pub fn done(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for it (at most `limit` from its start, then kills it): how
    /// long it took, or why it failed with its output.
    pub fn wait(mut self, limit: Duration) -> Result<Duration, String> {
        let left = limit.saturating_sub(self.started.elapsed());
        let child = &mut self.child;
        let exited =
            wait_for(self.what.clone(), left).try_until(|| child.try_wait().expect("wait skopeo"));
        let took = self.started.elapsed();
        let out = || std::fs::read_to_string(&self.log).unwrap_or_default();
        match exited {
            Ok(st) if st.success() => Ok(took),
            Ok(st) => Err(format!(
                "{} failed ({st}) after {took:?}:\n{}",
                self.what,
                out()
            )),
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(format!(
                    "{} did not finish in {limit:?}:\n{}",
                    self.what,
                    out()
                ))
            }
        }
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
