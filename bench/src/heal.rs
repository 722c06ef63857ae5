//! `heal` and `resume`: a pb session through a fault proxy; the link is cut,
//! left down while the session backs off, then restored. Measured: from the
//! restore to the first successful call on the proxy the application held
//! all along. `heal` runs sessions without resumption (every outage heals by
//! replaying how the proxy was obtained, as after a server restart);
//! `resume` runs them with it (the session resumes: nothing is replayed).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pb::backoff::BackoffConfig;
use pb::fault::FaultProxy;

use crate::driver::BoxError;
use crate::rpc_pb::Bench;

/// Times of one series of cuts and heals.
#[derive(Debug, Clone)]
pub struct Heal {
    /// The reconnect delay in effect (fixed: no growth, no jitter).
    pub backoff_ms: f64,
    /// Restore-to-first-success of each trial, in milliseconds.
    pub heal_ms: Vec<f64>,
}

/// Run `trials` cut/heal cycles against the pb server at `server`, with a
/// fixed reconnect delay of `backoff`, with sessions that `resume` or not.
pub async fn run(server: SocketAddr, backoff: Duration, trials: usize, resume: bool) -> Result<Heal, BoxError> {
    let fault = FaultProxy::start(server).await?;
    let schedule = BackoffConfig::default().initial(backoff).multiplier(1.0).jitter(0.0).max(backoff);
    let config = pb::SessionConfig::default()
        .ping_interval(Duration::from_millis(50))
        .ping_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_secs(2))
        .backoff(schedule)
        .resume(resume);
    let session = pb::Client::builder().config(config).connect_tcp(fault.addr().to_string()).await?;
    let bench = session.root::<dyn Bench>()?;
    let mut events = session.events();
    expect_sum(bench.add(1, 2).await?, 3)?;
    let mut heal_ms = Vec::with_capacity(trials);
    for trial in 0..trials as u64 {
        fault.cut();
        let deadline = Instant::now() + Duration::from_secs(5);
        while bench.add(0, 0).await.is_ok() {
            if Instant::now() > deadline {
                return Err("calls still succeed 5 s after the cut".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Leave the link down for a few failed attempts, restoring it at a
        // different phase of the backoff sleep each time.
        let down = backoff * 2 + backoff.mul_f64((trial % 5) as f64 / 5.0);
        tokio::time::sleep(down).await;
        fault.heal();
        let restored = Instant::now();
        loop {
            match bench.add(trial, 1).await {
                Ok(sum) => {
                    heal_ms.push(restored.elapsed().as_secs_f64() * 1e3);
                    expect_sum(sum, trial + 1)?;
                    break;
                }
                Err(_) if restored.elapsed() < Duration::from_secs(10) => {
                    // Retry as soon as the session says it healed, or every millisecond.
                    tokio::select! {
                        _ = events.next() => {}
                        () = tokio::time::sleep(Duration::from_millis(1)) => {}
                    }
                }
                Err(e) => return Err(format!("no successful call 10 s after the link came back: {e}").into()),
            }
        }
    }
    session.close();
    Ok(Heal { backoff_ms: backoff.as_secs_f64() * 1e3, heal_ms })
}

fn expect_sum(got: u64, want: u64) -> Result<(), BoxError> {
    if got == want { Ok(()) } else { Err(format!("add returned {got}, expected {want}").into()) }
}
