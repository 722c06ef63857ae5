//! The writer task of a connection: it finishes what the sending tasks
//! could not write at once (the socket was full), and the last frames when
//! the connection closes.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::core::ConnCore;

/// How long a closing connection may spend writing what was queued before
/// the close (a goodbye, a last reply). A peer that does not read cannot hold
/// the connection, and the bytes queued for it, any longer than this.
const CLOSE_FLUSH_GRACE: Duration = Duration::from_secs(1);

/// The writer task of transport `generation`, until the connection closes
/// or (a session) the transport is replaced.
pub(super) async fn write_loop(core: Arc<ConnCore>, generation: u64, cancel: CancellationToken) {
    let result = tokio::select! {
        r = poll_fn(|cx| core.outbox.poll_write_task(cx)) => r,
        () = cancel.cancelled() => {
            if !core.is_closed() {
                // The link went down; the session lives on (the outbox has
                // dropped the transport already).
                return;
            }
            // Write what was queued before the close (a goodbye, a last reply).
            match tokio::time::timeout(CLOSE_FLUSH_GRACE, poll_fn(|cx| core.outbox.poll_finish(cx))).await {
                Ok(r) => r,
                Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer did not read what was queued")),
            }
        }
    };
    if let Err(e) = result
        && !core.is_closed()
    {
        core.link_lost(Some(generation), &format!("write failed: {e}"));
        if !core.is_closed() {
            return; // a session: it waits for a resume
        }
    }
    let _ = tokio::time::timeout(CLOSE_FLUSH_GRACE, poll_fn(|cx| core.outbox.poll_shutdown(cx))).await;
    // Nothing more will be written: free the transport and what is queued.
    core.outbox.release();
}
