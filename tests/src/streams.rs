//! A service with streams, for the stream tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;

/// Streams of numbers and bytes.
#[pb::remote_interface]
pub trait Feed {
    /// The numbers `from..to`, in order.
    async fn numbers(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error>;
    /// `size`-byte items without end (item `i` is filled with `i as u8`).
    async fn endless(&self, size: usize) -> Result<pb::Stream<Vec<u8>>, pb::Error>;
    /// Items `0..n`, then the error `Busy`.
    async fn failing(&self, n: u64) -> Result<pb::Stream<u64>, pb::Error>;
    /// The numbers `from..to`, from a producer with a cursor: asked again
    /// after a session that could not resume, it goes on where its
    /// consumer stopped.
    #[pb(replay)]
    async fn tail(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error>;
    /// The numbers `from..to`, asked again after a session that could not
    /// resume, from a producer without a cursor.
    #[pb(replay)]
    async fn numbers_again(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error>;
    /// How many items and bytes `items` had (client streaming).
    async fn upload(&self, items: pb::Stream<Vec<u8>>) -> Result<(u64, u64), pb::Error>;
}

/// The feed, with counters the tests read.
#[derive(Default)]
pub struct Numbers {
    /// Items the endless producer made.
    pub produced: Arc<AtomicU64>,
    /// Set when the endless producer is dropped.
    pub dropped: Arc<AtomicBool>,
    /// Where each `tail` producer was started (its cursor's `next`).
    pub opened: Arc<Mutex<Vec<u64>>>,
}

/// Sets a flag when dropped (the producer's state).
struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[pb::remote_impl]
impl Feed for Numbers {
    async fn numbers(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error> {
        Ok(pb::Stream::iter(from..to))
    }
    async fn endless(&self, size: usize) -> Result<pb::Stream<Vec<u8>>, pb::Error> {
        let (produced, guard) = (self.produced.clone(), OnDrop(self.dropped.clone()));
        Ok(pb::Stream::new(futures_util::stream::iter(0u64..).map(move |i| {
            let _alive = &guard;
            produced.fetch_add(1, Ordering::SeqCst);
            Ok(vec![i as u8; size])
        })))
    }
    async fn failing(&self, n: u64) -> Result<pb::Stream<u64>, pb::Error> {
        let items = (0..n).map(Ok).chain(std::iter::once(Err(pb::Error::Busy)));
        Ok(pb::Stream::new(futures_util::stream::iter(items)))
    }
    async fn tail(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error> {
        let opened = self.opened.clone();
        Ok(pb::Stream::with_cursor(move |next| {
            opened.lock().unwrap().push(next);
            futures_util::stream::iter((from + next).min(to)..to).map(Ok)
        }))
    }
    async fn numbers_again(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error> {
        Ok(pb::Stream::iter(from..to))
    }
    async fn upload(&self, mut items: pb::Stream<Vec<u8>>) -> Result<(u64, u64), pb::Error> {
        let (mut n, mut bytes) = (0, 0);
        while let Some(item) = items.next().await {
            let item = item?;
            n += 1;
            bytes += item.len() as u64;
        }
        Ok((n, bytes))
    }
}
