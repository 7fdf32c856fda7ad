//! One firewall rule as `iptables` takes it: from a command line
//! (`iptables -I INPUT 1 -s NET -d ADDR -j ACCEPT`, after an optional shell
//! prompt `$ `) or a line of `iptables-save` (`-A INPUT -s NET ...`).
//! Only the matches that say who may reach what are read.

use regha_model::IpPrefix;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    Accept,
    Drop,
    Reject,
    Other,
}

impl Target {
    pub(super) fn verb(self) -> &'static str {
        match self {
            Target::Accept => "accepts",
            Target::Drop => "drops",
            Target::Reject => "rejects",
            Target::Other => "a rule",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Rule {
    pub(super) source: Option<IpPrefix>,
    pub(super) dest: Option<IpPrefix>,
    pub(super) dport: Option<u16>,
    pub(super) target: Target,
}

/// Every rule of `text`, with its 1-based line; comments, blank lines,
/// table headers and `COMMIT` skipped.
pub(super) fn rules(text: &str) -> Vec<(usize, Result<Rule, String>)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let line = line.strip_prefix('$').map_or(line, str::trim_start);
        let words = split(line);
        let args: &[String] = match words.first().map(String::as_str) {
            Some("iptables" | "ip6tables" | "/sbin/iptables" | "/usr/sbin/iptables") => &words[1..],
            Some("-A" | "-I") => &words,
            _ => continue,
        };
        if !matches!(args.first().map(String::as_str), Some("-A" | "-I")) {
            continue;
        }
        out.push((i + 1, parse(args)));
    }
    out
}

/// Words as the shell splits them (double or single quotes group).
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, '#') if cur.is_empty() && !any => break,
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse(args: &[String]) -> Result<Rule, String> {
    let mut rule = Rule {
        source: None,
        dest: None,
        dport: None,
        target: Target::Other,
    };
    let mut it = args.iter().skip(2).peekable();
    // `-I CHAIN 1`: the position.
    if args[0] == "-I" && it.peek().is_some_and(|w| w.parse::<u32>().is_ok()) {
        it.next();
    }
    if args.get(1).is_none_or(|c| c != "INPUT") {
        return Err(format!(
            "chain {}: only INPUT rules say who may reach a service",
            args.get(1).map_or("(none)", String::as_str)
        ));
    }
    while let Some(w) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} without a value"))
        };
        match w.as_str() {
            "-s" | "--source" => rule.source = Some(prefix(&value(w)?)?),
            "-d" | "--destination" => rule.dest = Some(prefix(&value(w)?)?),
            "--dport" | "--destination-port" => {
                let v = value(w)?;
                rule.dport = Some(
                    v.parse()
                        .map_err(|_| format!("--dport {v}: not one port"))?,
                );
            }
            "-j" | "--jump" => {
                rule.target = match value(w)?.as_str() {
                    "ACCEPT" => Target::Accept,
                    "DROP" => Target::Drop,
                    "REJECT" => Target::Reject,
                    _ => Target::Other,
                }
            }
            "!" => return Err("a negated match (`!`)".to_owned()),
            "-p" | "--protocol" | "-m" | "--match" | "--comment" | "-i" | "-o" => {
                value(w)?;
            }
            "--reject-with" | "--state" | "--ctstate" => {
                value(w)?;
            }
            other => return Err(format!("option {other} is not read")),
        }
    }
    Ok(rule)
}

fn prefix(text: &str) -> Result<IpPrefix, String> {
    // iptables writes `/32` for hosts and may name a mask (`/255.255.255.0`).
    if let Some((a, m)) = text.split_once('/')
        && let Ok(mask) = m.parse::<std::net::Ipv4Addr>()
    {
        let len = u32::from(mask).leading_ones() as u8;
        return prefix(&format!("{a}/{len}"));
    }
    text.parse::<IpPrefix>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_and_save_lines() {
        let text = "# office\n$ iptables -I INPUT 1 -s 203.0.113.224/27 -d 198.51.100.70/32 -j ACCEPT\n-A INPUT -d 198.51.100.67/32 -m comment --comment \"not allowed\" -j DROP\n*filter\nCOMMIT\n-A INPUT -s 198.51.100.0/255.255.255.0 -p tcp -m tcp --dport 5000 -j ACCEPT\n";
        let r = rules(text);
        assert_eq!(r.len(), 3);
        let first = r[0].1.as_ref().unwrap();
        assert_eq!(r[0].0, 2);
        assert_eq!(first.source.unwrap().to_string(), "203.0.113.224/27");
        assert_eq!(first.dest.unwrap().to_string(), "198.51.100.70/32");
        assert_eq!(first.target, Target::Accept);
        assert_eq!(r[1].1.as_ref().unwrap().target, Target::Drop);
        let third = r[2].1.as_ref().unwrap();
        assert_eq!(third.source.unwrap().to_string(), "198.51.100.0/24");
        assert_eq!(third.dport, Some(5000));
    }
}
