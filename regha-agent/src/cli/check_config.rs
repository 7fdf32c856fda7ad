//! `regha-agent check-config`: validates, touches nothing.

use std::process::ExitCode;

use crate::agent::{AgentOptions, load_config};

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
