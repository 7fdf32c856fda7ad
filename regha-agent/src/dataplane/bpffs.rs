//! bpffs: pins need it, and a new machine does not always have it mounted.

use std::{ffi::CString, path::Path};

use super::DataplaneError;

/// `BPF_FS_MAGIC` from linux/magic.h: what statfs reports for bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Makes sure the bpffs that will hold `pin_dir` is mounted: if
/// `/sys/fs/bpf` is not a bpffs, mounts one there.
pub fn ensure_bpffs(pin_dir: &Path) -> Result<(), DataplaneError> {
    let root = Path::new("/sys/fs/bpf");
    if !pin_dir.starts_with(root) {
        return Err(DataplaneError::Bpffs {
            path: pin_dir.to_owned(),
            reason: "pins must live under /sys/fs/bpf".into(),
        });
    }
    if is_bpffs(root)? {
        return Ok(());
    }
    let c = |s: &str| CString::new(s).expect("no NUL in literals");
    let (src, target, fstype) = (c("bpf"), c("/sys/fs/bpf"), c("bpf"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(DataplaneError::Bpffs {
            path: root.to_owned(),
            reason: format!("mount failed: {}", std::io::Error::last_os_error()),
        });
    }
    tracing::info!(path = "/sys/fs/bpf", "mounted bpffs");
    Ok(())
}

fn is_bpffs(path: &Path) -> Result<bool, DataplaneError> {
    let c =
        CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| DataplaneError::Bpffs {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    // SAFETY: statfs writes into the zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(DataplaneError::Bpffs {
            path: path.to_owned(),
            reason: format!("statfs failed: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(st.f_type as i64 == BPF_FS_MAGIC)
}
