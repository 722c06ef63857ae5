//! Twisted's cred login over PB's wire, both ways: a pb [`Portal`] served
//! to Twisted clients as Twisted's portal root, and a pb client logging in
//! to a Twisted portal ([`TwistedConnection::login`]).
//!
//! The exchange (Twisted's `pb.py`, `_PortalWrapper` and
//! `_PortalAuthChallenger`): the client calls the root's
//! `login(username)`, which answers a random 16-byte challenge and a
//! challenger object; the client calls the challenger's
//! `respond(md5(md5(password) + challenge), mind)`, which answers the
//! avatar. An anonymous login is one call, the root's
//! `loginAnonymous(mind)`.
//!
//! [`Portal`]: crate::login::Portal

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::connection::TwistedConnection;
use crate::connection::{Dispatch, TwistedLink};
use crate::login::{Credentials, Gate};
use crate::references::dispatcher;
use crate::services::md5;
use crate::wire::Blob;
use crate::{AnyRef, Error, Interface, Ref};

/// A user name: sent as bytes (as cred's `UsernamePassword` sends it),
/// received from bytes or text.
#[derive(Debug, Clone)]
pub(crate) struct Username(pub(crate) String);

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Username)
    }
}

/// The root a Twisted portal serves (Twisted's `_PortalWrapper`).
#[pb_macros::remote_interface(crate = "crate", name = "twisted.spread.pb._PortalWrapper")]
pub(crate) trait PortalWrapper {
    /// Start a password login: a challenge, and the object to answer it.
    async fn login(&self, username: Username) -> Result<(Blob, Ref<dyn Challenger>), Error>;
    /// Log in anonymously: the avatar.
    #[pb(name = "loginAnonymous")]
    async fn login_anonymous(&self, mind: Option<AnyRef>) -> Result<AnyRef, Error>;
}

/// The object that takes the answer to a login challenge (Twisted's
/// `_PortalAuthChallenger`).
#[pb_macros::remote_interface(crate = "crate", name = "twisted.spread.pb._PortalAuthChallenger")]
pub(crate) trait Challenger {
    /// Answer the challenge with `md5(md5(password) + challenge)`: the avatar.
    async fn respond(&self, response: Blob, mind: Option<AnyRef>) -> Result<AnyRef, Error>;
}

/// A pb portal's root for a Twisted peer, and what starts its login
/// deadline once the connection is open.
pub(crate) fn portal_root(gate: Arc<Gate>) -> (Arc<dyn Dispatch>, crate::connection::OnOpenTwisted) {
    let root: Arc<dyn PortalWrapper> = Arc::new(PortalRoot { gate: gate.clone() });
    let on_open = Box::new(move |link: &Arc<TwistedLink>| {
        let weak = Arc::downgrade(link);
        gate.set_closer(Box::new(move |why| {
            if let Some(link) = weak.upgrade() {
                tracing::info!(peer = %crate::connection::Link::peer(&*link), %why, "closing");
                link.close();
            }
        }));
        let link = link.clone();
        let peer = crate::connection::Link::peer(&*link).to_string();
        // The task holds the link until it closes or the deadline passes.
        gate.start_deadline(peer, async move { link.closed().await });
    });
    (dispatcher(root), on_open)
}

/// The portal root of one Twisted connection.
struct PortalRoot {
    gate: Arc<Gate>,
}

#[pb_macros::remote_impl(crate = "crate")]
impl PortalWrapper for PortalRoot {
    async fn login(&self, username: Username) -> Result<(Blob, Ref<dyn Challenger>), Error> {
        if self.gate.exhausted() {
            return Err(Error::Unauthorized);
        }
        let mut challenge = [0u8; 16];
        getrandom::fill(&mut challenge).map_err(|e| Error::Io(format!("no randomness for a login challenge: {e}")))?;
        let challenger: Arc<dyn Challenger> = Arc::new(Challenge {
            gate: self.gate.clone(),
            username: username.0,
            challenge,
            used: AtomicBool::new(false),
        });
        Ok((Blob::from(challenge.to_vec()), Ref::new(challenger)))
    }

    async fn login_anonymous(&self, mind: Option<AnyRef>) -> Result<AnyRef, Error> {
        self.gate.attempt(Credentials::anonymous().with_mind(mind)).await
    }
}

/// One login challenge: answered once.
struct Challenge {
    gate: Arc<Gate>,
    username: String,
    challenge: [u8; 16],
    used: AtomicBool,
}

#[pb_macros::remote_impl(crate = "crate")]
impl Challenger for Challenge {
    async fn respond(&self, response: Blob, mind: Option<AnyRef>) -> Result<AnyRef, Error> {
        // A challenge answers one response: a replayed one is refused
        // (Twisted's challenger takes any number; its clients send one).
        if self.used.swap(true, Ordering::AcqRel) {
            return Err(Error::Unauthorized);
        }
        let credentials = Credentials::challenge_response(self.username.clone(), &self.challenge, &response);
        self.gate.attempt(credentials.with_mind(mind)).await
    }
}

/// The method of `T` whose wire name is `name`.
fn method_id<T: ?Sized + Interface>(name: &str) -> u32 {
    T::METHODS.iter().find(|m| m.name == name).map(|m| m.id).expect("a method of the interface")
}

impl TwistedConnection {
    /// Log in to the server's cred portal (a Twisted
    /// `pb.PBServerFactory(portal)`, or a pb server bound with a
    /// [`Portal`](crate::login::Portal)) and return the avatar, typed as
    /// `T`: its trait methods call the avatar's `perspective_<name>`.
    ///
    /// Does what Twisted's `PBClientFactory.login` does: with
    /// [`Credentials::new`], PB's challenge/response (the password never
    /// travels: the server gets `md5(md5(password) + challenge)`); with
    /// [`Credentials::anonymous`], an anonymous login
    /// (`loginAnonymous`). No `mind` is passed (`None`): see
    /// [`login_with_mind`](Self::login_with_mind).
    ///
    /// ```no_run
    /// # use pb_runtime as pb; // applications write `pb::...`
    /// #[pb_macros::remote_interface(crate = "pb_runtime")] // applications write #[pb::remote_interface]
    /// trait Avatar {
    ///     async fn whoami(&self) -> Result<String, pb::Error>; // perspective_whoami
    /// }
    /// # async fn run() -> Result<(), pb::Error> {
    /// let twisted = pb::twisted::connect("127.0.0.1:8790").await?;
    /// let me = twisted.login::<dyn Avatar>(&pb::login::Credentials::new("alice", "secret")).await?;
    /// assert_eq!(me.whoami().await?, "alice");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] when the server refuses the credentials (a
    /// Twisted `UnauthorizedLogin`); [`Error::UnknownMethod`] when the
    /// server's root is not a portal; a transport error.
    pub async fn login<T: ?Sized + Interface>(&self, credentials: &Credentials) -> Result<Arc<T>, Error> {
        self.login_as(credentials, &None).await
    }

    /// [`login`](Self::login), passing `mind`, an object of this side, by
    /// reference: what Twisted's `PBClientFactory.login(credentials,
    /// client)` passes, and the server's realm gets as the `mind` of
    /// `requestAvatar` (to call back, as a chat server sends messages to
    /// its clients).
    ///
    /// # Errors
    ///
    /// As [`login`](Self::login).
    pub async fn login_with_mind<T: ?Sized + Interface>(
        &self,
        credentials: &Credentials,
        mind: AnyRef,
    ) -> Result<Arc<T>, Error> {
        self.login_as(credentials, &Some(mind)).await
    }

    async fn login_as<T: ?Sized + Interface>(
        &self,
        credentials: &Credentials,
        mind: &Option<AnyRef>,
    ) -> Result<Arc<T>, Error> {
        let portal = self.root::<dyn PortalWrapper>();
        let handle = <dyn PortalWrapper as Interface>::proxy_handle(&*portal).expect("a proxy has a handle");
        let avatar: Ref<T> = if credentials.is_anonymous() {
            let method = method_id::<dyn PortalWrapper>("loginAnonymous");
            handle.call::<_, Result<Ref<T>, Error>>(method, &(mind,)).await??
        } else {
            let (challenge, challenger) = portal.login(Username(credentials.username.clone())).await?;
            let response = md5::respond(&challenge, credentials.password.as_bytes());
            let handle = <dyn Challenger as Interface>::proxy_handle(&*challenger).expect("a proxy has a handle");
            let method = method_id::<dyn Challenger>("respond");
            handle.call::<_, Result<Ref<T>, Error>>(method, &(Blob::from(response.to_vec()), mind)).await??
        };
        Ok(avatar.into_arc())
    }
}
