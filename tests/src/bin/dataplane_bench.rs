//! `cargo xtask bench`: ns/packet of the XDP program through
//! BPF_PROG_TEST_RUN, pinned to CPU 0, the median of interleaved rounds.
//!
//! Two ways of timing, each with its own floor, so ratios compare like with like:
//! - `repeat`: one packet, a large repeat; the kernel reports the mean time
//!   per run. The packet is TCP 192.0.2.1:40000 -> VIP 192.0.2.100:5000.
//! - `fresh`: many distinct packets (new clients), one run each; the kernel
//!   reports each run's time and the rows give the mean. This is how a new
//!   flow is measured with a key the flow table has never seen.
//!
//! Rows:
//! - `xdp-pass` (repeat): returns XDP_PASS, the cost of a test run itself;
//! - `floor` (repeat, fresh): swaps the MACs, returns XDP_TX;
//! - `lru-insert` (repeat): the floor plus one insert of a never-seen key into
//!   an LRU hash shaped like the flow table (full after its first 262144 runs,
//!   so nearly every insert evicts): what any kernel-LRU flow table pays;
//! - regha `established` (repeat): an ACK whose flow is in the table;
//! - regha `new` (repeat): the same packet as a SYN, which by design always
//!   hashes afresh and writes the flow table (service lookup, ring, LRU
//!   insert replacing the tuple's entry);
//! - regha `new-fresh` (fresh): SYNs of clients never seen, into a flow table
//!   kept full, so every insert evicts: the cost of a new flow at steady state.
//!
//! regha rows run with 2, 16 and 256 backends (ring size 65537).
//!
//! regha is the object embedded in the agent; the reference programs are
//! loaded at run time from `--baselines PATH` (`cargo xtask bench` passes the
//! staged `target/bpf/regha-baselines`), by default the `regha-baselines`
//! beside the object the agent embedded (`regha_agent::dataplane::EBPF_DIR`).

use std::{net::IpAddr, net::Ipv4Addr, path::PathBuf};

use aya::{
    Ebpf,
    programs::{TestRun, TestRunOptions, Xdp},
};
use regha_agent::dataplane::{BackendSpec, EBPF_DIR, EBPF_OBJECT, ServiceSpec};
use regha_model::{BackendState, HashMode, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction},
    packet::{Frame, TCP_ACK, TCP_SYN},
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Repeat,
    Fresh,
}

struct Row {
    program: &'static str,
    method: Method,
    /// The baseline program in regha-baselines, or `None` for regha itself.
    baseline: Option<&'static str>,
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

/// Flow-table capacity of the benchmarked dataplanes.
const FLOW_TABLE: u32 = 65_536;

/// The benchmarked interface's MAC, the destination of every frame.
const LB_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

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

/// Mean ns per run over `packets`, one run each, and the last verdict.
fn time_fresh(prog: &mut Xdp, packets: &[Vec<u8>]) -> (f64, u32) {
    let mut total = 0f64;
    let mut verdict = 0;
    for p in packets {
        let (ns, v) = time(prog, p, 1);
        total += ns;
        verdict = v;
    }
    (total / packets.len() as f64, verdict)
}

/// SYNs from `n` distinct clients, distinct per `round`.
fn fresh_syns(n: u32, round: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let src = Ipv4Addr::from(0x0a00_0000 | (round << 20) | i);
            Frame::tcp4(
                src,
                40000 + (i % 1000) as u16,
                Ipv4Addr::new(192, 0, 2, 100),
                5000,
                TCP_SYN,
            )
            .with_payload(&[0u8; 14])
            .bytes()
        })
        .collect()
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
                // BPF_PROG_TEST_RUN's repeat runs the program again on the
                // buffer it rewrote: with every backend's MAC equal to the
                // interface's (the dataplanes' MAC below), each run still
                // sees a frame addressed to the LB, as the first did, and
                // is not passed as `other_host`.
                mac: LB_MAC,
                weight: 1,
                state: BackendState::Up,
            })
            .collect(),
    }
}

/// The value after `name` on the command line, if given.
fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn arg(name: &str, default: u32) -> u32 {
    arg_str(name)
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
    let fresh_per_round = arg("--fresh", 50_000).max(1);
    pin_to_cpu(0);

    let baselines_path = arg_str("--baselines")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(EBPF_DIR).join("regha-baselines"));
    let mut baselines = Ebpf::load_file(&baselines_path).unwrap_or_else(|e| {
        panic!(
            "load {}: {e} (build it with `cargo xtask build-ebpf`, or pass --baselines PATH)",
            baselines_path.display()
        )
    });
    for name in ["bench_pass", "bench_floor", "bench_lru_insert"] {
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

    // `--object PATH`: another build of the program (to compare builds
    // without rebuilding the agent that embeds one).
    let object =
        arg_str("--object").map(|p| std::fs::read(&p).unwrap_or_else(|e| panic!("read {p}: {e}")));
    let object: &[u8] = object.as_deref().unwrap_or(&EBPF_OBJECT);
    let sizes = [2u32, 16, 256];
    let mut dps: Vec<TestDataplane> = sizes
        .iter()
        .map(|n| {
            let mut t = TestDataplane::load_object_with(object, LB_MAC, FLOW_TABLE);
            t.maps.apply_service(&service(*n)).expect("provision");
            // The first run inserts the ACK's flow: every later one is a hit.
            assert_eq!(t.run(&ack).0, XdpAction::Tx as u32);
            t
        })
        .collect();

    let row = |program, method, baseline, case: &str, backends| Row {
        program,
        method,
        baseline,
        case: case.into(),
        backends,
        ns: vec![],
    };
    let mut rows = vec![
        row("xdp-pass", Method::Repeat, Some("bench_pass"), "pass", 0),
        row(
            "floor",
            Method::Repeat,
            Some("bench_floor"),
            "swap-macs-tx",
            0,
        ),
        row(
            "lru-insert",
            Method::Repeat,
            Some("bench_lru_insert"),
            "floor+insert",
            0,
        ),
        row(
            "floor",
            Method::Fresh,
            Some("bench_floor"),
            "swap-macs-tx",
            0,
        ),
    ];
    for n in sizes {
        rows.push(row("regha", Method::Repeat, None, "established", n));
        rows.push(row("regha", Method::Repeat, None, "new", n));
        rows.push(row("regha", Method::Fresh, None, "new-fresh", n));
    }
    // Fill every flow table with clients the measured rounds never use, so
    // each fresh SYN evicts an entry, as at steady state.
    for t in &mut dps {
        let prog = t.dataplane.program();
        for p in fresh_syns(FLOW_TABLE + FLOW_TABLE / 8, 15) {
            time(prog, &p, 1);
        }
    }
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let fresh = fresh_syns(fresh_per_round, round);
        for row in rows.iter_mut() {
            let dp_index = sizes.iter().position(|s| *s == row.backends);
            let flows_before = match (row.baseline, dp_index) {
                (None, Some(i)) => dps[i].maps.service_counters(0).unwrap().new_flows,
                _ => 0,
            };
            let prog: &mut Xdp = match row.baseline {
                Some(name) => baselines.program_mut(name).unwrap().try_into().unwrap(),
                None => {
                    let i = sizes.iter().position(|s| *s == row.backends).unwrap();
                    dps[i].dataplane.program()
                }
            };
            let (ns, verdict) = match (row.method, row.case.as_str()) {
                (Method::Fresh, _) => time_fresh(prog, &fresh),
                (Method::Repeat, "new") => time(prog, &syn, repeat),
                (Method::Repeat, _) => time(prog, &ack, repeat),
            };
            if row.case == "established" {
                // Every measured run but (at most) the first must be a hit:
                // the fresh rows may have evicted the entry since last round.
                let i = dp_index.expect("regha rows have a dataplane");
                let misses = dps[i].maps.service_counters(0).unwrap().new_flows - flows_before;
                assert!(
                    misses <= 1,
                    "established: {misses} of {repeat} runs missed the flow table"
                );
            }
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
    let floor_of = |m: Method| {
        rows.iter()
            .find(|r| r.program == "floor" && r.method == m)
            .expect("a floor row for each method")
            .median()
    };
    println!(
        "\nBPF_PROG_TEST_RUN, CPU 0, {}-byte TCP packets, median of {rounds} rounds; \
         repeat: {repeat} runs of one packet, fresh: {fresh_per_round} distinct packets once each\n",
        ack.len()
    );
    println!(
        "{:<10} {:<14} {:<7} {:>8} {:>12} {:>10}",
        "program", "case", "method", "backends", "ns/packet", "x floor"
    );
    let mut json = Vec::new();
    for r in &rows {
        let m = r.median();
        let floor = floor_of(r.method);
        let method = format!("{:?}", r.method).to_lowercase();
        println!(
            "{:<10} {:<14} {:<7} {:>8} {:>12.1} {:>10.2}",
            r.program,
            r.case,
            method,
            r.backends,
            m,
            m / floor
        );
        json.push(serde_json::json!({
            "program": r.program,
            "case": r.case,
            "method": method,
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
