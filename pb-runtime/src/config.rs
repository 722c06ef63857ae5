//! Connection settings and limits.

use std::time::Duration;

/// Settings of one connection. Every limit has a default that a server facing
/// untrusted peers can keep; see the README's "Security" section.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame accepted or sent, checked before any buffer is reserved.
    /// Default 16 MiB. At most [`MAX_FRAME_LEN_CLAMP`] (4 GiB - 1, what the
    /// 4-byte length prefix carries): larger values act as that.
    pub max_frame_len: usize,
    /// Deepest nesting of a decoded message (structs, enums, options,
    /// sequences and maps each count as a level); deeper messages fail to
    /// decode instead of overflowing the stack. Default 64
    /// ([`crate::wire::depth::DEFAULT_MAX_DEPTH`]).
    ///
    /// At most [`MAX_DEPTH_CLAMP`] (1024): larger values act as that, so
    /// that the deepest message allowed fits in a 2 MiB (tokio worker) stack
    /// with a wide margin. Measured per level of nesting (the decoder and
    /// serde's derived visitors together): 64 bytes for an enum that boxes
    /// itself, 48 for a struct with an `Option<Box<Self>>`, 184 for an enum
    /// holding a `Vec<Self>` in release builds (so about 190 KiB at 1024
    /// levels); 352, 480 and 624 bytes in debug builds (640 KiB). Types
    /// whose `Deserialize` keeps much larger values on the stack use more.
    pub max_depth: usize,
    /// Most bytes of values one decoded message may build: each sequence
    /// element and map key or value counts its in-memory size (at least one
    /// byte), each string and byte string its length. Beyond it the message
    /// fails to decode with [`crate::Error::LimitExceeded`] ("decoded
    /// size"), so a hostile peer cannot turn a frame of small encoded items
    /// (an empty record takes a byte or two) into gigabytes of large values.
    /// Default 64 MiB ([`crate::wire::codec::DEFAULT_MAX_DECODED_LEN`]),
    /// four times the default frame limit: a frame of byte strings or text
    /// always fits; one of many small integers decoded into `Vec<u64>`
    /// (1 byte each on the wire, 8 in memory) fits up to 8 MiB of them, so
    /// raise it if your messages are like that. Byte strings count even when
    /// they borrow from the frame (a received [`crate::wire::Blob`]), so keep
    /// it at least [`Config::max_frame_len`].
    pub max_decoded_len: usize,
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
    /// How long a server keeps a client's session after its link drops,
    /// for the client to resume it: its exports, the calls it runs and
    /// their replies, the frames the client has not received. Zero turns
    /// resumable sessions off (clients then heal by replaying, as after a
    /// server restart). A server-wide setting. Default 30 s.
    pub resume_grace: Duration,
    /// Most bytes of frames kept for one session's resume: frames the peer
    /// has not acknowledged yet (it acknowledges every 256 frames or
    /// 256 KiB), and, while the link is down, what the session sends
    /// meanwhile. Past it the frames are dropped, and a resume works only
    /// if the peer turns out to have them all; otherwise it falls back to
    /// replay healing. On both sides of a session. Default 8 MiB.
    pub max_resume_bytes: usize,
    /// Most sessions a server keeps waiting for their clients at once;
    /// beyond it a session whose link drops is closed at once (as with
    /// resumable sessions off). With [`Config::max_resume_bytes`] this
    /// bounds what absent clients cost the server: at most
    /// `max_detached_sessions x max_resume_bytes` of kept frames, each
    /// released at the end of its grace period. A server-wide setting.
    /// Default 1,024.
    pub max_detached_sessions: usize,
    /// The window of a stream received on this connection: at most this
    /// many bytes of its items asked for or held at once (plus one item
    /// larger than it). A consumer that stops reading holds its producer
    /// to this much. Per stream: `pb::Stream::window` sets it for one.
    /// Default 1 MiB.
    pub stream_window: usize,
    /// Most streams this side has sent on the connection and not yet seen
    /// released (each holds its producer); beyond it, a message carrying
    /// one more fails with [`crate::Error::LimitExceeded`]. Default 1,024.
    pub max_streams: usize,
}

/// The largest [`Config::max_frame_len`] in effect: what the 4-byte length
/// prefix of a frame can carry.
pub const MAX_FRAME_LEN_CLAMP: usize = if usize::BITS > 32 { u32::MAX as usize } else { usize::MAX };

/// The largest [`Config::max_depth`] in effect (see there).
pub const MAX_DEPTH_CLAMP: usize = 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_len: 16 << 20,
            max_depth: crate::wire::depth::DEFAULT_MAX_DEPTH,
            max_decoded_len: crate::wire::codec::DEFAULT_MAX_DECODED_LEN,
            max_exports: 65_536,
            max_in_flight: 1024,
            max_queued_bytes: 64 << 20,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(60),
            listen_backlog: 4096,
            resume_grace: Duration::from_secs(30),
            max_resume_bytes: 8 << 20,
            max_detached_sessions: 1024,
            stream_window: 1 << 20,
            max_streams: 1024,
        }
    }
}

impl Config {
    /// [`Config::max_frame_len`] as enforced: the fields are public, so a
    /// value set directly is clamped here, where it is read.
    pub(crate) fn effective_max_frame_len(&self) -> usize {
        self.max_frame_len.min(MAX_FRAME_LEN_CLAMP)
    }
    /// [`Config::max_depth`] as enforced (clamped where it is read, as
    /// [`Config::effective_max_frame_len`]).
    pub(crate) fn effective_max_depth(&self) -> usize {
        self.max_depth.min(MAX_DEPTH_CLAMP)
    }
    /// Set [`Config::max_frame_len`] (clamped to [`MAX_FRAME_LEN_CLAMP`]).
    pub fn max_frame_len(mut self, n: usize) -> Self {
        self.max_frame_len = n.min(MAX_FRAME_LEN_CLAMP);
        self
    }
    /// Set [`Config::max_depth`] (clamped to [`MAX_DEPTH_CLAMP`]).
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n.min(MAX_DEPTH_CLAMP);
        self
    }
    /// Set [`Config::max_decoded_len`].
    pub fn max_decoded_len(mut self, n: usize) -> Self {
        self.max_decoded_len = n;
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
    /// Set [`Config::resume_grace`] (zero: no resumable sessions).
    pub fn resume_grace(mut self, d: Duration) -> Self {
        self.resume_grace = d;
        self
    }
    /// Set [`Config::max_resume_bytes`].
    pub fn max_resume_bytes(mut self, n: usize) -> Self {
        self.max_resume_bytes = n;
        self
    }
    /// Set [`Config::max_detached_sessions`].
    pub fn max_detached_sessions(mut self, n: usize) -> Self {
        self.max_detached_sessions = n;
        self
    }
    /// Set [`Config::stream_window`].
    pub fn stream_window(mut self, bytes: usize) -> Self {
        self.stream_window = bytes;
        self
    }
    /// Set [`Config::max_streams`].
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n;
        self
    }
    /// Set [`Config::handshake_timeout`].
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_are_clamped_to_what_the_prefix_carries() {
        let c = Config::default().max_frame_len(usize::MAX);
        assert_eq!(c.max_frame_len, u32::MAX as usize);
        // Set directly, the field is clamped where it is read.
        let c = Config { max_frame_len: usize::MAX, ..Config::default() };
        assert_eq!(c.effective_max_frame_len(), u32::MAX as usize);
        assert_eq!(Config::default().effective_max_frame_len(), 16 << 20);
    }

    #[test]
    fn depths_are_clamped() {
        assert_eq!(Config::default().max_depth(1 << 20).max_depth, MAX_DEPTH_CLAMP);
        let c = Config { max_depth: 1 << 20, ..Config::default() };
        assert_eq!(c.effective_max_depth(), MAX_DEPTH_CLAMP);
        assert_eq!(Config::default().effective_max_depth(), 64);
    }
}
