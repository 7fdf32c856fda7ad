//! Operators inspect the pinned maps with bpftool: the maps carry BTF, so
//! the dump names every field of the shared types.

use std::{net::IpAddr, process::Command};

use regha_agent::dataplane::{BackendSpec, ServiceSpec};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::dataplane::TestDataplane;

fn bpftool_dump(path: &std::path::Path) -> String {
    let out = Command::new("bpftool")
        .args(["map", "dump", "pinned"])
        .arg(path)
        .output()
        .expect("bpftool is installed by `cargo xtask setup`");
    assert!(
        out.status.success(),
        "bpftool map dump pinned {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pinned_maps_dump_with_field_names() {
    let t = TestDataplane::load();
    let mut maps = t.dataplane.maps().unwrap();
    maps.apply_service(&ServiceSpec {
        allow: Vec::new(),
        id: 3,
        vip: "192.0.2.100".parse().unwrap(),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 1,
        ring_size: 13,
        backends: vec![BackendSpec {
            id: 9,
            addr: IpAddr::V4("192.0.2.11".parse().unwrap()),
            port: 5000,
            mac: [2, 0, 0, 0, 0, 0x11],
            weight: 1,
            state: BackendState::Up,
        }],
    })
    .unwrap();
    let dir = t.pin_dir();
    for file in [
        "services",
        "rings",
        "backends",
        "flows",
        "service_stats",
        "backend_stats",
        "reasons",
        "link",
    ] {
        if file == "link" {
            continue; // not attached in this test
        }
        assert!(
            dir.join(file).exists(),
            "{file} is pinned in {}",
            dir.display()
        );
    }
    let backends = bpftool_dump(&dir.join("backends"));
    for field in ["\"mac\"", "\"state\"", "\"addr\"", "\"port\": 5000"] {
        assert!(
            backends.contains(field),
            "backends dump lacks {field}:\n{backends}"
        );
    }
    let services = bpftool_dump(&dir.join("services"));
    for field in [
        "\"ring_size\": 13",
        "\"id\": 3",
        "\"proto\": 6",
        "\"family\": 4",
    ] {
        assert!(
            services.contains(field),
            "services dump lacks {field}:\n{services}"
        );
    }
    let stats = bpftool_dump(&dir.join("service_stats"));
    assert!(
        stats.contains("\"new_flows\""),
        "service_stats dump lacks new_flows:\n{stats}"
    );
}
