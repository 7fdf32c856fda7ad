//! regha's developer tasks (`cargo xtask <task>`), one module each.

mod bench;
mod build_ebpf;
mod deb;
mod fuzz;
mod lab;
mod lint;
mod setup;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "regha developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The demo: set up, build, and run the registry HA lab in network
    /// namespaces (as root): push and pull through the VIP, kill the master
    /// LB mid-push, show the failover, tear down.
    Lab {
        /// Leave the lab running (until Ctrl-C) and print how to look around.
        #[arg(long)]
        keep: bool,
        /// Size of the big layer pushed through the failover, in MiB.
        #[arg(long, default_value_t = 200)]
        big_layer_mib: u64,
        /// Over IPv6 alone: one VRRP v3 instance over IPv6, the VIP
        /// 2001:db8::100.
        #[arg(long, conflicts_with = "dual_stack")]
        ipv6: bool,
        /// Over both families: an IPv4 and an IPv6 instance in one sync
        /// group; the failover moves both VIPs under a push on each.
        #[arg(long)]
        dual_stack: bool,
        /// BGP mode: three active LBs (regha-agent + FRR) announcing the VIP
        /// to a router running FRR, which spreads clients over them (ECMP).
        #[arg(long, conflicts_with_all = ["ipv6", "dual_stack"])]
        bgp: bool,
    },
    /// Install every prerequisite on a fresh machine (idempotent; needs root):
    /// Debian's LLVM 22 and bpftool, nightly rust-src, bpf-linker, cargo-deb,
    /// and what the tests run (registries, keepalived, promtool, chromium...).
    Setup,
    /// Build the XDP object (nightly, -Z build-std=core, bpfel-unknown-none, BTF).
    BuildEbpf {
        /// Accepted for symmetry with cargo: the object is always built
        /// optimised (the verifier cannot follow unoptimised code).
        #[arg(long)]
        release: bool,
    },
    /// rustfmt --check and clippy -D warnings over the workspace and the
    /// eBPF crate.
    Lint,
    /// The Debian package (cargo-deb, after build-ebpf): target/debian/regha_*.deb.
    Deb {
        /// Package the debug build the tests use instead of a release
        /// build (what `cargo xtask test` does, to keep CI short).
        #[arg(long)]
        dev: bool,
    },
    /// Run setup, build the XDP object, then the whole test suite (as root:
    /// the tests load BPF programs and create network namespaces). Without
    /// test arguments, also each fuzz target for 45 s.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// regha against HAProxy + keepalived on the same lab, in one run:
    /// throughput and latency through the VIP (wrk), LB CPU per GiB,
    /// failover times, whether a push survives; writes target/bench/e2e.json.
    BenchE2e {
        /// Failover runs per stack and failure (median and max reported).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        secs: u32,
        /// Size of the push cut by the host loss, in MiB.
        #[arg(long, default_value_t = 200)]
        push_mib: u64,
        /// Only the backend failures (a client's registry killed, its host
        /// cut off): no wrk, no LB failover, no push.
        #[arg(long)]
        backends_only: bool,
        /// BGP mode (issue 14) instead: three LBs behind an FRR router,
        /// drain, crash, cut, a fourth LB; writes target/bench/bgp.json.
        #[arg(long)]
        bgp: bool,
    },
    /// Measure ns/packet of the XDP program against a floor with
    /// BPF_PROG_TEST_RUN; writes target/bench/dataplane.json.
    Bench {
        /// Rounds per case (the median is reported).
        #[arg(long, default_value_t = 7)]
        rounds: u32,
        /// Packets per round (BPF_PROG_TEST_RUN repeat).
        #[arg(long, default_value_t = 2_000_000)]
        repeat: u32,
        /// Distinct new-client packets per round for the `fresh` rows.
        #[arg(long, default_value_t = 50_000)]
        fresh: u32,
    },
    /// Run the cargo-fuzz targets (fuzz/) from their committed seeds, each
    /// for a bounded time; fails on a crash, hang or OOM with the
    /// reproducer's path. Prints `FUZZ <target> execs=<n> secs=<s> corpus=<n>`.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (vrrp_decode, config_load, import, flowsync_decode).
        #[arg(long)]
        target: Option<String>,
        /// cargo fuzz's sanitizer: `none` (the default: the code under test
        /// is safe Rust, and it builds faster and runs more inputs) or
        /// `address`.
        #[arg(long, default_value = "none")]
        sanitizer: String,
    },
}

/// Seconds per fuzz target in `cargo xtask test`: CI's share of fuzzing.
const TEST_FUZZ_SECONDS: u64 = 45;

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Lab {
            keep,
            big_layer_mib,
            ipv6,
            dual_stack,
            bgp,
        } => {
            let stack = match (ipv6, dual_stack, bgp) {
                (true, _, _) => Some("--ipv6"),
                (_, true, _) => Some("--dual-stack"),
                (_, _, true) => Some("--bgp"),
                _ => None,
            };
            lab::run(keep, big_layer_mib, stack)
        }
        Task::BenchE2e {
            runs,
            secs,
            push_mib,
            backends_only,
            bgp,
        } => {
            if bgp {
                lab::bench_bgp(runs)
            } else {
                lab::bench_e2e(runs, secs, push_mib, backends_only)
            }
        }
        Task::Setup => setup::run(),
        Task::BuildEbpf { release: _ } => build_ebpf::run().map(|_| ()),
        Task::Lint => {
            build_ebpf::run()?;
            lint::run()
        }
        Task::Deb { dev } => {
            build_ebpf::run()?;
            deb::run(if dev {
                deb::Build::Dev
            } else {
                deb::Build::Release
            })
            .map(|_| ())
        }
        Task::Test { args } => {
            setup::run()?;
            build_ebpf::run()?;
            // The end-to-end tests run the agent binary as operators do.
            util::exec(util::cargo().args(["build", "--locked", "-p", "regha-agent", "--bins"]))?;
            // The package tests install it (tests/tests/package.rs).
            deb::run(deb::Build::Dev)?;
            let mut cmd = util::cargo();
            cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
            let whole_suite = args.is_empty();
            if !args.is_empty() {
                cmd.arg("--").args(args);
            }
            // The fuzz targets run first so that the summed `N passed, N
            // failed` line stays the last one CI reads; a failure of either
            // fails the task, after both have run.
            let fuzzed = if whole_suite {
                fuzz::run(TEST_FUZZ_SECONDS, None, "none")
            } else {
                Ok(())
            };
            let tested = util::exec_counting_tests(&mut cmd);
            tested.and(fuzzed)
        }
        Task::Bench {
            rounds,
            repeat,
            fresh,
        } => {
            setup::run()?;
            let ebpf_dir = build_ebpf::run()?;
            bench::run(&ebpf_dir, rounds, repeat, fresh)
        }
        Task::Fuzz {
            seconds,
            target,
            sanitizer,
        } => {
            setup::run()?;
            build_ebpf::run()?;
            fuzz::run(seconds, target.as_deref(), &sanitizer)
        }
    }
}
