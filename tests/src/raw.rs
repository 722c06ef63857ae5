//! A hand-driven pb peer that writes frames itself, to send what a
//! well-behaved peer never would (forged ids, bad payloads).

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use pb::wire::Header;
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// A raw peer on a TCP connection.
pub struct RawPeer {
    framed: Framed<TcpStream, LengthDelimitedCodec>,
    next_req: u64,
}

/// A frame as postcard header plus payload.
pub fn frame(header: &Header, payload: &[u8]) -> Bytes {
    let mut buf = postcard::to_allocvec(header).unwrap();
    buf.extend_from_slice(payload);
    buf.into()
}

impl RawPeer {
    /// Connect and exchange hellos; returns the peer and the server's root interface id.
    pub async fn connect(addr: std::net::SocketAddr) -> (RawPeer, Option<u64>) {
        Self::connect_as(addr, 1).await
    }

    /// [`connect`](Self::connect), saying protocol `version` in the hello.
    pub async fn connect_as(addr: std::net::SocketAddr, version: u16) -> (RawPeer, Option<u64>) {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap(); // byte-at-a-time writes go out at once
        let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
        framed.send(frame(&Header::Hello { magic: 0x7062_0001, version, root: None }, &[])).await.unwrap();
        let (h, _) = Self::decode(&framed.next().await.unwrap().unwrap().freeze());
        let Header::Hello { root, .. } = h else { panic!("expected hello, got {h:?}") };
        (RawPeer { framed, next_req: 1 }, root)
    }

    fn decode(frame: &Bytes) -> (Header, Bytes) {
        let (h, rest) = postcard::take_from_bytes::<Header>(frame).unwrap();
        let off = frame.len() - rest.len();
        (h, frame.slice(off..))
    }

    /// Send a frame as is.
    pub async fn send(&mut self, header: &Header, payload: &[u8]) {
        self.framed.send(frame(header, payload)).await.unwrap();
    }

    /// Write raw bytes, bypassing the framing.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.framed.get_mut().write_all(bytes).await.unwrap();
        self.framed.get_mut().flush().await.unwrap();
    }

    /// Next frame from the server, or `None` if it closed.
    pub async fn recv(&mut self) -> Option<(Header, Bytes)> {
        match self.framed.next().await {
            Some(Ok(f)) => Some(Self::decode(&f.freeze())),
            _ => None,
        }
    }

    /// Call `method` on `target` with an encoded payload; returns `(ok, payload)` of the reply.
    pub async fn call(&mut self, target: u64, method: u32, args: &[u8]) -> (bool, Bytes) {
        let req = self.next_req;
        self.next_req += 1;
        self.send(&Header::Call { req, target, method }, args).await;
        loop {
            match self.recv().await.expect("server closed") {
                (Header::Reply { req: r, ok }, payload) if r == req => return (ok, payload),
                _ => continue,
            }
        }
    }

    /// Send a call without waiting for its reply; returns its request id.
    pub async fn start(&mut self, target: u64, method: u32, args: &[u8]) -> u64 {
        let req = self.next_req;
        self.next_req += 1;
        self.send(&Header::Call { req, target, method }, args).await;
        req
    }

    /// Queue a call without flushing (for floods); returns its request id.
    /// Write errors are ignored: the server may have cut a flooding peer.
    pub async fn feed(&mut self, target: u64, method: u32, args: &[u8]) -> u64 {
        let req = self.next_req;
        self.next_req += 1;
        let _ = self.framed.feed(frame(&Header::Call { req, target, method }, args)).await;
        req
    }

    /// Flush what [`RawPeer::feed`] queued (errors ignored, as there).
    pub async fn flush(&mut self) {
        let _ = SinkExt::<Bytes>::flush(&mut self.framed).await;
    }

    /// The reply to `req`, skipping other frames.
    pub async fn reply(&mut self, req: u64) -> (bool, Bytes) {
        loop {
            match self.recv().await.expect("server closed") {
                (Header::Reply { req: r, ok }, payload) if r == req => return (ok, payload),
                _ => continue,
            }
        }
    }

    /// Whether the server closes the connection within `within` (reading and
    /// discarding whatever it sends until then).
    pub async fn closed_within(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, async {
            loop {
                match self.framed.next().await {
                    Some(Ok(_)) => continue,
                    _ => return,
                }
            }
        })
        .await
        .is_ok()
    }

    /// Close the write half (the server reads end of stream).
    pub async fn shutdown_write(&mut self) {
        use tokio::io::AsyncWriteExt;
        self.framed.get_mut().shutdown().await.unwrap();
    }

    /// The socket, to read or write without framing.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.framed.get_mut()
    }
}

/// The error a failed reply carries.
pub fn fault(payload: &[u8]) -> pb::Error {
    postcard::from_bytes(payload).expect("a fault payload is a pb::Error")
}

/// Whether the server closes a raw socket within `within` (reading and
/// discarding whatever it sends until then).
pub async fn socket_closed_within(stream: &mut TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}
