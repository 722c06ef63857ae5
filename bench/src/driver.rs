//! The workloads, written once against [`Caller`] and run on every target.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Any error, as a message (the bench only reports them).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One client connection to a target, cheap to clone (clones share it).
pub trait Caller: Clone + Send + Sync + 'static {
    /// `add(a, b) -> a + b` on the server.
    fn add(&self, a: u64, b: u64) -> impl Future<Output = Result<u64, BoxError>> + Send;
    /// `echo(data) -> data` on the server.
    fn echo(&self, data: Bytes) -> impl Future<Output = Result<Bytes, BoxError>> + Send;
}

/// Latency of sequential calls.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median, in microseconds.
    pub p50_us: f64,
    /// 99th percentile, in microseconds.
    pub p99_us: f64,
    /// Calls measured.
    pub calls: usize,
}

/// `add` called `calls` times one at a time on each of `callers`, after
/// `warmup` calls each; every result checked. The callers take turns every
/// `slice` calls, so load that comes and goes on a shared machine falls on
/// all of them alike.
pub async fn add_seq<C: Caller>(
    callers: &[&C],
    warmup: usize,
    calls: usize,
    slice: usize,
) -> Result<Vec<Latency>, BoxError> {
    for c in callers {
        for i in 0..warmup as u64 {
            check_add(i, 7, c.add(i, 7).await?)?;
        }
    }
    let mut ns: Vec<Vec<u64>> = callers.iter().map(|_| Vec::with_capacity(calls)).collect();
    let mut done = 0;
    while done < calls {
        let n = slice.min(calls - done);
        for (c, ns) in callers.iter().zip(&mut ns) {
            for i in done as u64..(done + n) as u64 {
                let start = Instant::now();
                let sum = c.add(i, 1_000_003).await?;
                ns.push(start.elapsed().as_nanos() as u64);
                check_add(i, 1_000_003, sum)?;
            }
        }
        done += n;
    }
    Ok(ns
        .into_iter()
        .map(|mut ns| {
            ns.sort_unstable();
            let pct = |p: f64| ns[((ns.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
            Latency { p50_us: pct(0.50), p99_us: pct(0.99), calls }
        })
        .collect())
}

fn check_add(a: u64, b: u64, got: u64) -> Result<(), BoxError> {
    if got == a.wrapping_add(b) { Ok(()) } else { Err(format!("add({a}, {b}) returned {got}").into()) }
}

/// Throughput of concurrent callers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    /// Completed calls per second.
    pub calls_per_s: f64,
    /// Payload megabytes (10^6) per second, one way (0 for `add`).
    pub mb_per_s: f64,
    /// Calls completed.
    pub calls: u64,
    /// Seconds measured.
    pub seconds: f64,
}

impl Throughput {
    /// Add another measurement of the same target (time and calls add up).
    pub fn merge(&mut self, other: &Throughput) {
        let mb = self.mb_per_s * self.seconds + other.mb_per_s * other.seconds;
        self.calls += other.calls;
        self.seconds += other.seconds;
        self.calls_per_s = self.calls as f64 / self.seconds;
        self.mb_per_s = mb / self.seconds;
    }
}

/// Run `callers` concurrent loops of `call` for `warmup` (not counted), then
/// for `duration`; `call(i)` returns the payload bytes it moved.
async fn concurrent<C, F, Fut>(
    c: &C,
    callers: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> Result<Throughput, BoxError>
where
    C: Caller,
    F: Fn(C, u64, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<u64, BoxError>> + Send,
{
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(callers);
    for worker in 0..callers as u64 {
        let (c, call, counting, stop) = (c.clone(), call.clone(), counting.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut calls, mut bytes) = (0u64, 0u64);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let moved = call(c.clone(), worker, i).await?;
                i += 1;
                if counting.load(Ordering::Relaxed) {
                    calls += 1;
                    bytes += moved;
                }
            }
            Ok::<_, BoxError>((calls, bytes))
        }));
    }
    tokio::time::sleep(warmup).await;
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut calls, mut bytes) = (0, 0);
    for t in tasks {
        let (c, b) = t.await??;
        calls += c;
        bytes += b;
    }
    Ok(Throughput {
        calls_per_s: calls as f64 / elapsed,
        mb_per_s: bytes as f64 / elapsed / 1e6,
        calls,
        seconds: elapsed,
    })
}

/// `add` from `callers` concurrent loops; every result checked.
pub async fn add_tput<C: Caller>(
    c: &C,
    callers: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Throughput, BoxError> {
    concurrent(c, callers, warmup, duration, |c, worker, i| async move {
        let a = worker << 40 | i;
        check_add(a, i, c.add(a, i).await?)?;
        Ok(0)
    })
    .await
}

/// `echo` of `size` bytes from `callers` concurrent loops; every reply
/// compared with what was sent.
pub async fn echo_tput<C: Caller>(
    c: &C,
    callers: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Throughput, BoxError> {
    let payloads: Arc<Vec<Bytes>> = Arc::new(
        (0..callers).map(|w| Bytes::from((0..size).map(|j| (j * 31 + w * 7) as u8).collect::<Vec<u8>>())).collect(),
    );
    concurrent(c, callers, warmup, duration, move |c, worker, _| {
        let sent = payloads[worker as usize].clone();
        async move {
            let back = c.echo(sent.clone()).await?;
            if back != sent {
                return Err(format!("echo of {} bytes came back as {} different bytes", sent.len(), back.len()).into());
            }
            Ok(sent.len() as u64)
        }
    })
    .await
}
