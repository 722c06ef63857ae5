//! Connection settings and limits.

use std::time::Duration;

/// Settings of one connection. Every limit has a default that a server facing
/// untrusted peers can keep; see the README's "Security" section.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame accepted or sent, checked before any buffer is reserved.
    /// Default 16 MiB.
    pub max_frame_len: usize,
    /// Deepest nesting of a decoded message (structs, enums, options,
    /// sequences and maps each count as a level); deeper messages fail to
    /// decode instead of overflowing the stack. Default 64
    /// ([`crate::wire::depth::DEFAULT_MAX_DEPTH`]).
    pub max_depth: usize,
    /// Most objects exported to the peer at once. Default 65,536.
    pub max_exports: usize,
    /// Most calls from the peer running at once; beyond it calls get
    /// [`crate::Error::Busy`]. Default 1,024.
    pub max_in_flight: usize,
    /// Most bytes queued for a peer that does not read before the connection
    /// is closed. Default 64 MiB.
    pub max_queued_bytes: usize,
    /// Most connections a [`crate::Server`] holds at once (open or in their
    /// handshake); beyond it, new connections are closed as soon as they
    /// are accepted. A server-wide setting (connections ignore it).
    /// Default 10,000.
    pub max_connections: usize,
    /// How long the peer has to complete the handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// How long one frame may take to arrive once its first byte has (a
    /// peer dribbling bytes, slowloris, is cut); time between frames does
    /// not count. Default 60 s.
    pub frame_timeout: Duration,
    /// The listen queue of a TCP socket bound by [`crate::Server::bind`]:
    /// connections the kernel holds until the server accepts them. Sized
    /// for a reconnect storm (every session of a restarted server coming
    /// back at once); the kernel caps it at `net.core.somaxconn`. A
    /// server-wide setting. Default 4,096.
    pub listen_backlog: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_len: 16 << 20,
            max_depth: crate::wire::depth::DEFAULT_MAX_DEPTH,
            max_exports: 65_536,
            max_in_flight: 1024,
            max_queued_bytes: 64 << 20,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(60),
            listen_backlog: 4096,
        }
    }
}

impl Config {
    /// Set [`Config::max_frame_len`].
    pub fn max_frame_len(mut self, n: usize) -> Self {
        self.max_frame_len = n;
        self
    }
    /// Set [`Config::max_depth`].
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
    /// Set [`Config::max_exports`].
    pub fn max_exports(mut self, n: usize) -> Self {
        self.max_exports = n;
        self
    }
    /// Set [`Config::max_in_flight`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
    /// Set [`Config::max_queued_bytes`].
    pub fn max_queued_bytes(mut self, n: usize) -> Self {
        self.max_queued_bytes = n;
        self
    }
    /// Set [`Config::listen_backlog`].
    pub fn listen_backlog(mut self, n: u32) -> Self {
        self.listen_backlog = n;
        self
    }
    /// Set [`Config::max_connections`].
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }
    /// Set [`Config::frame_timeout`].
    pub fn frame_timeout(mut self, d: Duration) -> Self {
        self.frame_timeout = d;
        self
    }
    /// Set [`Config::handshake_timeout`].
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }
}
