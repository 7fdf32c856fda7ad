//! regha's developer tasks (`cargo xtask <task>`), one module each.

mod bench;
mod build_ebpf;
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
    /// Install every prerequisite on a fresh machine (idempotent; needs root):
    /// Debian's LLVM 22 and bpftool, nightly rust-src, bpf-linker.
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
    /// Run setup, build the XDP object, then the whole test suite (as root:
    /// the tests load BPF programs and create network namespaces).
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
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
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::run(),
        Task::BuildEbpf { release: _ } => build_ebpf::run().map(|_| ()),
        Task::Lint => {
            build_ebpf::run()?;
            lint::run()
        }
        Task::Test { args } => {
            setup::run()?;
            build_ebpf::run()?;
            // The end-to-end tests run the agent binary as operators do.
            util::exec(util::cargo().args(["build", "--locked", "-p", "regha-agent", "--bins"]))?;
            let mut cmd = util::cargo();
            cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
            if !args.is_empty() {
                cmd.arg("--").args(args);
            }
            util::exec_counting_tests(&mut cmd)
        }
        Task::Bench {
            rounds,
            repeat,
            fresh,
        } => {
            setup::run()?;
            build_ebpf::run()?;
            bench::run(rounds, repeat, fresh)
        }
    }
}
