//! Byte streams a connection runs over: TCP, Unix sockets, in-memory pairs.

use std::fmt;

use tokio::io::{AsyncRead, AsyncWrite};

/// The read half of a transport.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a transport.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// A byte stream to a peer, split into halves, with a printable peer address.
pub struct Transport {
    pub(crate) read: BoxRead,
    pub(crate) write: BoxWrite,
    pub(crate) peer: String,
    /// What a resumable session is bound to on this transport: the TLS
    /// peer's identity (see `connection/resume.rs`); `None` for plain ones.
    pub(crate) binding: Option<Vec<u8>>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport").field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl Transport {
    /// A TCP stream (sets `TCP_NODELAY`: pb writes whole frames and coalesces
    /// small ones itself).
    pub fn tcp(stream: tokio::net::TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "tcp:?".into());
        let (read, write) = stream.into_split();
        Transport { read: Box::new(read), write: Box::new(write), peer, binding: None }
    }

    /// A Unix domain socket stream.
    #[cfg(unix)]
    pub fn unix(stream: tokio::net::UnixStream) -> Self {
        let peer = stream
            .peer_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
            .unwrap_or_else(|| "unix:unnamed".into());
        let (read, write) = stream.into_split();
        Transport { read: Box::new(read), write: Box::new(write), peer, binding: None }
    }

    /// Any bidirectional stream (TLS, a test double, ...).
    pub fn from_io<S: AsyncRead + AsyncWrite + Send + 'static>(io: S, peer: impl Into<String>) -> Self {
        let (read, write) = tokio::io::split(io);
        Transport { read: Box::new(read), write: Box::new(write), peer: peer.into(), binding: None }
    }

    /// Two transports joined in memory, for tests and in-process links.
    pub fn memory_pair() -> (Transport, Transport) {
        let (a, b) = tokio::io::duplex(256 << 10);
        (Transport::from_io(a, "memory:a"), Transport::from_io(b, "memory:b"))
    }

    /// The read half, the write half and the peer's address.
    pub(crate) fn into_parts(self) -> (BoxRead, BoxWrite, String) {
        (self.read, self.write, self.peer)
    }

    /// The peer's address, for logs.
    pub fn peer(&self) -> &str {
        &self.peer
    }
}
