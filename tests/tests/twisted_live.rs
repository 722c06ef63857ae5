//! pb calling a real Twisted PB server (`pb-runtime/tests/twisted/server.py`).
//!
//! The server runs under the Python found in `PB_PYTHON` (else `python3`)
//! when it can import Twisted; without it each test prints that it skipped
//! and passes, unless `PB_REQUIRE_TWISTED=1` makes that a failure (see
//! `pb_tests::twisted`). The server binds 127.0.0.1 only and is killed when
//! the test ends, panics included. `PB_TWISTED_LOG=1` shows the server's
//! log. `twisted_clients.rs` has the other direction: Twisted clients of
//! pb servers.

use std::collections::BTreeMap;
use std::sync::Arc;

use pb::Error;
use pb_examples::twisted::{UserList, UserListEvent};
use pb_tests::twisted::{ServerPy, server_py};
use serde::{Deserialize, Serialize};

/// Twisted's `aurora.User` copyable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    id: i64,
    name: String,
}

/// What `remote_echo(*args, **kw)` answers for these arguments: `[args, kw]`.
type Echoed = ((String, i64, Vec<i64>, BTreeMap<String, i64>), BTreeMap<String, i64>);

/// What `remote_echo` answers for one cache.
type EchoedUsers = ((pb::Cache<UserList>,), BTreeMap<String, i64>);

/// What `remote_echo` answers for one reference.
type EchoedThing = ((pb::Ref<dyn Thing>,), BTreeMap<String, i64>);

/// The root object of `server.py`, as pb sees it.
#[pb::remote_interface]
pub trait TwistedRoot {
    async fn echo(&self, s: String, n: i64, l: Vec<i64>, d: BTreeMap<String, i64>) -> Result<Echoed, Error>;
    #[pb(name = "echo", id = 0x0ec4_0001)]
    async fn echo_none(&self) -> Result<((), BTreeMap<String, i64>), Error>;
    async fn get_user(&self, id: i64) -> Result<User, Error>;
    async fn put_user(&self, user: User) -> Result<(i64, String), Error>;
    async fn fail(&self) -> Result<(), Error>;
    async fn boom(&self) -> Result<(), Error>;
    #[pb(name = "no_such_method")]
    async fn missing(&self) -> Result<(), Error>;
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    async fn exported(&self) -> Result<i64, Error>;
    /// `thing`, read as the wrong type: the decode fails.
    #[pb(name = "thing", id = 0x0ec4_0003)]
    async fn thing_as_int(&self) -> Result<i64, Error>;
    #[pb(name = "echo", id = 0x0ec4_0002)]
    async fn echo_thing(&self, thing: Arc<dyn Thing>) -> Result<EchoedThing, Error>;
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error>;
    async fn users(&self) -> Result<pb::Cache<UserList>, Error>;
    /// `users`, read as a model of another name: refused.
    #[pb(name = "users", id = 0x0ec4_0004)]
    async fn users_as_other(&self) -> Result<pb::Cache<Other>, Error>;
    #[pb(name = "echo", id = 0x0ec4_0005)]
    async fn echo_users(&self, users: pb::Cache<UserList>) -> Result<EchoedUsers, Error>;
    async fn add_user(&self, name: String) -> Result<(), Error>;
    async fn observers(&self) -> Result<i64, Error>;
}

/// A model that is not `aurora.UserList`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Other {
    users: Vec<String>,
}

impl pb::Cacheable for Other {
    type Event = UserListEvent;
    const NAME: &'static str = "aurora.Other";
    fn apply(&mut self, _: &UserListEvent) {}
}

/// A callback `server.py`'s `call_back` calls (`ref.callRemote("hello", text)`).
#[pb::remote_interface]
pub trait Hello {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// `server.py`'s `Thing`, a `pb.Referenceable`.
#[pb::remote_interface]
pub trait Thing {
    async fn ping(&self, x: i64) -> Result<i64, Error>;
}

/// Start `server.py`, or `None` (after saying so) when no Python with
/// Twisted is available and `PB_REQUIRE_TWISTED` is not set.
fn server() -> Option<ServerPy> {
    pb_tests::twisted::python().map(|python| server_py(&python))
}

async fn root(server: &ServerPy) -> (pb::twisted::TwistedConnection, Arc<dyn TwistedRoot>) {
    let conn = pb::twisted::connect(("127.0.0.1", server.root)).await.expect("PB handshake with Twisted");
    let root = conn.root::<dyn TwistedRoot>();
    (conn, root)
}

#[tokio::test]
async fn echo_of_strings_ints_lists_dicts() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    let dict = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), -2)]);
    let big = 1i64 << 40;
    let ((s, n, l, d), kw) = root.echo("héllo".into(), big, vec![1, 2, 3], dict.clone()).await.unwrap();
    assert_eq!((s.as_str(), n, l, d), ("héllo", big, vec![1, 2, 3], dict));
    assert!(kw.is_empty());
    let (none, kw) = root.echo_none().await.unwrap();
    assert_eq!((none, kw.len()), ((), 0));
}

#[tokio::test]
async fn copyables_both_ways() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    assert_eq!(root.get_user(7).await.unwrap(), User { id: 7, name: "alice".into() });
    let bob = User { id: 9, name: "bob".into() };
    assert_eq!(root.put_user(bob).await.unwrap(), (9, "bob".to_string()));
}

#[tokio::test]
async fn python_exceptions_arrive_as_pb_errors() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    let remote = |kind: &str, message: &str| Err(Error::Remote { kind: kind.into(), message: message.into() });
    assert_eq!(root.fail().await, remote("twisted.spread.pb.Error", "nope"));
    assert_eq!(root.boom().await, remote("builtins.ValueError", "boom"));
    assert!(
        matches!(root.missing().await, Err(Error::UnknownMethod { name: Some(ref n), .. }) if n == "no_such_method"),
    );
    // The connection survives failures.
    assert_eq!(root.get_user(1).await.unwrap().id, 1);
}

#[tokio::test]
async fn concurrent_calls_match_their_answers() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    let calls = (0..50).map(|i| {
        let root = root.clone();
        async move { root.get_user(i).await.map(|u| u.id) }
    });
    let ids = futures_util::future::join_all(calls).await;
    assert_eq!(ids, (0..50).map(Ok).collect::<Vec<_>>());
}

#[tokio::test]
async fn closing_fails_later_calls() {
    let Some(server) = server() else { return };
    let (conn, root) = root(&server).await;
    conn.close();
    assert!(conn.is_closed());
    assert_eq!(root.get_user(1).await, Err(Error::Disconnected));
}

#[tokio::test]
async fn references_are_proxies_released_exactly() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    assert_eq!(root.exported().await.unwrap(), 1, "the root only");
    let thing = root.thing().await.unwrap();
    assert_eq!(thing.ping(41).await.unwrap(), 42);
    assert_eq!(root.exported().await.unwrap(), 2);
    // Sent back to its owner, the proxy travels as Twisted's own object,
    // which comes back as a second reference (a second count in Twisted).
    let ((again,), _) = root.echo_thing(thing.clone()).await.unwrap();
    assert_eq!(again.ping(1).await.unwrap(), 2);
    drop(thing);
    assert_eq!(root.exported().await.unwrap(), 2, "one reference still held");
    drop(again);
    assert_eq!(root.exported().await.unwrap(), 1, "both references released");
}

#[tokio::test]
async fn a_pb_object_goes_to_twisted_and_comes_back_as_itself() {
    struct Local;
    #[pb::remote_impl]
    impl Thing for Local {
        async fn ping(&self, x: i64) -> Result<i64, Error> {
            Ok(x * 10)
        }
    }
    let Some(server) = server() else { return };
    let (conn, root) = root(&server).await;
    let local: Arc<dyn Thing> = Arc::new(Local);
    // Twisted releases its argument before it answers with it: the object
    // still arrives as the original.
    let ((back,), _) = root.echo_thing(local.clone()).await.unwrap();
    assert!(pb::same_object(back.as_arc(), &local), "the original object came back");
    assert_eq!(conn.exported(), 0, "Twisted released it");
    assert_eq!(root.exported().await.unwrap(), 1);
}

#[tokio::test]
async fn twisted_calls_pb_objects_back() {
    struct Greeter;
    #[pb::remote_impl]
    impl Hello for Greeter {
        async fn hello(&self, text: String) -> Result<String, Error> {
            Ok(format!("hello {text}"))
        }
    }
    let Some(server) = server() else { return };
    let (conn, root) = root(&server).await;
    let greeter: Arc<dyn Hello> = Arc::new(Greeter);
    assert_eq!(root.call_back(greeter.clone(), "from Python".into()).await.unwrap(), "hello from Python");
    // Twisted's decref of the callback goes out after its answer.
    for _ in 0..200 {
        if conn.exported() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(conn.exported(), 0, "Twisted released the callback");
    assert_eq!(Arc::strong_count(&greeter), 1);
}

#[tokio::test]
async fn references_nobody_decoded_are_released() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    // The answer's reference fails to decode as an int: released anyway.
    assert!(matches!(root.thing_as_int().await, Err(Error::Protocol(_))));
    assert_eq!(root.exported().await.unwrap(), 1);
    // A caller that stops waiting: its answer's reference is released when
    // the answer arrives (after Twisted answered the next call, hence two).
    let abandoned = futures_util::FutureExt::now_or_never(root.thing());
    assert!(abandoned.is_none(), "the call was sent, then abandoned");
    root.exported().await.unwrap();
    assert_eq!(root.exported().await.unwrap(), 1);
}

/// `root.observers()` once it equals `want`, or its last value after 2 s.
async fn observers_reach(root: &Arc<dyn TwistedRoot>, want: i64) -> i64 {
    let mut n = root.observers().await.unwrap();
    for _ in 0..200 {
        if n == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        n = root.observers().await.unwrap();
    }
    n
}

#[tokio::test]
async fn a_twisted_cacheable_arrives_as_a_mirror_that_follows_it() {
    use futures_util::StreamExt;
    let Some(server) = server() else { return };
    let (conn, root) = root(&server).await;
    let users = root.users().await.unwrap();
    assert!(users.is_mirror() && users.is_live());
    assert_eq!(users.state().users, ["alice"]);
    assert_eq!(root.observers().await.unwrap(), 1, "Twisted observes for us");
    let mut signal = users.watch();
    let mut changes = users.changes();
    root.add_user("bob".into()).await.unwrap();
    let wait = std::time::Duration::from_secs(5);
    let change = tokio::time::timeout(wait, changes.next()).await.expect("the change arrives").unwrap();
    assert!(matches!(change, pb::Change::Event(UserListEvent::Added(ref n)) if n == "bob"), "{change:?}");
    tokio::time::timeout(wait, signal.changed()).await.expect("the signal fires").unwrap();
    assert_eq!(users.state().users, ["alice", "bob"]);
    // Sent again (["cached", luid]) and sent back and returned (["lcache",
    // luid] out, ["cached", luid] in): the same mirror each time.
    let again = root.users().await.unwrap();
    assert!(again.ptr_eq(&users));
    let ((echoed,), _) = root.echo_users(users.clone()).await.unwrap();
    assert!(echoed.ptr_eq(&users));
    assert_eq!(root.observers().await.unwrap(), 1, "one observer per connection");
    // Dropping every handle decaches each copy received: Twisted stops
    // observing (stoppedObserving) and answers with uncache.
    drop((users, again, echoed, changes, signal));
    assert_eq!(observers_reach(&root, 0).await, 0, "the decaches arrived");
    // A fresh copy afterwards is a new observer with the current state.
    let fresh = root.users().await.unwrap();
    assert_eq!(fresh.state().users, ["alice", "bob"]);
    assert_eq!(root.observers().await.unwrap(), 1);
    conn.close();
    assert!(!fresh.is_live());
}

#[tokio::test]
async fn copies_no_decode_keeps_are_released() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    let e = root.users_as_other().await.unwrap_err();
    assert!(matches!(e, Error::Protocol(ref m) if m.contains("aurora.UserList")), "{e:?}");
    // The copy Twisted counted is released at once: it stops observing,
    // and its uncache is taken quietly; the connection stays up.
    assert_eq!(observers_reach(&root, 0).await, 0);
    assert_eq!(root.get_user(1).await.unwrap().id, 1);
    // A call abandoned before its answer arrives releases its copy too.
    let abandoned = futures_util::FutureExt::now_or_never(root.users());
    assert!(abandoned.is_none(), "the call was sent, then abandoned");
    assert_eq!(observers_reach(&root, 0).await, 0);
    let users = root.users().await.unwrap();
    assert_eq!(users.state().users[0], "alice");
}
