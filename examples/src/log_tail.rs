//! The streams example (`cargo run -p pb-examples --example log_tail`): a
//! server streams a growing log to a client through a relay; each link is
//! cut and healed mid-stream, and the client checks that it lost and
//! repeated nothing.
//!
//! ```text
//! server (LogService: a log growing by a line every millisecond)
//!    ^  link 1 (a fault-injecting proxy)
//! relay (its own session to the server; a forwarding Registry)
//!    ^  link 2 (a fault-injecting proxy)
//! client (one stream, read line by line)
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pb::fault::FaultProxy;
use pb::{Client, Registry, Server};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Its number, from 0.
    pub seq: u64,
    /// Its text.
    pub text: String,
}

/// A log that can be followed.
#[pb::remote_interface]
pub trait LogService {
    /// The lines from `from` on: those written so far, then each new one.
    async fn tail(&self, from: u64) -> Result<pb::Stream<LogLine>, pb::Error>;
}

/// A log growing in memory.
#[derive(Default)]
pub struct Log {
    lines: Mutex<Vec<String>>,
    grew: Notify,
}

impl Log {
    /// Append a line.
    pub fn append(&self, text: String) {
        self.lines.lock().unwrap().push(text);
        self.grew.notify_waiters();
    }
}

#[pb::remote_impl]
impl LogService for Arc<Log> {
    async fn tail(&self, from: u64) -> Result<pb::Stream<LogLine>, pb::Error> {
        let log = self.clone();
        Ok(pb::Stream::new(futures_util::stream::unfold(from, move |seq| {
            let log = log.clone();
            async move {
                loop {
                    let grew = log.grew.notified();
                    if let Some(text) = log.lines.lock().unwrap().get(seq as usize).cloned() {
                        return Some((Ok(LogLine { seq, text }), seq + 1));
                    }
                    grew.await;
                }
            }
        })))
    }
}

/// Run the example: an error unless every line arrived once, in order.
///
/// # Errors
///
/// A failed bind or connect, or a line lost or repeated.
pub async fn run(lines: u64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let log = Arc::new(Log::default());
    let writer = tokio::spawn({
        let log = log.clone();
        async move {
            for i in 0.. {
                log.append(format!("event {i}: all is well"));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let server = Server::bind("127.0.0.1:0", Registry::local().serve::<dyn LogService>(Arc::new(log.clone()))).await?;
    let link1 = FaultProxy::start(server.local_addr()).await?;
    let config = crate::demo::demo_config();
    let relay_session = Client::builder().config(config.clone()).connect_tcp(link1.addr().to_string()).await?;
    let relay = Server::bind("127.0.0.1:0", Registry::forwarding(relay_session.registry()?)).await?;
    let link2 = FaultProxy::start(relay.local_addr()).await?;
    let client = Client::builder().config(config).connect_tcp(link2.addr().to_string()).await?;
    println!(
        "server {}, relay {}, client through links {} and {}",
        server.local_addr(),
        relay.local_addr(),
        link1.addr(),
        link2.addr()
    );

    let service = client.get::<dyn LogService>().await?;
    let mut tail = service.tail(0).await?;
    let (mut expect, mut repeated, mut lost) = (0u64, 0u64, 0u64);
    while expect < lines {
        let Some(line) = tail.next().await else { return Err("the stream ended".into()) };
        let line = line?;
        match line.seq.cmp(&expect) {
            std::cmp::Ordering::Less => repeated += 1,
            std::cmp::Ordering::Greater => {
                lost += line.seq - expect;
                expect = line.seq + 1;
            }
            std::cmp::Ordering::Equal => expect += 1,
        }
        if line.seq == lines / 3 {
            println!("line {}: cutting link 2 (relay <-> client) for half a second", line.seq);
            link2.cut();
            tokio::time::sleep(Duration::from_millis(500)).await;
            link2.heal();
        }
        if line.seq == 2 * lines / 3 {
            println!("line {}: cutting link 1 (server <-> relay) for half a second", line.seq);
            link1.cut();
            tokio::time::sleep(Duration::from_millis(500)).await;
            link1.heal();
        }
    }
    writer.abort();
    println!("received lines 0..{lines}: {lost} lost, {repeated} repeated");
    if lost > 0 || repeated > 0 {
        return Err(format!("{lost} lines lost and {repeated} repeated").into());
    }
    Ok(())
}
