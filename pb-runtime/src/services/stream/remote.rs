//! The receiving side of a stream from a peer: pulls, pipelined.
//!
//! Pulls run as tasks of their own: each, when answered, stores its items
//! and starts the next pull if the window has room, so the window stays
//! full while the consumer reads (also when the consumer is itself a
//! peer's pull, at a relay) and empties only when it stops reading.
//!
//! A stream returned by a `#[pb(replay)]` method is healed with its
//! session (see [`super::replay`]): when the session cannot resume, pulls
//! that failed with the link wait for the heal, which asks the method
//! again and starts the fresh producer at the next item.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::protocol::{Batch, CHUNK, MAX_PULL_ITEMS, PULL, Piece, RESUME, Relayed};
use crate::Error;
use crate::connection::{Link, RemoteRef, decode_with_refs, patient, send_call, send_call_measured};
use crate::references::heal::HealSlot;
use crate::wire::codec;

/// The default window of a received stream: at most this many bytes of
/// items asked for or held at once.
pub const DEFAULT_WINDOW: usize = 1 << 20;

/// Requests in flight at once, at least: one being answered while the
/// other travels.
const IN_FLIGHT: usize = 2;
/// Requests in flight at once, at most (a large window in chunks).
const MAX_IN_FLIGHT: usize = 8;
/// The smallest window a stream adapts down to.
pub(super) const MIN_WINDOW: usize = 64 << 10;
/// Round trips of the consumer's reading the window covers.
const TRIPS: f64 = 4.0;
/// Items the first pull asks for (before item sizes are known).
const FIRST_PULL: u32 = 16;

/// A stream a peer sends: pulls its items while its window has room.
pub(crate) struct Remote<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

/// What the pulls and the consumer share.
pub(super) struct Shared<T> {
    /// The producer's export.
    target: Arc<RemoteRef>,
    /// Changes each time the stream moves to a fresh producer: answers to
    /// pulls made before are dropped.
    epoch: u64,
    /// The session heals this stream (a replayed method's result).
    heal: Option<HealSlot>,
    /// A pull failed with the link, and the stream waits for its heal.
    broken: bool,
    /// A heal is starting a fresh producer: no pulls meanwhile.
    moving: bool,
    /// A relay passes the stream on: its consumer's pulls go upstream as
    /// they are, and nothing is read here.
    forwarding: bool,
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
    /// Number of the next item to arrive (items that arrived, counting
    /// from where the producer started).
    arrived: u64,
    /// The window in use: what the consumer reads in a few round trips
    /// of pulls, between [`MIN_WINDOW`] and `max_window`.
    window: usize,
    /// The most the window may be (`Config::stream_window`, or set).
    max_window: usize,
    /// Pull round trips (answer time, end to end), smoothed, in seconds.
    trip: f64,
    /// Items the consumer took since `rate_since`.
    taken: u64,
    rate_since: std::time::Instant,
    /// Bytes per item seen so far (zero: none yet).
    item_bytes: usize,
    /// The item arriving in pieces, so far.
    assembling: Vec<u8>,
    /// At a relay passing the stream on: the pieces so far of items with
    /// references (decoded here), by item, in any order (its pulls run side
    /// by side, so pieces of the next item may come before the last of
    /// this one).
    gathering: std::collections::BTreeMap<u64, Vec<Piece>>,
    /// The longest item accepted (a frame's length).
    max_item: usize,
    /// Items asked for and not yet arrived.
    asked: u64,
    waker: Option<Waker>,
    /// Whether pulls may start (after the first poll).
    started: bool,
}

// Nothing of a `Remote` is pinned in place.
impl<T> Unpin for Remote<T> {}

impl<T> Remote<T> {
    /// The stream `target` sends, pulled within `window` bytes, items at
    /// most `max_item` bytes.
    pub(crate) fn new(target: Arc<RemoteRef>, window: usize, max_item: usize) -> Self {
        let shared = Shared {
            target,
            epoch: 0,
            heal: None,
            broken: false,
            moving: false,
            forwarding: false,
            items: VecDeque::new(),
            early: Vec::new(),
            next_pull: 0,
            pulls: Vec::new(),
            stopped: false,
            end: None,
            finished: false,
            arrived: 0,
            window: window.max(1),
            max_window: window.max(1),
            trip: 0.0,
            taken: 0,
            rate_since: std::time::Instant::now(),
            item_bytes: 0,
            assembling: Vec::new(),
            gathering: Default::default(),
            max_item,
            asked: 0,
            waker: None,
            started: false,
        };
        Remote { shared: Arc::new(Mutex::new(shared)) }
    }

    pub(crate) fn received(&self) -> u64 {
        self.shared.lock().unwrap().arrived
    }

    pub(crate) fn set_window(&mut self, bytes: usize) {
        let mut s = self.shared.lock().unwrap();
        s.max_window = bytes.max(1);
        s.window = s.max_window;
    }

    /// What the healer holds.
    pub(super) fn shared(&self) -> &Arc<Mutex<Shared<T>>> {
        &self.shared
    }

    /// Whether nothing was pulled yet (a fresh producer can still be
    /// started at any item).
    pub(super) fn untouched(&self) -> bool {
        let s = self.shared.lock().unwrap();
        !s.started && s.arrived == 0 && s.pulls.is_empty()
    }

    /// For a relay passing the stream on: whether its consumer's pulls may
    /// go upstream as they are (the stream was never read here; from then
    /// on it never is).
    pub(super) fn forward(&self) -> bool {
        let mut s = self.shared.lock().unwrap();
        if s.started && !s.forwarding {
            return false;
        }
        s.forwarding = true;
        true
    }

    /// Ask the producer to start at item `next` (nothing pulled yet): what
    /// a relay does when its own consumer resumes from there.
    pub(super) async fn start_at(&self, next: u64) -> Result<(), Error> {
        let target = self.shared.lock().unwrap().target.clone();
        send_call::<_, Result<(), Error>>(&target, RESUME, || Some("resume"), &(next,)).await??;
        self.shared.lock().unwrap().arrived = next;
        Ok(())
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

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.heal.take() {
            slot.forget();
        }
    }
}

impl<T> Shared<T> {
    /// Items to ask for: half a window's worth, by the sizes seen so far,
    /// and at most what one answer carries.
    fn pull_size(&self) -> u32 {
        if self.item_bytes == 0 {
            return FIRST_PULL;
        }
        // A chunk's worth, with room for the items' length prefixes.
        let n = (self.window / IN_FLIGHT).min(CHUNK + CHUNK / 64) / self.item_bytes;
        (n as u32).clamp(1, MAX_PULL_ITEMS)
    }

    /// Requests in flight at once: enough chunks to cover the window.
    fn in_flight(&self) -> usize {
        (self.window / CHUNK).clamp(IN_FLIGHT, MAX_IN_FLIGHT)
    }

    /// Whether another pull fits: fewer than [`IN_FLIGHT`] running, and
    /// what is held and asked for, with it, within the window (or nothing
    /// at all held or asked for: one item larger than the window still
    /// comes, alone).
    fn has_room(&self) -> bool {
        if !self.started || self.stopped || self.broken || self.moving || self.pulls.len() >= self.in_flight() {
            return false;
        }
        let per_item = self.item_bytes.max(1) as u64;
        let held = self.items.len() as u64 + self.asked;
        held == 0 || (held + u64::from(self.pull_size())) * per_item <= self.window as u64
    }

    /// A pull was answered after `trip`: adapt the window to what the
    /// consumer reads in [`TRIPS`] round trips (measured over at least a
    /// few round trips), between [`MIN_WINDOW`] and the most allowed. A
    /// consumer held back by the window reads about a window per trip, so
    /// the window grows back to the most; a slow consumer needs little.
    fn adapt(&mut self, trip: std::time::Duration, now: std::time::Instant) {
        let trip = trip.as_secs_f64();
        self.trip = if self.trip == 0.0 { trip } else { 0.875 * self.trip + 0.125 * trip };
        let elapsed = now.duration_since(self.rate_since).as_secs_f64();
        if elapsed < (8.0 * self.trip).max(0.05) || self.item_bytes == 0 {
            return;
        }
        let rate = (self.taken as f64 * self.item_bytes as f64) / elapsed;
        let want = (TRIPS * rate * self.trip) as usize;
        let floor = MIN_WINDOW.min(self.max_window);
        self.window = want.clamp(floor, self.max_window);
        self.taken = 0;
        self.rate_since = now;
    }

    /// Whether the stream still needs its producer (for the healer).
    pub(super) fn is_open(&self) -> bool {
        !self.stopped
    }

    /// Take an answer, and every one it lets through, in item order.
    /// Returns whether the stream must wait for its session's heal.
    fn absorb(&mut self, answer: Result<(Batch<T>, usize), Error>) -> bool
    where
        T: DeserializeOwned,
    {
        match answer {
            // An answer with nothing in it (a relay's, for a piece it keeps
            // until the item is whole).
            Ok((b, _)) if b.items.is_empty() && b.piece.is_none() && b.end.is_none() => {}
            Ok(a) => self.early.push(a),
            Err(e) if e.is_link_failure() && self.heal.is_some() => {
                self.broken = true;
                return true;
            }
            Err(e) => {
                let e = if e.is_link_failure() { Error::Lost { last: self.arrived } } else { e };
                self.stop(Some(e));
                return false;
            }
        }
        // The batch starting at the next item, or the next piece of it (an
        // empty one last: it only says the stream ended there).
        while let Some(i) = self
            .early
            .iter()
            .position(|(b, _)| self.is_next(b) && (!b.items.is_empty() || b.piece.is_some()))
            .or_else(|| self.early.iter().position(|(b, _)| self.is_next(b)))
        {
            let (batch, bytes) = self.early.swap_remove(i);
            if let Some(piece) = batch.piece {
                if let Err(e) = self.take_piece(piece) {
                    self.stop(Some(e));
                    break;
                }
                continue;
            }
            let n = batch.items.len();
            if let Some(per_item) = bytes.checked_div(n) {
                self.item_bytes =
                    if self.item_bytes == 0 { per_item.max(1) } else { (self.item_bytes + per_item).div_ceil(2) };
            }
            self.arrived += n as u64;
            self.items.extend(batch.items);
            if let Some(end) = batch.end {
                self.stop(end.err());
                break;
            }
        }
        false
    }

    /// Whether `b` is what comes next: the batch starting at the next item,
    /// or the next piece of the item being put together.
    fn is_next(&self, b: &Batch<T>) -> bool {
        b.first == self.arrived
            && match &b.piece {
                Some(p) => p.offset == self.assembling.len() as u64,
                None => self.assembling.is_empty(),
            }
    }

    /// Add a piece of the next item; its last piece makes the item.
    fn take_piece(&mut self, piece: Piece) -> Result<(), Error>
    where
        T: DeserializeOwned,
    {
        if self.assembling.len() + piece.bytes.len() > self.max_item {
            return Err(Error::LimitExceeded { what: "stream item".into(), limit: self.max_item as u64 });
        }
        self.assembling.extend_from_slice(&piece.bytes);
        if piece.last {
            let bytes = std::mem::take(&mut self.assembling);
            self.item_bytes = bytes.len().max(1);
            let item = decode_item::<T>(&self.target.link, bytes)?;
            self.arrived += 1;
            self.items.push_back(item);
        }
        Ok(())
    }

    /// At a relay: keep `piece` of item `first`, one with references;
    /// with its last piece, the item, decoded. The pieces held, of every
    /// item, take at most an item's most bytes (pieces come only as the
    /// relay's consumer pulls, so little more than its window is ever
    /// held).
    fn gather(&mut self, first: u64, piece: Piece, link: &Arc<dyn Link>) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned,
    {
        let held: usize = self.gathering.values().flatten().map(|p| p.bytes.len()).sum::<usize>() + piece.bytes.len();
        if held > self.max_item {
            return Err(Error::LimitExceeded { what: "stream item".into(), limit: self.max_item as u64 });
        }
        let pieces = self.gathering.entry(first).or_default();
        pieces.push(piece);
        pieces.sort_by_key(|p| p.offset);
        let mut at = 0u64;
        for p in pieces.iter() {
            if p.offset != at {
                return Ok(None);
            }
            at += p.bytes.len() as u64;
            if p.last {
                let pieces = self.gathering.remove(&first).unwrap_or_default();
                let mut bytes = Vec::with_capacity(at as usize);
                for p in &pieces {
                    bytes.extend_from_slice(&p.bytes);
                }
                return decode_item(link, bytes).map(Some);
            }
        }
        Ok(None)
    }

    pub(super) fn stop(&mut self, end: Option<Error>) {
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

    /// Leave the current producer: from now on, answers to its pulls are
    /// dropped. Returns the item the next producer must start at.
    pub(super) fn leave(&mut self) -> u64 {
        self.epoch += 1;
        self.moving = true;
        self.early.clear();
        // Pieces of the item the consumer needs next come again from the
        // next producer, from its first.
        self.assembling = Vec::new();
        self.gathering.clear();
        self.asked = 0;
        for (_, pull) in std::mem::take(&mut self.pulls) {
            pull.abort();
        }
        self.arrived
    }

    /// Go on with the producer at `target`, started at the next item.
    pub(super) fn adopt(&mut self, target: Arc<RemoteRef>) {
        self.target = target;
        self.moving = false;
        self.broken = false;
    }

    pub(super) fn set_heal(&mut self, slot: HealSlot) -> bool {
        if self.heal.is_some() {
            return false;
        }
        self.heal = Some(slot);
        true
    }

    /// The producer's export.
    pub(super) fn target(&self) -> Arc<RemoteRef> {
        self.target.clone()
    }

    /// Number of the next item to arrive.
    pub(super) fn arrived(&self) -> u64 {
        self.arrived
    }

    pub(super) fn take_waker(&mut self) -> Option<Waker> {
        self.waker.take()
    }
}

/// Decode an item from its encoding (all its pieces), received on `link`:
/// references in it resolve there, and blobs are slices of it.
fn decode_item<T: DeserializeOwned>(link: &Arc<dyn Link>, bytes: Vec<u8>) -> Result<T, Error> {
    let bytes = bytes::Bytes::from(bytes);
    decode_with_refs(link, &bytes, || codec::from_bytes(&bytes, link.limits()))
}

/// Wait for the heal of a stream whose pull failed with its link: a heal
/// that does not come (the session gave up, or the wait timed out) or does
/// not move the stream to a fresh producer ends it with [`Error::Lost`].
fn await_heal<T: Send + 'static>(shared: &Arc<Mutex<Shared<T>>>, epoch: u64) {
    let Some(healer) = shared.lock().unwrap().heal.as_ref().and_then(HealSlot::healer) else {
        let mut s = shared.lock().unwrap();
        let last = s.arrived;
        s.stop(Some(Error::Lost { last }));
        return;
    };
    let generation = healer.generation();
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        healer.link_failed();
        let healed = healer.wait_healed(generation).await;
        drop(healer);
        let Some(shared) = weak.upgrade() else { return };
        let waker = {
            let mut s = shared.lock().unwrap();
            // Healed (a fresh producer adopted) or moving to one now.
            if healed && (s.epoch != epoch || s.moving) {
                return;
            }
            if s.epoch == epoch && s.broken {
                let last = s.arrived;
                s.stop(Some(Error::Lost { last }));
            }
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    });
}

/// A pull of a relay's consumer, passed upstream as it is: plain items
/// go on as the bytes they came in. A pull that fails with the link waits
/// for the stream's heal (a replayed method) and goes to the fresh
/// producer; without a heal the answer is [`Error::Lost`].
pub(super) async fn forward_pull<T>(shared: Arc<Mutex<Shared<T>>>, max: u32) -> Result<Relayed<T>, Error>
where
    T: serde::Serialize + DeserializeOwned + Send + 'static,
{
    loop {
        let (target, epoch) = {
            let s = shared.lock().unwrap();
            (s.target.clone(), s.epoch)
        };
        let answer = patient(send_call::<_, Result<Relayed<T>, Error>>(&target, PULL, || Some("pull"), &(max,))).await;
        let link = target.link.clone();
        drop(target);
        match answer {
            Ok(Ok(Relayed::Decoded(Batch { first, piece: Some(piece), end, .. }))) => {
                // A piece of an item with references: the item is decoded
                // here once whole, and goes on with the pull that brought
                // its last piece; the others answer nothing.
                let last = piece.last;
                let mut s = shared.lock().unwrap();
                let items = s.gather(first, piece, &link)?.into_iter().collect();
                if last && s.epoch == epoch {
                    s.arrived = s.arrived.max(first + 1);
                }
                return Ok(Relayed::Decoded(Batch::items(first, items, end)));
            }
            Ok(Ok(relayed)) => {
                let (first, count) = relayed.span();
                let mut s = shared.lock().unwrap();
                if s.epoch == epoch {
                    s.arrived = s.arrived.max(first + count);
                }
                return Ok(relayed);
            }
            Ok(Err(e)) => return Err(e),
            Err(e) if e.is_link_failure() => {
                if !healed(&shared, epoch).await {
                    let last = shared.lock().unwrap().arrived;
                    return Err(Error::Lost { last });
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Wait for the heal of a stream whose producer's link failed (at
/// `epoch`): true once it moved to a fresh producer.
async fn healed<T>(shared: &Arc<Mutex<Shared<T>>>, epoch: u64) -> bool {
    let healer = shared.lock().unwrap().heal.as_ref().and_then(HealSlot::healer);
    let Some(healer) = healer else { return false };
    let generation = healer.generation();
    healer.link_failed();
    let came = healer.wait_healed(generation).await;
    drop(healer);
    // The session is back; the stream's own heal may still be starting its
    // fresh producer.
    for _ in 0..500 {
        {
            let s = shared.lock().unwrap();
            if s.stopped {
                return false;
            }
            if s.epoch != epoch && !s.moving {
                return true;
            }
            if !came && !s.moving {
                return false;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// Start pulls while the window has room.
pub(super) fn top_up<T: DeserializeOwned + Send + 'static>(shared: &Arc<Mutex<Shared<T>>>) {
    let mut s = shared.lock().unwrap();
    while s.has_room() {
        let (n, max, epoch) = (s.next_pull, s.pull_size(), s.epoch);
        s.next_pull += 1;
        s.asked += u64::from(max);
        let (weak, target) = (Arc::downgrade(shared), s.target.clone());
        // A pull waits for its session to resume, like a call in flight.
        let task = tokio::spawn(patient(async move {
            let sent = std::time::Instant::now();
            let answer = send_call_measured::<_, Result<Batch<T>, Error>>(&target, PULL, || Some("pull"), &(max,))
                .await
                .and_then(|(result, bytes)| result.map(|batch| (batch, bytes)));
            let answered = std::time::Instant::now();
            drop(target);
            let Some(shared) = weak.upgrade() else { return };
            let (waker, broken) = {
                let mut s = shared.lock().unwrap();
                if s.epoch != epoch {
                    // An answer of a producer the stream left.
                    return;
                }
                s.asked = s.asked.saturating_sub(u64::from(max));
                s.pulls.retain(|(k, _)| *k != n);
                if answer.is_ok() {
                    s.adapt(answered - sent, answered);
                }
                let broken = if s.stopped || s.broken { false } else { s.absorb(answer) };
                (s.waker.take(), broken)
            };
            if broken {
                await_heal(&shared, epoch);
            }
            if let Some(w) = waker {
                w.wake();
            }
            top_up(&shared);
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
                s.taken += 1;
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
        top_up(&this.shared);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Connection, Opened};
    use crate::transport::Transport;
    use crate::wire::Blob;

    /// A stream of byte vectors from object 1 of a peer over memory, and
    /// both ends' connections (kept open).
    async fn remote() -> (Remote<Vec<u8>>, Connection, Opened) {
        let (c, s) = Transport::memory_pair();
        let server = tokio::spawn(async move { Connection::builder().accept(s, None).await });
        let client = Connection::builder().establish(c).await.unwrap();
        let server = server.await.unwrap().unwrap();
        let target = Arc::new(RemoteRef::new(client.link(), 1, false));
        (Remote::new(target, 512 << 10, 16 << 20), client, server)
    }

    fn piece(bytes: &[u8], offset: usize, len: usize) -> Piece {
        let end = (offset + len).min(bytes.len());
        Piece { offset: offset as u64, bytes: Blob::from(bytes[offset..end].to_vec()), last: end == bytes.len() }
    }

    #[tokio::test]
    async fn an_item_in_pieces_is_whole_once_its_last_piece_arrives() {
        let (remote, _c, _s) = remote().await;
        let item = vec![7u8; 600 << 10];
        let bytes = codec::encode_into(Vec::new(), &item).unwrap();
        let mut s = remote.shared.lock().unwrap();
        for offset in (0..bytes.len()).step_by(CHUNK) {
            assert!(s.items.is_empty(), "nothing before the last piece");
            s.take_piece(piece(&bytes, offset, CHUNK)).unwrap();
        }
        assert_eq!(s.items.pop_front(), Some(item));
        assert_eq!(s.arrived, 1);
    }

    #[tokio::test]
    async fn leaving_a_producer_mid_item_starts_the_item_again_from_its_first_piece() {
        let (remote, _c, _s) = remote().await;
        let item = vec![3u8; 600 << 10];
        let bytes = codec::encode_into(Vec::new(), &item).unwrap();
        let mut s = remote.shared.lock().unwrap();
        s.take_piece(piece(&bytes, 0, CHUNK)).unwrap();
        assert_eq!(s.leave(), 0, "the item in pieces did not arrive");
        // The fresh producer sends the item again, from its first piece.
        let again = |p: Piece| Batch::<Vec<u8>> { first: 0, items: Vec::new(), end: None, piece: Some(p) };
        assert!(s.is_next(&again(piece(&bytes, 0, CHUNK))), "its first piece is what comes next");
        assert!(!s.is_next(&again(piece(&bytes, CHUNK, CHUNK))));
        for offset in (0..bytes.len()).step_by(CHUNK) {
            s.take_piece(piece(&bytes, offset, CHUNK)).unwrap();
        }
        assert_eq!(s.items.pop_front(), Some(item), "whole, once");
    }

    #[tokio::test]
    async fn a_relay_gathers_pieces_in_any_order_and_decodes_the_item_once_whole() {
        let (remote, c, _s) = remote().await;
        let item = vec![5u8; 600 << 10];
        let bytes = codec::encode_into(Vec::new(), &item).unwrap();
        let link = c.link();
        let mut s = remote.shared.lock().unwrap();
        let (a, b, last) = (piece(&bytes, 0, CHUNK), piece(&bytes, CHUNK, CHUNK), piece(&bytes, 2 * CHUNK, CHUNK));
        assert!(last.last);
        assert_eq!(s.gather(4, b, &link).unwrap(), None);
        assert_eq!(s.gather(4, last, &link).unwrap(), None, "a piece is missing");
        assert_eq!(s.gather(4, a, &link).unwrap(), Some(item));
        assert!(s.gathering.is_empty());
    }

    #[tokio::test]
    async fn a_relay_gathers_the_pieces_of_two_items_interleaved() {
        let (remote, c, _s) = remote().await;
        let (one, two) = (vec![1u8; 300 << 10], vec![2u8; 300 << 10]);
        let (a, b) = (codec::encode_into(Vec::new(), &one).unwrap(), codec::encode_into(Vec::new(), &two).unwrap());
        let link = c.link();
        let mut s = remote.shared.lock().unwrap();
        assert_eq!(s.gather(7, piece(&a, 0, CHUNK), &link).unwrap(), None);
        assert_eq!(s.gather(8, piece(&b, 0, CHUNK), &link).unwrap(), None, "the next item's first piece");
        assert_eq!(s.gather(8, piece(&b, CHUNK, CHUNK), &link).unwrap(), Some(two));
        assert_eq!(s.gather(7, piece(&a, CHUNK, CHUNK), &link).unwrap(), Some(one));
        assert!(s.gathering.is_empty());
    }

    #[tokio::test]
    async fn a_relay_refuses_pieces_longer_than_an_item_may_be() {
        let (remote, c, _s) = remote().await;
        let link = c.link();
        let mut s = remote.shared.lock().unwrap();
        s.max_item = 300 << 10;
        let junk = vec![0u8; CHUNK];
        assert_eq!(s.gather(0, piece(&junk, 0, CHUNK - 1), &link).unwrap(), None);
        let e = s.gather(0, Piece { offset: 0, bytes: Blob::from(junk), last: false }, &link).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { .. }), "{e:?}");
    }
}
