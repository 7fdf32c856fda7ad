//! HAProxy 2.6 (Debian) in an LB namespace: the proxy half of the stack
//! regha replaces, configured as `../shared/reference/haproxy-keepalived-
//! registry/haproxy.cfg` with the lab's addresses. Used by the mixed-cluster
//! test (lb2 still runs the old stack) and by `bench-e2e`.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::Path,
    process::Stdio,
};

use crate::{lab::Host, netns::ProcessGuard};

pub const HAPROXY_BIN: &str = "/usr/sbin/haproxy";

/// The reference `haproxy.cfg`, adapted: the backends and the Host header
/// are the lab's, the pidfile and stats socket live in `dir`; `balance
/// source`, `option httpchk GET /v2/`, `check inter 5000 fall 3`, the
/// timeouts and the stats listener on :1158 are as the operators wrote them.
pub fn config(dir: &Path, host_header: Ipv4Addr, backends: &[IpAddr]) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // HAProxy names an IPv6 server address with the `ipv6@` prefix
            // (the port after the last colon).
            let addr = match b {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("ipv6@{a}"),
            };
            format!(
                "    server inst{} {addr}:5000 check inter 5000 fall 3\n",
                i + 1
            )
        })
        .collect();
    // `bind :5000` is IPv4 only: with IPv6 backends the front listens on
    // both families.
    let bind = if backends.iter().any(IpAddr::is_ipv6) {
        ":::5000 v4v6"
    } else {
        ":5000"
    };
    format!(
        "global\n    maxconn 4096\n    nbthread 1\n    pidfile {pid}\n    stats socket {sock} mode 600 level admin\ndefaults\n    maxconn 2000\n    timeout connect 5000\n    timeout client 30000\n    timeout server 30000\n    mode http\n    option forwardfor\nfrontend http_server\n    bind {bind}\n    default_backend docker-registry\nbackend docker-registry\n    balance source\n    option httpchk GET /v2/ HTTP/1.1\\r\\nHost:{host_header}\n{servers}listen admin_stat\n    bind *:1158\n    mode http\n    stats enable\n    stats refresh 10s\n    stats uri /haproxy\n    stats realm Haproxy\\ Statistics\n    stats auth admin:admin\n    stats hide-version\n    stats admin if TRUE\n",
        pid = dir.join("haproxy.pid").display(),
        sock = dir.join("haproxy.sock").display(),
    )
}

pub struct Haproxy {
    pub config: std::path::PathBuf,
    log: std::path::PathBuf,
    process: Option<ProcessGuard>,
    ns: String,
}

impl Haproxy {
    /// Writes the config into `dir` and starts HAProxy in the foreground in
    /// the host's namespace; checks the config first so that a bad one
    /// fails here with HAProxy's message.
    pub fn start(host: &Host, dir: &Path, backends: &[IpAddr]) -> Self {
        assert!(
            Path::new(HAPROXY_BIN).exists(),
            "{HAPROXY_BIN} is missing: `cargo xtask setup` installs Debian's haproxy"
        );
        let config = dir.join(format!("haproxy-{}.cfg", host.ip));
        std::fs::write(&config, self::config(dir, host.ip, backends)).expect("write haproxy.cfg");
        let check = std::process::Command::new(HAPROXY_BIN)
            .arg("-c")
            .arg("-f")
            .arg(&config)
            .output()
            .expect("run haproxy -c");
        assert!(
            check.status.success(),
            "haproxy rejects {}: {}{}",
            config.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut h = Self {
            log: dir.join(format!("haproxy-{}.log", host.ip)),
            config,
            process: None,
            ns: host.ns.name().to_owned(),
        };
        h.resume();
        h
    }

    /// The process id (for CPU accounting).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ProcessGuard::id)
    }

    /// Kills HAProxy.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts it again.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(&self.log).expect("haproxy log");
        let mut cmd = std::process::Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.ns))
            .args([HAPROXY_BIN, "-db", "-f"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log);
        self.process = Some(ProcessGuard::spawn(&mut cmd));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
