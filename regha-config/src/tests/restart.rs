//! What a reload cannot apply: `interface`, `xdp_mode` and
//! `flow_table_size`, each named with the running and the file's value.

use super::*;

#[test]
fn an_unchanged_file_or_other_settings_changed_are_not_reported() {
    let running = parse(BASE);
    assert_eq!(restart_only_changes(&running, &running.clone()), []);
    let others = parse(&edit(&[
        ("priority: 101", "priority: 150"),
        ("weight: 2,", "weight: 3,"),
        ("interval: 5s", "interval: 10s"),
        ("hash_seed: 0", "hash_seed: 7"),
    ]));
    assert_eq!(restart_only_changes(&running, &others), []);
}

#[test]
fn each_setting_bound_at_start_is_named_with_both_values() {
    let running = parse(BASE);
    let file = parse(&edit(&[
        ("interface: eth0", "interface: eth1"),
        ("xdp_mode: native", "xdp_mode: generic"),
        ("flow_table_size: 262144", "flow_table_size: 1024"),
    ]));
    let changes: Vec<String> = restart_only_changes(&running, &file)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        changes,
        [
            "interface: changes only when the agent restarts (running: eth0, file: eth1)",
            "xdp_mode: changes only when the agent restarts (running: native, file: generic)",
            "flow_table_size: changes only when the agent restarts (running: 262144, file: 1024)",
        ]
    );
    // Back the other way, one at a time, each on its own path.
    let back = restart_only_changes(
        &file,
        &parse(&edit(&[("interface: eth0", "interface: eth1")])),
    );
    let paths: Vec<&str> = back.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["xdp_mode", "flow_table_size"]);
}

#[test]
fn an_interface_only_one_side_sets_is_a_change() {
    let from_flag = parse(MINIMAL)
        .with_interface_override(Some("eth0"))
        .unwrap();
    let file = parse(MINIMAL);
    let changes = restart_only_changes(&from_flag, &file);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        changes[0].message,
        "changes only when the agent restarts (running: eth0, file: not set)"
    );
}
