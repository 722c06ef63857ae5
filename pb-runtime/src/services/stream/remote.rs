//! The receiving side of a stream from a peer: pulls, pipelined.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use serde::de::DeserializeOwned;

use super::PULL;
use super::source::{Batch, MAX_PULL_ITEMS};
use crate::Error;
use crate::connection::{RemoteRef, patient, send_call_measured};

/// The default window of a received stream: at most this many bytes of
/// items asked for at once (two pulls of half of it).
pub const DEFAULT_WINDOW: usize = 1 << 20;

/// Requests in flight at once: one being answered while the other travels.
const IN_FLIGHT: usize = 2;
/// Items the first pull asks for (before item sizes are known).
const FIRST_PULL: u32 = 16;

type Pull<T> = BoxFuture<'static, Result<(Batch<T>, usize), Error>>;

/// A stream a peer sends: pulls its items as it is polled.
pub(crate) struct Remote<T> {
    target: Arc<RemoteRef>,
    pulls: FuturesOrdered<Pull<T>>,
    items: VecDeque<T>,
    /// No more pulls: the end (or an error) was seen.
    stopped: bool,
    /// What to yield once `items` is empty: `Some(None)` the end,
    /// `Some(Some(e))` an error.
    end: Option<Option<Error>>,
    finished: bool,
    /// Items that arrived.
    arrived: u64,
    window: usize,
    /// Bytes per item seen so far (zero: none yet).
    item_bytes: usize,
}

// Nothing of a `Remote` is pinned in place: its pulls are boxed, its items
// are plain values.
impl<T> Unpin for Remote<T> {}

impl<T> Remote<T> {
    pub(crate) fn new(target: Arc<RemoteRef>) -> Self {
        Remote {
            target,
            pulls: FuturesOrdered::new(),
            items: VecDeque::new(),
            stopped: false,
            end: None,
            finished: false,
            arrived: 0,
            window: DEFAULT_WINDOW,
            item_bytes: 0,
        }
    }

    pub(crate) fn received(&self) -> u64 {
        self.arrived
    }

    pub(crate) fn set_window(&mut self, bytes: usize) {
        self.window = bytes.max(1);
    }
}

impl<T: DeserializeOwned + Send + 'static> Remote<T> {
    /// Items to ask for: half a window's worth, by the sizes seen so far.
    fn next_pull(&self) -> u32 {
        if self.item_bytes == 0 {
            return FIRST_PULL;
        }
        let n = (self.window / IN_FLIGHT) / self.item_bytes;
        (n as u32).clamp(1, MAX_PULL_ITEMS)
    }

    /// Keep [`IN_FLIGHT`] pulls going, unless stopped or a window's worth
    /// of items waits unread.
    fn top_up(&mut self) {
        let buffered = self.items.len() * self.item_bytes.max(1);
        while !self.stopped && self.pulls.len() < IN_FLIGHT && buffered < self.window {
            let (target, max) = (self.target.clone(), self.next_pull());
            // A pull waits for its session to resume, like a call in flight.
            self.pulls.push_back(Box::pin(patient(async move {
                let (result, bytes) =
                    send_call_measured::<_, Result<Batch<T>, Error>>(&target, PULL, || Some("pull"), &(max,)).await?;
                result.map(|batch| (batch, bytes))
            })));
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> futures_util::Stream for Remote<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.items.pop_front() {
                this.top_up();
                return Poll::Ready(Some(Ok(item)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            if let Some(end) = this.end.take() {
                this.finished = true;
                return Poll::Ready(end.map(Err));
            }
            this.top_up();
            match this.pulls.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok((batch, bytes)))) => {
                    let n = batch.items.len();
                    if let Some(per_item) = bytes.checked_div(n) {
                        this.item_bytes = if this.item_bytes == 0 {
                            per_item.max(1)
                        } else {
                            (this.item_bytes + per_item).div_ceil(2)
                        };
                    }
                    this.arrived += n as u64;
                    this.items.extend(batch.items);
                    if let Some(end) = batch.end {
                        this.stopped = true;
                        this.pulls = FuturesOrdered::new();
                        this.end = Some(end.err());
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.stopped = true;
                    this.pulls = FuturesOrdered::new();
                    let e = if e.is_link_failure() { Error::Lost { last: this.arrived } } else { e };
                    this.end = Some(Some(e));
                }
            }
        }
    }
}
