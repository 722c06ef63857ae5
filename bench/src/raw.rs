//! The floor: tokio TCP, length-prefixed postcard frames, calls multiplexed
//! by request id. What any hand-written protocol would do, and no more: a
//! reader task and a writer task per side, a pending map of oneshots on the
//! client, replies computed inline by the server's reader, and the writer
//! coalescing whatever is queued into one flush.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::driver::{BoxError, Caller};

/// A request body; the frame is `(id, Request)`.
#[derive(Serialize, Deserialize)]
enum Request {
    Add(u64, u64),
    Echo(Bytes),
}

/// A reply body; the frame is `(id, Response)`.
#[derive(Serialize, Deserialize)]
enum Response {
    Add(u64),
    Echo(Bytes),
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().max_frame_length(16 << 20).new_codec()
}

/// Write queued frames, one flush for everything already queued.
async fn write_loop(
    mut sink: FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    while let Some(frame) = rx.recv().await {
        if sink.feed(frame).await.is_err() {
            return;
        }
        while let Ok(frame) = rx.try_recv() {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if SinkExt::<Bytes>::flush(&mut sink).await.is_err() {
            return;
        }
    }
}

fn split(stream: TcpStream) -> (FramedRead<OwnedReadHalf, LengthDelimitedCodec>, mpsc::UnboundedSender<Bytes>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(FramedWrite::new(write, codec()), rx));
    (FramedRead::new(read, codec()), tx)
}

/// Serve connections on `listener` until the process exits.
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let (mut frames, tx) = split(stream);
            while let Some(Ok(frame)) = frames.next().await {
                let Ok((id, req)) = postcard::from_bytes::<(u64, Request)>(&frame) else { return };
                let resp = match req {
                    Request::Add(a, b) => Response::Add(a.wrapping_add(b)),
                    Request::Echo(data) => Response::Echo(data),
                };
                let out = postcard::to_stdvec(&(id, resp)).expect("replies encode");
                if tx.send(out.into()).is_err() {
                    return;
                }
            }
        });
    }
}

struct Inner {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Response>>>,
    next: AtomicU64,
}

/// A client connection.
#[derive(Clone)]
pub struct RawClient(Arc<Inner>);

impl RawClient {
    /// Connect to a raw server.
    pub async fn connect(addr: std::net::SocketAddr) -> Result<RawClient, BoxError> {
        let (mut frames, tx) = split(TcpStream::connect(addr).await?);
        let inner = Arc::new(Inner { tx, pending: Mutex::new(HashMap::new()), next: AtomicU64::new(0) });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = frames.next().await {
                let Ok((id, resp)) = postcard::from_bytes::<(u64, Response)>(&frame) else { return };
                let Some(inner) = weak.upgrade() else { return };
                let slot = inner.pending.lock().unwrap().remove(&id);
                if let Some(slot) = slot {
                    let _ = slot.send(resp);
                }
            }
        });
        Ok(RawClient(inner))
    }

    async fn call(&self, req: Request) -> Result<Response, BoxError> {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let frame = postcard::to_stdvec(&(id, req))?;
        let (tx, rx) = oneshot::channel();
        self.0.pending.lock().unwrap().insert(id, tx);
        self.0.tx.send(frame.into()).map_err(|_| "raw connection closed")?;
        Ok(rx.await.map_err(|_| "raw connection closed")?)
    }
}

impl Caller for RawClient {
    async fn add(&self, a: u64, b: u64) -> Result<u64, BoxError> {
        match self.call(Request::Add(a, b)).await? {
            Response::Add(sum) => Ok(sum),
            Response::Echo(_) => Err("wrong reply kind".into()),
        }
    }

    async fn echo(&self, data: Bytes) -> Result<Bytes, BoxError> {
        match self.call(Request::Echo(data)).await? {
            Response::Echo(data) => Ok(data),
            Response::Add(_) => Err("wrong reply kind".into()),
        }
    }
}
