//! The keywords of each keepalived block the import reads: what
//! [`super::parse::split_known`] splits a one-line block at, and which keywords are
//! harmless enough to be grouped into one note.

/// Keywords of `vrrp_instance` (with [`INSTANCE_MINOR`]).
pub(super) const INSTANCE_KEYS: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "authentication",
    "auth_type",
    "auth_pass",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "unicast_src_ip",
    "unicast_peer",
    "mcast_src_ip",
    "nopreempt",
    "preempt_delay",
    "vrrp_version",
    "version",
    "track_script",
    "track_interface",
    "track_process",
    "track_file",
    "track_bfd",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_master_rx_lower_pri",
    "notify_deleted",
    "smtp_alert",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "lvs_sync_daemon_interface",
    "old_unicast_checksum",
];

/// Harmless instance keywords: grouped into one note.
pub(super) const INSTANCE_MINOR: &[&str] = &[
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "dont_track_primary",
    "accept",
    "no_accept",
    "strict_mode",
    "skip_check_adv_addr",
    "debug",
    "unicast_ttl",
    "check_unicast_src",
    "preempt",
];

/// Keywords of `vrrp_script`.
pub(super) const SCRIPT_KEYS: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

/// Keywords of `authentication`.
pub(super) const AUTH_KEYS: &[&str] = &["auth_type", "auth_pass"];

/// The mail settings of `global_defs`: one warning for all of them.
pub(super) const MAIL_KEYS: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
];

/// Keywords of `global_defs` (with [`MAIL_KEYS`]).
pub(super) const GLOBAL_KEYS: &[&str] = &[
    "router_id",
    "vrrp_version",
    "vrrp_strict",
    "enable_script_security",
    "script_user",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_skip_check_adv_addr",
    "lvs_id",
    "lvs_flush",
    "lvs_timeouts",
    "lvs_sync_daemon",
];

/// Keywords of `vrrp_sync_group`.
pub(super) const SYNC_GROUP_KEYS: &[&str] = &[
    "group",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_deleted",
    "smtp_alert",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "global_tracking",
    "sync_group_tracking_weight",
];
