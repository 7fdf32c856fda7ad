//! regha.yaml(5): the reference in roff, with what a reader of the file
//! needs around it (how values are written, what a reload applies, the
//! packaged example's guard). `man -l` renders it; the package installs it.

use super::{Key, SECTIONS, Section};

/// The page's prose before the keys, in the same small markdown as the
/// tables (one paragraph per item).
const DESCRIPTION: &[&str] = &[
    "**regha-agent** reads one YAML file per LB interface. The packaged systemd unit `regha@IFACE.service` runs `regha-agent --config /etc/regha/IFACE.yaml --iface IFACE`; run by hand, the agent reads `/etc/regha/regha.yaml` unless `--config` names another file. `regha-agent --config FILE check-config` validates a file without touching the system.",
    "The file must be a regular file (symbolic links are followed) of at most 1 MiB, nested at most 64 levels deep. Unknown keys are errors at every level. Every problem is listed, one per line, with its field path, such as `services[0].backends[1].address`; a YAML syntax error or a value of the wrong YAML type stops at that point and gives the line and column.",
    "**Durations** are written with a unit: `5s`, `500ms`, `1m`, `1.5s`, `1m 30s`. A bare number is an error: keepalived's `advert_int 1` counts seconds and HAProxy's `inter 5000` milliseconds.",
    "**Addresses** must be one host's unicast address: unspecified (`0.0.0.0`, `::`), multicast, loopback and `255.255.255.255` are errors. IPv4 and IPv6 are both accepted.",
    "`SIGHUP` (`systemctl reload regha@IFACE`) reloads the file and applies every section it can; `interface`, `xdp_mode`, `flow_table_size`, and a stats listener on a port below 1024, take a restart. An invalid file is refused whole and nothing changes.",
];

const EXAMPLE: &[&str] = &[
    "`/etc/regha/regha.example.yaml` is a complete, commented file for the HAProxy + keepalived pair regha replaces. It carries `unedited_example: true`: the agent refuses to run a file with that line and exits with status 78, which the unit does not restart, so installing the package starts no traffic. `check-config` accepts the file and names the guard.",
    "To use it: copy it to `/etc/regha/IFACE.yaml`, make it this host's (interface, addresses, priority, password), delete the `unedited_example` line, check it with `regha-agent --config /etc/regha/IFACE.yaml check-config`, then `systemctl enable --now regha@IFACE`.",
];

/// Escapes `text` for roff: backslashes, and a `.` or `'` that would make
/// a line a request.
pub fn escape(text: &str) -> String {
    protect_lines(&text.replace('\\', "\\e"))
}

/// `\&` before a `.` or `'` that starts a line: roff would read the line
/// as a request.
fn protect_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The small markdown of the reference in roff: `` `code` `` and
/// `**bold**` in bold (code with real minus signs, so that options copied
/// from the page work), the rest escaped.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut code = false;
    let mut bold = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            code = !code;
            out.push_str(if code || bold { "\\fB" } else { "\\fR" });
            rest = &rest[1..];
        } else if !code && rest.starts_with("**") {
            bold = !bold;
            out.push_str(if bold { "\\fB" } else { "\\fR" });
            rest = &rest[2..];
        } else {
            match c {
                '\\' => out.push_str("\\e"),
                '-' if code => out.push_str("\\-"),
                c => out.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    if code || bold {
        out.push_str("\\fR");
    }
    protect_lines(&out)
}

fn paragraphs(out: &mut String, paras: &[&str]) {
    for p in paras {
        out.push_str(".PP\n");
        out.push_str(&inline(p));
        out.push('\n');
    }
}

fn key(out: &mut String, k: &Key) {
    out.push_str(".TP\n");
    out.push_str(&inline(k.key));
    out.push('\n');
    if !k.ty.is_empty() || !k.default.is_empty() {
        out.push_str(&format!(
            "Type: {}.\\~\\~Default: {}.\n.br\n",
            inline(k.ty),
            inline(k.default)
        ));
    }
    out.push_str(&inline(k.meaning));
    out.push('\n');
}

fn section(out: &mut String, s: &Section) {
    out.push_str(&format!(".SS \"{}\"\n", inline(s.heading)));
    paragraphs(out, s.intro);
    for k in s.keys {
        key(out, k);
    }
    for r in s.rules {
        out.push_str(".IP \\(bu 2\n");
        out.push_str(&inline(r));
        out.push('\n');
    }
}

/// The whole page, for regha `version`.
pub fn man_page(version: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH REGHA.YAML 5 \"\" \"regha {}\" \"File Formats Manual\"\n",
        escape(version)
    ));
    out.push_str(".SH NAME\nregha.yaml \\- the configuration file of regha\\-agent\n");
    out.push_str(".SH SYNOPSIS\n\\fB/etc/regha/\\fIIFACE\\fB.yaml\\fR\n");
    out.push_str(".SH DESCRIPTION\n");
    paragraphs(&mut out, DESCRIPTION);
    out.push_str(".SH KEYS\n");
    for s in SECTIONS {
        section(&mut out, s);
    }
    out.push_str(".SH THE PACKAGED EXAMPLE\n");
    paragraphs(&mut out, EXAMPLE);
    out.push_str(
        ".SH FILES\n\
.TP\n\\fB/etc/regha/\\fIIFACE\\fB.yaml\\fR\nThe configuration of the agent on \\fIIFACE\\fR (the one \\fBregha@\\fIIFACE\\fB.service\\fR reads).\n\
.TP\n\\fB/etc/regha/regha.example.yaml\\fR\nThe packaged example (a conffile): refused by the agent until edited.\n\
.SH SEE ALSO\n\\fBregha\\-agent\\fR(8), \\fBkeepalived.conf\\fR(5), \\fBbpftool\\fR(8)\n",
    );
    out
}
