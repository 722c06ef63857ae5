//! One expansion: a client generated from a schema calls a server whose
//! trait was written by hand, and the other way round, with copies, errors,
//! references (as arguments, results, and inside data) and local methods.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pb::Interface;

/// Generated from `golden/gen/interop.pbidl` (the golden file, kept current by `tests/golden.rs`).
mod generated {
    include!("golden/gen/expected/interop.rs");
}

/// The same interfaces, written by hand as the pb tutorial shows.
mod hand {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Greeting {
        pub to: String,
        pub times: u32,
        pub payload: Vec<u8>,
        pub note: Option<String>,
        pub tags: HashMap<String, i64>,
    }

    #[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
    pub enum GreetError {
        #[error("nobody to greet")]
        Nobody,
        #[error("asked for {asked} greetings, the limit is {limit}")]
        TooMany { asked: u32, limit: u32 },
        #[error(transparent)]
        Pb(#[from] pb::Error),
    }

    #[derive(Clone, Serialize, Deserialize)]
    pub struct Bag {
        pub one: pb::Ref<dyn Counter>,
        pub many: Vec<pb::Ref<dyn Counter>>,
        pub maybe: Option<pb::Ref<dyn Counter>>,
    }

    #[pb::remote_interface(name = "interop.Greeter")]
    pub trait Greeter {
        async fn greet(&self, to: String, times: u32) -> Result<Greeting, GreetError>;
        async fn echo(&self, g: Greeting) -> Result<Greeting, GreetError>;
        #[pb(replay)]
        async fn counter(&self) -> Result<Arc<dyn Counter>, GreetError>;
        async fn count_with(&self, counter: Arc<dyn Counter>, n: u64) -> Result<u64, GreetError>;
        async fn bag(&self) -> Result<Bag, GreetError>;
        #[pb(local)]
        fn motto(&self) -> String {
            "hello, world".into()
        }
    }

    #[pb::remote_interface(name = "interop.Counter")]
    pub trait Counter {
        #[pb(idempotent)]
        async fn incr(&self) -> Result<u64, pb::Error>;
    }
}

#[derive(Default)]
struct Count(AtomicU64);

#[pb::remote_impl]
impl hand::Counter for Count {
    async fn incr(&self) -> Result<u64, pb::Error> {
        Ok(self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

#[pb::remote_impl]
impl generated::Counter for Count {
    async fn incr(&self) -> Result<u64, pb::Error> {
        Ok(self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// A greeter on the hand-written trait.
struct HandGreeter(Arc<Count>);

#[pb::remote_impl]
impl hand::Greeter for HandGreeter {
    async fn greet(&self, to: String, times: u32) -> Result<hand::Greeting, hand::GreetError> {
        match (to.as_str(), times) {
            ("", _) => Err(hand::GreetError::Nobody),
            (_, t) if t > 3 => Err(hand::GreetError::TooMany { asked: t, limit: 3 }),
            _ => Ok(hand::Greeting {
                payload: vec![0, 255, times as u8],
                note: Some(format!("hi {to}")),
                tags: HashMap::from([("times".to_string(), i64::from(times))]),
                to,
                times,
            }),
        }
    }
    async fn echo(&self, g: hand::Greeting) -> Result<hand::Greeting, hand::GreetError> {
        Ok(g)
    }
    async fn counter(&self) -> Result<Arc<dyn hand::Counter>, hand::GreetError> {
        Ok(self.0.clone())
    }
    async fn count_with(&self, counter: Arc<dyn hand::Counter>, n: u64) -> Result<u64, hand::GreetError> {
        let mut last = 0;
        for _ in 0..n {
            last = counter.incr().await?;
        }
        Ok(last)
    }
    async fn bag(&self) -> Result<hand::Bag, hand::GreetError> {
        let c: Arc<dyn hand::Counter> = self.0.clone();
        Ok(hand::Bag { one: c.clone().into(), many: vec![c.clone().into(), c.clone().into()], maybe: Some(c.into()) })
    }
}

/// The same greeter on the generated trait.
struct GenGreeter(Arc<Count>);

#[pb::remote_impl]
impl generated::Greeter for GenGreeter {
    async fn greet(&self, to: String, times: u32) -> Result<generated::Greeting, generated::GreetError> {
        match (to.as_str(), times) {
            ("", _) => Err(generated::GreetError::Nobody),
            (_, t) if t > 3 => Err(generated::GreetError::TooMany { asked: t, limit: 3 }),
            _ => Ok(generated::Greeting {
                payload: vec![0, 255, times as u8].into(),
                note: Some(format!("hi {to}")),
                tags: [("times".to_string(), i64::from(times))].into(),
                to,
                times,
            }),
        }
    }
    async fn echo(&self, g: generated::Greeting) -> Result<generated::Greeting, generated::GreetError> {
        Ok(g)
    }
    async fn counter(&self) -> Result<Arc<dyn generated::Counter>, generated::GreetError> {
        Ok(self.0.clone())
    }
    async fn count_with(&self, counter: Arc<dyn generated::Counter>, n: u64) -> Result<u64, generated::GreetError> {
        let mut last = 0;
        for _ in 0..n {
            last = counter.incr().await?;
        }
        Ok(last)
    }
    async fn bag(&self) -> Result<generated::Bag, generated::GreetError> {
        let c: Arc<dyn generated::Counter> = self.0.clone();
        Ok(generated::Bag {
            one: c.clone().into(),
            many: vec![c.clone().into(), c.clone().into()],
            maybe: Some(c.into()),
        })
    }
}

/// Serve `root` over an in-memory pair; return a proxy of type `C` to it.
async fn connect<S: ?Sized + Interface, C: ?Sized + Interface>(
    root: Arc<S>,
) -> (Arc<C>, pb::Connection, pb::Connection) {
    let (s, c) = pb::Transport::memory_pair();
    let (server, client) =
        tokio::join!(pb::Connection::builder().root(root).establish(s), pb::Connection::builder().establish(c));
    let (server, client) = (server.unwrap(), client.unwrap());
    (client.root::<C>().unwrap(), server, client)
}

#[test]
fn identities_match() {
    type G = dyn generated::Greeter;
    type H = dyn hand::Greeter;
    assert_eq!(<G as Interface>::ID, <H as Interface>::ID);
    assert_eq!(<dyn generated::Counter as Interface>::ID, <dyn hand::Counter as Interface>::ID);
    let ids = |m: &[pb::MethodInfo]| {
        m.iter().map(|m| (m.name, m.id, m.replay, m.idempotent, m.signature)).collect::<Vec<_>>()
    };
    assert_eq!(ids(<G as Interface>::METHODS), ids(<H as Interface>::METHODS));
}

#[tokio::test]
async fn generated_client_calls_hand_written_server() {
    let count = Arc::new(Count::default());
    let (greeter, _s, _c) =
        connect::<dyn hand::Greeter, dyn generated::Greeter>(Arc::new(HandGreeter(count.clone()))).await;

    let g = greeter.greet("ann".into(), 2).await.unwrap();
    assert_eq!((g.to.as_str(), g.times, &g.payload[..]), ("ann", 2, &[0u8, 255, 2][..]));
    assert_eq!(g.note.as_deref(), Some("hi ann"));
    assert_eq!(g.tags.get("times"), Some(&2));
    assert_eq!(greeter.echo(g.clone()).await.unwrap(), g);

    assert_eq!(greeter.greet(String::new(), 1).await, Err(generated::GreetError::Nobody));
    let too_many = greeter.greet("bob".into(), 9).await.unwrap_err();
    assert_eq!(too_many, generated::GreetError::TooMany { asked: 9, limit: 3 });
    assert_eq!(too_many.to_string(), "asked for 9 greetings, the limit is 3");

    let counter = greeter.counter().await.unwrap();
    assert_eq!(counter.incr().await.unwrap(), 1);
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "the call reached the server's object");

    // A reference passed as an argument: the server calls back into our counter.
    let mine = Arc::new(Count::default());
    assert_eq!(greeter.count_with(mine.clone(), 3).await.unwrap(), 3);
    assert_eq!(mine.0.load(Ordering::SeqCst), 3);

    // References inside data.
    let bag = greeter.bag().await.unwrap();
    bag.one.incr().await.unwrap();
    for c in &bag.many {
        c.incr().await.unwrap();
    }
    bag.maybe.as_ref().unwrap().incr().await.unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 5);

    assert_eq!(greeter.motto(), "hello, world");
}

#[tokio::test]
async fn hand_written_client_calls_generated_server() {
    let count = Arc::new(Count::default());
    let (greeter, _s, client) =
        connect::<dyn generated::Greeter, dyn hand::Greeter>(Arc::new(GenGreeter(count.clone()))).await;

    let g = greeter.greet("ann".into(), 3).await.unwrap();
    assert_eq!((g.to.as_str(), g.times, g.payload.as_slice()), ("ann", 3, &[0u8, 255, 3][..]));
    assert_eq!(g.tags.get("times"), Some(&3));
    assert_eq!(greeter.echo(g.clone()).await.unwrap(), g);

    assert_eq!(greeter.greet(String::new(), 1).await, Err(hand::GreetError::Nobody));
    assert_eq!(greeter.greet("bob".into(), 4).await, Err(hand::GreetError::TooMany { asked: 4, limit: 3 }));

    let counter = greeter.counter().await.unwrap();
    assert_eq!(counter.incr().await.unwrap(), 1);

    let mine = Arc::new(Count::default());
    assert_eq!(greeter.count_with(mine.clone(), 2).await.unwrap(), 2);
    assert_eq!(mine.0.load(Ordering::SeqCst), 2);

    let bag = greeter.bag().await.unwrap();
    bag.one.incr().await.unwrap();
    assert_eq!(bag.many.len(), 2);
    assert_eq!(count.0.load(Ordering::SeqCst), 2);

    assert_eq!(greeter.motto(), "hello, world");

    // Transport failures reach the caller through the generated error's `Pb` variant.
    client.close();
    assert_eq!(greeter.greet("x".into(), 1).await, Err(hand::GreetError::Pb(pb::Error::Disconnected)));
}

#[tokio::test]
async fn describe_finds_no_difference_either_way() {
    let (g, _s, _c) = connect::<dyn hand::Greeter, dyn generated::Greeter>(Arc::new(HandGreeter(Arc::default()))).await;
    let report = pb::describe::check(&g).await.unwrap();
    assert!(report.is_identical(), "{:?}", report.differences);
    let (h, _s, _c) = connect::<dyn generated::Greeter, dyn hand::Greeter>(Arc::new(GenGreeter(Arc::default()))).await;
    let report = pb::describe::check(&h).await.unwrap();
    assert!(report.is_identical(), "{:?}", report.differences);
}

#[tokio::test]
async fn generated_error_carries_transport_failures() {
    let (greeter, _s, client) =
        connect::<dyn hand::Greeter, dyn generated::Greeter>(Arc::new(HandGreeter(Arc::default()))).await;
    client.close();
    assert_eq!(greeter.greet("x".into(), 1).await, Err(generated::GreetError::Pb(pb::Error::Disconnected)));
}

#[tokio::test]
async fn a_registry_lookup_types_the_proxy_for_either_trait() {
    // Both traits are linked into this process with one wire identity: a
    // lookup through the registry serves either of them.
    let registry = pb::Registry::local();
    registry.register::<dyn hand::Greeter>(Arc::new(HandGreeter(Arc::new(Count::default()))));
    let (remote, _s, _c) = connect::<dyn pb::Locator, dyn pb::Locator>(registry.locator()).await;
    let generated = remote.get::<dyn generated::Greeter>().await.unwrap();
    let hand = remote.get::<dyn hand::Greeter>().await.unwrap();
    assert_eq!(generated.greet("gus".into(), 1).await.unwrap().to, "gus");
    assert_eq!(hand.greet("hal".into(), 1).await.unwrap().to, "hal");
}
