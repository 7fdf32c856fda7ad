//! `regha-agent backend-setup`: what a registry host needs behind regha
//! (`crate::backend_host`). Prints it by default; `--apply` makes the
//! changes on this host, idempotently; `--remove-policy` takes the access
//! policy away again, restoring the host's firewall as it was.

use std::{
    io::Write,
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use regha_model::{Mac, Protocol};

use crate::backend_host::{
    dsr,
    firewall::{self, Net, Policy},
};

#[derive(Args, Debug)]
pub struct BackendSetupArgs {
    /// A VIP (repeatable). Default: the services' VIPs in --config.
    #[arg(long = "vip")]
    pub vips: Vec<IpAddr>,
    /// Make the changes on this host instead of printing them.
    #[arg(long)]
    pub apply: bool,
    /// The access policy: an LB's interface MAC (repeatable). With it,
    /// connections to the VIP are accepted only in frames from these MACs.
    #[arg(long = "lb-mac")]
    pub lb_macs: Vec<Mac>,
    /// The access policy: an LB's own address (repeatable), the source of
    /// its health checks. Required with --lb-mac.
    #[arg(long = "lb-address")]
    pub lb_addresses: Vec<IpAddr>,
    /// The access policy: a network that may also reach the registry on
    /// this host's own address (repeatable), e.g. 203.0.113.224/27.
    #[arg(long = "allow")]
    pub allow: Vec<Net>,
    /// The registry's port (repeatable; TCP). Default: the services' ports
    /// in --config.
    #[arg(long = "port")]
    pub ports: Vec<u16>,
    /// Where --apply keeps the policy's rules (include it from
    /// /etc/nftables.conf to load it at boot).
    #[arg(long, default_value = firewall::DEFAULT_FILE)]
    pub policy_file: PathBuf,
    /// Remove the access policy (its table and its file) and exit.
    #[arg(long, conflicts_with_all = ["apply", "lb_macs", "lb_addresses", "allow"])]
    pub remove_policy: bool,
}

pub fn run(args: &BackendSetupArgs, opts: &crate::agent::AgentOptions) -> Result<ExitCode> {
    if args.remove_policy {
        remove_policy(&args.policy_file)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = || {
        regha_config::Config::read(&opts.config_path).map_err(|e| {
            anyhow::anyhow!(
                "no --vip/--port given and {} cannot tell them:\n{e}",
                opts.config_path.display()
            )
        })
    };
    let vips: Vec<IpAddr> = if args.vips.is_empty() {
        config()?.services.iter().map(|s| s.vip).collect()
    } else {
        args.vips.clone()
    };
    if vips.is_empty() {
        bail!("no VIP: pass --vip ADDRESS (or a config with services)");
    }
    let policy = policy(args, &vips, config)?;
    let steps = dsr::plan(&vips);
    if args.apply {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(dsr::apply(&steps))?;
        if let Some(policy) = &policy {
            apply_policy(policy, &args.policy_file)?;
        }
    } else {
        print!("{}", dsr::script(&steps));
        if let Some(policy) = &policy {
            println!(
                "# The access policy: nft -f {} (with this content):",
                args.policy_file.display()
            );
            print!("{}", policy.ruleset());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The access policy the options ask for, if any.
fn policy(
    args: &BackendSetupArgs,
    vips: &[IpAddr],
    config: impl Fn() -> Result<regha_config::Config>,
) -> Result<Option<Policy>> {
    if args.lb_macs.is_empty() && args.lb_addresses.is_empty() && args.allow.is_empty() {
        return Ok(None);
    }
    if args.lb_macs.is_empty() || args.lb_addresses.is_empty() {
        bail!(
            "the access policy needs both --lb-mac (the VIP's traffic comes in frames from the LBs' MACs) and --lb-address (their health checks come from their addresses), for every LB"
        );
    }
    let ports: Vec<(Protocol, u16)> = if args.ports.is_empty() {
        let mut p: Vec<(Protocol, u16)> = (config()?.services.iter())
            .filter(|s| vips.contains(&s.vip))
            .flat_map(|s| {
                std::iter::once((s.protocol, s.port))
                    .chain(s.backends.iter().map(|b| (s.protocol, b.port)))
            })
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    } else {
        args.ports.iter().map(|&p| (Protocol::Tcp, p)).collect()
    };
    Ok(Some(Policy {
        vips: vips.to_vec(),
        ports,
        lb_macs: args.lb_macs.clone(),
        lb_addresses: args.lb_addresses.clone(),
        allow: args.allow.clone(),
    }))
}

/// Writes the rules to `file` and loads them (one transaction: the table is
/// replaced, never half there).
fn apply_policy(policy: &Policy, file: &Path) -> Result<()> {
    let rules = policy.ruleset();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    std::fs::write(file, &rules).with_context(|| format!("write {}", file.display()))?;
    nft(&["-f", &file.display().to_string()], None)
        .with_context(|| format!("load {}", file.display()))?;
    println!(
        "access policy loaded (table inet {}) and kept in {}: include it from /etc/nftables.conf to load it at boot",
        firewall::TABLE,
        file.display()
    );
    Ok(())
}

fn remove_policy(file: &Path) -> Result<()> {
    // `table` first makes the delete succeed whether or not it exists.
    let script = format!("table inet {0}\ndelete table inet {0}\n", firewall::TABLE);
    nft(&["-f", "-"], Some(&script)).context("remove the access policy's table")?;
    match std::fs::remove_file(file) {
        Ok(()) => println!("access policy removed, and {}", file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("access policy removed"),
        Err(e) => return Err(e).with_context(|| format!("remove {}", file.display())),
    }
    Ok(())
}

/// Runs `nft` with `args`, feeding `stdin`; its error output on failure.
fn nft(args: &[&str], stdin: Option<&str>) -> Result<()> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run nft: install the nftables package")?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
