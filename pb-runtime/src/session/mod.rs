//! Reconnecting client sessions (the seed's Client object).
//!
//! A [`Client`] connects to a server's root, pings it, detects outages (a
//! missed ping or a failed call) and reconnects with backoff. If the server
//! still holds the session (the same process, within its grace period), the
//! session **resumes** where it stopped and reports
//! [`SessionEvent::Resumed`]: calls in flight are answered exactly once,
//! missed cache events arrive in order, nothing is replayed. Otherwise it
//! heals every live proxy it handed out by replaying how each was obtained,
//! then reports [`SessionEvent::Reconnected`].
//!
//! # Resuming
//!
//! Both sides of a session number their frames and keep each until the
//! peer acknowledges it; a resume tells each side what the other received,
//! and each sends the rest again. The server keeps a session whose link
//! dropped for [`Config::resume_grace`](crate::Config::resume_grace), within
//! [`Config::max_resume_bytes`](crate::Config::max_resume_bytes) and
//! [`Config::max_detached_sessions`](crate::Config::max_detached_sessions).
//! The client tries to resume until that grace period has passed; a server
//! that does not know the session (restarted, grace passed, a bound hit)
//! answers with a new one, and the session falls back to replay healing
//! (reporting `Disconnected`, then `Reconnected`).
//!
//! # Which proxies heal
//!
//! The session remembers how each reconnectable proxy was obtained and
//! replays that path after reconnecting, in the order the proxies were made
//! (parents before children):
//! - the root ([`Client::root`], [`Client::registry`]);
//! - registry lookups through a reconnecting registry proxy
//!   (`registry.get::<dyn Iface>()`), also at relays forwarding upstream;
//! - methods declared `#[pb(replay)]` called on a reconnecting proxy.
//!
//! Other references (returned by ordinary methods, or nested in copies) are
//! plain references: after an outage they fail with
//! [`crate::Error::Disconnected`] for good.
//!
//! A path can fail to replay even though the link is back: through a relay
//! whose own upstream is still down, the relay answers the lookup or the
//! replayed method with an error. Such proxies are retried on every ping and
//! after every failed call while the link is up, and the session reports
//! [`SessionEvent::Healed`] when they work again. So cutting both links of a
//! chain heals in either order.
//!
//! A path the server *refuses* is given up instead: a login whose
//! credentials are no longer accepted answers `Unauthorized`, and retrying
//! it at every ping would only count against the server's attempt limit.
//! The session reports [`SessionEvent::Refused`], calls through the avatar
//! (and proxies obtained through it) fail with `Unauthorized`, and the
//! rest of the session keeps working.
//!
//! # Failure semantics
//!
//! During an outage calls fail fast with `Disconnected` (or wait for the
//! resume, with [`SessionConfig::wait_for_resume`]; a call a method makes
//! while serving a peer, such as a relay forwarding, always waits). A call in
//! flight when the link drops waits for the resume; if the session cannot
//! resume it fails with `ConnectionLost` (without resumption it may have
//! run, and may still run later: see
//! [`Error::ConnectionLost`](crate::Error::ConnectionLost)).
//! Nothing is retried, except methods declared `#[pb(idempotent)]`: a call of
//! such a method that failed with `ConnectionLost` is sent once more after the
//! session heals (within [`SessionConfig::retry_wait`]).
//!
//! # Defaults
//!
//! Ping every 5 s, outage if no pong within 5 s (a black-holed link is
//! detected within 10 s); reconnect backoff per gRPC's connection-backoff
//! spec (1 s initial, x1.6, ±20% jitter, 120 s cap), first attempt at once;
//! 10 s to connect and handshake; idempotent retries wait up to 30 s for
//! healing. All configurable through [`SessionConfig`].

pub mod backoff;
mod client;
mod config;
mod core;
mod track;

pub use crate::transport::{Connect, ConnectFn};
pub use client::{Client, ClientBuilder};
pub use config::{SessionConfig, SessionEvent};
