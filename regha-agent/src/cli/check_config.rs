//! `regha-agent check-config`: validates, touches nothing. Problems make it
//! exit 1; warnings (valid, but probably not what was meant) and notes (the
//! packaged example's guard, what a reload would not apply) are printed and
//! it still exits 0.

use std::process::ExitCode;

use regha_config::{Config, ConfigError, restart_only_changes};

use crate::{
    agent::{AgentOptions, load_config},
    status::file,
};

/// What a reload of this file would not apply to the agent running on its
/// interface (nothing when none runs): the settings only a restart changes.
fn against_running(opts: &AgentOptions, config: &Config) -> Vec<ConfigError> {
    let Some(iface) = config.interface.as_deref() else {
        return Vec::new();
    };
    let Some(running) = file::read_applied(&opts.state_dir, iface) else {
        return Vec::new();
    };
    let mut notes = restart_only_changes(&running, config);
    let listen = |c: &Config| c.stats.as_ref().map(|s| s.listen);
    if let Some(new) = listen(config)
        && listen(&running) != Some(new)
        && new.port() < 1024
    {
        notes.push(ConfigError::new(
            "stats.listen",
            format!(
                "{new} needs a restart of the running agent: after setup it cannot bind ports below 1024"
            ),
        ));
    }
    notes
}

pub fn run(opts: &AgentOptions) -> ExitCode {
    match load_config(opts) {
        Ok(config) => {
            println!(
                "{}: valid ({} service(s), {} backend(s))",
                opts.config_path.display(),
                config.services.len(),
                config
                    .services
                    .iter()
                    .map(|s| s.backends.len())
                    .sum::<usize>()
            );
            for w in config
                .warnings()
                .into_iter()
                .chain(config.script_warnings())
            {
                println!("  warning: {w}");
            }
            if let Some(line) = regha_config::example::file_guard_line(&opts.config_path) {
                println!(
                    "  note: {}: {}",
                    regha_config::example::GUARD_KEY,
                    regha_config::example::note(line)
                );
            }
            for note in against_running(opts, &config) {
                println!("  note: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{}: invalid", opts.config_path.display());
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            ExitCode::FAILURE
        }
    }
}
