//! `regha-agent drain` / `undrain`, the LB-level commands of BGP mode, and
//! `regha-agent bgp-setup`, which prints FRR's configuration.
//!
//! `drain` withdraws every VIP this LB announces (the agent deletes the
//! routes; FRR withdraws them from the router), then watches the VIPs'
//! packets in the pinned maps until none arrived for [`QUIET`] (the router
//! has moved the flows to the other LBs) or the timeout passes, and
//! reports which. The LB stays withdrawn, across restarts, until
//! `undrain`.

use std::{
    net::IpAddr,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::{
    admin::{protocol::Request, socket},
    agent::{AgentOptions, load_config},
    bgp::setup::{LbSide, RouterSide, lb_config, router_config},
    dataplane::MapWriter,
    status::{document, file},
};

/// The VIPs are drained once no packet reached them for this long.
pub const QUIET: Duration = Duration::from_secs(1);
/// How often the packet counters are read while draining.
const POLL: Duration = Duration::from_millis(100);

#[derive(Args, Debug)]
pub struct DrainArgs {
    /// How long to wait for the VIPs' packets to stop (`30s`, `2m`).
    /// Default: `bgp.drain_timeout`.
    #[arg(long)]
    pub timeout: Option<String>,
}

pub fn drain(opts: &AgentOptions, args: &DrainArgs) -> Result<ExitCode> {
    let config = load_config(opts).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    let Some(bgp) = &config.bgp else {
        bail!(
            "`bgp:` is not configured in {}: drain is for BGP mode; with VRRP use `regha-agent vrrp resign`",
            opts.config_path.display()
        );
    };
    let timeout = match &args.timeout {
        Some(t) => {
            regha_config::duration::parse(t).map_err(|e| anyhow::anyhow!("--timeout {t:?}: {e}"))?
        }
        None => bgp.drain_timeout,
    };
    let iface = super::status::iface(opts)?;
    let path = crate::admin::socket_path(&opts.state_dir, &iface);
    let answer = socket::request(&path, &iface, &Request::Drain)?;
    if !answer.ok {
        eprintln!("regha-agent: {}", answer.message);
        return Ok(ExitCode::FAILURE);
    }
    println!("{}", answer.message);
    let withdrawn = Instant::now();
    let maps = MapWriter::open(&opts.bpffs_root.join(&iface))
        .context("cannot open the pinned maps to watch the VIPs' packets")?;
    let packets = || -> Result<u64> {
        let agent = file::read(&opts.state_dir, &iface);
        let doc = document::build(&maps, &iface, agent)?;
        Ok(doc
            .services
            .iter()
            .filter(|s| bgp.vips.contains(&s.vip))
            .map(|s| s.packets)
            .sum())
    };
    let start = packets()?;
    let mut last = start;
    let mut last_change = withdrawn;
    loop {
        std::thread::sleep(POLL);
        let now = Instant::now();
        let n = packets()?;
        if n != last {
            last = n;
            last_change = now;
        }
        if now.duration_since(last_change) >= QUIET {
            let stopped = last_change.duration_since(withdrawn);
            println!(
                "drained: no packet to {} for {:.1} s; the last came {:.2} s after the withdrawal ({} packets since)",
                list(&bgp.vips),
                QUIET.as_secs_f64(),
                stopped.as_secs_f64(),
                last - start
            );
            return Ok(ExitCode::SUCCESS);
        }
        if now.duration_since(withdrawn) >= timeout {
            eprintln!(
                "regha-agent: withdrawn, but packets still reach {} after {:.1} s ({} since the withdrawal): the router may not have dropped this LB's route yet (check `show ip route` on it); the LB stays withdrawn",
                list(&bgp.vips),
                timeout.as_secs_f64(),
                last - start
            );
            return Ok(ExitCode::FAILURE);
        }
    }
}

pub fn undrain(opts: &AgentOptions) -> Result<ExitCode> {
    super::admin::send(opts, &Request::Undrain)
}

fn list(vips: &[IpAddr]) -> String {
    vips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Side {
    /// This LB's FRR: announces the VIPs regha-agent routes.
    Lb,
    /// The router in front of the LBs: ECMP over them.
    Router,
}

#[derive(Args, Debug)]
pub struct BgpSetupArgs {
    /// Whose configuration to print.
    #[arg(long, value_enum, default_value = "lb")]
    pub side: Side,
    /// This side's AS number.
    #[arg(long)]
    pub asn: u32,
    /// The other side's AS number (the LBs share one).
    #[arg(long)]
    pub peer_asn: u32,
    /// This side's router id (its own address on the segment).
    #[arg(long)]
    pub router_id: IpAddr,
    /// The other side's addresses: the router's (for an LB), or every
    /// LB's (for the router). Repeat the flag.
    #[arg(long = "peer", required = true)]
    pub peers: Vec<IpAddr>,
    /// The VIPs; default: the config's `bgp.vips`.
    #[arg(long = "vip")]
    pub vips: Vec<IpAddr>,
    #[arg(long, default_value = "regha")]
    pub hostname: String,
    /// BFD transmit and receive interval, in ms.
    #[arg(long, default_value_t = 100)]
    pub bfd_interval_ms: u32,
    #[arg(long, default_value_t = 3)]
    pub bfd_multiplier: u8,
    /// ECMP paths on the router.
    #[arg(long, default_value_t = 16)]
    pub maximum_paths: u32,
}

pub fn setup(opts: &AgentOptions, args: &BgpSetupArgs) -> Result<ExitCode> {
    let vips = if args.vips.is_empty() {
        let config =
            load_config(opts).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
        match config.bgp {
            Some(b) => b.vips,
            None => bail!(
                "`bgp:` is not configured in {}: pass the VIPs with --vip",
                opts.config_path.display()
            ),
        }
    } else {
        args.vips.clone()
    };
    if !(10..=60_000).contains(&args.bfd_interval_ms) || !(2..=255).contains(&args.bfd_multiplier) {
        bail!("--bfd-interval-ms must be 10..=60000 and --bfd-multiplier 2..=255 (FRR's ranges)");
    }
    let text = match args.side {
        Side::Lb => {
            let [router] = args.peers.as_slice() else {
                bail!("an LB peers with one router: give one --peer");
            };
            lb_config(&LbSide {
                hostname: args.hostname.clone(),
                router_id: args.router_id,
                asn: args.asn,
                router: *router,
                router_asn: args.peer_asn,
                vips,
                bfd_interval_ms: args.bfd_interval_ms,
                bfd_multiplier: args.bfd_multiplier,
            })
        }
        Side::Router => router_config(&RouterSide {
            hostname: args.hostname.clone(),
            router_id: args.router_id,
            asn: args.asn,
            lbs: args.peers.clone(),
            lb_asn: args.peer_asn,
            vips,
            bfd_interval_ms: args.bfd_interval_ms,
            bfd_multiplier: args.bfd_multiplier,
            maximum_paths: args.maximum_paths,
        }),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
