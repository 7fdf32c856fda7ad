//! Reading the file: its path named when it cannot be read, and scripts
//! someone other than root could change refused.

use super::*;

#[test]
fn load_reads_a_file_and_names_it_when_it_cannot() {
    let path = std::env::temp_dir().join(format!("regha-config-test-{}.yaml", std::process::id()));
    std::fs::write(&path, MINIMAL).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.unwrap(), parse(MINIMAL));
    let missing = Config::load("/nonexistent/regha.yaml").unwrap_err();
    assert_eq!(missing.0[0].path, "/nonexistent/regha.yaml");
    assert!(
        missing.0[0]
            .message
            .starts_with("cannot read the config file: "),
        "{missing}"
    );
}

#[test]
fn load_refuses_scripts_someone_other_than_root_could_change() {
    use std::os::unix::fs::PermissionsExt;
    // /tmp is world-writable (sticky or not): a script there is refused,
    // and the error names the field, the directory, its owner and mode.
    let tmp = std::env::temp_dir();
    let mode = std::fs::metadata(&tmp).unwrap().permissions().mode() & 0o7777;
    assert_ne!(
        mode & 0o002,
        0,
        "{} must be world-writable for this test",
        tmp.display()
    );
    let script = tmp.join(format!("regha-notify-test-{}.sh", std::process::id()));
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let yaml = edit(&[
        ("master: /etc/regha/master.sh, backup: /etc/regha/backup.sh, fault: /etc/regha/fault.sh, stop: /etc/regha/stop.sh", &format!("master: {}", script.display())),
    ])
    .replace(
        "  track_backends:",
        "  track_scripts: [{ name: ok, script: /usr/bin/test -e /etc/hostname }]\n  track_backends:",
    );
    let path = tmp.join(format!("regha-config-scripts-{}.yaml", std::process::id()));
    std::fs::write(&path, &yaml).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&script).unwrap();
    let errors = loaded.expect_err("a script in /tmp is refused").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "vrrp.notify.master");
    let want = format!(
        "refused: directory {} is writable by group or others (owner uid 0, mode {mode:04o})",
        tmp.display()
    );
    assert!(
        errors[0].message.starts_with(&want),
        "{}",
        errors[0].message
    );
    // from_yaml_str reads no file system: the same text parses.
    assert!(Config::from_yaml_str(&yaml).is_ok());
}
