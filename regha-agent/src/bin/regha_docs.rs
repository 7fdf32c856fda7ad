//! `regha-docs DIR`: writes the man pages and shell completions the Debian
//! package ships (`regha_agent::docs`). Run by `cargo xtask deb`; not
//! installed.

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: regha-docs DIR");
        return ExitCode::from(2);
    };
    match regha_agent::docs::write_all(&dir, env!("CARGO_PKG_VERSION")) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("regha-docs: writing into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
