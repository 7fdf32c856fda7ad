//! `regha-agent explain CLIENT [--port P] [--service S]`: where a client's
//! packets go and why, from the pinned maps (`crate::explain`). Read-only:
//! it sends no packet and writes no map.

use std::{net::IpAddr, process::ExitCode};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::status::iface;
use crate::{
    agent::AgentOptions,
    explain::{self, Query, ServiceFilter, read},
    status::file,
};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The client's address (IPv4 or IPv6), as its packets carry it.
    pub client: IpAddr,
    /// The client's port: required for `hash: flow` services (the 5-tuple
    /// picks the backend), and shows that connection's flow-table entry
    /// and flow-cache copy.
    #[arg(long, short)]
    pub port: Option<u16>,
    /// Only this service: its name (from the running agent), or
    /// `VIP:port` (`[IPv6]:port`), with `/tcp` or `/udp` if needed.
    /// Every service of the client's address family without it.
    #[arg(long, short)]
    pub service: Option<ServiceFilter>,
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

pub fn run(opts: &AgentOptions, args: &ExplainArgs) -> Result<ExitCode> {
    let iface = iface(opts)?;
    let pin_dir = opts.bpffs_root.join(&iface);
    if !pin_dir.join("services").exists() {
        bail!(
            "no regha dataplane on {iface}: nothing pinned in {}. Is the agent running on {iface} \
             (`systemctl status regha@{iface}`)? If it pins under another bpffs root, pass --bpffs-root",
            pin_dir.display()
        );
    }
    let agent = file::read(&opts.state_dir, &iface);
    let query = Query {
        client: args.client,
        port: args.port,
        service: args.service.clone(),
    };
    let answer = read::from_pins(&pin_dir, agent.as_ref(), &query).map_err(|e| match e {
        explain::ExplainError::Maps(m) => anyhow::Error::new(m).context(format!(
            "cannot read the maps pinned in {} (run as root)",
            pin_dir.display()
        )),
        other => anyhow::Error::new(other),
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).context("JSON of the answer")?
        );
    } else {
        print!("{}", explain::text(&answer));
    }
    Ok(ExitCode::SUCCESS)
}
