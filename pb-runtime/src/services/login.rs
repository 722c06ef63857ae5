//! Login before anything is reachable (PB's cred/portal).
//!
//! A server that wants to know who it talks to publishes a [`Portal`]
//! instead of its objects. The root of each connection is then a [`Login`]
//! object and nothing else: the peer can call `login(credentials)` and
//! nothing more (every other id is unknown on its connection). The portal
//! hands the credentials to the application's [`Checker`], which validates
//! them and returns the user's *avatar* (PB's perspective): the per-user root
//! object, of any remote interface (often a per-user [`Registry`]'s
//! locator). Only the avatar, and what it hands out, is ever exported to
//! that peer.
//!
//! ```ignore
//! // server
//! let portal = pb::login::Portal::new(|c: Credentials| async move {
//!     match (c.username.as_str(), c.password.as_str()) {
//!         ("alice", "secret") => Ok(AnyRef::new::<dyn UserManager>(Arc::new(Users::for_user("alice")))),
//!         _ => Err(pb::Error::Unauthorized),
//!     }
//! });
//! let server = pb::Server::bind("127.0.0.1:0", portal).await?;
//!
//! // client: the session logs in again by itself after every outage
//! let session = pb::Client::connect(addr).await?;
//! let users = session.login::<dyn UserManager>(Credentials::new("alice", "secret")).await?;
//! ```
//!
//! # Security
//!
//! - Wrong credentials get [`Error::Unauthorized`]; after
//!   [`Portal::max_attempts`] refusals (default 3) on one connection, the
//!   connection is closed.
//! - A connection that has not logged in within [`Portal::login_timeout`]
//!   (default 30 s) is closed.
//! - Credentials travel as they are: use TLS (the `tls` feature) on untrusted
//!   networks. A reconnecting [`Client`](crate::Client) keeps the
//!   credentials it logged in with, to log in again after an outage.
//! - If that login is refused (the password changed meanwhile), the session
//!   tries it once and gives it up: it reports
//!   [`SessionEvent::Refused`](crate::SessionEvent::Refused), calls on the
//!   avatar and on proxies obtained through it fail with `Unauthorized`, and
//!   the refused credentials are never sent again by themselves.
//!
//! The handshake is unchanged: login is an ordinary call on the root, so a
//! server without a portal is reached exactly as before.
//!
//! [`Registry`]: crate::Registry

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connection::WeakConnection;
use crate::references::{AnyRef, Interface, IntoRoot, track_replay};
use crate::{Connection, ConnectionBuilder, Error};

/// What a client presents to log in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Who.
    pub username: String,
    /// The secret (a password, a token).
    pub password: String,
}

impl Credentials {
    /// Credentials of `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// The root a [`Portal`] publishes on each connection before login.
#[pb_macros::remote_interface(crate = "crate", name = "pb.Login")]
pub trait Login {
    /// Present `credentials`; returns the user's avatar.
    async fn login(&self, credentials: Credentials) -> Result<AnyRef, Error>;
}

impl dyn Login {
    /// Log in and type the avatar as `T`.
    ///
    /// When this is a reconnecting session's root (see
    /// [`Client::login`](crate::Client::login)), the avatar is a
    /// reconnecting proxy: after an outage the session logs in again with the
    /// same credentials and swaps the fresh avatar in.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] for refused credentials,
    /// [`Error::WrongInterface`] if the avatar is of another interface, or a
    /// transport error.
    pub async fn login_as<T: ?Sized + Interface>(&self, credentials: Credentials) -> Result<Arc<T>, Error> {
        let avatar = self.login(credentials.clone()).await?.downcast::<T>()?;
        if let Some(parent) = <dyn Login as Interface>::proxy_handle(self) {
            let method = <dyn Login as Interface>::METHODS[0].id;
            track_replay::<T, _, Error>(parent, &avatar, method, "login", (credentials,));
        }
        Ok(avatar)
    }
}

/// Validates credentials and returns the avatar: the application's half of
/// a [`Portal`].
///
/// Implemented for async closures `Fn(Credentials) -> impl Future<Output =
/// Result<AnyRef, Error>>`. Refuse with [`Error::Unauthorized`] (and say no
/// more: which of the name or the secret was wrong is for the server's log).
pub trait Checker: Send + Sync + 'static {
    /// Check `credentials`; the avatar of the user, or why not.
    fn check(&self, credentials: Credentials) -> Pin<Box<dyn Future<Output = Result<AnyRef, Error>> + Send + '_>>;
}

impl<F, Fut> Checker for F
where
    F: Fn(Credentials) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AnyRef, Error>> + Send + 'static,
{
    fn check(&self, credentials: Credentials) -> Pin<Box<dyn Future<Output = Result<AnyRef, Error>> + Send + '_>> {
        Box::pin(self(credentials))
    }
}

/// A server's login: publishes a [`Login`] root on each connection and asks
/// a [`Checker`] for the avatar. Serve it with [`crate::Server::bind`].
#[derive(Clone)]
pub struct Portal {
    checker: Arc<dyn Checker>,
    max_attempts: u32,
    login_timeout: Duration,
}

impl fmt::Debug for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Portal")
            .field("max_attempts", &self.max_attempts)
            .field("login_timeout", &self.login_timeout)
            .finish_non_exhaustive()
    }
}

impl Portal {
    /// A portal checking credentials with `checker`; at most 3 refused
    /// attempts per connection, 30 s to log in.
    pub fn new(checker: impl Checker) -> Self {
        Portal { checker: Arc::new(checker), max_attempts: 3, login_timeout: Duration::from_secs(30) }
    }

    /// Close a connection after `n` refused attempts (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Close a connection that has not logged in within `d`.
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// The builder of one connection: its own gate, and the login deadline.
    fn builder(&self) -> ConnectionBuilder {
        let gate = Arc::new(Gate {
            portal: self.clone(),
            refused: AtomicU32::new(0),
            logged_in: Arc::new(AtomicBool::new(false)),
            conn: std::sync::OnceLock::new(),
        });
        let (logged_in, timeout) = (gate.logged_in.clone(), self.login_timeout);
        let on_open_gate = gate.clone();
        Connection::builder().root::<dyn Login>(gate).on_open(move |conn| {
            let _ = on_open_gate.conn.set(conn.downgrade());
            let conn = conn.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => {}
                    () = conn.closed() => return,
                }
                if !logged_in.load(Ordering::Acquire) {
                    tracing::info!(peer = %conn.peer(), ?timeout, "no login in time; closing");
                    conn.close_with(format!("no login within {timeout:?}"));
                }
            });
        })
    }
}

impl IntoRoot for Portal {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        Arc::new(move || self.builder())
    }
}

/// The [`Login`] root of one connection.
struct Gate {
    portal: Portal,
    refused: AtomicU32,
    logged_in: Arc<AtomicBool>,
    conn: std::sync::OnceLock<WeakConnection>,
}

#[pb_macros::remote_impl(crate = "crate")]
impl Login for Gate {
    async fn login(&self, credentials: Credentials) -> Result<AnyRef, Error> {
        if self.refused.load(Ordering::Acquire) >= self.portal.max_attempts {
            return Err(Error::Unauthorized);
        }
        let username = credentials.username.clone();
        match self.portal.checker.check(credentials).await {
            Ok(avatar) => {
                tracing::info!(%username, "logged in");
                self.logged_in.store(true, Ordering::Release);
                Ok(avatar)
            }
            Err(Error::Unauthorized) => {
                let refused = self.refused.fetch_add(1, Ordering::AcqRel) + 1;
                tracing::info!(%username, refused, "login refused");
                if refused >= self.portal.max_attempts {
                    // Let the refusal reach the peer, then hang up.
                    let (conn, max) = (self.conn.get().cloned(), self.portal.max_attempts);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if let Some(conn) = conn.and_then(|w| w.upgrade()) {
                            conn.close_with(format!("{max} refused login attempts"));
                        }
                    });
                }
                Err(Error::Unauthorized)
            }
            // The checker could not decide (its database, or its own
            // upstream, is down): not a refusal.
            Err(e) => Err(e),
        }
    }
}
