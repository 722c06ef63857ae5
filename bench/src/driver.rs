//! The workloads, written once against [`Caller`] and run on every target
//! (in the target's client process, see `agent`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::usage::{Costs, Meter};

/// Any error, as a message (the bench only reports them).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One client connection to a target, cheap to clone (clones share it).
pub trait Caller: Clone + Send + Sync + 'static {
    /// `add(a, b) -> a + b` on the server.
    fn add(&self, a: u64, b: u64) -> impl Future<Output = Result<u64, BoxError>> + Send;
    /// `echo(data) -> data` with a plain `Vec<u8>` on both sides.
    fn echo_vec(&self, data: Vec<u8>) -> impl Future<Output = Result<Vec<u8>, BoxError>> + Send;
    /// `echo(data) -> data` with the target's own byte-buffer type
    /// (`pb::Blob` for pb, `bytes::Bytes` for the others).
    fn echo_blob(&self, data: Bytes) -> impl Future<Output = Result<Bytes, BoxError>> + Send;
    /// `echo(text) -> text` with a `String`.
    fn echo_str(&self, text: String) -> impl Future<Output = Result<String, BoxError>> + Send;
    /// Receive a stream of `count` items of `size` bytes from the server,
    /// each a `Vec<u8>` (item `i` filled with `i as u8`, checked); returns
    /// the payload bytes received.
    fn stream(&self, size: usize, count: u64) -> impl Future<Output = Result<u64, BoxError>> + Send;
}

/// The stream workloads: name, item bytes, items in a full run.
pub const STREAMS: [(&str, usize, u64); 2] = [("stream_64k", 64 << 10, 8_192), ("stream_1k", 1 << 10, 400_000)];

/// Check a received item.
pub fn check_item(i: u64, item: &[u8], size: usize) -> Result<(), BoxError> {
    if item.len() == size && item.first().is_none_or(|b| *b == i as u8) {
        Ok(())
    } else {
        Err(format!("stream item {i}: {} bytes, starting {:?}", item.len(), item.first()).into())
    }
}

/// One stream received: bytes, seconds, costs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Streamed {
    /// Payload bytes received.
    pub bytes: u64,
    /// Items received.
    pub items: u64,
    /// Wall time.
    pub seconds: f64,
    /// What it cost.
    pub costs: Costs,
}

/// Receive one stream of `count` items of `size` bytes, timed.
pub async fn stream<C: Caller>(c: &C, size: usize, count: u64, meter: &Meter) -> Result<Streamed, BoxError> {
    let before = meter.read();
    let t = Instant::now();
    let bytes = c.stream(size, count).await?;
    let seconds = t.elapsed().as_secs_f64();
    if bytes != size as u64 * count {
        return Err(format!("stream delivered {bytes} bytes, expected {}", size as u64 * count).into());
    }
    Ok(Streamed { bytes, items: count, seconds, costs: meter.since(before) })
}

/// What a throughput workload calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// `add`.
    Add,
    /// `echo_vec` (`Vec<u8>`).
    EchoVec,
    /// `echo_blob` (`pb::Blob` / `Bytes`).
    EchoBlob,
    /// `echo_str` (`String`).
    EchoStr,
}

/// The throughput workloads: name, call, concurrent callers, payload bytes.
pub const TPUT: [(&str, Call, usize, usize); 6] = [
    ("add_tput", Call::Add, 64, 0),
    ("echo_1k_tput", Call::EchoVec, 16, 1 << 10),
    ("echo_64k_tput", Call::EchoVec, 16, 64 << 10),
    ("echo_1k_blob_tput", Call::EchoBlob, 16, 1 << 10),
    ("echo_64k_blob_tput", Call::EchoBlob, 16, 64 << 10),
    ("str_1k_tput", Call::EchoStr, 16, 1 << 10),
];

/// Sequential calls: each one's time, and what they cost.
#[derive(Debug, Clone, Default)]
pub struct Sequential {
    /// Nanoseconds of each call.
    pub ns: Vec<u64>,
    /// CPU time and context switches of the measured calls.
    pub costs: Costs,
}

/// `add(start + i, 1_000_003)` for `i` in `0..calls`, one at a time; every
/// result checked.
pub async fn add_seq<C: Caller>(c: &C, start: u64, calls: usize, meter: &Meter) -> Result<Sequential, BoxError> {
    let mut ns = Vec::with_capacity(calls);
    let before = meter.read();
    for i in start..start + calls as u64 {
        let t = Instant::now();
        let sum = c.add(i, 1_000_003).await?;
        ns.push(t.elapsed().as_nanos() as u64);
        check_add(i, 1_000_003, sum)?;
    }
    Ok(Sequential { ns, costs: meter.since(before) })
}

fn check_add(a: u64, b: u64, got: u64) -> Result<(), BoxError> {
    if got == a.wrapping_add(b) { Ok(()) } else { Err(format!("add({a}, {b}) returned {got}").into()) }
}

/// Concurrent calls: how many completed, and what they cost.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Calls completed.
    pub calls: u64,
    /// Payload bytes moved, one way (0 for `add`).
    pub bytes: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// CPU time and context switches over the measured time.
    pub costs: Costs,
}

impl Throughput {
    /// Add another measurement of the same target (time and calls add up).
    pub fn merge(&mut self, other: &Throughput) {
        self.calls += other.calls;
        self.bytes += other.bytes;
        self.seconds += other.seconds;
        self.costs += other.costs;
    }
}

/// Run `callers` concurrent loops of `call` for `warmup` (not counted), then
/// for `duration`; `call(c, worker, i)` returns the payload bytes it moved.
async fn concurrent<C, F, Fut>(
    c: &C,
    callers: usize,
    warmup: Duration,
    duration: Duration,
    meter: &Meter,
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
    let before = meter.read();
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    counting.store(false, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    let costs = meter.since(before);
    stop.store(true, Ordering::Relaxed);
    let (mut calls, mut bytes) = (0, 0);
    for t in tasks {
        let (c, b) = t.await??;
        calls += c;
        bytes += b;
    }
    Ok(Throughput { calls, bytes, seconds, costs })
}

/// `call` from `callers` concurrent loops, with payloads of `size` bytes;
/// every result checked (sums, and echoed payloads compared in full).
pub async fn tput<C: Caller>(
    c: &C,
    call: Call,
    callers: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
    meter: &Meter,
) -> Result<Throughput, BoxError> {
    let payloads: Arc<Vec<Vec<u8>>> =
        Arc::new((0..callers).map(|w| (0..size).map(|j| (j * 31 + w * 7) as u8).collect()).collect());
    match call {
        Call::Add => {
            concurrent(c, callers, warmup, duration, meter, |c, worker, i| async move {
                let a = worker << 40 | i;
                check_add(a, i, c.add(a, i).await?)?;
                Ok(0)
            })
            .await
        }
        Call::EchoVec => {
            concurrent(c, callers, warmup, duration, meter, move |c, worker, _| {
                let payloads = payloads.clone();
                async move {
                    let sent = &payloads[worker as usize];
                    check_echo(sent, &c.echo_vec(sent.clone()).await?)
                }
            })
            .await
        }
        Call::EchoBlob => {
            let blobs: Arc<Vec<Bytes>> = Arc::new(payloads.iter().map(|p| Bytes::from(p.clone())).collect());
            concurrent(c, callers, warmup, duration, meter, move |c, worker, _| {
                let sent = blobs[worker as usize].clone();
                async move { check_echo(&sent, &c.echo_blob(sent.clone()).await?) }
            })
            .await
        }
        Call::EchoStr => {
            // Printable ASCII, different for each caller.
            let texts: Arc<Vec<String>> =
                Arc::new(payloads.iter().map(|p| p.iter().map(|b| char::from(b' ' + b % 95)).collect()).collect());
            concurrent(c, callers, warmup, duration, meter, move |c, worker, _| {
                let texts = texts.clone();
                async move {
                    let sent = &texts[worker as usize];
                    check_echo(sent.as_bytes(), c.echo_str(sent.clone()).await?.as_bytes())
                }
            })
            .await
        }
    }
}

fn check_echo(sent: &[u8], back: &[u8]) -> Result<u64, BoxError> {
    if back == sent {
        Ok(sent.len() as u64)
    } else {
        Err(format!("echo of {} bytes came back as {} different bytes", sent.len(), back.len()).into())
    }
}
