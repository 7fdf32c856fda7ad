//! The capabilities the packaged unit grants (`CapabilityBoundingSet=` of
//! `regha-agent/debian/regha@.service`) against what the agent needs to
//! start, found by running it: the agent, with the unit's own command line,
//! is started in a lab under `setpriv` with a given bounding set (as uid 0,
//! an exec's permitted and effective sets are the bounding set, which is
//! what systemd's `CapabilityBoundingSet=` does for a root service).
//!
//! - With the unit's set it starts, becomes VRRP master, steers, drops to
//!   CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF, and stops cleanly.
//! - The start needs five: CAP_NET_ADMIN (loading an XDP program,
//!   netlink), CAP_NET_RAW (VRRP and ARP sockets), CAP_BPF (maps),
//!   CAP_PERFMON (the verifier refuses the program's pointer arithmetic
//!   without it) and CAP_SETPCAP (the drop itself). Without any one of
//!   them it refuses to start, saying why.
//! - The unit grants two more, for starts this lab does not make, and the
//!   agent drops them with the rest: CAP_SYS_ADMIN opens maps by id
//!   (`BPF_MAP_GET_FD_BY_ID` needs it whatever else is held), which copying
//!   the rings across a layout change that resizes the ring table needs,
//!   and CAP_NET_BIND_SERVICE binds a stats listener below port 1024 (shown
//!   here). CAP_SYS_ADMIN also stands in for CAP_BPF and CAP_PERFMON, which
//!   is why the five are tested without it.

use std::{path::Path, time::Duration};

use regha_agent::privileges::{KEPT, ProcCaps, mask};
use regha_config::{Config, StatsConfig};
use regha_model::Role;
use regha_tests::{
    agent::agent_bin,
    lab::{Lab, LabSpec, VIP, config},
    tempdir::TempDir,
    unit::{SOURCE_UNIT, UnitAgent, UnitFile, with_capabilities},
    wait::wait_for,
};

/// What the start needs, as `setpriv` names them.
const NEEDED: [&str; 5] = ["net_admin", "net_raw", "bpf", "perfmon", "setpcap"];
/// What the unit grants beyond, for starts this lab does not make.
const FOR_SOME_STARTS: [&str; 2] = ["sys_admin", "net_bind_service"];

/// The unit's command line for eth0, with the test's binary, config, pins
/// and state directory (the unit's paths are the machine's).
fn argv(unit: &UnitFile, config: &Path, dirs: &TempDir) -> Vec<String> {
    let mut argv: Vec<String> = unit
        .exec_start("eth0")
        .into_iter()
        .map(|w| match w.as_str() {
            "/usr/sbin/regha-agent" => agent_bin().display().to_string(),
            "/etc/regha/eth0.yaml" => config.display().to_string(),
            _ => w,
        })
        .collect();
    argv.extend([
        "--bpffs-root".to_owned(),
        bpffs_root(dirs).display().to_string(),
        "--state-dir".to_owned(),
        dirs.path().join("state").display().to_string(),
    ]);
    argv
}

fn bpffs_root(dirs: &TempDir) -> std::path::PathBuf {
    let tag = dirs
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    Path::new("/sys/fs/bpf/regha-test").join(tag)
}

/// Removes the pins the unit's `--keep-dataplane` leaves behind.
struct Pins(std::path::PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        let _ = regha_agent::dataplane::Dataplane::remove_pins(&self.0.join("eth0"));
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The lab's one LB as a VRRP master (priority 150, alone) over one
/// registry.
fn master_config(lab: &Lab) -> Config {
    let vrrp = regha_config::VrrpConfig {
        priority: 150,
        ..config::vrrp(51, &[(std::net::IpAddr::V4(VIP), 32)])
    };
    config::with_vrrp(vrrp, vec![lab.service()])
}

fn caps(names: &[&str]) -> Vec<String> {
    names.iter().map(|c| (*c).to_owned()).collect()
}

#[test]
fn the_agent_runs_with_the_units_capabilities_and_needs_each_one_it_starts_with() {
    let unit = UnitFile::read(SOURCE_UNIT);
    let granted = unit.capabilities();
    let mut expected: Vec<String> = caps(&NEEDED);
    expected.extend(caps(&FOR_SOME_STARTS));
    let (mut g, mut e) = (granted.clone(), expected.clone());
    g.sort();
    e.sort();
    assert_eq!(g, e, "the unit grants these, and the tests below say why");

    let lab = LabSpec::one_lb(1).build();
    let dirs = TempDir::new("unit-caps");
    let _pins = Pins(bpffs_root(&dirs));
    let config_path = dirs.path().join("eth0.yaml");
    std::fs::write(&config_path, master_config(&lab).to_yaml()).unwrap();
    let argv = argv(&unit, &config_path, &dirs);
    let log = |name: &str| dirs.path().join(format!("{name}.log"));

    // The unit's set: it starts, holds the VIP, steers, drops, stops.
    let mut agent = UnitAgent::start(
        &lab.lbs[0].ns,
        &with_capabilities(&granted),
        &argv,
        &log("granted"),
    );
    let state_dir = dirs.path().join("state");
    let state = wait_for("master with its backend up", Duration::from_secs(15))
        .context(|| agent.log())
        .until(|| {
            regha_agent::status::file::read(&state_dir, "eth0").filter(|s| {
                s.role == Role::Master
                    && s.services[0].backends[0].state == Some(regha_model::BackendState::Up)
            })
        });
    assert!(lab.lbs[0].holds(std::net::IpAddr::V4(VIP), 32));
    assert_eq!(lab.get_v2(0), Ok(200), "a request through the VIP");
    let status = std::fs::read_to_string(format!("/proc/{}/status", state.pid)).unwrap();
    let after = ProcCaps::parse(&status).unwrap();
    assert_eq!(after.mismatch(mask(&KEPT)), None, "after setup: {after:x?}");
    assert!(agent.stop().success(), "{}", agent.log());
    drop(_pins);

    // The five the start needs: without any one, no start.
    let needed = caps(&NEEDED);
    for missing in NEEDED {
        let _pins = Pins(bpffs_root(&dirs));
        let set: Vec<String> = needed.iter().filter(|c| *c != missing).cloned().collect();
        let mut agent = UnitAgent::start(
            &lab.lbs[0].ns,
            &with_capabilities(&set),
            &argv,
            &log(missing),
        );
        let status = agent.wait_exit(Duration::from_secs(20));
        let log = agent.log();
        assert!(!status.success(), "it started without {missing}:\n{log}");
        let why = match missing {
            "net_admin" | "perfmon" => "BPF_PROG_LOAD",
            "net_raw" => "VRRP socket",
            "bpf" => "failed to create map",
            "setpcap" => "PR_CAPBSET_DROP",
            _ => unreachable!(),
        };
        assert!(
            log.contains(why),
            "without {missing}: expected {why:?} in:\n{log}"
        );
        eprintln!("without CAP_{}: refused ({why})", missing.to_uppercase());
    }

    // ... and with just the five it starts: the other two are for other
    // starts. A stats listener on port 80 needs CAP_NET_BIND_SERVICE.
    let low_port = Config {
        stats: Some(StatsConfig {
            listen: "127.0.0.1:80".parse().unwrap(),
            auth: None,
        }),
        ..master_config(&lab)
    };
    std::fs::write(&config_path, low_port.to_yaml()).unwrap();
    for (set, binds) in [
        (needed.clone(), false),
        ([needed.clone(), caps(&["net_bind_service"])].concat(), true),
    ] {
        let _pins = Pins(bpffs_root(&dirs));
        let name = if binds {
            "low-port-granted"
        } else {
            "low-port"
        };
        let mut agent =
            UnitAgent::start(&lab.lbs[0].ns, &with_capabilities(&set), &argv, &log(name));
        wait_for("the agent's state file", Duration::from_secs(15))
            .context(|| agent.log())
            .until(|| regha_agent::status::file::read(&state_dir, "eth0"));
        let listening = wait_for("the stats listener's verdict", Duration::from_secs(5))
            .context(|| agent.log())
            .until(|| {
                let log = agent.log();
                if log.contains("cannot listen on 127.0.0.1:80") {
                    Some(false)
                } else if log.contains("stats listener: /, /metrics, /status") {
                    Some(true)
                } else {
                    None
                }
            });
        assert_eq!(listening, binds, "{}", agent.log());
        let st = agent.stop();
        assert!(st.success(), "{st:?} {}", agent.log());
    }
}
