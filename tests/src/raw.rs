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
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
        framed.send(frame(&Header::Hello { magic: 0x7062_0001, version: 1, root: None }, &[])).await.unwrap();
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
}
