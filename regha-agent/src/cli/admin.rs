//! `regha-agent backend drain|disable|enable <service> <backend>` and
//! `regha-agent vrrp resign|resume [instance]`: commands for the running agent, sent
//! over its root-only socket (`<state dir>/<iface>.sock`).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::{
    admin::{
        protocol::{BackendAction, Request},
        socket,
    },
    agent::AgentOptions,
};

#[derive(Subcommand, Debug)]
pub enum BackendCommand {
    /// Keep the backend's existing flows, send new ones elsewhere, until `enable`.
    Drain(BackendArgs),
    /// Take the backend out at once: its flows move to the others.
    Disable(BackendArgs),
    /// Let the health checks decide again.
    Enable(BackendArgs),
}

#[derive(Args, Debug)]
pub struct BackendArgs {
    /// The service's `name` in the config.
    pub service: String,
    /// The backend's address, with or without its port (192.0.2.11, 192.0.2.11:5000).
    pub backend: String,
}

#[derive(Subcommand, Debug)]
pub enum VrrpCommand {
    /// Leave master now (VIPs released, priority 0 advertised) and stay out
    /// of the election until `resume` or a restart of the agent.
    Resign(VrrpArgs),
    /// Join the election again, as backup.
    Resume(VrrpArgs),
}

#[derive(Args, Debug)]
pub struct VrrpArgs {
    /// The instance's `name` (`regha-agent status` lists them); its sync
    /// group's other members go with it. Default: every instance.
    pub instance: Option<String>,
}

impl BackendCommand {
    fn request(&self) -> Request {
        let (action, args) = match self {
            Self::Drain(a) => (BackendAction::Drain, a),
            Self::Disable(a) => (BackendAction::Disable, a),
            Self::Enable(a) => (BackendAction::Enable, a),
        };
        Request::Backend {
            action,
            service: args.service.clone(),
            backend: args.backend.clone(),
        }
    }
}

impl VrrpCommand {
    fn request(&self) -> Request {
        match self {
            Self::Resign(a) => Request::VrrpResign {
                instance: a.instance.clone(),
            },
            Self::Resume(a) => Request::VrrpResume {
                instance: a.instance.clone(),
            },
        }
    }
}

pub fn backend(opts: &AgentOptions, cmd: &BackendCommand) -> Result<ExitCode> {
    send(opts, &cmd.request())
}

pub fn vrrp(opts: &AgentOptions, cmd: &VrrpCommand) -> Result<ExitCode> {
    send(opts, &cmd.request())
}

/// Sends the request; prints the agent's answer (stdout when it did it,
/// stderr and exit 1 when it refused).
pub(super) fn send(opts: &AgentOptions, request: &Request) -> Result<ExitCode> {
    let iface = super::status::iface(opts)?;
    let path = crate::admin::socket_path(&opts.state_dir, &iface);
    let answer = socket::request(&path, &iface, request)?;
    if answer.ok {
        println!("{}", answer.message);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("regha-agent: {}", answer.message);
        Ok(ExitCode::FAILURE)
    }
}
