//! pb's benchmark: pb against the floor (raw TCP + postcard, hand-written)
//! and tarpc (its defaults, and with postcard), optionally against pb built
//! from another revision. Each target's server and client run in processes
//! of their own on 127.0.0.1, one connection per target, 2 tokio workers per
//! process. See `bench/run.sh` and the README's "Performance" section.
//!
//! Modules, from the bottom up:
//! - `usage`: CPU time and context switches of a process, from `/proc`;
//! - `alloc`: the counting allocator of the memory workload;
//! - `raw`, `rpc_tarpc`, `rpc_pb`: the targets, each a server and a client;
//! - `raw_relay`: a hand-written byte relay, the floor for streams through
//!   a relay (pb's relay is in `rpc_pb`);
//! - `driver`: the workloads, written once against `Caller`;
//! - `heal` (sessions healing by replay), `resume` (sessions resuming),
//!   `memory`: pb's own workloads;
//! - `agent`: a target's client process, which runs workloads on command;
//! - `proc`: starting server and agent processes;
//! - `run`: the bench, which starts the targets and takes them in turns;
//! - `report`: the JSON lines, the tables and the ratio checks.

mod agent;
mod alloc;
mod driver;
mod heal;
mod memory;
mod proc;
mod raw;
mod raw_relay;
mod report;
mod rpc_pb;
mod rpc_tarpc;
mod run;
mod usage;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use driver::BoxError;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[derive(Parser)]
#[command(about = "Benchmark pb against raw TCP + postcard and tarpc")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A seconds-long pass with tiny sizes and one round (for CI).
    #[arg(long)]
    smoke: bool,
    /// Rounds; every figure is the median over them. Default 3 (1 with --smoke).
    #[arg(long)]
    rounds: Option<usize>,
    /// Only these workloads (comma separated): add_seq, add_tput,
    /// echo_1k_tput, echo_64k_tput, echo_1k_blob_tput, echo_64k_blob_tput,
    /// str_1k_tput, stream_64k, stream_1k, stream_unary, relay, heal, resume, memory.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these targets (comma separated): raw, tarpc, tarpc-postcard, pb
    /// (pb includes the baseline's and pb's relay, raw the raw relay); for
    /// profiling, the ratios need all.
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// A bench binary built from another revision (see `bench/run.sh
    /// --baseline`): its pb runs as an extra target, `pb@<baseline-name>`.
    #[arg(long)]
    baseline_exe: Option<PathBuf>,
    /// The baseline's name in the report (a short commit).
    #[arg(long, default_value = "baseline")]
    baseline_name: String,
    /// Leave glibc's heap trimming at its defaults (see `alloc::keep_freed_memory`).
    #[arg(long, global = true)]
    malloc_default: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one target and print the port (the bench runs this itself).
    Server {
        /// Which protocol to serve.
        #[arg(long, value_enum)]
        target: Kind,
        /// Serve as a relay in front of this server: a pb relay (`pb`), or a
        /// byte relay (`raw`, see `raw_relay`).
        #[arg(long)]
        upstream: Option<SocketAddr>,
        /// Count allocations (for the memory workload).
        #[arg(long)]
        count_alloc: bool,
    },
    /// Be one target's client, running workloads on command (the bench
    /// runs this itself; see `agent`).
    Client {
        /// Which protocol to speak.
        #[arg(long, value_enum)]
        target: Kind,
        /// The server (or pb relay) to connect to.
        #[arg(long)]
        server: SocketAddr,
        /// The server is a pb relay: call the upstream object it hands out.
        #[arg(long)]
        relay: bool,
        /// The server's process id, to measure its CPU time and context switches.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// The memory workload's client (the bench runs this itself); prints JSON.
    MemClient {
        /// A pb server started with `--count-alloc`.
        #[arg(long)]
        server: SocketAddr,
        /// Idle connections to open.
        #[arg(long)]
        connections: usize,
        /// Proxies to hold.
        #[arg(long)]
        proxies: usize,
    },
}

/// The protocols compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The hand-written floor (`raw`).
    Raw,
    /// tarpc at its defaults (bincode).
    Tarpc,
    /// tarpc with postcard.
    TarpcPostcard,
    /// pb.
    Pb,
    /// pb through a resumable session (`pb::Client`): the same server, a
    /// client that numbers and keeps its frames for resumes.
    PbSession,
    /// pb serving Twisted PB clients (`Server::bind_twisted`; a server
    /// only, for `bench/twisted/run.sh`).
    PbTwisted,
}

/// `--malloc-default` was given: the child processes get it too.
static MALLOC_DEFAULT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this run leaves glibc's heap trimming at its defaults.
fn malloc_default() -> bool {
    MALLOC_DEFAULT.load(std::sync::atomic::Ordering::Relaxed)
}

/// The runtime of every server and client process.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    if !cli.malloc_default {
        alloc::keep_freed_memory();
    }
    MALLOC_DEFAULT.store(cli.malloc_default, std::sync::atomic::Ordering::Relaxed);
    match cli.command {
        Some(Command::Server { target, upstream, count_alloc }) => {
            if count_alloc {
                alloc::enable();
            }
            runtime().block_on(serve(target, upstream))
        }
        Some(Command::Client { target, server, relay, server_pid }) => agent::run(target, server, relay, server_pid),
        Some(Command::MemClient { server, connections, proxies }) => {
            alloc::enable();
            let m = runtime().block_on(memory::run(server, connections, proxies))?;
            println!("{}", serde_json::to_string(&m)?);
            Ok(())
        }
        None => {
            let plan = run::Plan::new(cli.smoke, cli.rounds);
            eprintln!(
                "glibc heap trimming: {} in every process",
                if cli.malloc_default { "default" } else { "off (mallopt; --malloc-default to keep it)" }
            );
            let baseline = cli.baseline_exe.map(|exe| run::Binary { exe, suffix: format!("@{}", cli.baseline_name) });
            let report = run::run(&plan, &cli.only, &cli.targets, baseline.as_ref())?;
            for line in report.lines() {
                println!("{line}");
            }
            let summary = report.summary();
            for line in &summary.checks {
                println!("{line}");
            }
            eprintln!("\n{}\n{}\n{}", summary.figures, summary.costs, summary.table);
            eprintln!("{}", if summary.all_met { "every target met" } else { "some targets NOT met" });
            if cli.smoke {
                eprintln!(
                    "(smoke pass: sizes too small, and possibly a dev build, for meaningful ratios; run bench/run.sh)"
                );
            }
            Ok(())
        }
    }
}

async fn serve(target: Kind, upstream: Option<SocketAddr>) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    match target {
        Kind::Raw => {
            proc::announce_and_watch_parent(port);
            match upstream {
                Some(upstream) => raw_relay::serve(listener, upstream).await,
                None => raw::serve(listener).await,
            }
        }
        _ if upstream.is_some() && !matches!(target, Kind::Pb | Kind::PbSession) => {
            return Err(format!("{target:?} has no relay (--upstream is for raw and pb)").into());
        }
        Kind::Tarpc | Kind::TarpcPostcard => {
            proc::announce_and_watch_parent(port);
            let format = if target == Kind::Tarpc { rpc_tarpc::Format::Bincode } else { rpc_tarpc::Format::Postcard };
            rpc_tarpc::serve(listener, format).await?;
        }
        Kind::PbTwisted => {
            drop(listener);
            let server = rpc_pb::serve_twisted(&format!("127.0.0.1:{port}")).await?;
            proc::announce_and_watch_parent(server.local_addr().port());
            std::future::pending::<()>().await;
        }
        Kind::Pb | Kind::PbSession => {
            drop(listener); // pb binds its own; the port is free again at once
            let (server, _session) = rpc_pb::serve(&format!("127.0.0.1:{port}"), upstream).await?;
            proc::announce_and_watch_parent(server.local_addr().port());
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}
