//! Names the kernel or the stats output will carry: interface names and
//! the names of services and tracked scripts.

/// The kernel's `dev_valid_name()`: 1..=15 bytes, not `.` or `..`, no `/`,
/// `:` or whitespace.
pub(crate) fn check_ifname(name: &str) -> Result<(), String> {
    let bad = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace());
    match name.len() {
        0 => Err("empty: expected an interface name such as eth0".into()),
        16.. => Err(format!(
            "{name:?} is longer than 15 bytes, the limit of Linux"
        )),
        _ if name == "." || name == ".." => Err(format!("{name:?} is not an interface name")),
        _ => match bad {
            Some(c) => Err(format!(
                "{name:?} contains {c:?}, which no interface name can"
            )),
            None => Ok(()),
        },
    }
}

/// `[A-Za-z0-9_.-]{1,63}`: safe as a Prometheus label value and a file name.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    let bad = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-".contains(c)));
    match (name.len(), bad) {
        (0, _) => Err("empty: expected 1 to 63 of A-Z a-z 0-9 _ . -".into()),
        (64.., _) => Err(format!("{name:?} is longer than 63 bytes")),
        (_, Some(c)) => Err(format!(
            "{name:?} contains {c:?}: use only A-Z a-z 0-9 _ . -"
        )),
        (_, None) => Ok(()),
    }
}
