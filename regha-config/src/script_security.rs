//! Script security: notify and tracked scripts run as root, so only root may
//! be able to change them. A script is refused when it, or any directory on
//! its path (symbolic links followed, each link's own directory checked
//! too), is owned by another user or is writable by group or others; the
//! script must also be a regular, executable file. This is keepalived's
//! `enable_script_security`, always on and a little stricter: keepalived
//! lets a sticky world-writable directory (`/tmp`) and a group-writable
//! entry of group root pass; regha refuses both (anyone can create files in
//! `/tmp`, and group root may hold users who are not root).
//!
//! A script that does not exist (yet) is not refused when every directory
//! above it that exists is safe, so that only root can create it: the
//! config may be checked before the scripts are installed. `check-config`
//! and the agent's start warn about it; a run of it fails, as any script
//! that does not start.
//!
//! [`judge`] is the pure rule; [`check`] walks the file system.

use std::{
    os::unix::fs::MetadataExt,
    path::{Component, Path, PathBuf},
};

/// How many symbolic links a path may pass through (Linux's limit).
const MAX_LINKS: u32 = 40;

/// One entry on a script's path, as stat(2) describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub uid: u32,
    /// `st_mode`: the file type and the permission bits.
    pub mode: u32,
}

/// Why `entry` makes the script unsafe; `last` says it is the script itself
/// (otherwise a directory on its path).
pub fn judge(entry: Entry, last: bool) -> Option<String> {
    let kind = entry.mode & libc::S_IFMT;
    let bits = format!("owner uid {}, mode {:04o}", entry.uid, entry.mode & 0o7777);
    if !last && kind != libc::S_IFDIR {
        return Some(format!("is not a directory ({bits})"));
    }
    if last && kind != libc::S_IFREG {
        return Some(format!("is not a regular file ({bits})"));
    }
    if entry.uid != 0 {
        return Some(format!("is owned by a user other than root ({bits})"));
    }
    if entry.mode & 0o022 != 0 {
        return Some(format!("is writable by group or others ({bits})"));
    }
    if last && entry.mode & 0o111 == 0 {
        return Some(format!("is not executable ({bits})"));
    }
    None
}

/// What [`check`] found, when nobody but root can change the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The script exists and is safe.
    Safe,
    /// `missing`, the script or a directory above it, does not exist; what
    /// exists above it is safe.
    Missing { missing: PathBuf },
}

/// Checks `script` and every directory above it; the error names the
/// offending path and what is wrong with it.
pub fn check(script: &Path) -> Result<Found, String> {
    if !script.is_absolute() {
        return Err(format!("{} is not an absolute path", script.display()));
    }
    let mut links = 0;
    walk(script, &mut links).map_err(|e| {
        format!("{e}: scripts run as root, so the script and every directory above it must be owned by root and writable by root only")
    })
}

fn entry_of(path: &Path) -> Result<(Entry, bool), String> {
    let md = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((
        Entry {
            uid: md.uid(),
            mode: md.mode(),
        },
        md.file_type().is_symlink(),
    ))
}

fn walk(path: &Path, links: &mut u32) -> Result<Found, String> {
    let root = Path::new("/");
    let (entry, _) = entry_of(root)?;
    if let Some(why) = judge(entry, false) {
        return Err(format!("/ {why}"));
    }
    let parts: Vec<Component> = path.components().collect();
    let mut cur = PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        match part {
            Component::Normal(name) => cur.push(name),
            Component::ParentDir => {
                cur.pop();
                continue;
            }
            _ => continue,
        }
        let last = i + 1 == parts.len();
        if std::fs::symlink_metadata(&cur).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Ok(Found::Missing { missing: cur });
        }
        let (entry, is_link) = entry_of(&cur)?;
        if is_link {
            // The link itself can only be replaced by whoever can write its
            // directory, checked already; what it points to is walked anew.
            *links += 1;
            if *links > MAX_LINKS {
                return Err(format!("{}: too many symbolic links", path.display()));
            }
            let target = std::fs::read_link(&cur).map_err(|e| format!("{}: {e}", cur.display()))?;
            let mut next = cur.parent().unwrap_or(root).join(target);
            for rest in &parts[i + 1..] {
                next.push(rest);
            }
            return walk(&next, links);
        }
        if let Some(why) = judge(entry, last) {
            let what = if last { "the script" } else { "directory" };
            return Err(format!("{what} {} {why}", cur.display()));
        }
    }
    Ok(Found::Safe)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    const DIR: u32 = libc::S_IFDIR;
    const REG: u32 = libc::S_IFREG;

    #[test]
    fn the_rule_for_one_entry() {
        let cases: [(u32, u32, bool, Option<&str>); 12] = [
            (0, DIR | 0o755, false, None),
            (0, DIR | 0o700, false, None),
            (0, REG | 0o755, true, None),
            (0, REG | 0o700, true, None),
            (
                0,
                DIR | 0o1777,
                false,
                Some("writable by group or others (owner uid 0, mode 1777)"),
            ),
            (0, DIR | 0o775, false, Some("writable by group or others")),
            (0, DIR | 0o757, false, Some("writable by group or others")),
            (
                65534,
                DIR | 0o755,
                false,
                Some("owned by a user other than root (owner uid 65534"),
            ),
            (
                65534,
                REG | 0o700,
                true,
                Some("owned by a user other than root"),
            ),
            (0, REG | 0o644, true, Some("is not executable")),
            (0, REG | 0o755, false, Some("is not a directory")),
            (0, DIR | 0o755, true, Some("is not a regular file")),
        ];
        for (uid, mode, last, want) in cases {
            let got = judge(Entry { uid, mode }, last);
            match want {
                None => assert_eq!(got, None, "uid {uid} mode {mode:o}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "uid {uid} mode {mode:o}: {got:?}, wanted {w}"
                ),
            }
        }
    }

    /// A root-owned 0755 scratch directory under /run (not /tmp, which is
    /// world-writable and so refused), removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let p = PathBuf::from(format!("/run/regha-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            Self(p)
        }
        fn script(&self, rel: &str, mode: u32) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        }
        fn dir(&self, rel: &str, mode: u32) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn chown(p: &Path, uid: u32) {
        std::os::unix::fs::lchown(p, Some(uid), None).unwrap();
    }

    #[test]
    fn scripts_on_disk_by_owner_and_mode() {
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "these tests chown: run them as root"
        );
        let s = Scratch::new("modes");
        let ok = s.script("ok.sh", 0o755);
        assert_eq!(check(&ok), Ok(Found::Safe));
        assert_eq!(
            check(Path::new("/usr/bin/test")),
            Ok(Found::Safe),
            "a system binary"
        );

        let world = s.script("world.sh", 0o757);
        let group = s.script("group.sh", 0o775);
        let noexec = s.script("noexec.sh", 0o644);
        let nobody = s.script("nobody.sh", 0o755);
        chown(&nobody, 65534);
        let open_dir = s.dir("open", 0o777);
        let in_open = open_dir.join("x.sh");
        std::fs::write(&in_open, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&in_open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let user_dir = s.dir("user", 0o755);
        chown(&user_dir, 65534);
        let in_user = user_dir.join("x.sh");
        std::fs::write(&in_user, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&in_user, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sticky = s.dir("sticky", 0o1777);
        let in_sticky = sticky.join("x.sh");
        std::fs::write(&in_sticky, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&in_sticky, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A link in a safe directory to a script in an unsafe one, and a
        // link in an unsafe directory to a safe script: both refused.
        let link_out = s.0.join("link-out.sh");
        symlink(&in_open, &link_out).unwrap();
        let link_in_open = open_dir.join("link.sh");
        symlink(&ok, &link_in_open).unwrap();
        let link_ok = s.0.join("link-ok.sh");
        symlink("ok.sh", &link_ok).unwrap();

        let d = |p: &Path| p.display().to_string();
        let cases: Vec<(&PathBuf, Option<String>)> = vec![
            (&link_ok, None),
            (
                &world,
                Some(format!(
                    "the script {} is writable by group or others (owner uid 0, mode 0757)",
                    d(&world)
                )),
            ),
            (
                &group,
                Some(format!(
                    "the script {} is writable by group or others (owner uid 0, mode 0775)",
                    d(&group)
                )),
            ),
            (
                &noexec,
                Some(format!("the script {} is not executable", d(&noexec))),
            ),
            (
                &nobody,
                Some(format!(
                    "the script {} is owned by a user other than root (owner uid 65534, mode 0755)",
                    d(&nobody)
                )),
            ),
            (
                &in_open,
                Some(format!(
                    "directory {} is writable by group or others (owner uid 0, mode 0777)",
                    d(&open_dir)
                )),
            ),
            (
                &in_user,
                Some(format!(
                    "directory {} is owned by a user other than root (owner uid 65534, mode 0755)",
                    d(&user_dir)
                )),
            ),
            (
                &in_sticky,
                Some(format!(
                    "directory {} is writable by group or others (owner uid 0, mode 1777)",
                    d(&sticky)
                )),
            ),
            (
                &link_out,
                Some(format!("directory {} is writable", d(&open_dir))),
            ),
            (
                &link_in_open,
                Some(format!("directory {} is writable", d(&open_dir))),
            ),
        ];
        for (path, want) in cases {
            let got = check(path);
            match want {
                None => assert_eq!(got, Ok(Found::Safe), "{}", path.display()),
                Some(w) => {
                    let e = got.expect_err(&path.display().to_string());
                    assert!(e.starts_with(&w), "{}: {e}\nwanted: {w}", path.display());
                    assert!(e.ends_with("writable by root only"), "{e}");
                }
            }
        }
        // Missing: fine below safe directories only.
        let missing = s.0.join("missing.sh");
        assert_eq!(
            check(&missing),
            Ok(Found::Missing {
                missing: missing.clone()
            })
        );
        let deep = s.0.join("no/such/dir/x.sh");
        assert_eq!(
            check(&deep),
            Ok(Found::Missing {
                missing: s.0.join("no")
            })
        );
        let e = check(&open_dir.join("missing.sh")).unwrap_err();
        assert!(
            e.starts_with(&format!("directory {} is writable", d(&open_dir))),
            "{e}"
        );
        assert!(check(Path::new("relative.sh")).is_err());
    }
}
