//! pb calling a real Twisted PB server (`pb-runtime/tests/twisted/server.py`),
//! logging in to Twisted portals (`server.py`'s, and `tests/twisted/portal.py`
//! for anonymous logins, restarts and TLS) and reconnecting to them with
//! `TwistedSession`.
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
use std::time::Duration;

use pb::fault::FaultProxy;
use pb::login::Credentials;
use pb::tls::{self, TlsConnect};
use pb::twisted::TwistedSession;
use pb::{Error, SessionEvent};
use pb_examples::twisted::{UserList, UserListEvent};
use pb_tests::pki::Authority;
use pb_tests::session::{self, fast, next_event};
use pb_tests::twisted::{ServerPy, portal_py, server_py};
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
    /// `call_back`, sent with `answerRequired = 0`.
    #[pb(oneway, name = "call_back", id = 0x0ec4_0004)]
    async fn call_back_oneway(&self, hello: Arc<dyn Hello>, text: String) -> Result<(), Error>;
    /// `fail`, sent with `answerRequired = 0`: Twisted sends no failure.
    #[pb(oneway, name = "fail", id = 0x0ec4_0005)]
    async fn fail_oneway(&self) -> Result<(), Error>;
    /// `thing`, as an object of any interface.
    #[pb(name = "thing", id = 0x0ec4_0006)]
    async fn thing_any(&self) -> Result<pb::AnyRef, Error>;
    async fn users(&self) -> Result<pb::Cache<UserList>, Error>;
    /// `users`, read as a model of another name: refused.
    #[pb(name = "users", id = 0x0ec4_0007)]
    async fn users_as_other(&self) -> Result<pb::Cache<Other>, Error>;
    #[pb(name = "echo", id = 0x0ec4_0008)]
    async fn echo_users(&self, users: pb::Cache<UserList>) -> Result<EchoedUsers, Error>;
    async fn add_user(&self, name: String) -> Result<(), Error>;
    async fn observers(&self) -> Result<i64, Error>;
    /// `thing`, replayed after an outage by a `TwistedSession`.
    #[pb(replay, name = "thing", id = 0x0ec4_0009)]
    async fn replayed_thing(&self) -> Result<Arc<dyn Thing>, Error>;
    /// `users`, replayed after an outage by a `TwistedSession`.
    #[pb(replay, name = "users", id = 0x0ec4_000a)]
    async fn replayed_users(&self) -> Result<pb::Cache<UserList>, Error>;
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

/// The avatar of `server.py`'s and `portal.py`'s portals.
#[pb::remote_interface]
pub trait Perspective {
    async fn whoami(&self) -> Result<String, Error>;
    /// How many logins the Python process served (`portal.py` only).
    async fn logins(&self) -> Result<i64, Error>;
    /// The login's mind's `hello(text)`, or "no mind" (`portal.py` only).
    async fn call_mind(&self, text: String) -> Result<String, Error>;
}

/// What a client passes as its login's mind, for the realm to call back.
#[pb::remote_interface]
pub trait Greeter {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// A [`Greeter`] that says who it is.
struct Named(&'static str);

#[pb::remote_impl]
impl Greeter for Named {
    async fn hello(&self, text: String) -> Result<String, Error> {
        Ok(format!("{} got {text}", self.0))
    }
}

/// The next event of `kind` (`disconnected`, `reconnected`...), each within 10 s.
async fn wait_for(events: &mut (impl futures_util::Stream<Item = SessionEvent> + Unpin), kind: &str) -> SessionEvent {
    loop {
        let event = next_event(events).await;
        if session::kind(&event) == kind {
            return event;
        }
    }
}

#[tokio::test]
async fn pb_logs_in_to_a_twisted_portal() {
    let Some(server) = server() else { return };
    let conn = pb::twisted::connect(("127.0.0.1", server.portal)).await.unwrap();
    let alice = conn.login::<dyn Perspective>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    for wrong in [Credentials::new("alice", "guess"), Credentials::new("mallory", "secret")] {
        assert_eq!(conn.login::<dyn Perspective>(&wrong).await.err(), Some(Error::Unauthorized), "{wrong:?}");
    }
    assert_eq!(alice.whoami().await.unwrap(), "alice", "refusals leave the avatar alone");
}

#[tokio::test]
async fn pb_logs_in_anonymously_to_a_twisted_portal() {
    let Some(python) = pb_tests::twisted::python() else { return };
    let portal = portal_py(&python, &[]);
    let conn = pb::twisted::connect(("127.0.0.1", portal.port)).await.unwrap();
    let anonymous = conn.login::<dyn Perspective>(&Credentials::anonymous()).await.unwrap();
    assert_eq!(anonymous.whoami().await.unwrap(), "anonymous");
    let alice = conn.login::<dyn Perspective>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    assert_eq!(alice.logins().await.unwrap(), 2);
}

#[tokio::test]
async fn a_twisted_realm_calls_back_the_mind_pb_logs_in_with() {
    let Some(python) = pb_tests::twisted::python() else { return };
    let portal = portal_py(&python, &[]);
    let conn = pb::twisted::connect(("127.0.0.1", portal.port)).await.unwrap();
    let mind = |name| pb::AnyRef::new(Arc::new(Named(name)) as Arc<dyn Greeter>);
    let alice = conn.login_with_mind::<dyn Perspective>(&Credentials::new("alice", "secret"), mind("alice's")).await;
    assert_eq!(alice.unwrap().call_mind("hi".into()).await.unwrap(), "alice's got hi");
    let anonymous = conn.login_with_mind::<dyn Perspective>(&Credentials::anonymous(), mind("anon's")).await;
    assert_eq!(anonymous.unwrap().call_mind("yo".into()).await.unwrap(), "anon's got yo");
    let plain = conn.login::<dyn Perspective>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(plain.call_mind("hi".into()).await.unwrap(), "no mind");
    // A session passes its mind again at each login after an outage.
    let to_portal = FaultProxy::start(([127, 0, 0, 1], portal.port).into()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(to_portal.addr()).await.unwrap();
    let avatar = session.login_with_mind::<dyn Perspective>(Credentials::new("alice", "secret"), mind("mine")).await;
    let avatar = avatar.unwrap();
    let mut events = session.events();
    to_portal.cut();
    wait_for(&mut events, "disconnected").await;
    to_portal.heal();
    wait_for(&mut events, "reconnected").await;
    assert_eq!(avatar.call_mind("again".into()).await.unwrap(), "mine got again");
}

#[tokio::test]
async fn a_session_heals_the_root_and_the_avatar_after_the_link_is_cut() {
    let Some(server) = server() else { return };
    let to_root = FaultProxy::start(([127, 0, 0, 1], server.root).into()).await.unwrap();
    let to_portal = FaultProxy::start(([127, 0, 0, 1], server.portal).into()).await.unwrap();
    let rooted = TwistedSession::builder().config(fast()).connect_tcp(to_root.addr()).await.unwrap();
    let logged = TwistedSession::builder().config(fast()).connect_tcp(to_portal.addr()).await.unwrap();
    let root = rooted.root::<dyn TwistedRoot>();
    let alice = logged.login::<dyn Perspective>(Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(root.get_user(1).await.unwrap().name, "alice");
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    assert_eq!((rooted.tracked(), logged.tracked()), (1, 1));
    let (mut root_events, mut avatar_events) = (rooted.events(), logged.events());
    to_root.cut();
    to_portal.cut();
    wait_for(&mut root_events, "disconnected").await;
    wait_for(&mut avatar_events, "disconnected").await;
    assert_eq!(root.get_user(1).await.err(), Some(Error::Disconnected), "calls fail fast during the outage");
    to_root.heal();
    to_portal.heal();
    let SessionEvent::Reconnected { healed, failed, .. } = wait_for(&mut root_events, "reconnected").await else {
        unreachable!()
    };
    assert_eq!((healed, failed), (1, 0));
    let SessionEvent::Reconnected { healed, .. } = wait_for(&mut avatar_events, "reconnected").await else {
        unreachable!()
    };
    assert_eq!(healed, 1, "logged in again");
    // The same proxies work again, on the new connections.
    assert_eq!(root.get_user(2).await.unwrap().id, 2);
    assert_eq!(root.exported().await.unwrap(), 1, "the old connection's references are gone");
    assert_eq!(alice.whoami().await.unwrap(), "alice");
}

#[tokio::test]
async fn a_session_heals_what_replay_methods_returned_after_the_link_is_cut() {
    use futures_util::StreamExt;
    let Some(server) = server() else { return };
    let link = FaultProxy::start(([127, 0, 0, 1], server.root).into()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(link.addr()).await.unwrap();
    let root = session.root::<dyn TwistedRoot>();
    let thing = root.replayed_thing().await.unwrap();
    let users = root.replayed_users().await.unwrap();
    assert_eq!(thing.ping(1).await.unwrap(), 2);
    assert_eq!(users.state().users, ["alice"]);
    assert_eq!(session.tracked(), 3, "the root, the thing and the mirror");
    // A plain `thing()` is the connection's only: not tracked.
    let plain = root.thing().await.unwrap();
    assert_eq!(session.tracked(), 3);
    let mut events = session.events();
    link.cut();
    wait_for(&mut events, "disconnected").await;
    assert!(!users.is_live());
    assert!(thing.ping(1).await.is_err(), "the thing's old link is gone");
    // The model changes during the outage (through another connection).
    let (direct, direct_root) = self::root(&server).await;
    direct_root.add_user("bob".into()).await.unwrap();
    direct.close();
    link.heal();
    let SessionEvent::Reconnected { healed, failed, .. } = wait_for(&mut events, "reconnected").await else {
        unreachable!()
    };
    assert_eq!((healed, failed), (3, 0), "the root, then the thing and the mirror replayed through it");
    // The same proxy and mirror work again, on the new connection.
    assert_eq!(thing.ping(41).await.unwrap(), 42);
    assert!(users.is_live());
    assert_eq!(users.state().users, ["alice", "bob"], "the fresh state, with the outage's change");
    assert_eq!(observers_reach(&root, 1).await, 1, "Twisted observes the healed mirror only");
    let mut changes = users.changes();
    root.add_user("carol".into()).await.unwrap();
    let wait = std::time::Duration::from_secs(5);
    loop {
        let change = tokio::time::timeout(wait, changes.next()).await.expect("the change arrives").unwrap();
        if matches!(change, pb::Change::Event(UserListEvent::Added(ref n)) if n == "carol") {
            break;
        }
    }
    assert_eq!(users.state().users, ["alice", "bob", "carol"]);
    // The plain proxy stays the old connection's.
    assert!(plain.ping(1).await.is_err());
    // Dropped handles are forgotten.
    drop((thing, changes, users));
    assert_eq!(session.tracked(), 1);
}

#[tokio::test]
async fn a_session_logs_in_again_after_the_twisted_server_restarts() {
    let Some(python) = pb_tests::twisted::python() else { return };
    let portal = portal_py(&python, &[]);
    let port = portal.port;
    let session = TwistedSession::builder().config(fast()).connect_tcp(("127.0.0.1", port)).await.unwrap();
    let alice = session.login::<dyn Perspective>(Credentials::new("alice", "secret")).await.unwrap();
    let anonymous = session.login::<dyn Perspective>(Credentials::anonymous()).await.unwrap();
    assert_eq!(alice.logins().await.unwrap(), 2);
    let mut events = session.events();
    portal.stop();
    wait_for(&mut events, "disconnected").await;
    let portal = portal_py(&python, &["--port".into(), port.to_string()]);
    assert_eq!(portal.port, port);
    let SessionEvent::Reconnected { healed, .. } = wait_for(&mut events, "reconnected").await else { unreachable!() };
    assert_eq!(healed, 2);
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    assert_eq!(anonymous.whoami().await.unwrap(), "anonymous");
    assert_eq!(alice.logins().await.unwrap(), 2, "the restarted server saw both logins again");
}

#[tokio::test]
async fn a_ping_method_notices_a_silent_link() {
    let Some(server) = server() else { return };
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.root).into()).await.unwrap();
    let config = fast().ping_interval(Duration::from_millis(100)).ping_timeout(Duration::from_millis(300));
    let session =
        TwistedSession::builder().config(config).ping_method("exported").connect_tcp(proxy.addr()).await.unwrap();
    let root = session.root::<dyn TwistedRoot>();
    assert_eq!(root.exported().await.unwrap(), 1);
    let mut events = session.events();
    proxy.hold(); // a black hole: nothing closes, nothing arrives
    let SessionEvent::Disconnected { reason, .. } = wait_for(&mut events, "disconnected").await else { unreachable!() };
    assert!(reason.contains("exported"), "{reason}");
    proxy.heal();
    wait_for(&mut events, "reconnected").await;
    assert_eq!(root.exported().await.unwrap(), 1);
}

#[tokio::test]
async fn pb_logs_in_to_a_twisted_portal_over_tls() {
    let Some(python) = pb_tests::twisted::python() else { return };
    if !pb_tests::twisted::has_pyopenssl(&python) {
        return;
    }
    let ca = Authority::new("pb test ca");
    let (cert, key) = ca.server_pem();
    let dir = std::env::temp_dir().join(format!("pb-twisted-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let tls_arg = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let portal = portal_py(&python, &["--tls".into(), tls_arg(&cert_file), tls_arg(&key_file)]);
    let config = tls::client_config(ca.roots(), None).unwrap();
    let connect = TlsConnect::new(format!("127.0.0.1:{}", portal.port), "localhost", config).unwrap();
    // One connection, and a session reconnecting through the same connector.
    let conn =
        pb::twisted::connect_transport(connect.transport().await.unwrap(), &pb::Config::default()).await.unwrap();
    let alice = conn.login::<dyn Perspective>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    assert!(conn.peer().starts_with("tls:"));
    let session = TwistedSession::builder().config(fast()).connect_with(connect).await.unwrap();
    let anonymous = session.login::<dyn Perspective>(Credentials::anonymous()).await.unwrap();
    assert_eq!(anonymous.whoami().await.unwrap(), "anonymous");
    // Plain TCP to a TLS port gets no PB handshake.
    let plain = tokio::time::timeout(Duration::from_secs(2), pb::twisted::connect(("127.0.0.1", portal.port))).await;
    assert!(!matches!(plain, Ok(Ok(_))), "a plain connection to a TLS port");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn oneway_calls_ask_twisted_for_no_answer() {
    struct Counted(std::sync::Mutex<Vec<String>>);
    #[pb::remote_impl]
    impl Hello for Counted {
        async fn hello(&self, text: String) -> Result<String, Error> {
            self.0.lock().unwrap().push(text.clone());
            Ok(text)
        }
    }
    let Some(server) = server() else { return };
    let (conn, root) = root(&server).await;
    let hello = Arc::new(Counted(Default::default()));
    // A failing method called oneway: Twisted logs it, and sends nothing.
    assert_eq!(root.fail_oneway().await, Ok(()));
    assert_eq!(root.call_back_oneway(hello.clone(), "one".into()).await, Ok(()));
    assert_eq!(root.call_back_oneway(hello.clone(), "two".into()).await, Ok(()));
    pb_tests::eventually("Twisted ran both calls", || hello.0.lock().unwrap().len() == 2).await;
    assert_eq!(*hello.0.lock().unwrap(), ["one", "two"]);
    assert_eq!(root.get_user(3).await.unwrap().id, 3, "the connection is fine");
    pb_tests::eventually("Twisted released the callbacks", || conn.exported() == 0).await;
}

#[tokio::test]
async fn a_twisted_object_arrives_as_an_any_ref_of_the_callers_choice() {
    let Some(server) = server() else { return };
    let (_conn, root) = root(&server).await;
    let any = root.thing_any().await.unwrap();
    assert_eq!(any.interface_id(), 0, "PB references carry no interface");
    let thing = any.clone().downcast::<dyn Thing>().unwrap();
    assert_eq!(thing.ping(41).await, Ok(42));
    // Any trait will do; a method the object lacks fails as Twisted says.
    let hello = any.downcast::<dyn Hello>().unwrap();
    let Err(Error::UnknownMethod { name, .. }) = hello.hello("x".into()).await else { panic!("Thing has no hello") };
    assert_eq!(name.as_deref(), Some("hello"));
    assert_eq!(root.exported().await.unwrap(), 2, "one reference, held");
    drop((thing, hello));
    assert_eq!(root.exported().await.unwrap(), 1, "released when the last proxy went");
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
