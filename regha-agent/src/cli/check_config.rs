//! `regha-agent check-config`: validates, touches nothing. Problems make it
//! exit 1; warnings (valid, but probably not what was meant) are printed
//! and it still exits 0.

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
            for w in config
                .warnings()
                .into_iter()
                .chain(config.script_warnings())
            {
                println!("  warning: {w}");
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
