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
//!     if c.username == "alice" && c.check_password("secret") {
//!         Ok(AnyRef::new::<dyn UserManager>(Arc::new(Users::for_user("alice"))))
//!     } else {
//!         Err(pb::Error::Unauthorized)
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
//!   networks. (Twisted clients answer a challenge instead, see below; MD5
//!   challenge/response still falls to an offline dictionary attack by
//!   whoever sees it, so use TLS there too.) A reconnecting [`Client`](crate::Client) keeps the
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
//! # Twisted clients
//!
//! A portal served with [`Server::bind_twisted`](crate::Server::bind_twisted)
//! is Twisted's portal root to Twisted PB clients:
//! `PBClientFactory.login(UsernamePassword(b"alice", b"secret"))` runs PB's
//! challenge/response (`login(username)` answers a random 16-byte challenge,
//! `respond(md5(md5(password) + challenge), mind)` the avatar), and
//! `login(Anonymous())` calls `loginAnonymous(mind)`. The checker gets
//! [`Credentials::challenge_response`] and [`Credentials::anonymous`]
//! credentials: check passwords with [`Credentials::check_password`] and
//! one checker serves both kinds of client. A challenge answers one
//! response; wrong ones count against [`Portal::max_attempts`], and
//! [`Portal::login_timeout`] applies as to pb's clients. The client's
//! `mind` reaches the checker as [`Credentials::mind`]. The avatar's methods
//! are what the client calls (`avatar.callRemote("whoami")` runs the trait
//! method whose wire name is `whoami`, where Twisted would run
//! `perspective_whoami`).
//!
//! [`Registry`]: crate::Registry

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::references::{AnyRef, Interface, IntoRoot, track_replay};
use crate::{Connection, ConnectionBuilder, Error};

/// What a client presents to log in: a user name and a proof that it is
/// that user.
///
/// The proof is a plain password (what pb's own clients send, see
/// [`Credentials::new`]), or, from a Twisted PB client, the answer to a
/// challenge (PB's MD5 challenge/response: Twisted's
/// `IUsernameHashedPassword`, so the server never sees the password), or
/// nothing at all (Twisted's `Anonymous`). A [`Checker`] that checks with
/// [`check_password`](Self::check_password) serves all of them with one
/// code path:
///
/// ```
/// # use pb_runtime as pb; // applications write `pb::...`
/// use pb::login::Credentials;
/// let plain = Credentials::new("alice", "secret");
/// assert!(plain.check_password("secret"));
/// assert!(!plain.check_password("guess"));
/// assert!(!Credentials::anonymous().check_password(""));
/// ```
///
/// An anonymous login (`loginAnonymous`, Twisted's
/// `PBClientFactory.login(Anonymous())`) reaches the checker as
/// [`Credentials::anonymous`]: an empty user name, no password, and
/// [`is_anonymous`](Self::is_anonymous) true. No password checks against
/// it, so a checker refuses it unless it lets anonymous users in on purpose
/// (as Twisted's `AllowAnonymousAccess` checker does).
///
/// Only the user name and the plain password travel over pb's own wire;
/// the other proofs exist on the server that received them.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// Who.
    pub username: String,
    /// The secret (a password, a token) when the client sent it as it is;
    /// empty for a challenge response or an anonymous login, whose checks
    /// go through [`check_password`](Self::check_password) (a checker
    /// that compares this field refuses them, unless it takes an empty
    /// password).
    pub password: String,
    #[serde(skip)]
    proof: Proof,
    /// The object a Twisted client logged in with, by reference.
    #[serde(skip)]
    mind: Option<AnyRef>,
}

/// Credentials are equal when they say the same user and prove it the same
/// way (a login's mind is not part of them).
impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        (&self.username, &self.password, &self.proof) == (&other.username, &other.password, &other.proof)
    }
}

impl Eq for Credentials {}

/// How [`Credentials`] prove who they are.
#[derive(Clone, Default, PartialEq, Eq)]
enum Proof {
    /// The password itself, in `password`.
    #[default]
    Plain,
    /// Twisted PB's `md5(md5(password) + challenge)`.
    Md5Response { challenge: Vec<u8>, response: Vec<u8> },
    /// No proof: an anonymous login.
    Anonymous,
}

impl Credentials {
    /// Credentials of `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into(), proof: Proof::Plain, mind: None }
    }

    /// The credentials of an anonymous login: no user name, no password,
    /// and [`is_anonymous`](Self::is_anonymous).
    pub fn anonymous() -> Self {
        Credentials { username: String::new(), password: String::new(), proof: Proof::Anonymous, mind: None }
    }

    /// The credentials of `username` answering a Twisted PB login
    /// challenge: `response` is `md5(md5(password) + challenge)`
    /// (`twisted.spread.pb.respond`). A [`Portal`] serving Twisted clients
    /// makes these; [`check_password`](Self::check_password) verifies them.
    pub fn challenge_response(username: impl Into<String>, challenge: &[u8], response: &[u8]) -> Self {
        Credentials {
            username: username.into(),
            password: String::new(),
            proof: Proof::Md5Response { challenge: challenge.to_vec(), response: response.to_vec() },
            mind: None,
        }
    }

    /// The `mind` a Twisted client logged in with
    /// (`PBClientFactory.login(credentials, client)`): an object of the
    /// client's, by reference, for the avatar to call back (downcast it to
    /// the trait the client implements). `None` for pb's own clients, and
    /// for Twisted clients that passed none. Keep it (in the avatar, say)
    /// to keep it alive; otherwise it is released once the login is done.
    pub fn mind(&self) -> Option<&AnyRef> {
        self.mind.as_ref()
    }

    /// These credentials, with the mind a Twisted client logged in with.
    pub(crate) fn with_mind(mut self, mind: Option<AnyRef>) -> Self {
        self.mind = mind;
        self
    }

    /// Whether these are the credentials of an anonymous login.
    pub fn is_anonymous(&self) -> bool {
        self.proof == Proof::Anonymous
    }

    /// Whether these credentials prove knowledge of `expected`, the user's
    /// password: the plain password equals it, or the challenge response
    /// is the one `expected` gives. Never true for an anonymous login.
    /// Compares in constant time.
    pub fn check_password(&self, expected: &str) -> bool {
        match &self.proof {
            Proof::Plain => bool::from(self.password.as_bytes().ct_eq(expected.as_bytes())),
            Proof::Md5Response { challenge, response } => {
                bool::from(super::md5::respond(challenge, expected.as_bytes()).ct_eq(&response[..]))
            }
            Proof::Anonymous => false,
        }
    }

    /// [`check_password`](Self::check_password) for a server that keeps
    /// only the MD5 digest of each password (Twisted's
    /// `checkMD5Password`; an unsalted MD5 is a weak way to keep
    /// passwords, and exists for Twisted's sake).
    pub fn check_md5_password(&self, password_md5: &[u8; 16]) -> bool {
        match &self.proof {
            Proof::Plain => bool::from(super::md5::digest(&[self.password.as_bytes()]).ct_eq(password_md5)),
            Proof::Md5Response { challenge, response } => {
                bool::from(super::md5::respond_hashed(challenge, password_md5).ct_eq(&response[..]))
            }
            Proof::Anonymous => false,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proof = match self.proof {
            Proof::Plain => "password",
            Proof::Md5Response { .. } => "challenge response",
            Proof::Anonymous => "anonymous",
        };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("proof", &proof)
            .finish()
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

    /// The builder of one connection: its own gate, and the login deadline;
    /// to a Twisted peer the gate is served as Twisted's portal root.
    fn builder(&self) -> ConnectionBuilder {
        let gate = Gate::new(self);
        let on_open_gate = gate.clone();
        let (twisted_root, twisted_open) = crate::twisted::cred::portal_root(gate.clone());
        Connection::builder().root::<dyn Login>(gate).twisted_root(twisted_root, Some(twisted_open)).on_open(
            move |conn| {
                let weak = conn.downgrade();
                on_open_gate.set_closer(Box::new(move |why| {
                    if let Some(conn) = weak.upgrade() {
                        conn.close_with(why);
                    }
                }));
                let conn = conn.clone();
                on_open_gate.start_deadline(conn.peer().to_string(), async move { conn.closed().await });
            },
        )
    }
}

impl IntoRoot for Portal {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        Arc::new(move || self.builder())
    }
}

/// How a gate closes its connection, saying why.
pub(crate) type Closer = Box<dyn Fn(String) + Send + Sync>;

/// The login state of one connection: what its [`Login`] root (or, to a
/// Twisted peer, its portal root) checks credentials through.
pub(crate) struct Gate {
    portal: Portal,
    refused: AtomicU32,
    logged_in: AtomicBool,
    closer: OnceLock<Closer>,
    me: Weak<Gate>,
}

impl Gate {
    fn new(portal: &Portal) -> Arc<Gate> {
        Arc::new_cyclic(|me| Gate {
            portal: portal.clone(),
            refused: AtomicU32::new(0),
            logged_in: AtomicBool::new(false),
            closer: OnceLock::new(),
            me: me.clone(),
        })
    }

    /// How to close the connection (set once it is open).
    pub(crate) fn set_closer(&self, closer: Closer) {
        let _ = self.closer.set(closer);
    }

    fn close(&self, why: String) {
        if let Some(close) = self.closer.get() {
            close(why);
        }
    }

    /// Close the connection unless it logs in within the portal's login
    /// timeout; `closed` ends when the connection closes by itself.
    pub(crate) fn start_deadline(self: &Arc<Self>, peer: String, closed: impl Future<Output = ()> + Send + 'static) {
        let (gate, timeout) = (self.clone(), self.portal.login_timeout);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {}
                () = closed => return,
            }
            if !gate.logged_in.load(Ordering::Acquire) {
                tracing::info!(%peer, ?timeout, "no login in time; closing");
                gate.close(format!("no login within {timeout:?}"));
            }
        });
    }

    /// Whether the connection has used up its attempts.
    pub(crate) fn exhausted(&self) -> bool {
        self.refused.load(Ordering::Acquire) >= self.portal.max_attempts
    }

    /// Check `credentials` with the portal's checker, counting refusals
    /// (the last one allowed closes the connection): the avatar, or why not.
    pub(crate) async fn attempt(&self, credentials: Credentials) -> Result<AnyRef, Error> {
        if self.exhausted() {
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
                self.refuse(&username);
                Err(Error::Unauthorized)
            }
            // The checker could not decide (its database, or its own
            // upstream, is down): not a refusal.
            Err(e) => Err(e),
        }
    }

    /// Count a refused attempt of `username`; the last one allowed closes
    /// the connection (after the refusal has had time to reach the peer).
    pub(crate) fn refuse(&self, username: &str) {
        let refused = self.refused.fetch_add(1, Ordering::AcqRel) + 1;
        tracing::info!(%username, refused, "login refused");
        if refused >= self.portal.max_attempts {
            let (gate, max) = (self.me.clone(), self.portal.max_attempts);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(gate) = gate.upgrade() {
                    gate.close(format!("{max} refused login attempts"));
                }
            });
        }
    }
}

/// The [`Login`] root of one pb connection.
#[pb_macros::remote_impl(crate = "crate")]
impl Login for Gate {
    async fn login(&self, credentials: Credentials) -> Result<AnyRef, Error> {
        self.attempt(credentials).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `twisted.spread.pb.respond(b"0123456789abcdef", b"secret")`.
    const GOLDEN: [u8; 16] =
        [0xfb, 0x65, 0x4a, 0xad, 0x50, 0x30, 0x3a, 0x26, 0xb5, 0x39, 0x85, 0x8a, 0xfb, 0x96, 0x9f, 0x27];

    #[test]
    fn one_check_serves_passwords_and_challenge_responses() {
        let plain = Credentials::new("alice", "secret");
        assert!(plain.check_password("secret"));
        assert!(!plain.check_password("secre"));
        assert!(!plain.check_password("secret "));
        let answered = Credentials::challenge_response("alice", b"0123456789abcdef", &GOLDEN);
        assert!(answered.check_password("secret"));
        assert!(!answered.check_password("guess"));
        assert!(!answered.check_password(""), "the empty password field is not the proof");
        // The same response to another challenge proves nothing.
        assert!(!Credentials::challenge_response("alice", b"fedcba9876543210", &GOLDEN).check_password("secret"));
        assert!(!Credentials::challenge_response("alice", b"0123456789abcdef", &GOLDEN[..15]).check_password("secret"));
    }

    #[test]
    fn md5_digests_of_passwords_check_both_kinds() {
        let md5_of_secret = crate::services::md5::digest(&[b"secret"]);
        assert!(Credentials::new("alice", "secret").check_md5_password(&md5_of_secret));
        assert!(!Credentials::new("alice", "guess").check_md5_password(&md5_of_secret));
        assert!(
            Credentials::challenge_response("alice", b"0123456789abcdef", &GOLDEN).check_md5_password(&md5_of_secret)
        );
        assert!(!Credentials::anonymous().check_md5_password(&crate::services::md5::digest(&[b""])));
    }

    #[test]
    fn anonymous_credentials_prove_nothing_and_only_plain_ones_travel() {
        let anonymous = Credentials::anonymous();
        assert!(anonymous.is_anonymous() && anonymous.username.is_empty());
        assert!(!anonymous.check_password("") && !anonymous.check_password("secret"));
        assert!(!Credentials::new("", "").is_anonymous());
        // Over pb's wire the proof does not travel: what arrives is a
        // plain (empty) password, never an anonymous or answered login.
        let bytes = postcard::to_allocvec(&Credentials::challenge_response("alice", b"c", &GOLDEN)).unwrap();
        let arrived: Credentials = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(arrived, Credentials::new("alice", ""));
        assert!(!arrived.check_password("secret"));
        let arrived: Credentials = postcard::from_bytes(&postcard::to_allocvec(&anonymous).unwrap()).unwrap();
        assert!(!arrived.is_anonymous());
        assert!(!format!("{:?}", Credentials::new("alice", "secret")).contains("secret"));
    }
}
