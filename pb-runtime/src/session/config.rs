//! Session settings and events.

use std::time::Duration;

use super::backoff::BackoffConfig;
use crate::{Config, Error};

/// Settings of a reconnecting session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// How often to ping the server. Default 5 s.
    pub ping_interval: Duration,
    /// How long a ping may take before the link counts as down. Default 5 s.
    pub ping_timeout: Duration,
    /// How long one connect attempt (transport and handshake) may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long an idempotent call waits for healing before giving up. Default 30 s.
    pub retry_wait: Duration,
    /// Reconnect delays (also between resume attempts).
    pub backoff: BackoffConfig,
    /// Ask the server for a resumable session: after a short outage the
    /// session resumes where it stopped (see the module docs). Default on;
    /// a server with resumable sessions off, or an older one, gives a
    /// plain connection all the same.
    pub resume: bool,
    /// Calls made while the link is down wait for the session to resume
    /// instead of failing at once with `Disconnected` (if it cannot resume,
    /// they fail with `ConnectionLost`, never having been sent). Default
    /// off: calls during an outage fail fast. Calls already in flight when
    /// the link drops always wait for the resume.
    pub wait_for_resume: bool,
    /// Settings of each connection.
    pub connection: Config,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            retry_wait: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            resume: true,
            wait_for_resume: false,
            connection: Config::default(),
        }
    }
}

impl SessionConfig {
    /// Set [`SessionConfig::ping_interval`].
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// Set [`SessionConfig::ping_timeout`].
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// Set [`SessionConfig::connect_timeout`].
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Set [`SessionConfig::retry_wait`].
    pub fn retry_wait(mut self, d: Duration) -> Self {
        self.retry_wait = d;
        self
    }
    /// Set [`SessionConfig::backoff`].
    pub fn backoff(mut self, b: BackoffConfig) -> Self {
        self.backoff = b;
        self
    }
    /// Set [`SessionConfig::resume`].
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }
    /// Set [`SessionConfig::wait_for_resume`].
    pub fn wait_for_resume(mut self, on: bool) -> Self {
        self.wait_for_resume = on;
        self
    }
    /// Set [`SessionConfig::connection`].
    pub fn connection(mut self, c: Config) -> Self {
        self.connection = c;
        self
    }
}

/// A change in a session's link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Connected (the first event of a stream when the session is up).
    Connected {
        /// The server's address.
        peer: String,
    },
    /// The link went down and the session could not resume: calls in
    /// flight failed with `ConnectionLost`. (A link that drops and resumes
    /// reports only [`SessionEvent::Resumed`].)
    Disconnected {
        /// The server's address.
        peer: String,
        /// Why: closed by the peer, ping timeout, read error, ...
        reason: String,
    },
    /// The link dropped and came back to the same server process within its
    /// grace period, and the session resumed where it stopped: calls in
    /// flight were answered, events missed were delivered, nothing ran
    /// twice, and nothing was replayed.
    Resumed {
        /// The server's address.
        peer: String,
        /// How long the link was down.
        outage: std::time::Duration,
    },
    /// Reconnected, and every live reconnecting proxy was replayed.
    Reconnected {
        /// The server's address.
        peer: String,
        /// Proxies whose path was replayed and now point at the new link.
        healed: usize,
        /// Proxies whose path failed to replay: they fail with
        /// `Disconnected` until a later retry succeeds ([`SessionEvent::Healed`]).
        /// Paths the server refused are not counted here but reported by
        /// [`SessionEvent::Refused`] right after this event.
        failed: usize,
    },
    /// Proxies whose replay had failed after a reconnect were replayed later
    /// (retried at each ping and after each failed call while connected):
    /// e.g. a relay whose own upstream came back after the relay did.
    Healed {
        /// The server's address.
        peer: String,
        /// Proxies replayed now.
        healed: usize,
        /// Proxies still failing.
        failed: usize,
    },
    /// The server refused to replay a path, so the session gave it up: a
    /// login whose credentials are no longer accepted (and every proxy
    /// obtained through that avatar). Calls on those proxies fail with
    /// `error` from now on, and the session never sends the path again
    /// (a server that limits login attempts is not hammered). The rest of
    /// the session works; log in again (with [`Client::login`](crate::Client::login)) for a new
    /// avatar.
    Refused {
        /// The server's address.
        peer: String,
        /// The refused path, e.g. `pb.Login.login() -> aurora.UserManager`.
        path: String,
        /// The server's answer, [`Error::Unauthorized`].
        error: Error,
    },
}
