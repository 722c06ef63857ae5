//! A pb server bound with `Server::bind_twisted` called by pb's own Twisted
//! client (`pb::twisted::connect`): both sides of PB's wire, in the normal
//! suite, without Python. The live tests (`twisted_live.rs`,
//! `twisted_clients.rs`) run the same against real Twisted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::fault::FaultProxy;
use pb::login::{Credentials, Portal};
use pb::tls::{self, TlsConnect, TlsListener};
use pb::twisted::TwistedSession;
use pb::{Blob, Error, SessionEvent};
use pb_examples::twisted::{Avatar, UserList, UserListEvent};
use pb_tests::eventually;
use pb_tests::pki::Authority;
use pb_tests::session::{fast, next_event};
use serde::{Deserialize, Serialize};

/// A copyable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    id: i64,
    name: String,
}

/// The shop's application error.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ShopError {
    /// No user with this id.
    #[error("no user {0}")]
    NotFound(i64),
    /// A transport failure.
    #[error(transparent)]
    Pb(#[from] Error),
}

#[pb::remote_interface]
pub trait Shop {
    async fn add(&self, a: i64, b: i64) -> Result<i64, Error>;
    async fn find(&self, id: i64) -> Result<User, ShopError>;
    async fn put(&self, user: User) -> Result<String, Error>;
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    async fn same(&self, thing: Arc<dyn Thing>) -> Result<bool, Error>;
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error>;
    async fn keep(&self, hello: Arc<dyn Hello>) -> Result<(), Error>;
    async fn drop_kept(&self) -> Result<(), Error>;
    async fn echo_hello(&self, hello: Arc<dyn Hello>) -> Result<Arc<dyn Hello>, Error>;
    async fn live(&self) -> Result<usize, Error>;
    async fn panics(&self) -> Result<(), Error>;
    #[pb(name = "getUser")]
    async fn get_user(&self, id: i64) -> Result<User, Error>;
    async fn slow(&self, ms: u64) -> Result<u64, Error>;
    #[pb(idempotent)]
    async fn slow_twice(&self, ms: u64) -> Result<u64, Error>;
    /// A thing, as an object of any interface.
    async fn any_thing(&self) -> Result<pb::AnyRef, Error>;
    /// Calls `object` as a `Hello`.
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, Error>;
    /// Calls `object` as a `Thing`: whether that failed with `UnknownMethod`.
    async fn any_ping_is_unknown(&self, object: pb::AnyRef) -> Result<bool, Error>;
    /// Returns `object`.
    async fn any_back(&self, object: pb::AnyRef) -> Result<pb::AnyRef, Error>;
    #[pb(oneway)]
    async fn poke(&self, by: u64) -> Result<(), Error>;
    async fn pokes(&self) -> Result<u64, Error>;
}

#[pb::remote_interface]
pub trait Thing {
    async fn ping(&self, x: i64) -> Result<i64, Error>;
}

#[pb::remote_interface]
pub trait Hello {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

/// A method the shop does not have, called by name.
#[pb::remote_interface]
pub trait NotShop {
    async fn nope(&self) -> Result<(), Error>;
}

/// A thing; counted in its shop's `live` while it exists.
struct Widget {
    live: Arc<AtomicUsize>,
}

impl Widget {
    fn counted(live: &Arc<AtomicUsize>) -> Arc<dyn Thing> {
        live.fetch_add(1, Ordering::SeqCst);
        Arc::new(Widget { live: live.clone() })
    }
}

impl Drop for Widget {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[pb::remote_impl]
impl Thing for Widget {
    async fn ping(&self, x: i64) -> Result<i64, Error> {
        Ok(x + 1)
    }
}

#[derive(Default)]
struct ShopImpl {
    live: Arc<AtomicUsize>,
    things: Mutex<Vec<Arc<dyn Thing>>>,
    kept: Mutex<Option<Arc<dyn Hello>>>,
    pokes: std::sync::atomic::AtomicU64,
}

#[pb::remote_impl]
impl Shop for ShopImpl {
    async fn add(&self, a: i64, b: i64) -> Result<i64, Error> {
        Ok(a + b)
    }
    async fn find(&self, id: i64) -> Result<User, ShopError> {
        if id == 1 { Ok(User { id, name: "alice".into() }) } else { Err(ShopError::NotFound(id)) }
    }
    async fn put(&self, user: User) -> Result<String, Error> {
        Ok(format!("{}:{}", user.id, user.name))
    }
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error> {
        let thing = Widget::counted(&self.live);
        self.things.lock().unwrap().push(thing.clone());
        Ok(thing)
    }
    async fn same(&self, thing: Arc<dyn Thing>) -> Result<bool, Error> {
        Ok(self.things.lock().unwrap().iter().any(|t| pb::same_object(t, &thing)))
    }
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error> {
        hello.hello(text).await
    }
    async fn keep(&self, hello: Arc<dyn Hello>) -> Result<(), Error> {
        *self.kept.lock().unwrap() = Some(hello);
        Ok(())
    }
    async fn drop_kept(&self) -> Result<(), Error> {
        let kept = self.kept.lock().unwrap().take();
        drop(kept);
        Ok(())
    }
    async fn echo_hello(&self, hello: Arc<dyn Hello>) -> Result<Arc<dyn Hello>, Error> {
        Ok(hello)
    }
    async fn live(&self) -> Result<usize, Error> {
        self.things.lock().unwrap().clear(); // only the peer's references keep them now
        Ok(self.live.load(Ordering::SeqCst))
    }
    async fn panics(&self) -> Result<(), Error> {
        panic!("on purpose")
    }
    async fn get_user(&self, id: i64) -> Result<User, Error> {
        Ok(User { id, name: "bob".into() })
    }
    async fn slow(&self, ms: u64) -> Result<u64, Error> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    }
    async fn slow_twice(&self, ms: u64) -> Result<u64, Error> {
        self.slow(ms).await
    }
    async fn any_thing(&self) -> Result<pb::AnyRef, Error> {
        Ok(pb::AnyRef::new(Widget::counted(&self.live)))
    }
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, Error> {
        object.downcast::<dyn Hello>()?.hello(text).await
    }
    async fn any_ping_is_unknown(&self, object: pb::AnyRef) -> Result<bool, Error> {
        Ok(matches!(object.downcast::<dyn Thing>()?.ping(1).await, Err(Error::UnknownMethod { .. })))
    }
    async fn any_back(&self, object: pb::AnyRef) -> Result<pb::AnyRef, Error> {
        Ok(object)
    }
    async fn poke(&self, by: u64) -> Result<(), Error> {
        self.pokes.fetch_add(by, Ordering::SeqCst);
        Ok(())
    }
    async fn pokes(&self) -> Result<u64, Error> {
        Ok(self.pokes.load(Ordering::SeqCst))
    }
}

struct Greeter;

#[pb::remote_impl]
impl Hello for Greeter {
    async fn hello(&self, text: String) -> Result<String, Error> {
        Ok(format!("hello {text}"))
    }
}

/// Twisted's portal root and challenger, called by hand.
#[pb::remote_interface]
pub trait PortalCalls {
    async fn login(&self, username: Blob) -> Result<(Blob, pb::Ref<dyn Challenge>), Error>;
}

#[pb::remote_interface]
pub trait Challenge {
    async fn respond(&self, response: Blob, mind: Option<i64>) -> Result<Arc<dyn Avatar>, Error>;
}

/// The portal's methods called with arguments of the wrong types.
#[pb::remote_interface]
pub trait Garbled {
    #[pb(name = "login")]
    async fn login_with_a_number(&self, username: i64) -> Result<(), Error>;
    #[pb(name = "loginAnonymous")]
    async fn login_anonymous_with_nothing(&self) -> Result<(), Error>;
    #[pb(name = "respond")]
    async fn respond_with_a_dict(&self, response: BTreeMap<String, i64>, mind: Option<i64>) -> Result<(), Error>;
    /// The portal's `login`, its challenger typed as garbled too.
    #[pb(name = "login", id = 0x6a7b_0001)]
    async fn login_garbled(&self, username: Blob) -> Result<(Blob, pb::Ref<dyn Garbled>), Error>;
}

async fn served() -> (pb::Server, pb::twisted::TwistedConnection, Arc<dyn Shop>) {
    let shop: Arc<dyn Shop> = Arc::new(ShopImpl::default());
    let server = pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Shop>(shop)).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let root = conn.root::<dyn Shop>();
    (server, conn, root)
}

#[tokio::test]
async fn calls_copyables_and_names() {
    let (server, _conn, shop) = served().await;
    assert_eq!(shop.add(2, 3).await, Ok(5));
    assert_eq!(shop.find(1).await, Ok(User { id: 1, name: "alice".into() }));
    assert_eq!(shop.put(User { id: 9, name: "eve".into() }).await.unwrap(), "9:eve");
    assert_eq!(shop.get_user(4).await.unwrap().name, "bob", "called as getUser");
    assert_eq!(server.twisted_connections().len(), 1);
    assert!(server.connections().is_empty(), "no pb-protocol connections");
}

#[tokio::test]
async fn errors_keep_their_kinds() {
    let (_server, conn, shop) = served().await;
    // An application error comes back as itself to a pb caller.
    assert_eq!(shop.find(7).await, Err(ShopError::NotFound(7)));
    let Err(Error::Panicked { message }) = shop.panics().await else { panic!("not a panic") };
    assert_eq!(message, "on purpose");
    let not_shop = conn.root::<dyn NotShop>();
    let Err(Error::UnknownMethod { name, .. }) = not_shop.nope().await else { panic!("a method that is not there") };
    assert_eq!(name.as_deref(), Some("nope"));
    assert_eq!(shop.add(1, 1).await, Ok(2), "the connection survives");
}

#[tokio::test]
async fn references_round_trip_and_are_released_exactly() {
    let (server, conn, shop) = served().await;
    let thing = shop.thing().await.unwrap();
    assert_eq!(thing.ping(41).await, Ok(42));
    assert!(shop.same(thing.clone()).await.unwrap(), "sent back, it is the original");
    let served = &server.twisted_connections()[0];
    assert_eq!(served.exported(), 1);
    assert_eq!(shop.live().await, Ok(1), "held by the export table only");
    drop(thing);
    eventually("the thing is released", || served.exported() == 0).await;
    assert_eq!(shop.live().await, Ok(0), "and dropped");

    // pb objects passed to the server: called back, and released.
    let greeter: Arc<dyn Hello> = Arc::new(Greeter);
    assert_eq!(shop.call_back(greeter.clone(), "you".into()).await.unwrap(), "hello you");
    eventually("the server dropped the callback", || conn.exported() == 0).await;
    shop.keep(greeter.clone()).await.unwrap();
    assert_eq!(conn.exported(), 1);
    let back = shop.echo_hello(greeter.clone()).await.unwrap();
    assert!(pb::same_object(&back, &greeter), "our own object comes back as itself");
    shop.drop_kept().await.unwrap();
    eventually("every reference released", || conn.exported() == 0).await;
    assert_eq!(Arc::strong_count(&greeter), 2, "held by this test and `back` only");
}

#[tokio::test]
async fn a_closed_server_connection_releases_everything() {
    let (server, conn, shop) = served().await;
    let _thing = shop.thing().await.unwrap();
    shop.keep(Arc::new(Greeter)).await.unwrap();
    assert_eq!(conn.exported(), 1);
    drop(server);
    tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("the server closed the connection");
    assert_eq!(conn.exported(), 0);
    assert_eq!(shop.add(1, 2).await, Err(Error::Disconnected));
}

#[tokio::test]
async fn the_twisted_client_example_passes_against_the_twisted_server_example() {
    let server = pb_examples::twisted::server::bind("127.0.0.1:0").await.unwrap();
    let report = pb_examples::twisted::client::run(server.local_addr()).await.expect("connected");
    let failed: Vec<_> = report.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(report.len() > 10);
}

#[tokio::test]
async fn calls_over_the_limit_are_busy_and_shutdown_lets_calls_finish() {
    let shop: Arc<dyn Shop> = Arc::new(ShopImpl::default());
    let config = pb::Config::default().max_in_flight(1);
    let server = pb::Server::bind_twisted_with("127.0.0.1:0", pb::root::<dyn Shop>(shop), config).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let shop = conn.root::<dyn Shop>();
    let slow = tokio::spawn({
        let shop = shop.clone();
        async move { shop.slow(400).await }
    });
    eventually("the slow call runs", || server.twisted_connections().first().is_some_and(|c| c.in_flight() == 1)).await;
    assert_eq!(shop.add(1, 2).await, Err(Error::Busy));
    let stop = server.handle();
    let stopping = tokio::spawn(async move { stop.shutdown(Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(shop.add(1, 2).await, Err(Error::ShuttingDown));
    assert_eq!(slow.await.unwrap(), Ok(400), "the call in flight finished");
    stopping.await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("closed after the shutdown");
}

/// The avatar of [`portal`]'s users.
struct Perspective(String);

#[pb::remote_impl]
impl Avatar for Perspective {
    async fn whoami(&self) -> Result<String, Error> {
        Ok(self.0.clone())
    }
}

/// alice/secret and anonymous users, checked through `check_password`;
/// `attempts` refusals per connection, `timeout` to log in.
fn portal(attempts: u32, timeout: Duration) -> Portal {
    Portal::new(|c: Credentials| async move {
        let name = if c.is_anonymous() {
            "anonymous".to_string()
        } else if c.username == "alice" && c.check_password("secret") {
            c.username
        } else {
            return Err(Error::Unauthorized);
        };
        Ok(pb::AnyRef::new::<dyn Avatar>(Arc::new(Perspective(name))))
    })
    .max_attempts(attempts)
    .login_timeout(timeout)
}

#[tokio::test]
async fn a_portal_serves_password_and_anonymous_logins_over_pbs_wire() {
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(3, Duration::from_secs(30))).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    // Before login the root is the portal: the avatar's methods are not there.
    let Err(Error::UnknownMethod { .. }) = conn.root::<dyn Avatar>().whoami().await else { panic!("reachable") };
    let alice = conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    let anonymous = conn.login::<dyn Avatar>(&Credentials::anonymous()).await.unwrap();
    assert_eq!(anonymous.whoami().await.unwrap(), "anonymous");
    assert_eq!(alice.whoami().await.unwrap(), "alice", "both avatars live on one connection");
    // Only the avatars are held: the challenger was released after the login.
    let served = server.twisted_connections()[0].clone();
    eventually("the challenger is released", || served.exported() == 2).await;
    drop((alice, anonymous));
    eventually("the avatars are released", || served.exported() == 0).await;
}

#[tokio::test]
async fn a_login_s_mind_reaches_the_checker_as_a_working_reference() {
    let (minds, seen) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicUsize::new(0)));
    let kept = minds.clone();
    let portal = Portal::new(move |c: Credentials| {
        let kept = kept.clone();
        async move {
            kept.lock().unwrap().push(c.mind().cloned());
            Ok(pb::AnyRef::new::<dyn Avatar>(Arc::new(Perspective("anyone".into()))))
        }
    });
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let mind = pb::AnyRef::new::<dyn Hello>(Arc::new(Greeter));
    conn.login_with_mind::<dyn Avatar>(&Credentials::new("alice", "secret"), mind.clone()).await.unwrap();
    conn.login_with_mind::<dyn Avatar>(&Credentials::anonymous(), mind).await.unwrap();
    conn.login::<dyn Avatar>(&Credentials::anonymous()).await.unwrap();
    let minds = std::mem::take(&mut *minds.lock().unwrap());
    assert_eq!(minds.len(), 3);
    assert!(minds[2].is_none(), "no mind passed, none received");
    for mind in minds.into_iter().flatten() {
        let hello = mind.downcast::<dyn Hello>().unwrap();
        assert_eq!(hello.hello("pb".into()).await.unwrap(), "hello pb", "the checker calls the client back");
        seen.fetch_add(1, Ordering::SeqCst);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_portal_refuses_wrong_passwords_and_closes_after_its_attempts() {
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(2, Duration::from_secs(30))).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    for wrong in [Credentials::new("alice", "guess"), Credentials::new("mallory", "secret")] {
        assert_eq!(conn.login::<dyn Avatar>(&wrong).await.err(), Some(Error::Unauthorized), "{wrong:?}");
    }
    tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("closed after 2 refusals");
    // A fresh connection starts with fresh attempts.
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    assert_eq!(conn.login::<dyn Avatar>(&Credentials::new("alice", "guess")).await.err(), Some(Error::Unauthorized));
    let alice = conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice", "a right password within the attempts works");
}

#[tokio::test]
async fn a_portal_closes_a_connection_that_does_not_log_in_in_time() {
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(3, Duration::from_millis(200))).await.unwrap();
    let idle = pb::twisted::connect(server.local_addr()).await.unwrap();
    let logged_in = pb::twisted::connect(server.local_addr()).await.unwrap();
    let alice = logged_in.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), idle.closed()).await.expect("closed after the login timeout");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!logged_in.is_closed(), "a connection that logged in stays");
    assert_eq!(alice.whoami().await.unwrap(), "alice");
}

#[tokio::test]
async fn a_challenge_answers_one_response() {
    // pb's portal, called as Twisted's client would call it, by hand: a
    // response replayed on the same challenge is refused.
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(3, Duration::from_secs(30))).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let root = conn.root::<dyn PortalCalls>();
    let (challenge, challenger) = root.login(Blob::from(b"alice".to_vec())).await.unwrap();
    assert_eq!(challenge.len(), 16);
    let (again, _) = root.login(Blob::from(b"alice".to_vec())).await.unwrap();
    assert_ne!(challenge, again, "each login gets its own challenge");
    let response = Blob::from(pb::twisted::respond(&challenge, b"secret").to_vec());
    let avatar = challenger.respond(response.clone(), None).await.unwrap();
    assert_eq!(avatar.whoami().await.unwrap(), "alice");
    assert_eq!(challenger.respond(response, None).await.err(), Some(Error::Unauthorized));
}

#[tokio::test]
async fn garbled_logins_get_errors_and_count_for_nothing() {
    // One attempt allowed: a garbled call that counted would close the connection.
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(1, Duration::from_secs(30))).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let garbled = conn.root::<dyn Garbled>();
    assert!(matches!(garbled.login_with_a_number(7).await, Err(Error::Protocol(_))));
    assert!(matches!(garbled.login_anonymous_with_nothing().await, Err(Error::Protocol(_))));
    let (_, challenger) = garbled.login_garbled(Blob::from(b"alice".to_vec())).await.unwrap();
    let r = challenger.respond_with_a_dict(BTreeMap::from([("a".to_string(), 1)]), None).await;
    assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
    let alice = conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice", "nothing counted, nothing closed");
    // A long response is just a wrong one: it uses up the attempt.
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let (_, challenger) = conn.root::<dyn PortalCalls>().login(Blob::from(b"alice".to_vec())).await.unwrap();
    let respond = challenger.respond(Blob::from(vec![0u8; 100_000]), None).await;
    assert_eq!(respond.err(), Some(Error::Unauthorized));
    tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("the one attempt is used up");
}

#[tokio::test]
async fn the_portal_example_serves_the_client_example() {
    let server = pb_examples::twisted::server::bind_portal("127.0.0.1:0").await.unwrap();
    let report = pb_examples::twisted::client::run_portal(server.local_addr()).await.expect("connected");
    assert_eq!(report.len(), 2, "{report:?}");
    let failed: Vec<_> = report.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[tokio::test]
async fn logins_and_sessions_work_over_tls() {
    let ca = Authority::new("pb test ca");
    let (chain, key) = ca.server();
    let listener = TlsListener::bind("127.0.0.1:0", tls::server_config(chain, key, None).unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = pb::Server::serve_twisted(listener, portal(3, Duration::from_secs(30)), pb::Config::default());
    let connect =
        TlsConnect::new(addr.to_string(), "localhost", tls::client_config(ca.roots(), None).unwrap()).unwrap();
    let conn =
        pb::twisted::connect_transport(connect.transport().await.unwrap(), &pb::Config::default()).await.unwrap();
    let alice = conn.login::<dyn Avatar>(&Credentials::new("alice", "secret")).await.unwrap();
    assert_eq!(alice.whoami().await.unwrap(), "alice");
    assert!(conn.peer().starts_with("tls:"));
    let session = TwistedSession::builder().config(fast()).connect_with(connect).await.unwrap();
    let anonymous = session.login::<dyn Avatar>(Credentials::anonymous()).await.unwrap();
    assert_eq!(anonymous.whoami().await.unwrap(), "anonymous");
    assert_eq!(server.twisted_connections().len(), 2);
    // A client that does not trust the server's authority gets no connection.
    let stranger = tls::client_config(Authority::new("someone else").roots(), None).unwrap();
    let untrusting = TlsConnect::new(addr.to_string(), "localhost", stranger).unwrap();
    assert!(untrusting.transport().await.is_err());
}

#[tokio::test]
async fn a_session_heals_its_root_and_avatar_after_an_outage() {
    let server = pb::Server::bind_twisted("127.0.0.1:0", portal(3, Duration::from_secs(30))).await.unwrap();
    let shop =
        pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Shop>(Arc::new(ShopImpl::default()))).await.unwrap();
    let to_portal = FaultProxy::start(server.local_addr()).await.unwrap();
    let to_shop = FaultProxy::start(shop.local_addr()).await.unwrap();
    let logged = TwistedSession::builder().config(fast()).connect_tcp(to_portal.addr()).await.unwrap();
    let rooted = TwistedSession::builder().config(fast()).connect_tcp(to_shop.addr()).await.unwrap();
    let alice = logged.login::<dyn Avatar>(Credentials::new("alice", "secret")).await.unwrap();
    let root = rooted.root::<dyn Shop>();
    let thing = root.thing().await.unwrap(); // a plain reference: not healed
    assert_eq!((alice.whoami().await.unwrap(), root.add(1, 2).await.unwrap()), ("alice".to_string(), 3));
    let (mut avatar_events, mut root_events) = (logged.events(), rooted.events());
    assert!(matches!(next_event(&mut avatar_events).await, SessionEvent::Connected { .. }));
    to_portal.cut();
    to_shop.cut();
    assert!(matches!(next_event(&mut avatar_events).await, SessionEvent::Disconnected { .. }));
    assert!(matches!(next_event(&mut root_events).await, SessionEvent::Connected { .. }));
    assert!(matches!(next_event(&mut root_events).await, SessionEvent::Disconnected { .. }));
    assert!(!logged.is_connected());
    assert_eq!(alice.whoami().await.err(), Some(Error::Disconnected));
    to_portal.heal();
    to_shop.heal();
    let SessionEvent::Reconnected { healed, failed, .. } = next_event(&mut avatar_events).await else { panic!() };
    assert_eq!((healed, failed), (1, 0));
    assert!(matches!(next_event(&mut root_events).await, SessionEvent::Reconnected { healed: 1, .. }));
    assert_eq!(alice.whoami().await.unwrap(), "alice", "the avatar logged in again");
    assert_eq!(root.add(2, 2).await.unwrap(), 4, "the root is the new connection's");
    assert_eq!(thing.ping(1).await.err(), Some(Error::Disconnected), "a plain reference stays dead");
    assert_eq!(server.twisted_connections().len(), 1, "the old connection is gone");
    // Dropped proxies are no longer healed.
    drop(alice);
    assert_eq!(logged.tracked(), 0);
}

#[tokio::test]
async fn a_session_whose_login_is_refused_after_an_outage_gives_it_up() {
    let accept = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let gate = accept.clone();
    let picky = Portal::new(move |c: Credentials| {
        let accept = gate.load(Ordering::SeqCst) && c.check_password("secret");
        async move {
            if !accept {
                return Err(Error::Unauthorized);
            }
            Ok(pb::AnyRef::new::<dyn Avatar>(Arc::new(Perspective(c.username))))
        }
    });
    let server = pb::Server::bind_twisted("127.0.0.1:0", picky).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(proxy.addr()).await.unwrap();
    let alice = session.login::<dyn Avatar>(Credentials::new("alice", "secret")).await.unwrap();
    let mut events = session.events();
    next_event(&mut events).await; // connected
    accept.store(false, Ordering::SeqCst); // the password changed meanwhile
    proxy.cut();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    proxy.heal();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Reconnected { healed: 0, failed: 0, .. }));
    let SessionEvent::Refused { error, .. } = next_event(&mut events).await else { panic!("not refused") };
    assert_eq!(error, Error::Unauthorized);
    assert_eq!(alice.whoami().await.err(), Some(Error::Unauthorized));
}

#[tokio::test]
async fn an_idempotent_call_lost_in_an_outage_is_sent_again_after_healing() {
    let shop =
        pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Shop>(Arc::new(ShopImpl::default()))).await.unwrap();
    let proxy = FaultProxy::start(shop.local_addr()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(proxy.addr()).await.unwrap();
    let root = session.root::<dyn Shop>();
    let (idempotent, plain) = (root.clone(), root.clone());
    let twice = tokio::spawn(async move { idempotent.slow_twice(300).await });
    let once = tokio::spawn(async move { plain.slow(300).await });
    eventually("both calls run", || shop.twisted_connections().first().is_some_and(|c| c.in_flight() == 2)).await;
    proxy.cut();
    assert_eq!(once.await.unwrap(), Err(Error::ConnectionLost), "a plain call is not sent again");
    proxy.heal();
    assert_eq!(twice.await.unwrap(), Ok(300), "sent again on the healed link");
}

#[tokio::test]
async fn any_refs_cross_pbs_wire_both_ways() {
    let (server, conn, shop) = served().await;
    // Returned as an AnyRef: a reference with no interface, typed by the caller.
    let thing = shop.any_thing().await.unwrap();
    assert_eq!(thing.interface_id(), 0, "PB references carry no interface");
    let thing = thing.downcast::<dyn Thing>().unwrap();
    assert_eq!(thing.ping(1).await, Ok(2));
    let served = &server.twisted_connections()[0];
    assert_eq!(served.exported(), 1);
    drop(thing);
    eventually("the thing is released", || served.exported() == 0).await;
    assert_eq!(shop.live().await, Ok(0));

    // Passed as an AnyRef: the server calls it as the trait it declares.
    let greeter: Arc<dyn Hello> = Arc::new(Greeter);
    let any = || pb::AnyRef::new(greeter.clone());
    assert_eq!(shop.any_hello(any(), "any".into()).await.unwrap(), "hello any");
    assert_eq!(shop.any_ping_is_unknown(any()).await, Ok(true), "a method it lacks is UnknownMethod");
    let back = shop.any_back(any()).await.unwrap().downcast::<dyn Hello>().unwrap();
    assert!(pb::same_object(&back, &greeter), "our own object comes back as itself");
    eventually("every reference released", || conn.exported() == 0).await;
}

#[tokio::test]
async fn oneway_calls_run_without_an_answer() {
    let (server, _conn, shop) = served().await;
    for by in 1..=3 {
        shop.poke(by).await.unwrap();
    }
    // Calls run in the order they arrive; this one's answer comes after.
    assert_eq!(shop.pokes().await, Ok(6));
    assert_eq!(server.twisted_connections()[0].in_flight(), 0);
}

/// A depot whose things and user list a `TwistedSession` heals by replaying
/// the methods that returned them.
#[pb::remote_interface]
pub trait Depot {
    async fn whoami(&self) -> Result<String, Error>;
    #[pb(replay)]
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    #[pb(replay)]
    async fn users(&self) -> Result<pb::Cache<UserList>, Error>;
    async fn add_user(&self, name: String) -> Result<(), Error>;
    /// How many things the depot handed out are still held.
    async fn live(&self) -> Result<usize, Error>;
}

struct DepotImpl {
    name: String,
    live: Arc<AtomicUsize>,
    users: pb::Model<UserList>,
}

impl DepotImpl {
    fn new(name: &str, users: &pb::Model<UserList>) -> Arc<Self> {
        Arc::new(DepotImpl { name: name.into(), live: Arc::default(), users: users.clone() })
    }
}

#[pb::remote_impl]
impl Depot for DepotImpl {
    async fn whoami(&self) -> Result<String, Error> {
        Ok(self.name.clone())
    }
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error> {
        Ok(Widget::counted(&self.live))
    }
    async fn users(&self) -> Result<pb::Cache<UserList>, Error> {
        Ok(self.users.cache())
    }
    async fn add_user(&self, name: String) -> Result<(), Error> {
        self.users.apply(UserListEvent::Added(name));
        Ok(())
    }
    async fn live(&self) -> Result<usize, Error> {
        Ok(self.live.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn a_session_heals_what_replay_methods_returned_after_an_outage() {
    use futures_util::StreamExt;
    let users = pb::Model::new(UserList { users: vec!["alice".into()] });
    let depot = DepotImpl::new("depot", &users);
    let server = pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Depot>(depot.clone())).await.unwrap();
    let link = FaultProxy::start(server.local_addr()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(link.addr()).await.unwrap();
    let root = session.root::<dyn Depot>();
    let thing = root.thing().await.unwrap();
    let mirror = root.users().await.unwrap();
    assert_eq!(thing.ping(1).await.unwrap(), 2);
    assert!(mirror.is_mirror() && mirror.is_live());
    assert_eq!(session.tracked(), 3, "the root, the thing and the mirror");
    let mut events = session.events();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Connected { .. }));
    link.cut();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    assert_eq!(thing.ping(1).await.err(), Some(Error::Disconnected));
    users.apply(UserListEvent::Added("bob".into())); // missed by the mirror
    link.heal();
    let SessionEvent::Reconnected { healed, failed, .. } = next_event(&mut events).await else { panic!() };
    assert_eq!((healed, failed), (3, 0), "the root, then the thing and the mirror through it");
    // The same proxy and mirror work again, on the new connection.
    assert_eq!(thing.ping(41).await.unwrap(), 42);
    assert!(mirror.is_live());
    assert_eq!(mirror.state().users, ["alice", "bob"], "the fresh state, with the outage's change");
    assert_eq!(users.observers(), 1, "only the new connection's copy is fed");
    let mut changes = mirror.changes();
    root.add_user("carol".into()).await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next()).await.expect("the change arrives");
    assert!(matches!(change, Some(pb::Change::Event(UserListEvent::Added(ref n))) if n == "carol"), "{change:?}");
    assert_eq!(mirror.state().users, ["alice", "bob", "carol"]);
    assert_eq!(depot.live().await.unwrap(), 1, "the old connection's thing was released");
    // Dropped handles are no longer healed, and their copies are released.
    drop((thing, changes, mirror));
    assert_eq!(session.tracked(), 1);
    eventually("the thing is released", || depot.live.load(Ordering::SeqCst) == 0).await;
    eventually("the copy is released", || users.observers() == 0).await;
}

#[tokio::test]
async fn what_was_replayed_through_a_refused_avatar_is_refused_too() {
    let accept = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let gate = accept.clone();
    let users = pb::Model::new(UserList { users: vec![] });
    let picky = Portal::new(move |c: Credentials| {
        let accept = gate.load(Ordering::SeqCst) && c.check_password("secret");
        let depot = DepotImpl::new(&c.username, &users);
        async move {
            if !accept {
                return Err(Error::Unauthorized);
            }
            Ok(pb::AnyRef::new::<dyn Depot>(depot))
        }
    });
    let server = pb::Server::bind_twisted("127.0.0.1:0", picky).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let session = TwistedSession::builder().config(fast()).connect_tcp(proxy.addr()).await.unwrap();
    let alice = session.login::<dyn Depot>(Credentials::new("alice", "secret")).await.unwrap();
    let thing = alice.thing().await.unwrap();
    let mirror = alice.users().await.unwrap();
    assert_eq!(session.tracked(), 3);
    let mut events = session.events();
    next_event(&mut events).await; // connected
    accept.store(false, Ordering::SeqCst); // the password changed meanwhile
    proxy.cut();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Disconnected { .. }));
    proxy.heal();
    assert!(matches!(next_event(&mut events).await, SessionEvent::Reconnected { healed: 0, failed: 0, .. }));
    let mut refused = Vec::new();
    for _ in 0..3 {
        let SessionEvent::Refused { path, error, .. } = next_event(&mut events).await else { panic!("not refused") };
        assert_eq!(error, Error::Unauthorized);
        refused.push(path);
    }
    assert!(refused[0].starts_with("login(..)"), "{refused:?}");
    assert!(refused[1].contains("thing()") && refused[2].contains("users()"), "{refused:?}");
    assert_eq!(alice.whoami().await.err(), Some(Error::Unauthorized));
    assert_eq!(thing.ping(1).await.err(), Some(Error::Unauthorized), "the thing is given up with its avatar");
    assert!(!mirror.is_live());
}
