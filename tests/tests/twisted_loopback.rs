//! A pb server bound with `Server::bind_twisted` called by pb's own Twisted
//! client (`pb::twisted::connect`): both sides of PB's wire, in the normal
//! suite, without Python. The live tests (`twisted_live.rs`,
//! `twisted_clients.rs`) run the same against real Twisted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::Error;
use pb_tests::eventually;
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
