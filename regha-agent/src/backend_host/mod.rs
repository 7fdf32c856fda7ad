//! What a registry host behind regha needs, as `regha-agent backend-setup`
//! prints or applies it: the DSR settings (`dsr.rs`: the VIP on `lo`, ARP
//! kept quiet) and, optionally, the access policy the pair regha replaces
//! enforced with iptables (`firewall.rs`: nftables rules that admit VIP
//! traffic only through an LB and the registry's own address only from the
//! LBs and named networks).

pub mod dsr;
pub mod firewall;
