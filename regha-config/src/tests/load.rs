//! Reading the file: its path named when it cannot be read, bounded (what
//! is not a regular file, or is too large, refused without being read), and
//! scripts someone other than root could change refused.

use super::*;
use crate::load::{self, read_bounded};

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

/// A path of its own under the temp directory for one test, removed first.
fn scratch(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("regha-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The one error of a refused load: its field path and message.
fn load_error(path: &std::path::Path) -> ConfigError {
    let errors = Config::load(path).expect_err("refused").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn load_refuses_what_is_not_a_regular_file_without_reading_it() {
    // /dev/zero once read until the agent held 7.8 GB; it is refused by
    // its type, before a byte is read.
    let zero = load_error("/dev/zero".as_ref());
    assert_eq!(zero.path, "/dev/zero");
    assert_eq!(
        zero.message,
        "cannot read the config file: it is a character device, not a regular file: give the path of the file itself"
    );
    let dir = std::env::temp_dir();
    let e = load_error(&dir);
    assert_eq!(e.path, dir.display().to_string());
    assert!(
        e.message.contains("it is a directory, not a regular file"),
        "{e}"
    );
    // A symbolic link is followed, and what it points at is judged.
    let link = scratch("link-to-zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let e = load_error(&link);
    std::fs::remove_file(&link).unwrap();
    assert!(e.message.contains("it is a character device"), "{e}");
}

#[test]
fn load_refuses_a_fifo_without_waiting_for_a_writer() {
    let fifo = scratch("fifo.yaml");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo(3) only reads it.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo: {}", std::io::Error::last_os_error());
    let e = load_error(&fifo);
    std::fs::remove_file(&fifo).unwrap();
    assert!(
        e.message
            .contains("it is a FIFO (named pipe), not a regular file"),
        "{e}"
    );
}

#[test]
fn load_refuses_a_file_over_the_limit_by_its_size() {
    let big = scratch("big.yaml");
    let two_mib = 2 * MAX_CONFIG_BYTES as usize;
    let mut text = MINIMAL.to_owned();
    text.push_str(&"#".repeat(two_mib - text.len()));
    std::fs::write(&big, &text).unwrap();
    let e = load_error(&big);
    std::fs::remove_file(&big).unwrap();
    assert_eq!(e.path, big.display().to_string());
    assert_eq!(
        e.message,
        "cannot read the config file: it is larger than the 1048576 bytes read at most (2097152 bytes): is it the right file?"
    );
}

#[test]
fn the_bounded_reader_stops_one_byte_past_the_limit() {
    let path = scratch("bounded.txt");
    std::fs::write(&path, "0123456789abcdef").unwrap();
    assert_eq!(read_bounded(&path, 16).unwrap(), b"0123456789abcdef");
    let e = read_bounded(&path, 15).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        matches!(
            e,
            load::ReadError::TooLarge {
                limit: 15,
                size: Some(16)
            }
        ),
        "{e:?}"
    );
    // A file longer than its stat says (as a file growing while it is read
    // is): /proc files say 0 bytes, so only the read itself can stop it.
    let status = std::path::Path::new("/proc/self/status");
    assert_eq!(std::fs::metadata(status).unwrap().len(), 0);
    let e = read_bounded(status, 16).unwrap_err();
    assert!(
        matches!(
            e,
            load::ReadError::TooLarge {
                limit: 16,
                size: None
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "it is larger than the 16 bytes read at most: is it the right file?"
    );
    // The importer's errors carry an io::Error: the kind says which refusal.
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), std::io::ErrorKind::FileTooLarge);
    let io: std::io::Error = read_bounded("/dev/null".as_ref(), 16).unwrap_err().into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        io.to_string(),
        "it is a character device, not a regular file: give the path of the file itself"
    );
}

#[test]
fn load_names_text_that_is_not_utf8() {
    let path = scratch("latin1.yaml");
    std::fs::write(&path, b"role: master\n# caf\xe9\n").unwrap();
    let e = load_error(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        e.message,
        "cannot read the config file: it is not UTF-8 text (byte 18 is not): save it as UTF-8"
    );
}

/// The largest config the dataplane holds (256 services, 4096 backends in
/// all), IPv6, with long names and every key written as `to_yaml` writes
/// it: the size limit leaves it room.
#[test]
fn the_largest_config_fits_well_under_the_limit() {
    let vip = "2001:db8:ffff:ffff:ffff:ffff:ffff:100";
    let services: String = (0..256)
        .map(|s| {
            let backends: String = (0..16)
                .map(|b| {
                    format!("      - {{ address: \"2001:db8:ffff:ffff:ffff:ffff:{s:04x}:{b:04x}\", weight: 65535, mac: \"02:00:00:00:00:11\" }}\n")
                })
                .collect();
            format!(
                "  - name: {}\n    vip: \"{vip}\"\n    port: {}\n    health: {{ http: {{ host: registry.example.internal, expect_header: Docker-Distribution-API-Version }} }}\n    backends:\n{backends}",
                format!("service-{s:03}-").repeat(6)[..63].to_owned(),
                10_000 + s
            )
        })
        .collect();
    let text = format!(
        "interface: eth0\nvrrp: {{ virtual_router_id: 51, version: 3, virtual_ipaddresses: [\"{vip}\"], unicast_src: \"2001:db8::2\", unicast_peers: [\"2001:db8::3\"] }}\nservices:\n{services}"
    );
    let config = parse(&text);
    assert_eq!(
        config
            .services
            .iter()
            .map(|s| s.backends.len())
            .sum::<usize>(),
        4096
    );
    let written = config.to_yaml();
    let size = written.len() as u64;
    println!("the largest config: {size} bytes written out");
    assert!(
        size < MAX_CONFIG_BYTES * 3 / 4,
        "the largest config is {size} bytes written out"
    );
    let path = scratch("largest.yaml");
    std::fs::write(&path, &written).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.expect("loads"), config);
}
