//! A real Docker registry (Debian's `docker-registry`, the distribution
//! registry) as a backend: filesystem storage shared by every backend of a
//! lab and the same `http.secret`, as a registry cluster runs it.

use std::{path::Path, process::Stdio};

use crate::{lab::Host, netns::ProcessGuard, pki::ServerCert};

/// The registry binary of the Debian package.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct Registry {
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    process: Option<ProcessGuard>,
    ns: String,
}

impl Registry {
    /// Writes the config into `dir` and starts the registry on :5000 in the
    /// host's namespace.
    pub fn start(host: &Host, dir: &Path, storage: &Path) -> Self {
        Self::start_with(host, dir, storage, None)
    }

    /// [`Registry::start`] serving HTTPS with `tls` (the registry's
    /// `http.tls`), as most private registries do.
    pub fn start_tls(host: &Host, dir: &Path, storage: &Path, tls: &ServerCert) -> Self {
        Self::start_with(host, dir, storage, Some(tls))
    }

    fn start_with(host: &Host, dir: &Path, storage: &Path, tls: Option<&ServerCert>) -> Self {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: `cargo xtask setup` installs Debian's docker-registry"
        );
        let config = dir.join(format!("registry-{}.yml", host.ip));
        // Written as JSON, which is YAML too: a document built as data,
        // not as text.
        let mut doc = serde_json::json!({
            "version": "0.1",
            "log": { "level": "warn" },
            "storage": {
                "filesystem": { "rootdirectory": storage },
                "delete": { "enabled": true },
            },
            "http": { "addr": ":5000", "secret": "regha-lab-shared-secret" },
        });
        if let Some(tls) = tls {
            doc["http"]["tls"] = serde_json::json!({
                "certificate": tls.cert,
                "key": tls.key,
            });
        }
        let text = serde_json::to_string_pretty(&doc).expect("plain data");
        std::fs::write(&config, text).expect("write registry config");
        let mut r = Self {
            log: dir.join(format!("registry-{}.log", host.ip)),
            config,
            process: None,
            ns: host.ns.name().to_owned(),
        };
        r.resume();
        r
    }

    /// Kills the registry (its backend fails its checks from now on).
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts it again.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(&self.log).expect("registry log");
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, REGISTRY_BIN, "serve"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log);
        self.process = Some(ProcessGuard::spawn(&mut cmd));
    }
}
