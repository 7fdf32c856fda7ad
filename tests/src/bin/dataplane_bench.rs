//! `cargo xtask bench`: ns/packet of the XDP program, measured with
//! BPF_PROG_TEST_RUN (large repeat; the kernel reports the mean time per
//! run), pinned to one CPU, the median over several interleaved rounds.
//!
//! Same TCP packet (client 192.0.2.1:40000 -> VIP 192.0.2.100:5000) through:
//! - `xdp-pass`: returns XDP_PASS (the cost of a test run itself);
//! - `floor`: swaps the MACs, returns XDP_TX: the least a forwarder does;
//! - `regha established`: an ACK whose flow is in the flow table (a first
//!   run inserts it, every measured run is a hit);
//! - `regha new`: the same packet as a SYN, which by design always hashes
//!   afresh and writes the flow table: every measured run is a ring lookup
//!   plus an LRU insert, i.e. the cost of a new flow.
//!
//! with 2, 16 and 256 backends (ring size 65537).

use std::{net::IpAddr, net::Ipv4Addr, path::PathBuf};

use aya::{
    Ebpf,
    programs::{TestRun, TestRunOptions, Xdp},
};
use regha_agent::dataplane::{
    BackendSpec, BackendState, EBPF_DIR, HashMode, Protocol, ServiceSpec,
};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction},
    packet::{Frame, TCP_ACK, TCP_SYN},
};

struct Row {
    program: &'static str,
    case: String,
    backends: u32,
    ns: Vec<f64>,
}

impl Row {
    fn median(&self) -> f64 {
        let mut v = self.ns.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Mean ns per run of `repeat` runs of `packet`, and the verdict.
fn time(prog: &mut Xdp, packet: &[u8], repeat: u32) -> (f64, u32) {
    let mut out = vec![0u8; packet.len() + 256];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(packet),
            data_out: Some(&mut out),
            repeat,
            ..TestRunOptions::default()
        })
        .expect("BPF_PROG_TEST_RUN");
    (r.duration.as_nanos() as f64, r.return_value)
}

fn service(n: u32) -> ServiceSpec {
    ServiceSpec {
        id: 0,
        vip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        port: 5000,
        protocol: Protocol::Tcp,
        hash: HashMode::Source,
        seed: 1,
        ring_size: 65537,
        backends: (0..n)
            .map(|i| BackendSpec {
                id: i,
                addr: IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8)),
                port: 5000,
                mac: [2, 0, 0, 0, (i >> 8) as u8, i as u8],
                weight: 1,
                state: BackendState::Up,
            })
            .collect(),
    }
}

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn main() {
    regha_tests::require_root();
    let rounds = arg("--rounds", 7).max(1);
    let repeat = arg("--repeat", 2_000_000).max(1);
    pin_to_cpu(0);

    let mut baselines = Ebpf::load_file(PathBuf::from(EBPF_DIR).join("regha-baselines"))
        .expect("load regha-baselines (cargo xtask build-ebpf)");
    for name in ["bench_pass", "bench_floor"] {
        let p: &mut Xdp = baselines.program_mut(name).unwrap().try_into().unwrap();
        p.load().unwrap();
    }
    let ack = Frame::tcp4(
        Ipv4Addr::new(192, 0, 2, 1),
        40000,
        Ipv4Addr::new(192, 0, 2, 100),
        5000,
        TCP_ACK,
    )
    .with_payload(&[0u8; 14])
    .bytes();
    let syn = Frame::tcp4(
        Ipv4Addr::new(192, 0, 2, 1),
        40000,
        Ipv4Addr::new(192, 0, 2, 100),
        5000,
        TCP_SYN,
    )
    .with_payload(&[0u8; 14])
    .bytes();

    let sizes = [2u32, 16, 256];
    let mut dps: Vec<TestDataplane> = sizes
        .iter()
        .map(|n| {
            let mut t = TestDataplane::load_with([2, 0, 0, 0, 0, 1], 65536);
            t.maps.apply_service(&service(*n)).expect("provision");
            // The first run inserts the ACK's flow: every later one is a hit.
            assert_eq!(t.run(&ack).0, XdpAction::Tx as u32);
            t
        })
        .collect();

    let mut rows = vec![
        Row {
            program: "xdp-pass",
            case: "pass".into(),
            backends: 0,
            ns: vec![],
        },
        Row {
            program: "floor",
            case: "swap-macs-tx".into(),
            backends: 0,
            ns: vec![],
        },
    ];
    for n in sizes {
        rows.push(Row {
            program: "regha",
            case: "established".into(),
            backends: n,
            ns: vec![],
        });
        rows.push(Row {
            program: "regha",
            case: "new".into(),
            backends: n,
            ns: vec![],
        });
    }
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for row in rows.iter_mut() {
            let (ns, verdict) = match (row.program, row.case.as_str()) {
                ("xdp-pass", _) => time(
                    baselines
                        .program_mut("bench_pass")
                        .unwrap()
                        .try_into()
                        .unwrap(),
                    &ack,
                    repeat,
                ),
                ("floor", _) => time(
                    baselines
                        .program_mut("bench_floor")
                        .unwrap()
                        .try_into()
                        .unwrap(),
                    &ack,
                    repeat,
                ),
                (_, case) => {
                    let i = sizes.iter().position(|s| *s == row.backends).unwrap();
                    let pkt = if case == "new" { &syn } else { &ack };
                    time(dps[i].dataplane.program(), pkt, repeat)
                }
            };
            let want = if row.program == "xdp-pass" {
                XdpAction::Pass
            } else {
                XdpAction::Tx
            };
            assert_eq!(
                verdict, want as u32,
                "{} {}: wrong verdict",
                row.program, row.case
            );
            row.ns.push(ns);
        }
    }
    // The SYN runs rewrote the ACK's flow entry to the same backend: the
    // established case stayed a hit throughout (check it still is).
    for t in &mut dps {
        let before = t.maps.service_counters(0).unwrap().new_flows;
        t.run(&ack);
        assert_eq!(
            t.maps.service_counters(0).unwrap().new_flows,
            before,
            "the ACK flow was a hit"
        );
    }

    let floor = rows[1].median();
    println!(
        "\nBPF_PROG_TEST_RUN, {repeat} runs x {rounds} rounds, CPU 0, {}-byte TCP packet (median ns/packet)\n",
        ack.len()
    );
    println!(
        "{:<10} {:<14} {:>8} {:>12} {:>10}",
        "program", "case", "backends", "ns/packet", "x floor"
    );
    let mut json = Vec::new();
    for r in &rows {
        let m = r.median();
        println!(
            "{:<10} {:<14} {:>8} {:>12.1} {:>10.2}",
            r.program,
            r.case,
            r.backends,
            m,
            m / floor
        );
        json.push(serde_json::json!({
            "program": r.program,
            "case": r.case,
            "backends": r.backends,
            "ns_per_packet": m,
            "ratio_to_floor": m / floor,
            "rounds_ns": r.ns,
        }));
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dataplane.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!(
        "\nwritten to {}",
        path.canonicalize().unwrap_or(path).display()
    );
}
