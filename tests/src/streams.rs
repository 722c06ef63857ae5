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
    /// `to` items of `size` bytes (item `i` filled with `i as u8`) from a
    /// producer with a cursor, like [`tail`](Feed::tail): items longer than
    /// a chunk go in pieces.
    #[pb(replay)]
    async fn tail_sized(&self, size: usize, to: u64) -> Result<pb::Stream<Vec<u8>>, pb::Error>;
    /// Sends `0..n` into `to` (the sending half of the caller's channel)
    /// from a task of its own, and returns at once.
    async fn push(&self, to: pb::Sender<u64>, n: u64) -> Result<(), pb::Error>;
    /// Sends `size`-byte items into `to` without end, from a task of its
    /// own, and returns at once.
    async fn push_blobs(&self, to: pb::Sender<Vec<u8>>, size: usize) -> Result<(), pb::Error>;
    /// Items of the given sizes, the `i`th filled with `i as u8`.
    async fn sized(&self, sizes: Vec<usize>) -> Result<pb::Stream<Vec<u8>>, pb::Error>;
    /// `pb::Blob`s of the given sizes, the `i`th filled with `i as u8`.
    async fn blobs(&self, sizes: Vec<usize>) -> Result<pb::Stream<pb::Blob>, pb::Error>;
    /// `0..n` as [`Counted`] items (which count their decodes).
    async fn counted(&self, n: u64) -> Result<pb::Stream<Counted>, pb::Error>;
    /// `n` objects by reference, the `i`th answering `i`.
    async fn objects(&self, n: u64) -> Result<pb::Stream<pb::Ref<dyn Numbered>>, pb::Error>;
    /// Items of the given sizes, each with an object by reference (the
    /// `i`th answering `i`; its bytes filled with `i as u8`).
    async fn labelled(&self, sizes: Vec<usize>) -> Result<pb::Stream<Labelled>, pb::Error>;
    /// Runs `job`: its results go to the job's sender; returns how many.
    async fn run(&self, job: Job) -> Result<u64, pb::Error>;
    /// How many items and bytes `items` had (client streaming).
    async fn upload(&self, items: pb::Stream<Vec<u8>>) -> Result<(u64, u64), pb::Error>;
}

/// An object by reference, as a stream's item.
#[pb::remote_interface]
pub trait Numbered {
    /// Its number.
    async fn number(&self) -> Result<u64, pb::Error>;
}

/// A [`Numbered`] object.
pub struct Number(pub u64);

#[pb::remote_impl]
impl Numbered for Number {
    async fn number(&self) -> Result<u64, pb::Error> {
        Ok(self.0)
    }
}

/// Decodes of [`Counted`] values in this process.
pub static DECODED: AtomicU64 = AtomicU64::new(0);

/// A number that counts its decodes in [`DECODED`] (to see what a relay
/// decodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counted(pub u64);

impl<'de> serde::Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DECODED.fetch_add(1, Ordering::SeqCst);
        u64::deserialize(d).map(Counted)
    }
}

/// Bytes with an object by reference, as a stream's item.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Labelled {
    /// The object.
    pub object: pb::Ref<dyn Numbered>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Work whose results go to the caller's channel (a sender inside data).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// How many results.
    pub count: u64,
    /// Where they go.
    pub results: pb::Sender<String>,
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
    /// Items `push` sent.
    pub pushed: Arc<AtomicU64>,
    /// Set when a `push` stopped because its consumer was gone.
    pub push_refused: Arc<AtomicBool>,
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
    async fn tail_sized(&self, size: usize, to: u64) -> Result<pb::Stream<Vec<u8>>, pb::Error> {
        let opened = self.opened.clone();
        Ok(pb::Stream::with_cursor(move |next| {
            opened.lock().unwrap().push(next);
            futures_util::stream::iter(next.min(to)..to).map(move |i| Ok(vec![i as u8; size]))
        }))
    }
    async fn numbers_again(&self, from: u64, to: u64) -> Result<pb::Stream<u64>, pb::Error> {
        Ok(pb::Stream::iter(from..to))
    }
    async fn push(&self, to: pb::Sender<u64>, n: u64) -> Result<(), pb::Error> {
        let (pushed, refused) = (self.pushed.clone(), self.push_refused.clone());
        tokio::spawn(async move {
            for i in 0..n {
                if to.send(i).await.is_err() {
                    refused.store(true, Ordering::SeqCst);
                    return;
                }
                pushed.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(())
    }
    async fn push_blobs(&self, to: pb::Sender<Vec<u8>>, size: usize) -> Result<(), pb::Error> {
        let (pushed, refused) = (self.pushed.clone(), self.push_refused.clone());
        tokio::spawn(async move {
            loop {
                if to.send(vec![7; size]).await.is_err() {
                    refused.store(true, Ordering::SeqCst);
                    return;
                }
                pushed.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(())
    }
    async fn sized(&self, sizes: Vec<usize>) -> Result<pb::Stream<Vec<u8>>, pb::Error> {
        Ok(pb::Stream::iter(sizes.into_iter().enumerate().map(|(i, n)| vec![i as u8; n])))
    }
    async fn blobs(&self, sizes: Vec<usize>) -> Result<pb::Stream<pb::Blob>, pb::Error> {
        Ok(pb::Stream::iter(sizes.into_iter().enumerate().map(|(i, n)| pb::Blob::from(vec![i as u8; n]))))
    }
    async fn counted(&self, n: u64) -> Result<pb::Stream<Counted>, pb::Error> {
        Ok(pb::Stream::iter((0..n).map(Counted)))
    }
    async fn objects(&self, n: u64) -> Result<pb::Stream<pb::Ref<dyn Numbered>>, pb::Error> {
        Ok(pb::Stream::iter((0..n).map(|i| pb::Ref::new(Arc::new(Number(i)) as Arc<dyn Numbered>))))
    }
    async fn labelled(&self, sizes: Vec<usize>) -> Result<pb::Stream<Labelled>, pb::Error> {
        Ok(pb::Stream::iter(sizes.into_iter().enumerate().map(|(i, n)| Labelled {
            object: pb::Ref::new(Arc::new(Number(i as u64)) as Arc<dyn Numbered>),
            data: vec![i as u8; n],
        })))
    }
    async fn run(&self, job: Job) -> Result<u64, pb::Error> {
        for i in 0..job.count {
            job.results.send(format!("result {i}")).await?;
        }
        Ok(job.count)
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
