//! What the Debian package ships beside the binary, generated from the
//! code so that none of it can fall behind: the man pages regha-agent(8)
//! (from the clap definition, `man.rs`) and regha.yaml(5) (from the config
//! reference, `regha_config::reference`), and the bash and zsh completions
//! (clap_complete). The `regha-docs DIR` binary writes them; `cargo xtask
//! deb` runs it before `cargo deb`.

mod man;

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Each generated file: its name and its contents.
pub fn generate(version: &str) -> std::io::Result<Vec<(&'static str, Vec<u8>)>> {
    let completion = |shell: Shell| {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "regha-agent", &mut out);
        out
    };
    Ok(vec![
        (
            "regha-agent.8",
            man::page(Cli::command(), version)?.into_bytes(),
        ),
        (
            "regha.yaml.5",
            regha_config::reference::man_page(version).into_bytes(),
        ),
        ("regha-agent.bash", completion(Shell::Bash)),
        ("_regha-agent", completion(Shell::Zsh)),
    ])
}

/// Writes every generated file into `dir` (created if missing).
pub fn write_all(dir: &Path, version: &str) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, contents) in generate(version)? {
        let path = dir.join(name);
        std::fs::write(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> String {
        let all = generate("1.2.3").unwrap();
        let (_, bytes) = all.iter().find(|(n, _)| *n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    }

    #[test]
    fn the_agent_page_lists_every_command_and_option() {
        let page = file("regha-agent.8");
        assert!(page.contains("\n.TH REGHA-AGENT 8 "), "{page}");
        for command in [
            "check\\-config",
            "status",
            "explain",
            "trace",
            "import",
            "backend drain",
            "backend disable",
            "backend enable",
            "vrrp resign",
            "vrrp resume",
            "backend\\-setup",
        ] {
            assert!(
                page.contains(&format!(".SS \"regha\\-agent {command}\"")),
                "{command} missing:\n{page}"
            );
        }
        for option in [
            "\\-\\-keep\\-dataplane",
            "\\-\\-state\\-dir",
            "\\-\\-json",
            "\\-\\-apply",
            "\\-\\-port",
        ] {
            assert!(page.contains(option), "{option} missing");
        }
        for section in ["SIGNALS", "EXIT STATUS", "FILES", "SEE ALSO"] {
            assert!(page.contains(&format!(".SH {section}")), "{section}");
        }
    }

    #[test]
    fn the_config_exit_status_is_documented() {
        assert!(
            man::EXIT_STATUS
                .iter()
                .any(|(code, _)| *code == crate::cli::EXIT_CONFIG.to_string())
        );
    }

    #[test]
    fn completions_name_the_commands() {
        let bash = file("regha-agent.bash");
        assert!(bash.contains("check-config") && bash.contains("--keep-dataplane"));
        let zsh = file("_regha-agent");
        assert!(zsh.starts_with("#compdef regha-agent"), "{zsh}");
        assert!(zsh.contains("backend-setup"));
    }
}
