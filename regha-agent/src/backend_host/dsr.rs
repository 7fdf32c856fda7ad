//! What a registry host needs so that it can answer clients directly
//! (DSR). The LB forwards packets addressed to the
//! VIP unchanged but for the MACs, so the backend must accept them (the
//! VIP on `lo`) without ever claiming the VIP on the wire, where only the
//! LB may (`arp_ignore=1`: answer ARP only for addresses of the receiving
//! interface; `arp_announce=2`: never use the VIP as the source of an ARP
//! request). The kernel takes the maximum of `all` and the interface's
//! value for both, so `all` is enough. IPv6 needs only the address: Linux
//! answers neighbour solicitations only for addresses on the receiving
//! interface.
//!
//! Prints the commands by default; `--apply` makes the changes (over
//! netlink and /proc/sys) on this host, idempotently.

use std::net::IpAddr;

use anyhow::{Context, Result};

/// One change a DSR backend needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The VIP as a host address on `lo`.
    Address(IpAddr),
    /// A sysctl and its value.
    Sysctl(&'static str, &'static str),
}

impl Step {
    /// The shell command that makes this change.
    pub fn command(&self) -> String {
        match self {
            Step::Address(ip @ IpAddr::V4(_)) => format!("ip addr add {ip}/32 dev lo"),
            Step::Address(ip @ IpAddr::V6(_)) => format!("ip -6 addr add {ip}/128 dev lo"),
            Step::Sysctl(k, v) => format!("sysctl -w {k}={v}"),
        }
    }
}

/// The changes for `vips`: each VIP on `lo`, and the ARP settings when any
/// VIP is IPv4.
pub fn plan(vips: &[IpAddr]) -> Vec<Step> {
    let mut vips = vips.to_vec();
    vips.sort_unstable();
    vips.dedup();
    let mut steps: Vec<Step> = vips.iter().map(|&ip| Step::Address(ip)).collect();
    if vips.iter().any(IpAddr::is_ipv4) {
        steps.push(Step::Sysctl("net.ipv4.conf.all.arp_ignore", "1"));
        steps.push(Step::Sysctl("net.ipv4.conf.all.arp_announce", "2"));
    }
    steps
}

/// The commands, with comments, as printed.
pub fn script(steps: &[Step]) -> String {
    let mut out = String::from(
        "# DSR settings for a regha backend: run on every registry host (as root).\n\
         # The VIP on lo: the host accepts what the LB forwards to it.\n",
    );
    for s in steps.iter().filter(|s| matches!(s, Step::Address(_))) {
        out += &format!("{}\n", s.command());
    }
    let sysctls: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s, Step::Sysctl(..)))
        .collect();
    if !sysctls.is_empty() {
        out += "# Never answer or announce the VIP on the wire: only the LB may.\n";
        for s in &sysctls {
            out += &format!("{}\n", s.command());
        }
        out += "# To keep them across reboots, /etc/sysctl.d/90-regha-dsr.conf:\n";
        for s in &sysctls {
            if let Step::Sysctl(k, v) = s {
                out += &format!("#   {k} = {v}\n");
            }
        }
    }
    out += "# and the address in the network configuration (e.g. an `lo` stanza of\n\
            # /etc/network/interfaces or a systemd-networkd .network file).\n";
    out
}

fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Makes the changes on this host, idempotently.
pub async fn apply(steps: &[Step]) -> Result<()> {
    let handle = crate::net::connect()?;
    let lo = crate::net::Interface::lookup(&handle, "lo").await?;
    for s in steps {
        match s {
            Step::Address(ip) => {
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                let added = lo.add_vip(&handle, (*ip, prefix)).await?;
                println!(
                    "{} {ip}/{prefix} on lo",
                    if added { "added" } else { "kept" }
                );
            }
            Step::Sysctl(k, v) => {
                let path = sysctl_path(k);
                std::fs::write(&path, v)
                    .with_context(|| format!("set {k}={v} (write {path}); are you root?"))?;
                println!("set {k} = {v}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_vips_get_the_address_and_both_arp_settings_once() {
        let vips: Vec<IpAddr> = ["192.0.2.100", "192.0.2.101", "192.0.2.100"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let cmds: Vec<String> = plan(&vips).iter().map(Step::command).collect();
        assert_eq!(
            cmds,
            [
                "ip addr add 192.0.2.100/32 dev lo",
                "ip addr add 192.0.2.101/32 dev lo",
                "sysctl -w net.ipv4.conf.all.arp_ignore=1",
                "sysctl -w net.ipv4.conf.all.arp_announce=2",
            ]
        );
    }

    #[test]
    fn ipv6_only_needs_the_address() {
        let cmds: Vec<String> = plan(&["2001:db8::100".parse().unwrap()])
            .iter()
            .map(Step::command)
            .collect();
        assert_eq!(cmds, ["ip -6 addr add 2001:db8::100/128 dev lo"]);
    }

    #[test]
    fn the_script_says_how_to_persist_the_sysctls() {
        let s = script(&plan(&["192.0.2.100".parse().unwrap()]));
        assert!(
            s.contains("#   net.ipv4.conf.all.arp_announce = 2\n"),
            "{s}"
        );
        assert!(
            s.lines()
                .all(|l| l.starts_with('#') || l.starts_with("ip ") || l.starts_with("sysctl "))
        );
    }

    #[test]
    fn sysctl_keys_map_to_proc_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.conf.all.arp_ignore"),
            "/proc/sys/net/ipv4/conf/all/arp_ignore"
        );
    }
}
