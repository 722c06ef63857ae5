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

/// TCP keepalive on pb's TCP transports: the first probe after
/// `time` without traffic, then one every `interval`, and the connection
/// is given up after `retries` unanswered probes (where the OS lets
/// the count be set; elsewhere its own).
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub time: std::time::Duration,
    /// Time between probes.
    pub interval: std::time::Duration,
    /// Unanswered probes before the connection is given up.
    pub retries: u32,
}

/// The keepalive [`Transport::tcp`] sets: 30 s idle, then a probe every
/// 10 s, 3 of them: a silent peer is given up after about a minute.
pub const KEEPALIVE: Keepalive =
    Keepalive { time: std::time::Duration::from_secs(30), interval: std::time::Duration::from_secs(10), retries: 3 };

/// Turn [`KEEPALIVE`] on for `stream`.
pub(crate) fn keep_alive(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE.time).with_interval(KEEPALIVE.interval);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd", target_vendor = "apple"))]
    let keepalive = keepalive.with_retries(KEEPALIVE.retries);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

impl Transport {
    /// A TCP stream. Sets `TCP_NODELAY` (pb writes whole frames and
    /// coalesces small ones itself) and TCP keepalive ([`KEEPALIVE`]: a
    /// peer gone silent without closing, such as a host powered off, is
    /// noticed by the OS within about a minute even where no ping runs, as
    /// on a link to a Twisted peer).
    pub fn tcp(stream: tokio::net::TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let _ = keep_alive(&stream);
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

#[cfg(test)]
mod keepalive_tests {
    use super::*;

    #[tokio::test]
    async fn tcp_transports_turn_keepalive_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        // The same socket, through a second descriptor.
        let socket = socket2::SockRef::from(&stream).try_clone().unwrap();
        assert!(!socket.keepalive().unwrap(), "off until asked for");
        let _transport = Transport::tcp(stream);
        assert!(socket.keepalive().unwrap());
        #[cfg(target_os = "linux")]
        {
            assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE.time);
            assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE.interval);
            assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE.retries);
        }
    }
}
