//! The API of Twisted's reference PB server (`pb-runtime/tests/twisted/server.py`)
//! as pb traits, a pb server of it for Twisted clients ([`server`]), and a
//! pb client that runs every call of it against a Twisted server
//! ([`client`]).
//!
//! `server.py`'s root has `remote_echo(*args, **kw)`, `remote_get_user`,
//! `remote_put_user` (the copyable `aurora.User`), `remote_thing` (a
//! `Referenceable` with `remote_ping`), `remote_call_back(ref, text)`,
//! `remote_fail` (`pb.Error("nope")`), `remote_boom` (`ValueError("boom")`),
//! `remote_users`/`remote_add_user` (the cacheable `aurora.UserList`, here
//! the model [`UserList`]), `remote_observers` (how many observe it) and
//! `remote_exported` (how many of its objects the client holds, root
//! included); a second port serves a cred portal (alice/secret,
//! `perspective_whoami`).
//!
//! What pb does not cover of it: `echo` with any arguments (a Rust method
//! has one signature: here a string, an int, a list and a dict).

pub mod client;
pub mod server;

use std::collections::BTreeMap;
use std::sync::Arc;

use pb::Error;
use serde::{Deserialize, Serialize};

/// `server.py`'s copyable user: `User(pb.Copyable)` with the copy tag
/// `b"aurora.User"` (and `RemoteUser` registered for it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// `server.py`'s cacheable `UserList` (copy tag `b"aurora.UserList"`): its
/// state is `{"users": [...]}`, and it tells each observer
/// `callRemote("added", name)`, which a Twisted `RemoteCache` receives as
/// `observe_added(name)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    /// The users' names, in the order added.
    pub users: Vec<String>,
}

/// A change to a [`UserList`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserListEvent {
    /// A user was added (`observe_added(name)`).
    #[serde(rename = "added")]
    Added(String),
}

impl pb::Cacheable for UserList {
    type Event = UserListEvent;
    const NAME: &'static str = "aurora.UserList";
    fn apply(&mut self, event: &UserListEvent) {
        match event {
            UserListEvent::Added(name) => self.users.push(name.clone()),
        }
    }
}

/// A dict of ints, as `echo` carries it.
pub type Dict = BTreeMap<String, i64>;

/// What `echo(s, n, l, d)` answers: `[args, kw]`.
pub type Echoed = ((String, i64, Vec<i64>, Dict), Dict);

/// The root object of `server.py`.
#[pb::remote_interface]
pub trait ReferenceRoot {
    /// `[args, kw]` of the call.
    async fn echo(&self, s: String, n: i64, l: Vec<i64>, d: Dict) -> Result<Echoed, Error>;
    /// The user `id`, named alice.
    async fn get_user(&self, id: i64) -> Result<User, Error>;
    /// The user's id and name.
    async fn put_user(&self, user: User) -> Result<(i64, String), Error>;
    /// A new thing, by reference.
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    /// What `hello.hello(text)` answers.
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error>;
    /// Fails with `twisted.spread.pb.Error("nope")`.
    async fn fail(&self) -> Result<(), Error>;
    /// Fails with `builtins.ValueError("boom")`.
    async fn boom(&self) -> Result<(), Error>;
    /// The cacheable list of users: a cache of the model [`UserList`].
    async fn users(&self) -> Result<pb::Cache<UserList>, Error>;
    /// Adds a user to the cacheable list (`None`): each observer is told.
    async fn add_user(&self, name: String) -> Result<(), Error>;
    /// How many observe the list now.
    async fn observers(&self) -> Result<i64, Error>;
    /// How many of the server's objects the client holds, root included.
    async fn exported(&self) -> Result<i64, Error>;
}

/// `server.py`'s `Thing`, a `pb.Referenceable`.
#[pb::remote_interface]
pub trait Thing {
    /// `x + 1`.
    async fn ping(&self, x: i64) -> Result<i64, Error>;
}

/// A callback the client passes to `call_back`.
#[pb::remote_interface]
pub trait Hello {
    /// A greeting for `text`.
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// The avatar of `server.py`'s portal (`pb.Avatar` with
/// `perspective_whoami`), for user alice with password secret.
#[pb::remote_interface]
pub trait Avatar {
    /// The avatar's id: the user name.
    async fn whoami(&self) -> Result<String, Error>;
}

/// A method no server has, to call by name.
#[pb::remote_interface]
pub trait Missing {
    /// Not there: `NoSuchMethod` from Twisted, `UnknownMethod` for pb.
    async fn no_such_method(&self) -> Result<(), Error>;
}
