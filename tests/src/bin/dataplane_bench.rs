//! `cargo xtask bench`: ns/packet of the XDP program through
//! BPF_PROG_TEST_RUN, pinned to CPU 0, the median of interleaved rounds.
//!
//! Two ways of timing, each with its own floor, so ratios compare like with like:
//! - `repeat`: one packet, a large repeat; the kernel reports the mean time
//!   per run. The packet is TCP 192.0.2.1:40000 -> VIP 192.0.2.100:5000.
//! - `fresh`: many distinct packets (new clients), one run each; the kernel
//!   reports each run's time and the rows give the mean. This is how a new
//!   flow is measured with keys the flow state has never seen.
//!
//! Rows:
//! - `xdp-pass` (repeat): returns XDP_PASS, the cost of a test run itself;
//! - `floor` (repeat, fresh): swaps the MACs, returns XDP_TX;
//! - `lru-insert` (repeat): the floor plus one insert of a never-seen key into
//!   an LRU hash shaped like the flow table (full after its first 262144 runs,
//!   so nearly every insert evicts): what any kernel-LRU flow table pays;
//! - regha `established` (repeat): an ACK whose flow is recorded (and
//!   cached): the bench asserts that every run but the first of a round is
//!   a hit;
//! - regha `new` (repeat): the same packet as a SYN. After the first run each
//!   one is a retransmission of it (same 5-tuple, same initial sequence
//!   number), which costs what a new SYN costs: the service, the handshake
//!   table, the ring;
//! - regha `new-fresh` (fresh): SYNs of clients never seen: a connection
//!   attempt at steady state (the flow table is kept full, but a SYN no
//!   longer writes it);
//! - regha `new-conn` (fresh): whole connections of clients never seen, per
//!   packet: the SYN, the ACK completing the handshake (which records the
//!   flow in the full flow table: an insert that evicts), then
//!   `DATA_PACKETS` data packets;
//! - regha `established` and `new-fresh` on both CPUs at once (`cpus` 2): two
//!   threads, one per CPU, each with its own flows (established) or clients
//!   (new-fresh), through two programs sharing the same pinned maps, as one
//!   program runs on every CPU of an LB; reported with the ratio to the
//!   single-CPU figure of the same round (on a shared two-CPU machine this
//!   is mostly noise: reported, not a target).
//!
//! regha rows run with 2, 16 and 256 backends (ring size 65537); the two-CPU
//! rows with 16.
//!
//! `--only CASE,...` runs only those regha cases (the floors always run).
//!
//! regha is the object embedded in the agent (or `--object PATH`, another
//! build, to compare builds without rebuilding the agent); the reference
//! programs are loaded at run time from `--baselines PATH` (`cargo xtask
//! bench` passes the staged `target/bpf/regha-baselines`), by default the
//! `regha-baselines` beside the object the agent embedded
//! (`regha_agent::dataplane::EBPF_DIR`).

use std::{net::IpAddr, net::Ipv4Addr, path::PathBuf};

use aya::{
    Ebpf,
    programs::{TestRun, TestRunOptions, Xdp},
};
use regha_agent::dataplane::{BackendSpec, Dataplane, EBPF_DIR, EBPF_OBJECT, ServiceSpec};
use regha_model::{BackendState, HashMode, IpPrefix, Protocol};
use regha_tests::{
    dataplane::{TestDataplane, XdpAction, pin_to_cpu},
    packet::{Frame, TCP_ACK, TCP_PSH, TCP_SYN},
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
    case: &'static str,
    backends: u32,
    /// CPUs running the case at once (each its own packets).
    cpus: u32,
    ns: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Flow-table capacity of the benchmarked dataplanes.
const FLOW_TABLE: u32 = 65_536;
/// Data packets of each `new-conn` connection after its handshake.
const DATA_PACKETS: u32 = 8;
/// Backends of the dataplane the two-CPU rows run on.
const TWO_CPU_BACKENDS: u32 = 16;

/// The benchmarked interface's MAC, the destination of every frame.
const LB_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

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

/// A 68-byte TCP packet from `src`:`sport` to the VIP.
fn tcp(src: Ipv4Addr, sport: u16, flags: u8, seq: u32) -> Vec<u8> {
    Frame::tcp4(src, sport, VIP, 5000, flags)
        .with_seq(seq)
        .with_payload(&[0u8; 14])
        .bytes()
}

/// A never-seen client for `(round, i)`: `round` (< 16) picks a block of
/// 2^20 addresses in 10.0.0.0/8, `cpu` (< 8) a 2^17 part of it.
fn client(round: u32, cpu: u32, i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 | (round << 20) | (cpu << 17) | (i & 0x1_ffff))
}

/// SYNs from `n` distinct clients, distinct per `round` and `cpu`.
fn fresh_syns(n: u32, round: u32, cpu: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| tcp(client(round, cpu, i), 40000 + (i % 1000) as u16, TCP_SYN, i))
        .collect()
}

/// ACKs of flows never seen (mid-way): each one is recorded, so they fill
/// the flow table.
fn fresh_acks(n: u32, round: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| tcp(client(round, 0, i), 40000 + (i % 1000) as u16, TCP_ACK, i))
        .collect()
}

/// `n` packets of whole connections from never-seen clients: each a SYN,
/// the ACK completing it, and `DATA_PACKETS` data packets.
fn fresh_connections(n: u32, round: u32, lane: u32) -> Vec<Vec<u8>> {
    let per = 2 + DATA_PACKETS;
    (0..n.div_ceil(per))
        .flat_map(|c| {
            let (src, sport) = (client(round, lane, c), 40000 + (c % 1000) as u16);
            let isn = c.wrapping_mul(2_654_435_761);
            let mut packets = vec![
                tcp(src, sport, TCP_SYN, isn),
                tcp(src, sport, TCP_ACK, isn.wrapping_add(1)),
            ];
            packets.extend(
                (0..DATA_PACKETS)
                    .map(|d| tcp(src, sport, TCP_ACK | TCP_PSH, isn.wrapping_add(1 + 14 * d))),
            );
            packets
        })
        .take(n as usize)
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
        allow: Vec::new(),
        id: 0,
        vip: IpAddr::V4(VIP),
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
/// The program name of the rows run with flow sync on (`SERVICE_F_SYNC`:
/// each recorded flow also goes on `FLOW_EVENTS`, drained meanwhile by a
/// thread on another CPU, as the agent would).
const SYNC_PROGRAM: &str = "regha+sync";
/// The same dataplane as [`SYNC_PROGRAM`]'s with the service rewritten
/// without `SERVICE_F_SYNC`: its baseline, on the same maps and memory.
const SYNC_OFF_PROGRAM: &str = "sync-off";

/// The program name of the rows run with a 10,000-prefix allow-list.
const ALLOW_PROGRAM: &str = "regha+10k";
/// Backends of the allow-list rows (compared with the plain rows of the
/// same size).
const ALLOW_BACKENDS: u32 = 16;

/// 10,000 prefixes, as an office-and-partners list might hold them: the
/// bench's clients' networks (10.0.0.0/8 as 4,096 /20s, and 192.0.2.0/24),
/// and 5,903 /24s elsewhere (100.64.0.0/10), so a lookup walks a trie of
/// real depth.
fn allow_10k() -> Vec<IpPrefix> {
    let mut out: Vec<IpPrefix> = (0..4096u32)
        .map(|i| IpPrefix::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 12))), 20).unwrap())
        .collect();
    out.push("192.0.2.0/24".parse().unwrap());
    out.extend(
        (0..5903u32).map(|i| {
            IpPrefix::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 | (i << 8))), 24).unwrap()
        }),
    );
    out
}

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

/// Runs `case` on CPUs 0 and 1 at once, `programs[c]` on CPU `c`, each with
/// its own packets; the mean of the two ns/packet figures.
fn two_cpus(
    programs: [&mut Xdp; 2],
    case: &str,
    established: &[Vec<u8>; 2],
    repeat: u32,
    fresh: &[Vec<Vec<u8>>; 2],
) -> f64 {
    let [p0, p1] = programs;
    let run = |cpu: usize, prog: &mut Xdp| {
        pin_to_cpu(cpu);
        let (ns, verdict) = match case {
            "established" => time(prog, &established[cpu], repeat),
            _ => time_fresh(prog, &fresh[cpu]),
        };
        assert_eq!(verdict, XdpAction::Tx as u32, "{case} on CPU {cpu}");
        ns
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(move || run(0, p0));
        let b = s.spawn(move || run(1, p1));
        (a.join().unwrap(), b.join().unwrap())
    });
    pin_to_cpu(0);
    (a + b) / 2.0
}

fn main() {
    regha_tests::require_root();
    let rounds = arg("--rounds", 7).clamp(1, 15);
    let repeat = arg("--repeat", 2_000_000).max(1);
    let fresh_per_round = arg("--fresh", 50_000).clamp(1, 1 << 17);
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
    let ack = tcp(Ipv4Addr::new(192, 0, 2, 1), 40000, TCP_ACK, 1);
    let syn = tcp(Ipv4Addr::new(192, 0, 2, 1), 40000, TCP_SYN, 0);
    // The two-CPU established rows: one flow per CPU.
    let acks = [
        ack.clone(),
        tcp(Ipv4Addr::new(192, 0, 2, 2), 40000, TCP_ACK, 1),
    ];

    let object =
        arg_str("--object").map(|p| std::fs::read(&p).unwrap_or_else(|e| panic!("read {p}: {e}")));
    let object: &[u8] = object.as_deref().unwrap_or(&EBPF_OBJECT);
    let sizes = [2u32, 16, 256];
    let mut dps: Vec<TestDataplane> = sizes
        .iter()
        .map(|n| {
            let mut t = TestDataplane::load_object_with(object, LB_MAC, FLOW_TABLE);
            t.maps.apply_service(&service(*n)).expect("provision");
            t
        })
        .collect();
    // The allow-list rows' dataplane: the same service with 10,000
    // prefixes (the clients of every case in them), last in `dps`.
    let allow_dp = dps.len();
    dps.push({
        let mut t = TestDataplane::load_object_with(object, LB_MAC, FLOW_TABLE);
        let spec = ServiceSpec {
            allow: allow_10k(),
            ..service(ALLOW_BACKENDS)
        };
        t.maps
            .apply_service(&spec)
            .expect("provision the allow-list");
        t
    });
    // The flow sync rows' dataplane: the same service, written with
    // SERVICE_F_SYNC, last in `dps`.
    let sync_dp = dps.len();
    dps.push({
        let mut t = TestDataplane::load_object_with(object, LB_MAC, FLOW_TABLE);
        t.maps.set_flow_sync(true);
        t.maps
            .apply_service(&service(ALLOW_BACKENDS))
            .expect("provision with flow sync");
        t
    });
    let drained = drain_flow_events(dps[sync_dp].pin_dir());
    let dp_of = |row: &Row| {
        if row.program == ALLOW_PROGRAM {
            Some(allow_dp)
        } else if row.program == SYNC_PROGRAM || row.program == SYNC_OFF_PROGRAM {
            Some(sync_dp)
        } else {
            sizes.iter().position(|s| *s == row.backends)
        }
    };
    // A second program on the two-CPU rows' maps (its pins adopted), for
    // the second CPU.
    let two_cpu = sizes
        .iter()
        .position(|s| *s == TWO_CPU_BACKENDS)
        .expect("a dataplane for the two-CPU rows");
    let mut second = Dataplane::load_object(object, &dps[two_cpu].options(FLOW_TABLE))
        .unwrap_or_else(|e| panic!("load a second program on the same maps: {e}"));

    let row = |program, method, baseline, case, backends, cpus| Row {
        program,
        method,
        baseline,
        case,
        backends,
        cpus,
        ns: vec![],
    };
    let mut rows = vec![
        row("xdp-pass", Method::Repeat, Some("bench_pass"), "pass", 0, 1),
        row(
            "floor",
            Method::Repeat,
            Some("bench_floor"),
            "swap-macs-tx",
            0,
            1,
        ),
        row(
            "lru-insert",
            Method::Repeat,
            Some("bench_lru_insert"),
            "floor+insert",
            0,
            1,
        ),
        row(
            "floor",
            Method::Fresh,
            Some("bench_floor"),
            "swap-macs-tx",
            0,
            1,
        ),
    ];
    for n in sizes {
        rows.push(row("regha", Method::Repeat, None, "established", n, 1));
        rows.push(row("regha", Method::Repeat, None, "new", n, 1));
        rows.push(row("regha", Method::Fresh, None, "new-fresh", n, 1));
        rows.push(row("regha", Method::Fresh, None, "new-conn", n, 1));
    }
    for (method, case) in [
        (Method::Repeat, "established"),
        (Method::Repeat, "new"),
        (Method::Fresh, "new-fresh"),
        (Method::Fresh, "new-conn"),
    ] {
        rows.push(row(ALLOW_PROGRAM, method, None, case, ALLOW_BACKENDS, 1));
        rows.push(row(SYNC_OFF_PROGRAM, method, None, case, ALLOW_BACKENDS, 1));
        rows.push(row(SYNC_PROGRAM, method, None, case, ALLOW_BACKENDS, 1));
    }
    rows.push(row(
        "regha",
        Method::Repeat,
        None,
        "established",
        TWO_CPU_BACKENDS,
        2,
    ));
    rows.push(row(
        "regha",
        Method::Fresh,
        None,
        "new-fresh",
        TWO_CPU_BACKENDS,
        2,
    ));
    // Fill every flow table with flows the measured rounds never use, so
    // that each recorded flow evicts one, as at steady state. (SYNs record
    // nothing: these are flows seen mid-way, one packet each.)
    for t in &mut dps {
        let prog = t.dataplane.program();
        for p in fresh_acks(FLOW_TABLE + FLOW_TABLE / 8, 15) {
            time(prog, &p, 1);
        }
        // Then the flows the established rows run on.
        for a in &acks {
            assert_eq!(time(prog, a, 1).1, XdpAction::Tx as u32);
        }
    }
    if let Some(only) = arg_str("--only") {
        let cases: Vec<&str> = only.split(',').collect();
        rows.retain(|r| r.baseline.is_some() || cases.contains(&r.case));
    }
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let fresh = fresh_syns(fresh_per_round, round, 0);
        let connections = fresh_connections(fresh_per_round, round, 1);
        // The flow sync rows share one dataplane: each gets connections of
        // its own, or the second would find the first's flows recorded.
        let sync_connections = fresh_connections(fresh_per_round, round, 4);
        let fresh_pair = [
            fresh_syns(fresh_per_round, round, 2),
            fresh_syns(fresh_per_round, round, 3),
        ];
        for row in rows.iter_mut() {
            let dp_index = dp_of(row);
            if row.program == SYNC_PROGRAM || row.program == SYNC_OFF_PROGRAM {
                let maps = &mut dps[sync_dp].maps;
                maps.set_flow_sync(row.program == SYNC_PROGRAM);
                maps.apply_service(&service(ALLOW_BACKENDS))
                    .expect("rewrite the service's flags");
            }
            let flows_before = match (row.baseline, dp_index) {
                (None, Some(i)) => dps[i].maps.service_counters(0).unwrap().new_flows,
                _ => 0,
            };
            if row.cpus == 2 {
                let i = dp_index.expect("regha rows have a dataplane");
                let ns = two_cpus(
                    [dps[i].dataplane.program(), second.program()],
                    row.case,
                    &acks,
                    repeat,
                    &fresh_pair,
                );
                row.ns.push(ns);
                continue;
            }
            let prog: &mut Xdp = match row.baseline {
                Some(name) => baselines.program_mut(name).unwrap().try_into().unwrap(),
                None => dps[dp_index.expect("regha rows have a dataplane")]
                    .dataplane
                    .program(),
            };
            let (ns, verdict) = match (row.method, row.case) {
                (Method::Fresh, "new-conn") if row.program == SYNC_PROGRAM => {
                    time_fresh(prog, &sync_connections)
                }
                (Method::Fresh, "new-conn") => time_fresh(prog, &connections),
                (Method::Fresh, _) => time_fresh(prog, &fresh),
                (Method::Repeat, "new") => time(prog, &syn, repeat),
                (Method::Repeat, _) => time(prog, &ack, repeat),
            };
            if row.case == "established" {
                // Every measured run but (at most) the first must be a hit.
                let i = dp_index.expect("regha rows have a dataplane");
                let misses = dps[i].maps.service_counters(0).unwrap().new_flows - flows_before;
                assert!(
                    misses <= 1,
                    "established: {misses} of {repeat} runs missed the flow state"
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
    report(&rows, rounds, repeat, fresh_per_round, ack.len());
    variant_report(
        &rows,
        ALLOW_PROGRAM,
        "regha",
        &format!("allow-list of 10,000 prefixes vs none ({ALLOW_BACKENDS} backends, same run):"),
    );
    variant_report(
        &rows,
        SYNC_PROGRAM,
        SYNC_OFF_PROGRAM,
        &format!("flow sync on vs off ({ALLOW_BACKENDS} backends, the same dataplane, same run):"),
    );
    let lost = dps[sync_dp].maps.sync_lost().expect("read SYNC_LOST");
    let events = drained.stop();
    println!("  flow events read {events}, lost to a full ring {lost}");
}

/// Reads `FLOW_EVENTS` under `pin_dir` on CPU 1 until stopped, as the
/// agent's sender would: the events are counted and dropped.
struct Drain {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Drain {
    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the drain thread")
    }
}

fn drain_flow_events(pin_dir: &std::path::Path) -> Drain {
    use aya::maps::{Map, MapData, RingBuf};
    let data = MapData::from_pin(pin_dir.join("flow_events")).expect("open flow_events");
    let mut ring = RingBuf::try_from(Map::from_map_data(data).expect("a map")).expect("a ring");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        pin_to_cpu(1);
        let mut n = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            while ring.next().is_some() {
                n += 1;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        n
    });
    Drain { stop, thread }
}

/// A variant's rows (an allow-list, flow sync) against the plain rows of
/// the same run and size: what the variant costs each case.
fn variant_report(rows: &[Row], program: &str, baseline: &str, title: &str) {
    println!("\n{title}");
    for r in rows.iter().filter(|r| r.program == program) {
        let Some(plain) = rows.iter().find(|p| {
            p.program == baseline && p.cpus == 1 && p.case == r.case && p.backends == r.backends
        }) else {
            continue;
        };
        let (a, b) = (median(&r.ns), median(&plain.ns));
        println!(
            "  {:<12} {:>8.1} ns vs {:>8.1} ns: x{:.2} (+{:.1} ns)",
            r.case,
            a,
            b,
            a / b,
            a - b
        );
    }
}

fn report(rows: &[Row], rounds: u32, repeat: u32, fresh: u32, packet_len: usize) {
    let floor_of = |m: Method| {
        rows.iter()
            .find(|r| r.program == "floor" && r.method == m)
            .map(|r| median(&r.ns))
            .expect("a floor row for each method")
    };
    // The single-CPU row a two-CPU row compares with, round by round.
    let single = |r: &Row| {
        rows.iter()
            .find(|s| s.cpus == 1 && s.case == r.case && s.backends == r.backends)
    };
    println!(
        "\nBPF_PROG_TEST_RUN, CPU 0, {packet_len}-byte TCP packets, median of {rounds} rounds; \
         repeat: {repeat} runs of one packet, fresh: {fresh} distinct packets once each; \
         new-conn: SYN, ACK, {DATA_PACKETS} data packets per connection\n"
    );
    println!(
        "{:<10} {:<14} {:<7} {:>8} {:>4} {:>12} {:>10} {:>12}",
        "program", "case", "method", "backends", "cpus", "ns/packet", "x floor", "x one CPU"
    );
    let mut json = Vec::new();
    for r in rows {
        let m = median(&r.ns);
        let floor = floor_of(r.method);
        let method = format!("{:?}", r.method).to_lowercase();
        // Per round, then the median: both figures come from the same round.
        let vs_single = (r.cpus > 1).then(|| single(r)).flatten().map(|s| {
            let ratios: Vec<f64> = r.ns.iter().zip(&s.ns).map(|(a, b)| a / b).collect();
            median(&ratios)
        });
        println!(
            "{:<10} {:<14} {:<7} {:>8} {:>4} {:>12.1} {:>10.2} {:>12}",
            r.program,
            r.case,
            method,
            r.backends,
            r.cpus,
            m,
            m / floor,
            vs_single.map_or(String::new(), |v| format!("{v:.2}")),
        );
        json.push(serde_json::json!({
            "program": r.program,
            "case": r.case,
            "method": method,
            "backends": r.backends,
            "cpus": r.cpus,
            "ns_per_packet": m,
            "ratio_to_floor": m / floor,
            "ratio_to_one_cpu": vs_single,
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
