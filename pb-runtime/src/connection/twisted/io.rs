//! The reader and writer tasks of a Twisted link.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::wire::twisted::banana::{self, Splitter, Value};
use crate::wire::twisted::broker::Message;

/// How long objects the peer released stay resolvable, waiting for the
/// message that may name them, when the peer sends nothing else (see
/// `serve.rs`).
pub(super) const PARK_GRACE: Duration = Duration::from_secs(1);

/// What the reader task needs of its link (a `TwistedLink`).
pub(super) trait Inbox: Send + Sync + 'static {
    /// Decode one expression as a PB message.
    fn decode(&self, expr: &bytes::Bytes) -> Result<Message, Error>;
    /// Handle a message from the peer.
    fn received(self: &Arc<Self>, message: Message) -> Result<(), Error>;
    /// How long one message may take to arrive once begun.
    fn frame_timeout(&self) -> Duration;
    /// Whether released objects wait for a message that may name them.
    fn has_parked(&self) -> bool;
    /// Let them go.
    fn unpark(&self);
    /// Close the link.
    fn close(&self);
    /// The peer, for logs.
    fn peer(&self) -> &str;
}

/// Read one whole banana expression during the handshake.
pub(super) async fn read_value<R: AsyncRead + Unpin>(
    rd: &mut R,
    splitter: &mut Splitter,
    buf: &mut BytesMut,
) -> Result<Value, Error> {
    loop {
        if let Some(expr) = splitter.split(buf)? {
            let (value, _) = banana::decode(&expr.freeze(), splitter.dialect(), splitter.limits().max_depth)?;
            return Ok(value);
        }
        if rd.read_buf(buf).await? == 0 {
            return Err(Error::ConnectionLost);
        }
    }
}

/// The reader task. It holds the link weakly: when the last proxy and
/// handle go (a client's), or the server lets it go, the writer's queue
/// closes, the writer shuts the write side, the peer closes, and this loop
/// ends. It also ends when `stop` is cancelled (the link closed, or the
/// peer stopped reading). An expression begun must be whole within the
/// frame timeout.
pub(super) async fn read_loop<L: Inbox, R: AsyncRead + Unpin>(
    link: Weak<L>,
    mut rd: R,
    mut splitter: Splitter,
    mut buf: BytesMut,
    stop: CancellationToken,
) {
    let body = async {
        loop {
            while let Some(expr) = splitter.split(&mut buf)? {
                let Some(link) = link.upgrade() else { return Ok(()) };
                let message = link.decode(&expr.freeze())?;
                link.received(message)?;
            }
            let Some((frame_timeout, parked)) = link.upgrade().map(|l| (l.frame_timeout(), l.has_parked())) else {
                return Ok(());
            };
            if parked && !splitter.has_begun() {
                // Released objects wait for the message that may name them
                // (see `serve.rs`), not longer.
                match tokio::time::timeout(PARK_GRACE, rd.read_buf(&mut buf)).await {
                    Ok(read) => {
                        if read? == 0 {
                            return Ok(());
                        }
                        continue;
                    }
                    Err(_) => {
                        if let Some(link) = link.upgrade() {
                            link.unpark();
                        }
                    }
                }
            }
            let read = if splitter.has_begun() {
                tokio::time::timeout(frame_timeout, rd.read_buf(&mut buf)).await.map_err(|_| {
                    Error::LimitExceeded {
                        what: "time to receive one PB message (ms)".into(),
                        limit: frame_timeout.as_millis() as u64,
                    }
                })??
            } else {
                rd.read_buf(&mut buf).await?
            };
            if read == 0 {
                return Ok(());
            }
        }
    };
    let result: Result<(), Error> = tokio::select! {
        result = body => result,
        () = stop.cancelled() => Ok(()),
    };
    if let Some(link) = link.upgrade() {
        if let Err(e) = result {
            tracing::debug!(peer = %link.peer(), error = %e, "closing the Twisted link");
        }
        link.close();
    }
}

/// The writer task: writes each queued message (and counts it off
/// `queued`); an empty one (or the queue closing) stops it and shuts the
/// write side.
pub(super) async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
) {
    while let Some(bytes) = rx.recv().await {
        if bytes.is_empty() || wr.write_all(&bytes).await.is_err() {
            break;
        }
        queued.fetch_sub(bytes.len(), Ordering::AcqRel);
    }
    let _ = wr.shutdown().await;
}
