//! A target's client process: it connects to its server, then runs the
//! workloads the bench asks for, one JSON line in and one out each, and
//! measures itself and its server while it does (see `usage`).
//!
//! Every target's calls come from a process of their own, so the CPU time
//! and context switches of each client are its own, and a binary built from
//! another revision (`bench/run.sh --baseline REV`) runs its client and
//! server with the same protocol. The protocol is versioned by
//! [`PROTOCOL`]: the agent's first line names it, and the bench refuses an
//! agent that speaks another.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::driver::{self, BoxError, Call, Caller, Throughput};
use crate::usage::{Costs, Meter};
use crate::{heal, raw, rpc_pb, rpc_tarpc};

/// The version of the command protocol below.
pub const PROTOCOL: u32 = 1;

/// What the bench asks an agent to do.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// `add(start + i, 1_000_003)` for `i` in `0..calls`, one at a time.
    AddSeq {
        /// The first operand of the first call.
        start: u64,
        /// Calls to make.
        calls: usize,
    },
    /// Concurrent calls for a while (see [`driver::tput`]).
    Tput {
        /// What to call.
        call: Call,
        /// Concurrent callers.
        callers: usize,
        /// Payload bytes of each call.
        size: usize,
        /// Milliseconds of calls before measuring.
        warmup_ms: u64,
        /// Milliseconds measured.
        ms: u64,
    },
    /// The `heal` workload (pb targets only): sessions that heal by replay.
    Heal {
        /// The fixed reconnect delay, in milliseconds.
        backoff_ms: u64,
        /// Cut/heal cycles.
        trials: usize,
    },
    /// Receive one stream (see [`driver::stream`]).
    Stream {
        /// Bytes per item.
        size: usize,
        /// Items.
        count: u64,
    },
    /// `add` one at a time while a stream of `size`-byte items saturates
    /// the same connection (pb only).
    StreamUnary {
        /// Bytes per stream item.
        size: usize,
        /// Calls to make.
        calls: usize,
    },
    /// The `heal` workload with sessions that resume (pb builds that have
    /// them; agents of older builds are never sent this).
    Resume {
        /// The fixed reconnect delay, in milliseconds.
        backoff_ms: u64,
        /// Cut/heal cycles.
        trials: usize,
    },
}

/// An agent's answer to a [`Command`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Answer {
    /// The agent is connected and speaks `protocol`.
    Ready {
        /// [`PROTOCOL`] of the agent's build.
        protocol: u32,
    },
    /// Of [`Command::AddSeq`].
    Seq {
        /// Nanoseconds of each call.
        ns: Vec<u64>,
        /// What the calls cost.
        costs: Costs,
    },
    /// Of [`Command::Tput`].
    Tput(Throughput),
    /// Of [`Command::Heal`].
    Heal {
        /// The reconnect delay in effect.
        backoff_ms: f64,
        /// Restore-to-first-success of each trial, in milliseconds.
        heal_ms: Vec<f64>,
    },
    /// Of [`Command::Stream`].
    Stream(driver::Streamed),
    /// The command failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// The clients an agent can be.
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
    async fn echo_vec(&self, data: Vec<u8>) -> Result<Vec<u8>, BoxError> {
        match self {
            Client::Raw(c) => c.echo_vec(data).await,
            Client::Tarpc(c) => c.echo_vec(data).await,
            Client::Pb(c) => c.echo_vec(data).await,
        }
    }
    async fn echo_blob(&self, data: bytes::Bytes) -> Result<bytes::Bytes, BoxError> {
        match self {
            Client::Raw(c) => c.echo_blob(data).await,
            Client::Tarpc(c) => c.echo_blob(data).await,
            Client::Pb(c) => c.echo_blob(data).await,
        }
    }
    async fn echo_str(&self, text: String) -> Result<String, BoxError> {
        match self {
            Client::Raw(c) => c.echo_str(text).await,
            Client::Tarpc(c) => c.echo_str(text).await,
            Client::Pb(c) => c.echo_str(text).await,
        }
    }

    async fn stream(&self, size: usize, count: u64) -> Result<u64, BoxError> {
        match self {
            Client::Raw(c) => c.stream(size, count).await,
            Client::Tarpc(c) => c.stream(size, count).await,
            Client::Pb(c) => c.stream(size, count).await,
        }
    }
}

/// Run as the client of `target` at `server` (a pb relay if `relay`),
/// measuring the server process `server_pid`, until standard input closes.
pub fn run(target: crate::Kind, server: SocketAddr, relay: bool, server_pid: Option<u32>) -> Result<(), BoxError> {
    let rt = crate::runtime();
    let client = rt.block_on(async {
        Ok::<_, BoxError>(match target {
            crate::Kind::Raw => Client::Raw(raw::RawClient::connect(server).await?),
            crate::Kind::Tarpc => {
                Client::Tarpc(rpc_tarpc::TarpcClient::connect(server, rpc_tarpc::Format::Bincode).await?)
            }
            crate::Kind::TarpcPostcard => {
                Client::Tarpc(rpc_tarpc::TarpcClient::connect(server, rpc_tarpc::Format::Postcard).await?)
            }
            crate::Kind::Pb if relay => Client::Pb(rpc_pb::PbClient::through_relay(server).await?),
            crate::Kind::Pb => Client::Pb(rpc_pb::PbClient::connect(server).await?),
            crate::Kind::PbSession => Client::Pb(rpc_pb::PbClient::session(server).await?),
            crate::Kind::PbTwisted => return Err("pb-twisted is a server for Twisted clients only".into()),
        })
    })?;
    let meter = Meter::new(server_pid);
    let mut out = std::io::stdout().lock();
    let mut say = |answer: &Answer| -> std::io::Result<()> {
        serde_json::to_writer(&mut out, answer)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    say(&Answer::Ready { protocol: PROTOCOL })?;
    for line in std::io::stdin().lock().lines() {
        let answer = match serde_json::from_str::<Command>(&line?) {
            Ok(command) => rt.block_on(execute(&client, server, &meter, command)),
            Err(e) => Err(e.into()),
        };
        say(&answer.unwrap_or_else(|e| Answer::Failed { error: e.to_string() }))?;
    }
    Ok(())
}

async fn execute(client: &Client, server: SocketAddr, meter: &Meter, command: Command) -> Result<Answer, BoxError> {
    Ok(match command {
        Command::AddSeq { start, calls } => {
            let s = driver::add_seq(client, start, calls, meter).await?;
            Answer::Seq { ns: s.ns, costs: s.costs }
        }
        Command::Tput { call, callers, size, warmup_ms, ms } => {
            let (warmup, time) = (Duration::from_millis(warmup_ms), Duration::from_millis(ms));
            Answer::Tput(driver::tput(client, call, callers, size, warmup, time, meter).await?)
        }
        Command::Stream { size, count } => Answer::Stream(driver::stream(client, size, count, meter).await?),
        Command::StreamUnary { size, calls } => {
            let Client::Pb(pb) = client else {
                return Err("stream_unary runs on pb only".into());
            };
            let streaming = {
                let pb = pb.clone();
                tokio::spawn(async move { pb.stream(size, u64::MAX / size as u64).await })
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            let s = driver::add_seq(client, 0, calls, meter).await;
            streaming.abort();
            let s = s?;
            Answer::Seq { ns: s.ns, costs: s.costs }
        }
        Command::Heal { backoff_ms, trials } | Command::Resume { backoff_ms, trials } => {
            if !matches!(client, Client::Pb(_)) {
                return Err("heal runs on pb only".into());
            }
            let resume = matches!(command, Command::Resume { .. });
            let h = heal::run(server, Duration::from_millis(backoff_ms), trials, resume).await?;
            Answer::Heal { backoff_ms: h.backoff_ms, heal_ms: h.heal_ms }
        }
    })
}
