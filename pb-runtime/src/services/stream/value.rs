//! [`Stream`]: the value a method passes, and how it travels.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::inner::{Cursor, Inner};
use super::protocol::{Boxed, STREAM_IFACE};
use super::{remote, source};
use crate::Error;
use crate::connection::RefCx;
use crate::wire::{self, WireRef};

/// A sequence of `T`s, local or from a peer; see the [module docs](super).
pub struct Stream<T> {
    pub(super) inner: Mutex<Inner<T>>,
}

impl<T> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.inner.lock().unwrap() {
            Inner::Local(_) => "local",
            Inner::Cursor(_) => "local, with a cursor",
            Inner::Remote(_) => "remote",
            Inner::Gone => "sent",
        };
        f.debug_struct("Stream").field("kind", &kind).finish()
    }
}

impl<T: Send + 'static> Stream<T> {
    /// A stream of the items of `stream` (which ends the stream with its
    /// first `Err`).
    pub fn new(stream: impl futures_util::Stream<Item = Result<T, Error>> + Send + 'static) -> Self {
        Stream { inner: Mutex::new(Inner::Local(Box::pin(stream))) }
    }

    /// A stream with a cursor, like a Kafka offset: `resume_from(next)`
    /// returns the items from number `next` on (items are numbered from 0;
    /// the stream starts with `resume_from(0)`).
    ///
    /// When such a stream is the result of a `#[pb(replay)]` method and its
    /// consumer's session cannot resume (the server restarted, or the
    /// outage outlasted the grace period), the session asks the method
    /// again once it is back, and the fresh stream is started with
    /// `resume_from(n)` where `n` is the number of items that arrived: the
    /// consumer goes on with no item lost or repeated. A stream without a
    /// cursor ends with [`Error::Lost`] there instead. A relay that passes
    /// such a stream on (returns its upstream's stream, not yet read) passes
    /// the resume upstream.
    pub fn with_cursor<F, S>(mut resume_from: F) -> Self
    where
        F: FnMut(u64) -> S + Send + 'static,
        S: futures_util::Stream<Item = Result<T, Error>> + Send + 'static,
    {
        let open = Box::new(move |next| -> Boxed<T> { Box::pin(resume_from(next)) });
        Stream { inner: Mutex::new(Inner::Cursor(Cursor::new(open))) }
    }

    /// A stream of the items of `iter`.
    pub fn iter(iter: impl IntoIterator<Item = T, IntoIter: Send + 'static>) -> Self {
        Stream::new(futures_util::stream::iter(iter.into_iter().map(Ok)))
    }

    /// Items received from a peer so far (zero for a local stream).
    pub fn received(&self) -> u64 {
        match &*self.inner.lock().unwrap() {
            Inner::Remote(r) => r.received(),
            _ => 0,
        }
    }

    /// The most bytes of items asked for at once, on a stream received
    /// from a peer (default [`Config::stream_window`](crate::Config::stream_window),
    /// 1 MiB); the stream holds at most this much (two requests of half of
    /// it), plus one item. Within it, the window adapts to what the
    /// consumer reads: a few round trips' worth of its measured rate, but
    /// not below 64 KiB (see the [module docs](crate::stream#flow-control)).
    pub fn window(self, bytes: usize) -> Self {
        if let Inner::Remote(r) = &mut *self.inner.lock().unwrap() {
            r.set_window(bytes);
        }
        self
    }
}

impl<T: Send + 'static> futures_util::Stream for Stream<T>
where
    T: serde::de::DeserializeOwned,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.lock().unwrap().poll_next_unpin(cx)
    }
}

impl<T> Stream<T> {
    /// What the stream holds, leaving it sent.
    pub(super) fn take(&self) -> Inner<T> {
        std::mem::replace(&mut *self.inner.lock().unwrap(), Inner::Gone)
    }
}

impl<T: Serialize + serde::de::DeserializeOwned + Send + 'static> Serialize for Stream<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire = RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| S::Error::custom("a pb::Stream can only be sent by a pb connection"))?;
            let stream = match self.take() {
                Inner::Gone => return Err(S::Error::custom("this pb::Stream was already sent or consumed")),
                stream => stream,
            };
            let count = cx.link().open_stream().map_err(|e| S::Error::custom(wire::fail(e)))?;
            let source = source::Source::new(stream, count, cx.link().max_frame_len() / 2);
            let key = (std::sync::Arc::as_ptr(&source) as *const () as usize, STREAM_IFACE);
            let id = cx.export(key, &mut || source.clone()).map_err(|e| S::Error::custom(wire::fail(e)))?;
            Ok(WireRef::Sender { id, iface: STREAM_IFACE })
        })?;
        wire.serialize(s)
    }
}

impl<'de, T: Serialize + serde::de::DeserializeOwned + Send + 'static> Deserialize<'de> for Stream<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireRef::deserialize(d)?;
        RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| D::Error::custom("a pb::Stream can only be received by a pb connection"))?;
            let inner = match wire {
                WireRef::Sender { id, iface: STREAM_IFACE } => {
                    let link = cx.link();
                    Inner::Remote(remote::Remote::new(link.import(id), link.stream_window(), link.max_frame_len()))
                }
                WireRef::Sender { iface, .. } => {
                    let e = Error::WrongInterface { expected: "pb.Stream".into(), found: iface };
                    return Err(D::Error::custom(wire::fail(e)));
                }
                // Our own stream, sent back: take its producer back.
                WireRef::Receiver { id } => {
                    let object = cx.link().exported(id).map_err(|e| D::Error::custom(wire::fail(e)))?;
                    let Some(source) = object.object().downcast_ref::<source::Taker<T>>() else {
                        let e = Error::WrongInterface { expected: "pb.Stream".into(), found: object.interface_id() };
                        return Err(D::Error::custom(wire::fail(e)));
                    };
                    source.take()
                }
            };
            Ok(Stream { inner: Mutex::new(inner) })
        })
    }
}
