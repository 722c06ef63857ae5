//! A pb server of `server.py`'s root API for Twisted PB clients, and of
//! its portal (see the [module docs](super) for what it lacks): run it with
//! `cargo run -p pb-examples --example twisted_server`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pb::Error;

use pb::login::{Credentials, Portal};

use super::{Avatar, Dict, Echoed, Hello, ReferenceRoot, Thing, User, UserList, UserListEvent};

/// The root object: `server.py`'s `Root`. Like it, it counts the objects
/// one client holds (serve one test client at a time).
pub struct Root {
    /// Things alive: each is held by the client's references only.
    live: Arc<AtomicUsize>,
    /// `server.py`'s `USERS`, starting with alice.
    users: pb::Model<UserList>,
}

impl Default for Root {
    fn default() -> Self {
        Root { live: Arc::default(), users: pb::Model::new(UserList { users: vec!["alice".into()] }) }
    }
}

/// `server.py`'s `Thing`; counted in its root's `live` while it exists.
struct Counted {
    live: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[pb::remote_impl]
impl Thing for Counted {
    async fn ping(&self, x: i64) -> Result<i64, Error> {
        x.checked_add(1).ok_or_else(|| Error::Remote { kind: "builtins.OverflowError".into(), message: "x + 1".into() })
    }
}

#[pb::remote_impl]
impl ReferenceRoot for Root {
    async fn echo(&self, s: String, n: i64, l: Vec<i64>, d: Dict) -> Result<Echoed, Error> {
        Ok(((s, n, l, d), Dict::new()))
    }
    async fn get_user(&self, id: i64) -> Result<User, Error> {
        Ok(User { id, name: "alice".into() })
    }
    async fn put_user(&self, user: User) -> Result<(i64, String), Error> {
        Ok((user.id, user.name))
    }
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error> {
        self.live.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Counted { live: self.live.clone() }))
    }
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error> {
        hello.hello(text).await
    }
    async fn fail(&self) -> Result<(), Error> {
        Err(Error::Remote { kind: "twisted.spread.pb.Error".into(), message: "nope".into() })
    }
    async fn boom(&self) -> Result<(), Error> {
        Err(Error::Remote { kind: "builtins.ValueError".into(), message: "boom".into() })
    }
    async fn users(&self) -> Result<pb::Cache<UserList>, Error> {
        Ok(self.users.cache())
    }
    async fn add_user(&self, name: String) -> Result<(), Error> {
        self.users.apply(UserListEvent::Added(name));
        Ok(())
    }
    async fn observers(&self) -> Result<i64, Error> {
        Ok(self.users.observers() as i64)
    }
    async fn exported(&self) -> Result<i64, Error> {
        Ok(1 + self.live.load(Ordering::SeqCst) as i64)
    }
}

/// Serve a new [`Root`] to Twisted clients on `addr`.
///
/// # Errors
///
/// The address could not be bound.
pub async fn bind(addr: impl tokio::net::ToSocketAddrs) -> Result<pb::Server, Error> {
    pb::Server::bind_twisted(addr, pb::root::<dyn ReferenceRoot>(Arc::new(Root::default()))).await
}

/// The avatar of a user logged in to the portal: `server.py`'s `Avatar`.
struct Perspective {
    name: String,
}

#[pb::remote_impl]
impl Avatar for Perspective {
    async fn whoami(&self) -> Result<String, Error> {
        Ok(self.name.clone())
    }
}

/// `server.py`'s portal: user alice with password secret (checked with
/// [`Credentials::check_password`], which verifies a Twisted client's
/// challenge response as well as a pb client's password); no anonymous
/// logins.
pub fn portal() -> Portal {
    Portal::new(|c: Credentials| async move {
        if c.username == "alice" && c.check_password("secret") {
            Ok(pb::AnyRef::new::<dyn Avatar>(Arc::new(Perspective { name: c.username })))
        } else {
            Err(Error::Unauthorized)
        }
    })
}

/// Serve [`portal`] to Twisted clients on `addr`
/// (`PBClientFactory.login(UsernamePassword(b"alice", b"secret"))`).
///
/// # Errors
///
/// The address could not be bound.
pub async fn bind_portal(addr: impl tokio::net::ToSocketAddrs) -> Result<pb::Server, Error> {
    pb::Server::bind_twisted(addr, portal()).await
}
