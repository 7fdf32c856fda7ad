//! The Debian package on the machine the tests run on, as an operator
//! installs it (`cargo xtask deb --dev` builds it; `cargo xtask test` does
//! that first):
//!
//! - `dpkg -i`: the files are where the package says, the example is a
//!   conffile, `regha-agent --version` runs, both man pages render with
//!   `man -l` without a warning, `systemd-analyze verify` accepts the unit,
//!   and the example passes `check-config` (naming its guard) while the
//!   agent refuses to run it (exit 78, before touching anything);
//! - `dpkg -r` stops an agent running as the unit runs it and removes its
//!   pins (its XDP program goes with its link) and runtime files, and
//!   leaves only the conffile; `dpkg -P` leaves nothing, the operator's own
//!   `/etc/regha/<iface>.yaml` included;
//! - an upgrade under traffic, over a dataplane of another layout: not one
//!   request through the VIP fails.
//!
//! systemd is not PID 1 here (CI's machine), so the maintainer scripts start
//! and restart nothing: the tests start the agent with the unit's own
//! `ExecStart=` line (`regha_tests::unit`) and restart it themselves where
//! the postinst, under systemd, would (`deb-systemd-invoke restart`).
//!
//! These tests install into `/usr/sbin`, `/lib/systemd/system`, `/etc` of
//! this machine. They run one at a time (a lock), refuse to start over a
//! regha they did not install or its leftovers (naming them), and purge the
//! package again when they end, also when they fail; a purge that leaves
//! anything fails the test with the paths.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use aya::maps::{MapData, MapInfo, PerCpuArray};
use regha_config::Config;
use regha_model::{BackendState, Role};
use regha_tests::{
    client::http_get,
    lab::{LabSpec, vip_port},
    tempdir::TempDir,
    unit::{INSTALLED_UNIT, UnitAgent, UnitFile},
    wait::wait_for,
};

/// The machine's dpkg database, one test at a time.
static MACHINE: Mutex<()> = Mutex::new(());

const PACKAGE: &str = "regha";
/// What the package's scripts and the agent make outside its file list.
const RUNTIME: [&str; 3] = ["/etc/regha", "/run/regha", "/sys/fs/bpf/regha"];

/// The package `cargo xtask deb` made: `$REGHA_DEB`, or the newest
/// `target/debian/regha_*.deb`.
fn deb() -> PathBuf {
    if let Some(p) = std::env::var_os("REGHA_DEB") {
        return PathBuf::from(p);
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debian"));
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("regha_") && n.ends_with(".deb"))
        })
        .collect();
    debs.sort_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    debs.pop().unwrap_or_else(|| {
        panic!(
            "no regha_*.deb in {}: build it with `cargo xtask deb --dev` (`cargo xtask test` does)",
            dir.display()
        )
    })
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `cmd`, panicking with its output unless it succeeds.
#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// `dpkg-query`'s status of the package (`install ok installed`,
/// `deinstall ok config-files`), or `None` when dpkg does not know it.
fn status() -> Option<String> {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter(|s| !s.contains("not-installed"))
}

fn version() -> String {
    ok(Command::new("dpkg-query").args(["-W", "-f=${Version}", PACKAGE]))
}

/// The regular files a package holds, from its archive.
fn files_of(deb: &Path) -> Vec<PathBuf> {
    ok(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| PathBuf::from(p.trim_start_matches('.')))
        .collect()
}

/// The package on this machine for one test: taken only when nothing of
/// it is there, purged on drop.
struct OnThisMachine {
    _lock: std::sync::MutexGuard<'static, ()>,
    files: Vec<PathBuf>,
}

impl OnThisMachine {
    #[track_caller]
    fn claim(deb: &Path) -> Self {
        regha_tests::require_root();
        let lock = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = status() {
            panic!(
                "regha is already known to dpkg on this machine ({s}): this test installs and purges its own build and will not touch another; remove it first (`dpkg -P regha`)"
            );
        }
        let files = files_of(deb);
        let present: Vec<String> = files
            .iter()
            .map(PathBuf::as_path)
            .chain(RUNTIME.iter().map(Path::new))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            present.is_empty(),
            "regha is not installed, yet these exist (left by hand or by a killed run?); this test will not overwrite them: {present:?}"
        );
        Self { _lock: lock, files }
    }

    /// What of the package is still on the machine (the conffile counts).
    fn leftovers(&self) -> Vec<String> {
        self.files
            .iter()
            .map(PathBuf::as_path)
            .chain(RUNTIME.iter().map(Path::new))
            .chain([
                Path::new("/usr/share/regha"),
                Path::new("/usr/share/doc/regha"),
            ])
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect()
    }
}

impl Drop for OnThisMachine {
    fn drop(&mut self) {
        let purge = status().map(|_| run(Command::new("dpkg").args(["-P", PACKAGE])));
        let left = self.leftovers();
        let failed = purge.as_ref().is_some_and(|o| !o.status.success());
        if !failed && left.is_empty() && status().is_none() {
            return;
        }
        let msg = format!(
            "CLEAN-UP FAILED: the regha package is not gone from this machine (dpkg status {:?}); left: {left:?}; `dpkg -P regha` said:\n{}",
            status(),
            purge
                .map(|o| format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ))
                .unwrap_or_default()
        );
        if std::thread::panicking() {
            eprintln!("{msg}");
        } else {
            panic!("{msg}");
        }
    }
}

/// A static master over the lab's backends: an operator's
/// `/etc/regha/eth0.yaml`.
fn operator_config(lab: &regha_tests::lab::Lab) -> Config {
    regha_tests::lab::config::with_role(Role::Master, vec![lab.service()])
}

/// The agent as `regha@eth0.service` runs it, in the lab's LB.
fn start_unit(lab: &regha_tests::lab::Lab, log: &Path) -> UnitAgent {
    let unit = UnitFile::read(INSTALLED_UNIT);
    UnitAgent::start(&lab.lbs[0].ns, &[], &unit.exec_start("eth0"), log)
}

/// Waits until the running agent on eth0 (state in /run/regha) sees every
/// backend up in its dataplane.
#[track_caller]
fn wait_steering(agent: &UnitAgent) {
    wait_for(
        "the unit's agent to steer to every backend",
        Duration::from_secs(20),
    )
    .context(|| agent.log())
    .until(|| {
        regha_agent::status::file::read(Path::new("/run/regha"), "eth0").filter(|s| {
            s.services.iter().all(|svc| {
                svc.backends
                    .iter()
                    .all(|b| b.state == Some(BackendState::Up))
            })
        })
    });
}

fn xdp_attached(lab: &regha_tests::lab::Lab) -> bool {
    lab.lbs[0]
        .ns
        .ip(&["link", "show", "dev", "eth0"])
        .contains("xdp")
}

#[test]
fn installed_checked_then_removed_and_purged_leaving_nothing() {
    let deb = deb();
    let machine = OnThisMachine::claim(&deb);
    let t = Instant::now();
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    eprintln!("dpkg -i: {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(status().as_deref(), Some("install ok installed"));

    // The files, where the package says.
    for path in [
        "/usr/sbin/regha-agent",
        INSTALLED_UNIT,
        "/etc/regha/regha.example.yaml",
        "/usr/share/man/man8/regha-agent.8.gz",
        "/usr/share/man/man5/regha.yaml.5.gz",
        "/usr/share/bash-completion/completions/regha-agent",
        "/usr/share/zsh/vendor-completions/_regha-agent",
        "/usr/share/regha/prometheus/regha-rules.yml",
        "/usr/share/regha/grafana/regha.json",
        "/usr/share/doc/regha/copyright",
    ] {
        assert!(Path::new(path).is_file(), "{path} is not installed");
    }
    let listed = ok(Command::new("dpkg").args(["-L", PACKAGE]));
    for f in &machine.files {
        assert!(
            listed.contains(&f.display().to_string()),
            "dpkg -L lacks {}",
            f.display()
        );
    }
    assert_eq!(
        ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]))
            .split_whitespace()
            .next(),
        Some("/etc/regha/regha.example.yaml"),
        "the example is a conffile: an edit survives upgrades"
    );
    let recommends = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Recommends"));
    assert!(recommends.contains("bpftool"), "Recommends: {recommends}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata("/usr/sbin/regha-agent")
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);

    let v = ok(Command::new("/usr/sbin/regha-agent").arg("--version"));
    assert_eq!(
        v.trim(),
        format!("regha-agent {}", env!("CARGO_PKG_VERSION"))
    );

    // Both man pages render, without a groff warning.
    for (page, must) in [
        (
            "/usr/share/man/man8/regha-agent.8.gz",
            ["check-config", "SIGNALS", "--keep-dataplane"],
        ),
        (
            "/usr/share/man/man5/regha.yaml.5.gz",
            [
                "virtual_router_id",
                "Rules across fields",
                "unedited_example",
            ],
        ),
    ] {
        let out = run(Command::new("man")
            .args(["--warnings", "-l", page])
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("MAN_DISABLE_SECCOMP", "1"));
        let text = String::from_utf8_lossy(&out.stdout);
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "man -l {page}: {errors}");
        assert!(errors.trim().is_empty(), "man -l {page} warns:\n{errors}");
        for m in must {
            assert!(text.contains(m), "man -l {page} lacks {m:?}:\n{text}");
        }
    }

    // The bash completion loads and completes the commands.
    let completion = ok(Command::new("bash").args([
        "-c",
        "source /usr/share/bash-completion/completions/regha-agent && complete -p regha-agent \
         && COMP_WORDS=(regha-agent chec) && COMP_CWORD=1 \
         && _regha__agent regha-agent chec regha-agent && echo \"${COMPREPLY[@]}\"",
    ]));
    assert!(completion.contains("check-config"), "{completion}");
    let zsh = std::fs::read_to_string("/usr/share/zsh/vendor-completions/_regha-agent").unwrap();
    assert!(zsh.starts_with("#compdef regha-agent"), "{zsh}");

    // systemd-analyze verify loads the unit as systemd would (here without
    // systemd as PID 1): every directive known and well-formed, ExecStart=
    // an executable that exists, the man pages of Documentation= there,
    // the units it orders itself after known. It does not start it: the
    // sandbox (namespaces, capabilities) is not tried here; the
    // capabilities are, in unit_capabilities.rs.
    let verify =
        run(Command::new("systemd-analyze").args(["verify", "--man=yes", "regha@eth0.service"]));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let about_us: Vec<&str> = said.lines().filter(|l| l.contains("regha")).collect();
    assert!(
        verify.status.success() && about_us.is_empty(),
        "systemd-analyze verify regha@eth0.service:\n{said}"
    );
    eprintln!("systemd-analyze verify regha@eth0.service: no complaint about the unit");

    // The example: valid, its guard named; refused by the agent before it
    // touches anything.
    let check = ok(Command::new("/usr/sbin/regha-agent").args([
        "--config",
        "/etc/regha/regha.example.yaml",
        "check-config",
    ]));
    assert!(
        check.contains("valid") && check.contains("unedited_example"),
        "{check}"
    );
    let refused = run(Command::new("/usr/sbin/regha-agent").args([
        "--config",
        "/etc/regha/regha.example.yaml",
        "--iface",
        "regha-none0",
    ]));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(78), "{why}");
    assert!(
        why.contains("unedited_example: true") && why.contains("packaged example"),
        "{why}"
    );
    assert!(
        !Path::new("/sys/fs/bpf/regha").exists(),
        "the refusal touched nothing"
    );

    // An agent running as the unit runs it: `dpkg -r` stops it and takes
    // its dataplane away.
    let lab = LabSpec::one_lb(1).build();
    std::fs::write("/etc/regha/eth0.yaml", operator_config(&lab).to_yaml()).unwrap();
    let logs = TempDir::new("package");
    let mut agent = start_unit(&lab, &logs.path().join("agent.log"));
    wait_steering(&agent);
    assert_eq!(lab.get_v2(0), Ok(200), "through the VIP");
    assert!(xdp_attached(&lab));
    assert!(Path::new("/sys/fs/bpf/regha/eth0/link").exists());
    let removed = ok(Command::new("dpkg").args(["-r", PACKAGE]));
    let exit = agent.wait_exit(Duration::from_secs(2));
    assert!(
        exit.success(),
        "the agent stopped on SIGTERM: {exit}\n{removed}\n{}",
        agent.log()
    );
    assert!(!xdp_attached(&lab), "the program went with its pinned link");
    assert_eq!(status().as_deref(), Some("deinstall ok config-files"));
    let left = machine.leftovers();
    assert_eq!(
        left,
        ["/etc/regha/regha.example.yaml", "/etc/regha"],
        "dpkg -r leaves the configuration only"
    );

    ok(Command::new("dpkg").args(["-P", PACKAGE]));
    assert_eq!(status(), None);
    assert_eq!(
        machine.leftovers(),
        Vec::<String>::new(),
        "dpkg -P leaves nothing"
    );
}

/// Repacks `deb` as version `<its version>~previous`, which dpkg orders
/// before it: the release an upgrade starts from.
fn previous_release(deb: &Path, dir: &Path) -> (PathBuf, String) {
    let tree = dir.join("tree");
    ok(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let current = text
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .expect("a Version field")
        .to_owned();
    let (upstream, revision) = current.rsplit_once('-').expect("a Debian revision");
    let previous = format!("{upstream}~previous-{revision}");
    std::fs::write(
        &control,
        text.replace(
            &format!("Version: {current}"),
            &format!("Version: {previous}"),
        ),
    )
    .unwrap();
    let out = dir.join("previous.deb");
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "-z1", "-b"])
        .arg(&tree)
        .arg(&out));
    (out, previous)
}

/// Pins, at `backend_stats`, per-backend counters of another layout (one
/// field more than this build's), as a release with another counter would
/// have left them. The map the running program uses stays alive: only the
/// pin changes (as in layout_upgrade.rs).
fn pin_other_backend_stats(pin_dir: &Path) {
    let path = pin_dir.join("backend_stats");
    std::fs::remove_file(&path).unwrap();
    PerCpuArray::<MapData, [u64; 4]>::create(regha_common::MAX_BACKENDS, 0)
        .unwrap()
        .pin(&path)
        .unwrap();
    assert_eq!(MapInfo::from_pin(&path).unwrap().value_size(), 32);
}

#[test]
fn an_upgrade_under_traffic_restarts_into_the_new_agent_without_a_gap() {
    let deb = deb();
    let machine = OnThisMachine::claim(&deb);
    let scratch = TempDir::new("upgrade");
    let (previous, previous_version) = previous_release(&deb, scratch.path());
    ok(Command::new("dpkg").arg("-i").arg(&previous));
    assert_eq!(version(), previous_version);

    let lab = LabSpec::one_lb(1).build();
    std::fs::write("/etc/regha/eth0.yaml", operator_config(&lab).to_yaml()).unwrap();
    let mut old = start_unit(&lab, &scratch.path().join("old.log"));
    wait_steering(&old);

    // A client asks through the VIP without a pause from here to the end.
    let asking = Arc::new(AtomicBool::new(true));
    let client = lab.clients[0].ip;
    let traffic = {
        let asking = asking.clone();
        lab.clients[0].ns.spawn(move || {
            let mut answers = Vec::new();
            while asking.load(Ordering::Relaxed) {
                answers.push((
                    Instant::now(),
                    http_get(IpAddr::V4(client), vip_port(), "/v2/"),
                ));
                std::thread::sleep(Duration::from_millis(20));
            }
            answers
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    // The running release's dataplane is of another layout than the new one.
    pin_other_backend_stats(Path::new("/sys/fs/bpf/regha/eth0"));

    // The upgrade. The maintainer scripts leave the running agent alone
    // (prerm upgrade does nothing; postinst restarts only under systemd).
    let upgrade = ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(
        upgrade.contains(&previous_version),
        "an upgrade from {previous_version}:\n{upgrade}"
    );
    assert_ne!(version(), previous_version);
    assert_eq!(old.exited(), None, "the old agent still runs after dpkg -i");

    // What postinst does under systemd (`deb-systemd-invoke restart
    // regha@eth0.service`): SIGTERM, which with the unit's --keep-dataplane
    // leaves the program steering, then the new binary from the same line.
    eprintln!(
        "systemd is not PID 1 here: the test restarts the agent as postinst would under systemd"
    );
    assert!(old.stop().success(), "{}", old.log());
    let mut new = start_unit(&lab, &scratch.path().join("new.log"));
    wait_steering(&new);
    std::thread::sleep(Duration::from_secs(1));
    asking.store(false, Ordering::Relaxed);
    let answers = traffic.join().expect("the client thread");

    let log = new.log();
    assert!(
        log.contains(
            "layout changed (BACKEND_STATS (value size 32 -> 24): replaced empty): replacing"
        ),
        "{log}"
    );
    assert!(
        log.contains("replaced the program behind the pinned link"),
        "{log}"
    );
    assert_eq!(
        MapInfo::from_pin("/sys/fs/bpf/regha/eth0/backend_stats")
            .unwrap()
            .value_size(),
        24,
        "the new layout holds the pin"
    );
    let failed: Vec<_> = answers.iter().filter(|(_, a)| *a != Ok(200)).collect();
    let longest = answers
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    eprintln!(
        "{} requests through the VIP across the upgrade, {} failed; longest time between two answers {:.0} ms",
        answers.len(),
        failed.len(),
        longest.as_secs_f64() * 1000.0
    );
    assert!(
        answers.len() > 50,
        "too few requests to tell: {}",
        answers.len()
    );
    assert!(
        failed.is_empty(),
        "requests failed across the upgrade: {failed:?}\n{log}"
    );
    assert!(new.stop().success(), "{}", new.log());
    drop(lab);
    drop(machine);
}
