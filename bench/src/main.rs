//! pb's benchmark: pb against raw TCP + postcard (the floor) and tarpc, each
//! server in its own process on 127.0.0.1, one connection per target, 2
//! tokio workers per process. See `bench/run.sh` and the README's
//! "Performance" section.

mod alloc;
mod driver;
mod heal;
mod memory;
mod proc;
mod raw;
mod report;
mod rpc_pb;
mod rpc_tarpc;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use driver::{BoxError, Caller, Latency, Throughput};
use proc::ServerProcess;
use report::{Figures, Report};

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
    /// echo_1k_tput, echo_64k_tput, relay, heal, memory.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these targets (comma separated): raw, tarpc, pb (for profiling;
    /// the ratios need all three).
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
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
        /// Serve as a pb relay in front of this pb server.
        #[arg(long)]
        upstream: Option<SocketAddr>,
        /// Count allocations (for the memory workload).
        #[arg(long)]
        count_alloc: bool,
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
enum Kind {
    Raw,
    Tarpc,
    Pb,
}

/// `--malloc-default` was given: the server processes get it too.
static MALLOC_DEFAULT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sequential calls per turn when targets take turns (see [`driver::add_seq`]).
const SEQ_SLICE: usize = 500;

/// Turns each target takes in a throughput workload.
const TPUT_SLICES: usize = 3;

/// Sizes of a run.
struct Plan {
    rounds: usize,
    seq_warmup: usize,
    seq_calls: usize,
    warmup: Duration,
    tput: Duration,
    heal_trials: usize,
    heal_backoff: Duration,
    mem_connections: usize,
    mem_proxies: usize,
}

impl Plan {
    fn new(smoke: bool, rounds: Option<usize>) -> Plan {
        if smoke {
            Plan {
                rounds: rounds.unwrap_or(1),
                seq_warmup: 100,
                seq_calls: 500,
                warmup: Duration::from_millis(50),
                tput: Duration::from_millis(200),
                heal_trials: 2,
                heal_backoff: Duration::from_millis(20),
                mem_connections: 20,
                mem_proxies: 2_000,
            }
        } else {
            Plan {
                rounds: rounds.unwrap_or(3),
                seq_warmup: 2_000,
                seq_calls: 20_000,
                warmup: Duration::from_millis(500),
                tput: Duration::from_secs(3),
                heal_trials: 5,
                heal_backoff: Duration::from_millis(50),
                mem_connections: 1_000,
                mem_proxies: 100_000,
            }
        }
    }
}

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
        Some(Command::MemClient { server, connections, proxies }) => {
            alloc::enable();
            let m = runtime().block_on(memory::run(server, connections, proxies))?;
            println!("{}", serde_json::to_string(&m)?);
            Ok(())
        }
        None => {
            let plan = Plan::new(cli.smoke, cli.rounds);
            eprintln!(
                "glibc heap trimming: {} in every process",
                if cli.malloc_default { "default" } else { "off (mallopt; --malloc-default to keep it)" }
            );
            let report = runtime().block_on(run(&plan, &cli.only, &cli.targets))?;
            for line in report.lines() {
                println!("{line}");
            }
            let (checks, table, all_met) = report.summary();
            for line in checks {
                println!("{line}");
            }
            eprintln!("\n{table}");
            eprintln!("{}", if all_met { "every target met" } else { "some targets NOT met" });
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
            raw::serve(listener).await;
        }
        Kind::Tarpc => {
            proc::announce_and_watch_parent(port);
            rpc_tarpc::serve(listener).await;
        }
        Kind::Pb => {
            drop(listener); // pb binds its own; the port is free again at once
            let (server, _session) = rpc_pb::serve(&format!("127.0.0.1:{port}"), upstream).await?;
            proc::announce_and_watch_parent(server.local_addr().port());
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}

/// A client of any target.
#[derive(Clone)]
enum Client {
    Raw(raw::RawClient),
    Tarpc(rpc_tarpc::TarpcClient),
    Pb(rpc_pb::PbClient),
}

impl Caller for Client {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BoxError> {
        match self {
            Client::Raw(c) => c.add(a, b).await,
            Client::Tarpc(c) => c.add(a, b).await,
            Client::Pb(c) => c.add(a, b).await,
        }
    }
    async fn echo(&self, data: Bytes) -> Result<Bytes, BoxError> {
        match self {
            Client::Raw(c) => c.echo(data).await,
            Client::Tarpc(c) => c.echo(data).await,
            Client::Pb(c) => c.echo(data).await,
        }
    }
}

fn latency(l: Latency) -> Figures {
    Figures::from([("p50_us", l.p50_us), ("p99_us", l.p99_us), ("calls", l.calls as f64)])
}

fn throughput(t: Throughput) -> Figures {
    let mut f = Figures::from([("calls_per_s", t.calls_per_s), ("calls", t.calls as f64)]);
    if t.mb_per_s > 0.0 {
        f.insert("mb_per_s", t.mb_per_s);
    }
    f
}

async fn run(plan: &Plan, only: &[String], only_targets: &[String]) -> Result<Report, BoxError> {
    let wants = |w: &str| only.is_empty() || only.iter().any(|o| o == w);
    let servers = [
        ("raw", ServerProcess::spawn(&["--target", "raw"])?),
        ("tarpc", ServerProcess::spawn(&["--target", "tarpc"])?),
        ("pb", ServerProcess::spawn(&["--target", "pb"])?),
    ];
    let pb_addr = servers[2].1.addr;
    let relay = ServerProcess::spawn(&["--target", "pb", "--upstream", &pb_addr.to_string()])?;
    let targets: Vec<(&'static str, Client)> = vec![
        ("raw", Client::Raw(raw::RawClient::connect(servers[0].1.addr).await?)),
        ("tarpc", Client::Tarpc(rpc_tarpc::TarpcClient::connect(servers[1].1.addr).await?)),
        ("pb", Client::Pb(rpc_pb::PbClient::connect(pb_addr).await?)),
    ];
    let targets: Vec<_> =
        targets.into_iter().filter(|(n, _)| only_targets.is_empty() || only_targets.iter().any(|t| t == n)).collect();
    let direct = rpc_pb::PbClient::connect(pb_addr).await?;
    let relayed = rpc_pb::PbClient::through_relay(relay.addr).await?;

    let mut report = Report::default();
    report.note("add_tput", json!({"callers": 64, "seconds": plan.tput.as_secs_f64()}));
    report.note("echo_1k_tput", json!({"callers": 16, "bytes": 1024, "seconds": plan.tput.as_secs_f64()}));
    report.note("echo_64k_tput", json!({"callers": 16, "bytes": 65536, "seconds": plan.tput.as_secs_f64()}));
    for round in 0..plan.rounds {
        eprintln!("round {} of {}", round + 1, plan.rounds);
        // Rotate the order of targets each round, so none always runs first.
        let order: Vec<&(&'static str, Client)> =
            (0..targets.len()).map(|i| &targets[(i + round) % targets.len()]).collect();
        if wants("add_seq") {
            let callers: Vec<&Client> = order.iter().map(|(_, c)| c).collect();
            let ls = driver::add_seq(&callers, plan.seq_warmup, plan.seq_calls, SEQ_SLICE).await?;
            for ((name, _), l) in order.iter().zip(ls) {
                report.add("add_seq", name, latency(l));
            }
        }
        // Throughput: the targets take turns in TPUT_SLICES slices of the
        // workload's time (like the sequential workloads), so a load spike
        // on the shared machine does not fall on one target alone.
        for (workload, size) in [("add_tput", 0), ("echo_1k_tput", 1024), ("echo_64k_tput", 64 << 10)] {
            if !wants(workload) {
                continue;
            }
            let mut totals = vec![Throughput::default(); order.len()];
            for slice in 0..TPUT_SLICES {
                let warmup = if slice == 0 { plan.warmup } else { plan.warmup / 5 };
                let time = plan.tput / TPUT_SLICES as u32;
                for ((_, c), total) in order.iter().zip(&mut totals) {
                    let t = match size {
                        0 => driver::add_tput(c, 64, warmup, time).await?,
                        _ => driver::echo_tput(c, 16, size, warmup, time).await?,
                    };
                    total.merge(&t);
                }
            }
            for ((name, _), t) in order.iter().zip(totals) {
                report.add(workload, name, throughput(t));
            }
        }
        if wants("relay") {
            let ls = driver::add_seq(&[&direct, &relayed], plan.seq_warmup, plan.seq_calls, SEQ_SLICE).await?;
            report.add("relay", "pb-direct", latency(ls[0]));
            report.add("relay", "pb-relay", latency(ls[1]));
        }
        if wants("heal") {
            let h = heal::run(pb_addr, plan.heal_backoff, plan.heal_trials).await?;
            let max = h.heal_ms.iter().copied().fold(0.0, f64::max);
            report.add(
                "heal",
                "pb",
                Figures::from([
                    ("backoff_ms", h.backoff_ms),
                    ("p50_ms", report::median(&h.heal_ms)),
                    ("max_ms", max),
                    ("trials", h.heal_ms.len() as f64),
                ]),
            );
        }
    }
    if wants("memory") {
        report.add("memory", "pb", measure_memory(plan)?);
    }
    Ok(report)
}

/// The memory workload, in two fresh processes that count allocations.
fn measure_memory(plan: &Plan) -> Result<Figures, BoxError> {
    eprintln!("memory: {} connections, {} proxies", plan.mem_connections, plan.mem_proxies);
    let server = ServerProcess::spawn(&["--target", "pb", "--count-alloc"])?;
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["mem-client", "--server", &server.addr.to_string()])
        .args(malloc_default().then_some("--malloc-default"))
        .args(["--connections", &plan.mem_connections.to_string(), "--proxies", &plan.mem_proxies.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("the memory client failed: {}", out.status).into());
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut figures = Figures::new();
    for key in [
        "connections",
        "client_bytes_per_conn",
        "server_bytes_per_conn",
        "proxies",
        "client_bytes_per_proxy",
        "server_bytes_per_export",
    ] {
        figures.insert(key, value[key].as_f64().ok_or_else(|| format!("memory client printed no {key}"))?);
    }
    Ok(figures)
}

/// Whether this run leaves glibc's heap trimming at its defaults.
fn malloc_default() -> bool {
    MALLOC_DEFAULT.load(std::sync::atomic::Ordering::Relaxed)
}
