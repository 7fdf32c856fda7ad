//! The command line: `regha-agent [run options]`, `check-config`, `status`,
//! `explain`, `trace`, `import`, `backend-setup`, and the runtime commands `backend`
//! and `vrrp`.
//! One file per subcommand.

mod admin;
mod backend_setup;
mod bgp;
mod check_config;
mod explain;
mod import;
mod status;
pub mod trace;

use regha_model::{Role, XdpMode};
use std::{path::PathBuf, process::ExitCode};

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    agent::{self, AgentOptions},
    dataplane::DEFAULT_BPFFS_ROOT,
};

/// regha: XDP load balancing with VRRP for Docker registries.
///
/// Without a subcommand, runs the agent: loads the XDP program onto the
/// interface (or adopts the one already there), health-checks the backends,
/// holds the VIPs as master, and keeps the maps in step.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, short, global = true, default_value = "/etc/regha/regha.yaml")]
    pub config: PathBuf,
    /// The LB interface (overrides `interface:` in the file).
    #[arg(long, global = true)]
    pub iface: Option<String>,
    /// A static role until VRRP decides (overrides `role:`).
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Attach mode (overrides `xdp_mode:`). `generic` is never chosen
    /// silently: a driver without native XDP fails with a message.
    #[arg(long, value_enum)]
    pub xdp_mode: Option<XdpModeArg>,
    /// On SIGTERM/SIGINT leave the XDP program attached and the maps pinned
    /// (the VIPs are still released).
    #[arg(long)]
    pub keep_dataplane: bool,
    /// Where pins live: `<root>/<iface>/`.
    #[arg(long, global = true, default_value = DEFAULT_BPFFS_ROOT)]
    pub bpffs_root: PathBuf,
    /// Where the running agent writes its state for `status`.
    #[arg(long, global = true, default_value = crate::status::file::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Log format.
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the configuration; touch nothing. Exits 1 listing every problem.
    CheckConfig,
    /// Print services, backends (state, MAC, health, traffic) and the
    /// dataplane's pass/drop reasons, from the pinned maps and the running agent.
    Status {
        /// JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Explain where a client's packets go and why, from the pinned maps:
    /// per service its hash, ring slot and that slot's backend, and with
    /// --port the connection's flow-table entry and flow-cache copy and
    /// whether the program trusts them. Read-only: sends and writes nothing.
    Explain {
        #[command(flatten)]
        args: explain::ExplainArgs,
    },
    /// Log the program's decision for each packet from one client, as it
    /// happens (root only): the program behind the pinned link is swapped
    /// for the same one with the trace on, and back on exit. Off, the trace
    /// costs the program nothing.
    Trace {
        #[command(flatten)]
        args: trace::TraceArgs,
    },
    /// Print a regha config equivalent to a HAProxy + keepalived pair; what
    /// cannot be mapped is listed on stderr as `file:line:` warnings.
    Import {
        #[command(flatten)]
        args: import::ImportArgs,
    },
    /// Drain, disable or enable a backend in the running agent (root only).
    /// The choice is kept across restarts of the agent until `enable`.
    Backend {
        #[command(subcommand)]
        action: admin::BackendCommand,
    },
    /// Resign from or resume the VRRP election in the running agent (root only).
    Vrrp {
        #[command(subcommand)]
        action: admin::VrrpCommand,
    },
    /// BGP mode: withdraw every VIP this LB announces, wait until their
    /// packets stop (the router moved the flows to the other LBs) or the
    /// timeout, and report. Kept across restarts until `undrain`.
    Drain {
        #[command(flatten)]
        args: bgp::DrainArgs,
    },
    /// BGP mode: announce the VIPs again (once the LB is ready).
    Undrain,
    /// Print the FRR configuration of BGP mode, for an LB or for the
    /// router in front of the LBs.
    BgpSetup {
        #[command(flatten)]
        args: bgp::BgpSetupArgs,
    },
    /// Print (or, with --apply, make) the settings a registry host needs
    /// to be a DSR backend: the VIP on `lo`, arp_ignore=1, arp_announce=2;
    /// and with --lb-mac/--lb-address the access policy (nftables): the VIP
    /// only through an LB, the host's own address only from the LBs and
    /// --allow networks.
    BackendSetup {
        #[command(flatten)]
        args: backend_setup::BackendSetupArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Master,
    Backup,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum XdpModeArg {
    Native,
    Generic,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REGHA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in files and journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl Cli {
    pub fn agent_options(&self) -> AgentOptions {
        AgentOptions {
            config_path: self.config.clone(),
            iface: self.iface.clone(),
            role: self.role.map(|r| match r {
                RoleArg::Master => Role::Master,
                RoleArg::Backup => Role::Backup,
            }),
            xdp_mode: self.xdp_mode.map(|m| match m {
                XdpModeArg::Native => XdpMode::Native,
                XdpModeArg::Generic => XdpMode::Generic,
            }),
            keep_dataplane: self.keep_dataplane,
            bpffs_root: self.bpffs_root.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

/// The exit status of an agent that refuses its configuration before any
/// setup (sysexits' `EX_CONFIG`): an invalid file, or the packaged example.
/// The systemd unit does not restart on it (`RestartPreventExitStatus=78`):
/// starting again would fail the same way until someone edits the file.
pub const EXIT_CONFIG: u8 = 78;

/// Refuses what the agent must not run, before it touches the system: a
/// configuration that does not validate (every problem listed), and the
/// packaged example's guard (`regha_config::example`).
fn refuse_before_setup(opts: &AgentOptions) -> Result<(), String> {
    if let Err(errors) = agent::load_config(opts) {
        return Err(format!(
            "invalid configuration in {}:\n{errors}",
            opts.config_path.display()
        ));
    }
    match regha_config::example::file_guard_line(&opts.config_path) {
        Some(line) => Err(regha_config::example::refusal(&opts.config_path, line)),
        None => Ok(()),
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::CheckConfig) => Ok(check_config::run(&cli.agent_options())),
        Some(Command::Status { json }) => status::run(&cli.agent_options(), json),
        Some(Command::Explain { ref args }) => explain::run(&cli.agent_options(), args),
        Some(Command::Trace { ref args }) => trace::run(&cli.agent_options(), args),
        Some(Command::Import { ref args }) => import::run(args),
        Some(Command::Backend { ref action }) => admin::backend(&cli.agent_options(), action),
        Some(Command::Vrrp { ref action }) => admin::vrrp(&cli.agent_options(), action),
        Some(Command::Drain { ref args }) => bgp::drain(&cli.agent_options(), args),
        Some(Command::Undrain) => bgp::undrain(&cli.agent_options()),
        Some(Command::BgpSetup { ref args }) => bgp::setup(&cli.agent_options(), args),
        Some(Command::BackendSetup { ref args }) => backend_setup::run(args, &cli.agent_options()),
        None => {
            let opts = cli.agent_options();
            if let Err(refusal) = refuse_before_setup(&opts) {
                eprintln!("regha-agent: {refusal}");
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(agent::run(opts))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
