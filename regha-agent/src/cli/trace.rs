//! `regha-agent trace --client ADDR`: the program's decision for each
//! packet from one client, as it happens. The program behind the pinned
//! link is replaced by the same object loaded with the trace on for that
//! client (`Dataplane::load_traced`), whose records are read through
//! aya-log; on exit (Ctrl-C, `--count`, `--duration`) the program with
//! the trace off is put back the same way. Maps are the pinned ones: no
//! flow, ring or counter is lost either way.

use std::{
    io::Write,
    net::IpAddr,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, bail};
use aya::maps::MapData;
use clap::Args;
use regha_common::Reason;
use tokio::io::unix::AsyncFd;

use super::status::iface;
use crate::{
    agent::AgentOptions,
    dataplane::{Dataplane, DataplaneOptions, EBPF_OBJECT, LINK_PIN},
};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The client whose packets to trace (IPv4 or IPv6 source address).
    #[arg(long)]
    pub client: IpAddr,
    /// Stop after this many traced packets.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (`30s`, `5m`); without it or --count, at Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

/// The mode `attach` names in its errors: with a link pinned (checked
/// first) the program behind it is replaced and the mode is the link's.
const LINKED: aya::programs::XdpMode = aya::programs::XdpMode::Driver;

/// Prints each trace record, with its codes as words, and counts them.
struct Printer {
    seen: Arc<AtomicU64>,
}

impl log::Log for Printer {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = words(&record.args().to_string());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{} {line}",
            humantime::format_rfc3339_millis(std::time::SystemTime::now())
        );
        let _ = out.flush();
        self.seen.fetch_add(1, Ordering::Relaxed);
    }

    fn flush(&self) {}
}

/// A record of `regha-ebpf/src/trace.rs` with its codes as words:
/// `via=3` -> `via=ring`, `reason=4` -> `reason=no_backend`.
pub fn words(record: &str) -> String {
    record
        .split(' ')
        .map(|w| {
            if let Some(code) = w.strip_prefix("via=") {
                let name = match code {
                    "1" => "flow_cache",
                    "2" => "handshake",
                    "3" => "ring",
                    "4" => "flow_table",
                    _ => return w.to_owned(),
                };
                format!("via={name}")
            } else if let Some(code) = w.strip_prefix("reason=") {
                match Reason::ALL
                    .iter()
                    .find(|r| code == (**r as u32).to_string())
                {
                    Some(r) => format!("reason={}", r.name()),
                    None => w.to_owned(),
                }
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(opts: &AgentOptions, args: &TraceArgs) -> Result<ExitCode> {
    let iface = iface(opts)?;
    let pin_dir = opts.bpffs_root.join(&iface);
    if !pin_dir.join(LINK_PIN).exists() {
        bail!(
            "no regha program attached on {iface}: no link pinned in {}. Is the agent running on {iface} \
             (`systemctl status regha@{iface}`)? If it pins under another bpffs root, pass --bpffs-root",
            pin_dir.display()
        );
    }
    // The pinned flow table's size: loading with another would replace it.
    let flows = MapData::from_pin(pin_dir.join("flows")).with_context(|| {
        format!(
            "cannot open the flow table pinned in {} (run as root)",
            pin_dir.display()
        )
    })?;
    let flow_table_size = flows
        .info()
        .context("the pinned flow table's size")?
        .max_entries();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Over netlink, as the agent finds it: in this network namespace.
    let iface_mac = rt
        .block_on(async {
            let handle = crate::net::connect()?;
            crate::net::Interface::lookup(&handle, &iface).await
        })
        .with_context(|| format!("the MAC of {iface}"))?
        .mac;
    let dp_opts = DataplaneOptions {
        pin_dir,
        iface_mac,
        flow_table_size,
    };
    let mut traced = Dataplane::load_traced(&EBPF_OBJECT, &dp_opts, Some(args.client))?;
    let seen = Arc::new(AtomicU64::new(0));
    let logger = traced.trace_logger(Printer { seen: seen.clone() })?;
    traced.attach(&iface, LINKED)?;
    eprintln!(
        "tracing packets from {} on {iface}; the trace stops at {}",
        args.client,
        match (args.count, args.duration) {
            (Some(n), _) => format!("{n} packets"),
            (None, Some(d)) => humantime::format_duration(d).to_string(),
            (None, None) => "Ctrl-C".into(),
        }
    );
    let read = rt.block_on(async {
        // SAFETY: the logger owns its ring buffer's fd, which stays open
        // and the same for as long as the AsyncFd owns the logger.
        let mut fd = unsafe { AsyncFd::register(logger) }
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
        loop {
            if args
                .count
                .is_some_and(|n| seen.load(Ordering::Relaxed) >= n)
            {
                return Ok::<_, std::io::Error>(());
            }
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ready = fd.readable_mut() => {
                    let mut guard = ready?;
                    guard.get_inner_mut().flush();
                    guard.clear_ready();
                }
                _ = tokio::signal::ctrl_c() => return Ok(()),
                () = until => return Ok(()),
            }
        }
    });
    // Back to the program without the trace, whatever ended the loop.
    let restored = Dataplane::load(&dp_opts).and_then(|mut d| d.attach(&iface, LINKED));
    read.context("reading the trace")?;
    restored.context("putting the program without the trace back behind the link")?;
    eprintln!("{} packets traced; trace off", seen.load(Ordering::Relaxed));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn codes_become_words() {
        assert_eq!(
            words("trace sport=1 dport=5000 proto=6 syn=0 -> backend=2 service=0 gen=1 via=4"),
            "trace sport=1 dport=5000 proto=6 syn=0 -> backend=2 service=0 gen=1 via=flow_table"
        );
        assert_eq!(
            words("trace sport=1 -> not forwarded reason=4"),
            "trace sport=1 -> not forwarded reason=no_backend"
        );
        assert_eq!(words("via=9 reason=77"), "via=9 reason=77");
    }
}
