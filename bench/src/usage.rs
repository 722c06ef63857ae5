//! CPU time and context switches of a process, from `/proc`.
//!
//! A sample sums the process's live threads: run time in nanoseconds from
//! `/proc/PID/task/TID/schedstat` (the scheduler's own count, not clock
//! ticks) and voluntary + involuntary context switches from
//! `/proc/PID/task/TID/status`. The same reading serves the calling process
//! and its server, so both sides of every target are counted alike. A
//! thread that exits between two samples takes its counts with it (the
//! difference saturates at zero); the processes measured keep their tokio
//! workers for their whole life, so this does not happen in a run.

use std::ops::{AddAssign, Sub};

use serde::{Deserialize, Serialize};

/// Cumulative CPU time and context switches of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time, user and system, in nanoseconds.
    pub cpu_ns: u64,
    /// Context switches where a thread blocked (waited for I/O, a lock, a wake-up).
    pub voluntary: u64,
    /// Context switches where a thread was preempted.
    pub involuntary: u64,
}

impl Usage {
    /// Context switches of both kinds.
    pub fn switches(&self) -> u64 {
        self.voluntary + self.involuntary
    }

    /// The process `pid`'s counts now (zero if it cannot be read).
    pub fn of(pid: u32) -> Usage {
        let mut total = Usage::default();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return total };
        for task in tasks.flatten() {
            let dir = task.path();
            if let Ok(s) = std::fs::read_to_string(dir.join("schedstat")) {
                total.cpu_ns += s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
            if let Ok(s) = std::fs::read_to_string(dir.join("status")) {
                for line in s.lines() {
                    let field = |name: &str| line.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok());
                    if let Some(v) = field("voluntary_ctxt_switches:") {
                        total.voluntary += v;
                    } else if let Some(v) = field("nonvoluntary_ctxt_switches:") {
                        total.involuntary += v;
                    }
                }
            }
        }
        total
    }
}

impl Sub for Usage {
    type Output = Usage;
    fn sub(self, earlier: Usage) -> Usage {
        Usage {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.cpu_ns += other.cpu_ns;
        self.voluntary += other.voluntary;
        self.involuntary += other.involuntary;
    }
}

/// What a stretch of calls cost, on the calling side and on the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Costs {
    /// The process making the calls.
    pub client: Usage,
    /// The server process (at a relay: the relay's process only).
    pub server: Usage,
}

impl AddAssign for Costs {
    fn add_assign(&mut self, other: Costs) {
        self.client += other.client;
        self.server += other.server;
    }
}

/// Samples this process and its server, to take differences of.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    server_pid: Option<u32>,
}

/// A [`Meter`] reading, to subtract from a later one.
#[derive(Debug, Clone, Copy)]
pub struct Reading(Costs);

impl Meter {
    /// A meter of this process and `server_pid` (if known).
    pub fn new(server_pid: Option<u32>) -> Meter {
        Meter { server_pid }
    }

    /// Both processes' counts now.
    pub fn read(&self) -> Reading {
        Reading(Costs {
            client: Usage::of(std::process::id()),
            server: self.server_pid.map(Usage::of).unwrap_or_default(),
        })
    }

    /// What was spent since `start`.
    pub fn since(&self, start: Reading) -> Costs {
        let now = self.read().0;
        Costs { client: now.client - start.0.client, server: now.server - start.0.server }
    }
}
