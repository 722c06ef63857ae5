//! The writer task of a connection: queued frames out, until it closes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use super::core::ConnCore;
use super::outbox::Writer;
use crate::transport::BoxWrite;

/// How long a closing connection may spend writing what was queued before
/// the close (a goodbye, a last reply). A peer that does not read cannot hold
/// the writer, and the bytes queued for it, any longer than this.
const CLOSE_FLUSH_GRACE: Duration = Duration::from_secs(1);

/// The writer task: write queued frames, many per system call, until the
/// connection closes.
pub(super) async fn write_loop(core: Arc<ConnCore>, io: BoxWrite) {
    let mut writer = Writer::new(io);
    let body = async {
        // One cancellation future for the whole loop: a new one per batch
        // would register with the token (a lock) each time.
        let cancelled = core.cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let written = tokio::select! {
                biased;
                w = writer.write_next(&core.outbox) => w?,
                () = &mut cancelled => {
                    // Drain what was queued before the close (a goodbye, a last reply).
                    writer.drain(&core.outbox).await?;
                    return Ok(());
                }
            };
            core.queued.fetch_sub(written, Ordering::AcqRel);
        }
    };
    // A write blocked on a peer that does not read ends a grace period after
    // the connection closes; dropping the queue frees what it held.
    let result: Result<(), std::io::Error> = tokio::select! {
        r = body => r,
        () = async {
            core.cancel.cancelled().await;
            tokio::time::sleep(CLOSE_FLUSH_GRACE).await;
        } => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer did not read what was queued")),
    };
    if let Err(e) = result {
        core.close(format!("write failed: {e}"));
    }
    // Nothing more will be written: free what is still queued.
    core.outbox.clear();
    let _ = writer.io().shutdown().await;
}
