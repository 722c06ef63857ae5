//! What a [`Stream`](super::Stream) holds: a local producer (with or
//! without a cursor), a peer's stream, or nothing once sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;

use super::protocol::Boxed;
use super::remote;
use crate::Error;

pub(crate) enum Inner<T> {
    Local(Boxed<T>),
    /// A local producer that can start at any item.
    Cursor(Cursor<T>),
    Remote(remote::Remote<T>),
    /// Sent to a peer (or consumed).
    Gone,
}

/// A producer with a cursor: opens its items from any item on.
pub(crate) struct Cursor<T> {
    open: Box<dyn FnMut(u64) -> Boxed<T> + Send>,
    /// The items being read, opened at item 0 at the first read.
    current: Option<Boxed<T>>,
}

impl<T> Cursor<T> {
    /// A cursor opening its items with `open(next)`, from item 0 at the
    /// first read.
    pub(crate) fn new(open: Box<dyn FnMut(u64) -> Boxed<T> + Send>) -> Self {
        Cursor { open, current: None }
    }

    /// Read from item `next` on.
    pub(crate) fn start_at(&mut self, next: u64) {
        self.current = Some((self.open)(next));
    }
}

impl<T: serde::de::DeserializeOwned + Send + 'static> futures_util::Stream for Inner<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Inner::Local(s) => s.poll_next_unpin(cx),
            Inner::Cursor(c) => {
                if c.current.is_none() {
                    c.start_at(0);
                }
                c.current.as_mut().map_or(Poll::Ready(None), |s| s.poll_next_unpin(cx))
            }
            Inner::Remote(r) => r.poll_next_unpin(cx),
            Inner::Gone => Poll::Ready(None),
        }
    }
}
