//! `regha-agent import`: prints a regha config equivalent to a HAProxy +
//! keepalived pair (or keepalived alone, with its LVS `virtual_server`s);
//! what it could not map goes to stderr, line by line.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use regha_config::Config;
use regha_import::{ImportOptions, Severity, import_with, read_inputs};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// keepalived.conf of this LB host: its vrrp_instances, vrrp_sync_groups
    /// and vrrp_scripts, and its virtual_servers (LVS) as services.
    #[arg(long, value_name = "FILE")]
    pub keepalived: Option<PathBuf>,
    /// haproxy.cfg (frontends, backends, listens, the stats page).
    #[arg(long, value_name = "FILE")]
    pub haproxy: Option<PathBuf>,
    /// Write the YAML to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The LB interface, instead of keepalived's `interface`.
    #[arg(long, value_name = "NAME")]
    pub interface: Option<String>,
    /// Import only this vrrp_instance (default: every one).
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// The service VIP when there is no keepalived config and HAProxy binds
    /// every address.
    #[arg(long, value_name = "ADDRESS")]
    pub vip: Option<IpAddr>,
    /// The old firewall rules: a saved `iptables-save`, or a script of
    /// `iptables` commands. A rule accepting a source network to a service's
    /// VIP becomes the service's `allow:`; the others are warned about.
    #[arg(long, value_name = "FILE")]
    pub iptables: Option<PathBuf>,
}

/// Exit 0 when the output passes check-config; 1 when nothing could be
/// imported or the output does not pass (it is still written, to be fixed).
pub fn run(args: &ImportArgs) -> Result<ExitCode> {
    let (keepalived, haproxy) =
        match read_inputs(args.keepalived.as_deref(), args.haproxy.as_deref()) {
            Ok(texts) => texts,
            Err(e) => {
                eprintln!("regha-agent import: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
    let k_name = args.keepalived.as_ref().map(|p| p.display().to_string());
    let h_name = args.haproxy.as_ref().map(|p| p.display().to_string());
    let iptables = match &args.iptables {
        Some(path) => match regha_import::read_text(path) {
            Ok(text) => Some((path.display().to_string(), text)),
            Err(e) => {
                eprintln!("regha-agent import: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    let options = ImportOptions {
        interface: args.interface.clone(),
        instance: args.instance.clone(),
        vip: args.vip,
        iptables,
    };
    let imported = match import_with(
        k_name.as_deref().zip(keepalived.as_deref()),
        h_name.as_deref().zip(haproxy.as_deref()),
        &options,
    ) {
        Ok(i) => i,
        Err(failure) => {
            for w in &failure.warnings {
                eprintln!("{w}");
            }
            eprintln!("regha-agent import: {}", failure.error);
            return Ok(ExitCode::FAILURE);
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, &imported.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(imported.yaml.as_bytes())?;
            stdout.flush()?;
        }
    }
    for w in &imported.warnings {
        eprintln!("{w}");
    }
    let count = |s| imported.warnings.iter().filter(|w| w.severity == s).count();
    let target = args
        .out
        .as_ref()
        .map_or("stdout".to_owned(), |p| p.display().to_string());
    match Config::from_yaml_str(&imported.yaml) {
        Ok(_) => {
            eprintln!(
                "regha-agent import: wrote {target}: {} warning(s), {} note(s); it passes check-config",
                count(Severity::Warning),
                count(Severity::Note)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("regha-agent import: wrote {target}, but it does not pass check-config:");
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
