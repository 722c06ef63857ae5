//! The receiving side of a stream from a peer: pulls, pipelined.
//!
//! Pulls run as tasks of their own: each, when answered, stores its items
//! and starts the next pull if the window has room, so the window stays
//! full while the consumer reads (also when the consumer is itself a
//! peer's pull, at a relay) and empties only when it stops reading.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::protocol::{Batch, MAX_PULL_ITEMS, PULL};
use crate::Error;
use crate::connection::{RemoteRef, patient, send_call_measured};

/// The default window of a received stream: at most this many bytes of
/// items asked for or held at once.
pub const DEFAULT_WINDOW: usize = 1 << 20;

/// Requests in flight at once: one being answered while the other travels.
const IN_FLIGHT: usize = 2;
/// Items the first pull asks for (before item sizes are known).
const FIRST_PULL: u32 = 16;

/// A stream a peer sends: pulls its items while its window has room.
pub(crate) struct Remote<T> {
    shared: Arc<Mutex<Shared<T>>>,
    target: Arc<RemoteRef>,
}

/// What the pulls and the consumer share.
struct Shared<T> {
    items: VecDeque<T>,
    /// Answers that arrived ahead of an earlier one (by their first item).
    early: Vec<(Batch<T>, usize)>,
    /// Number of the next pull (for the list of running ones).
    next_pull: u64,
    /// The running pulls, aborted if the stream is dropped.
    pulls: Vec<(u64, JoinHandle<()>)>,
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
    /// Items asked for and not yet arrived.
    asked: u64,
    waker: Option<Waker>,
    /// Whether pulls may start (after the first poll).
    started: bool,
}

// Nothing of a `Remote` is pinned in place.
impl<T> Unpin for Remote<T> {}

impl<T> Remote<T> {
    pub(crate) fn new(target: Arc<RemoteRef>, window: usize) -> Self {
        let shared = Shared {
            items: VecDeque::new(),
            early: Vec::new(),
            next_pull: 0,
            pulls: Vec::new(),
            stopped: false,
            end: None,
            finished: false,
            arrived: 0,
            window: window.max(1),
            item_bytes: 0,
            asked: 0,
            waker: None,
            started: false,
        };
        Remote { shared: Arc::new(Mutex::new(shared)), target }
    }

    pub(crate) fn received(&self) -> u64 {
        self.shared.lock().unwrap().arrived
    }

    pub(crate) fn set_window(&mut self, bytes: usize) {
        self.shared.lock().unwrap().window = bytes.max(1);
    }
}

impl<T> Drop for Remote<T> {
    fn drop(&mut self) {
        // The pulls hold the reference: stop them, so it is released now.
        let pulls = std::mem::take(&mut self.shared.lock().unwrap().pulls);
        for (_, pull) in pulls {
            pull.abort();
        }
    }
}

impl<T> Shared<T> {
    /// Items to ask for: half a window's worth, by the sizes seen so far.
    fn pull_size(&self) -> u32 {
        if self.item_bytes == 0 {
            return FIRST_PULL;
        }
        let n = (self.window / IN_FLIGHT) / self.item_bytes;
        (n as u32).clamp(1, MAX_PULL_ITEMS)
    }

    /// Whether another pull fits: fewer than [`IN_FLIGHT`] running, and
    /// what is held and asked for, with it, within the window (or nothing
    /// at all held or asked for: one item larger than the window still
    /// comes, alone).
    fn has_room(&self) -> bool {
        if !self.started || self.stopped || self.pulls.len() >= IN_FLIGHT {
            return false;
        }
        let per_item = self.item_bytes.max(1) as u64;
        let held = self.items.len() as u64 + self.asked;
        held == 0 || (held + u64::from(self.pull_size())) * per_item <= self.window as u64
    }

    /// Take an answer, and every one it lets through, in item order.
    fn absorb(&mut self, answer: Result<(Batch<T>, usize), Error>) {
        match answer {
            Ok(a) => self.early.push(a),
            Err(e) => {
                let e = if e.is_link_failure() { Error::Lost { last: self.arrived } } else { e };
                return self.stop(Some(e));
            }
        }
        // The batch starting at the next item (an empty one last: it only
        // says the stream ended there).
        while let Some(i) = self
            .early
            .iter()
            .position(|(b, _)| b.first == self.arrived && !b.items.is_empty())
            .or_else(|| self.early.iter().position(|(b, _)| b.first == self.arrived))
        {
            let (batch, bytes) = self.early.swap_remove(i);
            let n = batch.items.len();
            if let Some(per_item) = bytes.checked_div(n) {
                self.item_bytes =
                    if self.item_bytes == 0 { per_item.max(1) } else { (self.item_bytes + per_item).div_ceil(2) };
            }
            self.arrived += n as u64;
            self.items.extend(batch.items);
            if let Some(end) = batch.end {
                return self.stop(end.err());
            }
        }
    }

    fn stop(&mut self, end: Option<Error>) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.end = Some(end);
        self.early.clear();
        for (_, pull) in std::mem::take(&mut self.pulls) {
            pull.abort();
        }
    }
}

/// Start pulls while the window has room.
fn top_up<T: DeserializeOwned + Send + 'static>(shared: &Arc<Mutex<Shared<T>>>, target: &Arc<RemoteRef>) {
    let mut s = shared.lock().unwrap();
    while s.has_room() {
        let (n, max) = (s.next_pull, s.pull_size());
        s.next_pull += 1;
        s.asked += u64::from(max);
        let (weak, target2) = (Arc::downgrade(shared), target.clone());
        // A pull waits for its session to resume, like a call in flight.
        let task = tokio::spawn(patient(async move {
            let answer = send_call_measured::<_, Result<Batch<T>, Error>>(&target2, PULL, || Some("pull"), &(max,))
                .await
                .and_then(|(result, bytes)| result.map(|batch| (batch, bytes)));
            let Some(shared) = weak.upgrade() else { return };
            let waker = {
                let mut s = shared.lock().unwrap();
                s.asked = s.asked.saturating_sub(u64::from(max));
                s.pulls.retain(|(k, _)| *k != n);
                if !s.stopped {
                    s.absorb(answer);
                }
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            top_up(&shared, &target2);
        }));
        if !task.is_finished() {
            s.pulls.push((n, task));
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> futures_util::Stream for Remote<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let result = {
            let mut s = this.shared.lock().unwrap();
            s.started = true;
            if let Some(item) = s.items.pop_front() {
                Poll::Ready(Some(Ok(item)))
            } else if s.finished {
                Poll::Ready(None)
            } else if let Some(end) = s.end.take() {
                s.finished = true;
                Poll::Ready(end.map(Err))
            } else {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        };
        top_up(&this.shared, &this.target);
        result
    }
}
