//! The bench itself: starts every target's server and client processes,
//! runs the workloads with the targets taking turns, and collects the
//! figures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::agent::{Answer, Command};
use crate::driver::{BoxError, STREAMS, Streamed, TPUT, Throughput};
use crate::proc::{AgentProcess, ServerProcess};
use crate::report::{self, Figures, Report};
use crate::usage::Costs;

/// Sequential calls per turn when targets take turns.
const SEQ_SLICE: usize = 500;

/// Sizes of a run.
pub struct Plan {
    /// Rounds; every figure is the median over them.
    pub rounds: usize,
    /// Sequential calls before measuring, per target.
    pub seq_warmup: usize,
    /// Sequential calls measured, per target and round.
    pub seq_calls: usize,
    /// Concurrent calls before measuring (the first slice; later ones a fifth).
    pub warmup: Duration,
    /// Measured time of each throughput workload, per target and round.
    pub tput: Duration,
    /// Turns each target takes in a throughput workload, per round.
    pub tput_slices: u32,
    /// Cut/heal cycles per round.
    pub heal_trials: usize,
    /// The reconnect delay of `heal`.
    pub heal_backoff: Duration,
    /// Idle connections of the memory workload.
    pub mem_connections: usize,
    /// Live proxies of the memory workload.
    pub mem_proxies: usize,
    /// The stream workloads' item counts are divided by this.
    pub stream_divisor: u64,
}

impl Plan {
    /// The full run, or the seconds-long smoke pass.
    pub fn new(smoke: bool, rounds: Option<usize>) -> Plan {
        if smoke {
            Plan {
                rounds: rounds.unwrap_or(1),
                seq_warmup: 100,
                seq_calls: 500,
                warmup: Duration::from_millis(50),
                tput: Duration::from_millis(150),
                tput_slices: 2,
                heal_trials: 2,
                heal_backoff: Duration::from_millis(20),
                mem_connections: 20,
                mem_proxies: 2_000,
                stream_divisor: 64,
            }
        } else {
            Plan {
                rounds: rounds.unwrap_or(3),
                seq_warmup: 2_000,
                seq_calls: 20_000,
                warmup: Duration::from_millis(500),
                tput: Duration::from_secs(3),
                tput_slices: 10,
                heal_trials: 5,
                heal_backoff: Duration::from_millis(50),
                mem_connections: 1_000,
                mem_proxies: 100_000,
                stream_divisor: 1,
            }
        }
    }
}

/// A bench binary whose pb is measured: this one, or another revision's.
pub struct Binary {
    /// Its path.
    pub exe: PathBuf,
    /// Appended to its targets' names: "" for this build, "@REV" for another.
    pub suffix: String,
}

/// One target: its server and its client.
struct Target {
    name: String,
    agent: AgentProcess,
    _server: ServerProcess,
}

impl Target {
    fn start(exe: &Path, name: String, kind: &str) -> Result<Target, BoxError> {
        let server = ServerProcess::spawn(exe, &["--target", kind])?;
        let agent = client(exe, kind, &server, false)?;
        Ok(Target { name, agent, _server: server })
    }
}

fn client(exe: &Path, kind: &str, server: &ServerProcess, relay: bool) -> Result<AgentProcess, BoxError> {
    let (addr, pid) = (server.addr.to_string(), server.pid().to_string());
    let mut args = vec!["--target", kind, "--server", &addr, "--server-pid", &pid];
    if relay {
        args.push("--relay");
    }
    AgentProcess::spawn(exe, &args)
}

/// A relay in front of a server of its own, and a client that calls
/// through it: a pb relay (`pb-relay`, `pb@REV-relay`) or the raw relay
/// (`raw-relay`, see `raw_relay`; streams only).
struct Relay {
    /// The target whose server is behind the relay (`pb`, `pb@REV`, `raw`).
    direct: String,
    agent: AgentProcess,
    _relay: ServerProcess,
    _server: ServerProcess,
}

impl Relay {
    /// Start a `kind` server of `exe`, a relay in front of it, and a client
    /// of the relay (a pb client calls the upstream object the relay hands
    /// out; a raw client's bytes pass through unchanged).
    fn start(exe: &Path, direct: String, kind: &str) -> Result<Relay, BoxError> {
        let server = ServerProcess::spawn(exe, &["--target", kind])?;
        let up = server.addr.to_string();
        let relay = ServerProcess::spawn(exe, &["--target", kind, "--upstream", &up])?;
        let agent = client(exe, kind, &relay, kind == "pb")?;
        Ok(Relay { direct, agent, _relay: relay, _server: server })
    }

    /// Its name in the report: the direct target's, then `-relay`.
    fn name(&self) -> String {
        format!("{}-relay", self.direct)
    }
}

/// Per-call costs as figures.
fn costs(c: &Costs, calls: f64) -> Figures {
    let calls = calls.max(1.0);
    Figures::from([
        ("client_cs", c.client.switches() as f64 / calls),
        ("client_cpu_us", c.client.cpu_ns as f64 / 1e3 / calls),
        ("server_cs", c.server.switches() as f64 / calls),
        ("server_cpu_us", c.server.cpu_ns as f64 / 1e3 / calls),
    ])
}

fn latency(mut ns: Vec<u64>, c: &Costs) -> Figures {
    ns.sort_unstable();
    let pct = |p: f64| ns[((ns.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
    let mut f = Figures::from([("p50_us", pct(0.50)), ("p99_us", pct(0.99)), ("calls", ns.len() as f64)]);
    f.extend(costs(c, ns.len() as f64));
    f
}

fn streamed(s: &Streamed) -> Figures {
    let mut f = Figures::from([
        ("mb_per_s", s.bytes as f64 / s.seconds / 1e6),
        ("items_per_s", s.items as f64 / s.seconds),
        ("items", s.items as f64),
    ]);
    f.extend(costs(&s.costs, s.items as f64));
    f
}

fn throughput(t: &Throughput, size: usize) -> Figures {
    let mut f = Figures::from([("calls_per_s", t.calls as f64 / t.seconds), ("calls", t.calls as f64)]);
    if size > 0 {
        f.insert("mb_per_s", t.bytes as f64 / t.seconds / 1e6);
    }
    f.extend(costs(&t.costs, t.calls as f64));
    f
}

/// `add` one at a time on each agent, taking turns every [`SEQ_SLICE`]
/// calls after `warmup` calls each: latencies and costs per agent.
fn add_seq(agents: &mut [&mut AgentProcess], plan: &Plan) -> Result<Vec<(Vec<u64>, Costs)>, BoxError> {
    for a in agents.iter_mut() {
        a.ask(&Command::AddSeq { start: 0, calls: plan.seq_warmup })?;
    }
    let mut out: Vec<(Vec<u64>, Costs)> = agents.iter().map(|_| Default::default()).collect();
    let mut done = 0;
    while done < plan.seq_calls {
        let calls = SEQ_SLICE.min(plan.seq_calls - done);
        for (a, (ns, total)) in agents.iter_mut().zip(&mut out) {
            match a.ask(&Command::AddSeq { start: done as u64, calls })? {
                Answer::Seq { ns: more, costs } => {
                    ns.extend(more);
                    *total += costs;
                }
                other => return Err(format!("add_seq answered {other:?}").into()),
            }
        }
        done += calls;
    }
    Ok(out)
}

/// Run the workloads named in `only` (all if empty) on the targets named in
/// `only_targets` (all if empty), pb also from `baseline` if given.
pub fn run(
    plan: &Plan,
    only: &[String],
    only_targets: &[String],
    baseline: Option<&Binary>,
) -> Result<Report, BoxError> {
    let wants = |w: &str| only.is_empty() || only.iter().any(|o| o == w);
    let this = Binary { exe: std::env::current_exe()?, suffix: String::new() };
    let mut pbs = vec![&this];
    pbs.extend(baseline);
    let mut specs: Vec<(String, &Path, &str)> = vec![
        ("raw".into(), &this.exe, "raw"),
        ("tarpc".into(), &this.exe, "tarpc"),
        ("tarpc-postcard".into(), &this.exe, "tarpc-postcard"),
    ];
    specs.extend(pbs.iter().map(|b| (format!("pb{}", b.suffix), b.exe.as_path(), "pb")));
    // This build's pb through a resumable session: what a session costs.
    specs.push(("pb-session".into(), &this.exe, "pb-session"));
    let picked = |name: &str| {
        only_targets.is_empty()
            || only_targets.iter().any(|t| t == name || name.strip_prefix("pb@").is_some() && t == "pb")
    };
    let mut targets = Vec::new();
    for (name, exe, kind) in specs.into_iter().filter(|(n, _, _)| picked(n)) {
        targets.push(Target::start(exe, name, kind)?);
    }
    let mut relays = Vec::new();
    let streams = STREAMS.iter().any(|(w, ..)| wants(w));
    if wants("relay") || streams {
        for b in pbs.iter().filter(|b| picked(&format!("pb{}", b.suffix))) {
            relays.push(Relay::start(&b.exe, format!("pb{}", b.suffix), "pb")?);
        }
    }
    // The raw relay: the floor for a stream through a relay process.
    if streams && picked("raw") {
        relays.push(Relay::start(&this.exe, "raw".into(), "raw")?);
    }

    let mut report = Report::new(baseline.map(|b| format!("pb{}", b.suffix)));
    for (workload, _, callers, bytes) in TPUT {
        report.note(workload, json!({"callers": callers, "bytes": bytes, "seconds": plan.tput.as_secs_f64()}));
    }
    for round in 0..plan.rounds {
        eprintln!("round {} of {}", round + 1, plan.rounds);
        // Rotate the order of targets each round, so none always runs first.
        targets.rotate_left(usize::from(round > 0));
        if wants("add_seq") {
            let mut agents: Vec<_> = targets.iter_mut().map(|t| &mut t.agent).collect();
            let seq = add_seq(&mut agents, plan)?;
            for (t, (ns, c)) in targets.iter().zip(seq) {
                report.add("add_seq", &t.name, latency(ns, &c));
            }
        }
        // Throughput: the targets take turns in short slices of the
        // workload's time, so load that comes and goes on a shared machine
        // falls on all of them alike. Later slices need little warmup (the
        // connection is warm; only the calling tasks are new).
        for (workload, call, callers, size) in TPUT {
            if !wants(workload) {
                continue;
            }
            let mut totals = vec![Throughput::default(); targets.len()];
            for slice in 0..plan.tput_slices {
                let warmup = if slice == 0 { plan.warmup } else { plan.warmup / 10 };
                let ms = (plan.tput / plan.tput_slices).as_millis() as u64;
                for (t, total) in targets.iter_mut().zip(&mut totals) {
                    let warmup_ms = warmup.as_millis() as u64;
                    match t.agent.ask(&Command::Tput { call, callers, size, warmup_ms, ms })? {
                        Answer::Tput(tp) => total.merge(&tp),
                        other => return Err(format!("{workload} answered {other:?}").into()),
                    }
                }
            }
            for (t, total) in targets.iter().zip(&totals) {
                report.add(workload, &t.name, throughput(total, size));
            }
        }
        // Streams: raw's over a connection of its own and through the raw
        // relay, this build's pb (plain and through a session) and through
        // its relay (older builds have no streams, tarpc none at all).
        for (workload, size, full) in STREAMS {
            if !wants(workload) {
                continue;
            }
            let count = (full / plan.stream_divisor).max(1);
            let mut agents: Vec<(String, &mut AgentProcess)> = targets
                .iter_mut()
                .filter(|t| matches!(t.name.as_str(), "raw" | "pb" | "pb-session"))
                .map(|t| (t.name.clone(), &mut t.agent))
                .collect();
            agents.extend(
                relays
                    .iter_mut()
                    .filter(|r| matches!(r.direct.as_str(), "pb" | "raw"))
                    .map(|r| (r.name(), &mut r.agent)),
            );
            for (name, agent) in agents {
                match agent.ask(&Command::Stream { size, count })? {
                    Answer::Stream(s) => report.add(workload, &name, streamed(&s)),
                    other => return Err(format!("{workload} answered {other:?}").into()),
                }
            }
        }
        // A unary call beside a saturated stream on the same connection.
        if wants("stream_unary") {
            for t in targets.iter_mut().filter(|t| t.name == "pb") {
                let calls = (plan.seq_calls / 4).max(100);
                match t.agent.ask(&Command::StreamUnary { size: 64 << 10, calls })? {
                    Answer::Seq { ns, costs } => report.add("stream_unary", &t.name, latency(ns, &costs)),
                    other => return Err(format!("stream_unary answered {other:?}").into()),
                }
            }
        }
        // pb's relays only: the raw relay is there for the streams.
        let is_pb = |name: &str| name.starts_with("pb");
        if wants("relay") && relays.iter().any(|r| is_pb(&r.direct)) {
            // Each pb's direct client (its target's) and relayed client take turns.
            let mut agents = Vec::new();
            let mut names = Vec::new();
            for t in targets.iter_mut().filter(|t| is_pb(&t.name) && relays.iter().any(|r| r.direct == t.name)) {
                names.push(format!("{}-direct", t.name));
                agents.push(&mut t.agent);
            }
            for r in relays.iter_mut().filter(|r| is_pb(&r.direct)) {
                names.push(r.name());
                agents.push(&mut r.agent);
            }
            for (name, (ns, c)) in names.iter().zip(add_seq(&mut agents, plan)?) {
                report.add("relay", name, latency(ns, &c));
            }
        }
        // `heal` (replay) on every pb build; `resume` on this build only
        // (older builds have no resumable sessions, and their agents do not
        // know the command).
        for workload in ["heal", "resume"] {
            if !wants(workload) {
                continue;
            }
            for t in targets.iter_mut().filter(|t| t.name == "pb" || (workload == "heal" && t.name.starts_with("pb"))) {
                let (backoff_ms, trials) = (plan.heal_backoff.as_millis() as u64, plan.heal_trials);
                let command = if workload == "heal" {
                    Command::Heal { backoff_ms, trials }
                } else {
                    Command::Resume { backoff_ms, trials }
                };
                let Answer::Heal { backoff_ms, heal_ms } = t.agent.ask(&command)? else {
                    return Err(format!("{workload} answered something else").into());
                };
                let max = heal_ms.iter().copied().fold(0.0, f64::max);
                report.add(
                    workload,
                    &t.name,
                    Figures::from([
                        ("backoff_ms", backoff_ms),
                        ("p50_ms", report::median(&heal_ms)),
                        ("max_ms", max),
                        ("trials", heal_ms.len() as f64),
                    ]),
                );
            }
        }
    }
    if wants("memory") {
        for b in pbs.iter().filter(|b| picked(&format!("pb{}", b.suffix))) {
            report.add("memory", &format!("pb{}", b.suffix), measure_memory(&b.exe, plan)?);
        }
    }
    Ok(report)
}

/// The memory workload, in two fresh processes that count allocations.
fn measure_memory(exe: &Path, plan: &Plan) -> Result<Figures, BoxError> {
    eprintln!("memory ({}): {} connections, {} proxies", exe.display(), plan.mem_connections, plan.mem_proxies);
    let server = ServerProcess::spawn(exe, &["--target", "pb", "--count-alloc"])?;
    let out = std::process::Command::new(exe)
        .args(["mem-client", "--server", &server.addr.to_string()])
        .args(crate::malloc_default().then_some("--malloc-default"))
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
