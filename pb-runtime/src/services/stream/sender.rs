//! Channels: a [`Sender`] and the [`Stream`] its items come out of. Either
//! half can be passed to a peer.
//!
//! A `Sender` sent to a peer travels by reference: the sending side exports
//! the channel's entry (a [`Home`]), and the peer gets a `Sender` of its
//! own whose items are streamed back, pulled as the channel's consumer
//! reads them, with the same backpressure as any stream. Each `Sender` a
//! peer receives is one stream into the channel: items from one arrive in
//! the order sent; items from several interleave.
//!
//! A `Sender<T>` describes itself as `sender<T>` ([`crate::describe`]), as
//! `.pbidl` schemas write it.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::protocol::{ATTACH, SENDER_IFACE};
use super::value::Stream;
use crate::Error;
use crate::connection::{CallFuture, Dispatch, RefCx, Reply, send_call};
use crate::wire::{self, WireRef};

/// Items a received `Sender` buffers before its peer pulls them.
const RECEIVED_BUFFER: usize = 16;

/// The sending half of a [`channel`]: items sent here come out of its
/// [`Stream`], wherever that was passed. A `Sender` can be passed to a
/// peer too (as an argument, a result, or inside copied data): the peer's
/// items come out of the same stream.
pub struct Sender<T> {
    tx: tokio::sync::mpsc::Sender<Result<T, Error>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { tx: self.tx.clone() }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("closed", &self.tx.is_closed()).finish()
    }
}

impl<T: Send + 'static> Sender<T> {
    /// Send an item, waiting while the stream's consumer is a window behind.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] once the stream's consumer is gone (its
    /// receiving end dropped, its connection closed).
    pub async fn send(&self, item: T) -> Result<(), Error> {
        self.tx.send(Ok(item)).await.map_err(|_| Error::Disconnected)
    }

    /// End the stream with `error` (the consumer gets it as its last item).
    pub async fn fail(self, error: Error) {
        let _ = self.tx.send(Err(error)).await;
    }

    /// Whether the stream's consumer is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Wait until the stream's consumer is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// A channel whose receiving half is a [`Stream`]: send items with
/// [`Sender::send`] (at most `buffer` wait in the channel, beyond the
/// consumer's window), and pass the stream as an argument or result; the
/// stream ends when every sender is dropped (those passed to peers too).
pub fn channel<T: Send + 'static>(buffer: usize) -> (Sender<T>, Stream<T>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(buffer.max(1));
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (Sender { tx }, Stream::new(stream))
}

/// The channel's entry, exported when a `Sender` is sent: the peer attaches
/// the stream of what it sends.
pub(crate) struct Home<T> {
    tx: tokio::sync::mpsc::Sender<Result<T, Error>>,
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Dispatch for Home<T> {
    fn interface_id(&self) -> u64 {
        SENDER_IFACE
    }

    fn call(&self, method: u32, args: &Bytes, reply: Reply) -> Result<CallFuture, Error> {
        if method != ATTACH {
            return Err(Error::UnknownMethod { interface: "pb.Sender".into(), method, name: None });
        }
        let (mut items,): (Stream<T>,) = crate::decode_args(args)?;
        let tx = self.tx.clone();
        // Forward while the channel's consumer reads: a full channel stops
        // the pulls, a gone consumer drops the peer's stream (releasing it).
        tokio::spawn(async move {
            tokio::select! {
                () = async {
                    while let Some(item) = items.next().await {
                        if tx.send(item).await.is_err() {
                            break;
                        }
                    }
                } => {}
                () = tx.closed() => {}
            }
        });
        Ok(Box::pin(async move { reply.send(&Ok::<(), Error>(())) }))
    }

    fn object(&self) -> &(dyn Any + Send + Sync) {
        &self.tx
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Serialize for Sender<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire = RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| S::Error::custom("a pb::Sender can only be sent by a pb connection"))?;
            let home: Arc<dyn Dispatch> = Arc::new(Home { tx: self.tx.clone() });
            let key = (Arc::as_ptr(&home) as *const () as usize, SENDER_IFACE);
            let id = cx.export(key, &mut || home.clone()).map_err(|e| S::Error::custom(wire::fail(e)))?;
            Ok(WireRef::Sender { id, iface: SENDER_IFACE })
        })?;
        wire.serialize(s)
    }
}

impl<'de, T: Serialize + DeserializeOwned + Send + 'static> Deserialize<'de> for Sender<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireRef::deserialize(d)?;
        RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| D::Error::custom("a pb::Sender can only be received by a pb connection"))?;
            match wire {
                WireRef::Sender { id, iface: SENDER_IFACE } => {
                    let home = cx.link().import(id);
                    let (tx, stream) = channel::<T>(RECEIVED_BUFFER);
                    // Attach the stream of what is sent here to the
                    // channel's entry; the reference to it goes once attached.
                    tokio::spawn(async move {
                        let attached =
                            send_call::<_, Result<(), Error>>(&home, ATTACH, || Some("attach"), &(stream,)).await;
                        if let Err(e) | Ok(Err(e)) = attached {
                            tracing::debug!(error = %e, "a received pb::Sender could not attach to its channel");
                        }
                    });
                    Ok(Sender { tx: tx.tx })
                }
                WireRef::Sender { iface, .. } => {
                    let e = Error::WrongInterface { expected: "pb.Sender".into(), found: iface };
                    Err(D::Error::custom(wire::fail(e)))
                }
                // Our own channel's entry, sent back: a sender of that channel.
                WireRef::Receiver { id } => {
                    let object = cx.link().exported(id).map_err(|e| D::Error::custom(wire::fail(e)))?;
                    match object.object().downcast_ref::<tokio::sync::mpsc::Sender<Result<T, Error>>>() {
                        Some(tx) => Ok(Sender { tx: tx.clone() }),
                        None => {
                            let e =
                                Error::WrongInterface { expected: "pb.Sender".into(), found: object.interface_id() };
                            Err(D::Error::custom(wire::fail(e)))
                        }
                    }
                }
            }
        })
    }
}
