//! regha-agent(8). The name, synopsis and options come from the clap
//! definition through clap_mangen, and each command's arguments from the
//! same definition, so the page lists exactly what the binary accepts; the
//! prose (what the agent does, signals, exit status, files) is written here,
//! in the config reference's small markdown (`regha_config::reference`).

use std::fmt::Write as _;

use clap::{Arg, Command};
use clap_mangen::Man;
use regha_config::reference::roff::{escape, inline};

const DESCRIPTION: &[&str] = &[
    "`regha-agent` runs regha on one LB interface: it loads the XDP program that steers each configured `VIP:port` to a backend chosen by Maglev consistent hashing of the client (direct server return at L2: only the destination MAC is rewritten), health-checks the backends, holds the VIPs as VRRP master (or by a static role), and keeps the program's maps in step. It interoperates with keepalived on the same VRID.",
    "The program and its maps are pinned under `/sys/fs/bpf/regha/IFACE/` and attached through a pinned `bpf_link`, so they outlive the agent: a restarted or upgraded agent adopts the pinned dataplane (replacing maps whose layout changed, and the program behind the link, in one step), and traffic is steered throughout. Once set up, the agent keeps only `CAP_NET_ADMIN`, `CAP_NET_RAW` and `CAP_BPF`.",
    "Under systemd, `regha@IFACE.service` runs `regha-agent --config /etc/regha/IFACE.yaml --iface IFACE --keep-dataplane`. The commands below talk to the agent running on `--iface` (through `--state-dir`) or read its pinned maps, or touch nothing.",
];

const SIGNALS: &[(&str, &str)] = &[
    (
        "`SIGHUP`",
        "Reloads the configuration and applies every section it can (`systemctl reload`). What only a restart changes is logged as `not applied by a reload`; an invalid file is refused whole.",
    ),
    (
        "`SIGTERM`, `SIGINT`",
        "Releases the VIPs (under VRRP with a priority 0 advert, so a peer takes over at once), then detaches the program and removes the pins, and exits 0. With `--keep-dataplane` the program stays attached and keeps steering.",
    ),
    (
        "`SIGKILL`",
        "As a crash: the pinned program keeps steering and the next start adopts it.",
    ),
];

/// The statuses `regha-agent` exits with (78 is `crate::cli::EXIT_CONFIG`;
/// a test holds the two together).
pub(super) const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Stopped by a signal, or the command succeeded."),
    (
        "1",
        "A failure: the interface, the dataplane or the system refused something (the message says what); `check-config` found a problem.",
    ),
    (
        "78",
        "The configuration was refused before any setup: it does not validate, or it is the packaged example (`unedited_example: true`). The systemd unit does not restart on it.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "`/etc/regha/IFACE.yaml`",
        "The configuration of `regha@IFACE.service` (see **regha.yaml**(5)); run by hand, the default is `/etc/regha/regha.yaml`.",
    ),
    (
        "`/etc/regha/regha.example.yaml`",
        "The packaged, commented example; the agent refuses it until edited.",
    ),
    (
        "`/run/regha/IFACE.json`",
        "The running agent's state, which `status` reads (and `explain`, for service names); beside it `IFACE.applied.yaml` (the configuration it applies), `IFACE.sock` (the root-only admin socket) and `IFACE.admin.json` (drains and disables, kept across restarts).",
    ),
    (
        "`/sys/fs/bpf/regha/IFACE/`",
        "The pinned maps, the layout record and the XDP link (`bpftool map dump pinned ...`).",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[(
    "`REGHA_LOG`",
    "The log filter, `info` by default (`REGHA_LOG=debug`, `REGHA_LOG=info,regha_agent=debug`).",
)];

const SEE_ALSO: &str =
    "\\fBregha.yaml\\fR(5), \\fBbpftool\\fR(8), \\fBkeepalived\\fR(8), \\fBsystemctl\\fR(1)";

fn list(out: &mut String, heading: &str, items: &[(&str, &str)]) {
    let _ = writeln!(out, ".SH {heading}");
    for (tag, text) in items {
        let _ = writeln!(out, ".TP\n{}\n{}", inline(tag), inline(text));
    }
}

/// `--long <VALUE>`, `-c, --config <CONFIG>`, or `<SERVICE>` for a
/// positional argument, in roff.
fn arg_tag(arg: &Arg) -> String {
    let value = || {
        arg.get_value_names()
            .map(|v| v.join(" "))
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
    };
    if arg.is_positional() {
        return format!("\\fI{}\\fR", escape(&value()));
    }
    let mut tag = String::new();
    if let Some(s) = arg.get_short() {
        let _ = write!(tag, "\\fB\\-{s}\\fR, ");
    }
    if let Some(l) = arg.get_long() {
        let _ = write!(tag, "\\fB\\-\\-{}\\fR", l.replace('-', "\\-"));
    }
    if arg.get_num_args().is_some_and(|n| n.takes_values()) {
        let _ = write!(tag, " \\fI{}\\fR", escape(&value()));
    }
    tag
}

fn arg_help(arg: &Arg) -> String {
    let mut help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() {
        let _ = write!(help, " One of {}.", values.join(", "));
    }
    inline(&help)
}

/// One `.SS` per command that does something (a leaf), with its own
/// arguments; the global options are under OPTIONS.
fn commands(out: &mut String, path: &str, cmd: &Command) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let here = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            commands(out, &here, sub);
            continue;
        }
        let own: Vec<&Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        let usage: Vec<String> = own
            .iter()
            .filter(|a| a.is_positional())
            .map(|a| arg_tag(a))
            .collect();
        let _ = writeln!(
            out,
            ".SS \"{}\"\n\\fB{}\\fR [\\fIOPTIONS\\fR] {}",
            escape(&here).replace('-', "\\-"),
            escape(&here).replace('-', "\\-"),
            usage.join(" ")
        );
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = writeln!(out, ".PP\n{}", inline(&about));
        for a in own {
            let _ = writeln!(out, ".TP\n{}\n{}", arg_tag(a), arg_help(a));
        }
    }
}

/// The page for `cmd` (the agent's clap definition), version `version`.
pub fn page(cmd: Command, version: &str) -> std::io::Result<String> {
    let man = Man::new(cmd.clone())
        .title("REGHA-AGENT")
        .section("8")
        .source(format!("regha {version}"))
        .manual("System Manager's Manual");
    let mut head = Vec::new();
    man.render_title(&mut head)?;
    man.render_name_section(&mut head)?;
    man.render_synopsis_section(&mut head)?;
    let mut out = String::from_utf8(head).expect("clap_mangen writes UTF-8");
    out.push_str(".SH DESCRIPTION\n");
    for p in DESCRIPTION {
        let _ = writeln!(out, ".PP\n{}", inline(p));
    }
    let mut options = Vec::new();
    man.render_options_section(&mut options)?;
    out.push_str(&String::from_utf8(options).expect("UTF-8"));
    out.push_str(".SH COMMANDS\n");
    let mut built = cmd;
    built.build();
    commands(&mut out, built.get_name(), &built);
    list(&mut out, "SIGNALS", SIGNALS);
    list(&mut out, "EXIT STATUS", EXIT_STATUS);
    list(&mut out, "ENVIRONMENT", ENVIRONMENT);
    list(&mut out, "FILES", FILES);
    let _ = writeln!(out, ".SH SEE ALSO\n{SEE_ALSO}");
    let mut version_section = Vec::new();
    man.render_version_section(&mut version_section)?;
    out.push_str(&String::from_utf8(version_section).expect("UTF-8"));
    Ok(out)
}
