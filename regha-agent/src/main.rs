//! `regha-agent`: the command line. Each subcommand lives in `cli/`.

use std::process::ExitCode;

use clap::Parser;
use regha_agent::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging(cli.log_format);
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("regha-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
