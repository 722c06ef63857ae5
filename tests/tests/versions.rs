//! Peers built from different versions of an interface: a client can tell
//! before calling, and a call to a method the peer lacks names it.

use std::sync::Arc;
use std::time::Duration;

use pb::describe::{Difference, check};
use pb::{Connection, Error};

mod v1 {
    #[pb::remote_interface(name = "test.Versioned")]
    pub trait Versioned {
        async fn get(&self, id: u64) -> Result<String, pb::Error>;
        async fn old(&self) -> Result<u64, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Versioned for Server {
        async fn get(&self, id: u64) -> Result<String, pb::Error> {
            Ok(format!("v1 #{id}"))
        }
        async fn old(&self) -> Result<u64, pb::Error> {
            Ok(1)
        }
    }
}

mod v2 {
    #[pb::remote_interface(name = "test.Versioned")]
    pub trait Versioned {
        /// Re-typed: the result changed.
        async fn get(&self, id: u64) -> Result<Vec<String>, pb::Error>;
        /// Added.
        async fn fresh(&self) -> Result<u64, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Versioned for Server {
        async fn get(&self, id: u64) -> Result<Vec<String>, pb::Error> {
            Ok(vec![format!("v2 #{id}")])
        }
        async fn fresh(&self) -> Result<u64, pb::Error> {
            Ok(2)
        }
    }
}

async fn connect<T: ?Sized + pb::Interface>(root: Arc<T>) -> (Connection, Connection) {
    let (a, b) = pb::Transport::memory_pair();
    let (s, c) = tokio::join!(Connection::builder().root(root).establish(a), Connection::builder().establish(b));
    (s.unwrap(), c.unwrap())
}

#[tokio::test]
async fn a_client_tells_that_the_server_interface_differs_before_calling() {
    let (_s, client) = connect::<dyn v2::Versioned>(Arc::new(v2::Server)).await;
    let old = client.root::<dyn v1::Versioned>().unwrap();
    let report = check(&old).await.unwrap();
    assert!(!report.is_compatible(), "{report}");
    assert_eq!(
        report.differences,
        [Difference::Signature("get".into()), Difference::Missing("old".into()), Difference::Extra("fresh".into())]
    );
    assert!(report.to_string().contains("method `old` is missing on the peer"));

    // The same version: identical.
    let (_s, client) = connect::<dyn v1::Versioned>(Arc::new(v1::Server)).await;
    let same = client.root::<dyn v1::Versioned>().unwrap();
    assert!(check(&same).await.unwrap().is_identical());
    // A local object needs no check.
    let local: Arc<dyn v1::Versioned> = Arc::new(v1::Server);
    assert!(check(&local).await.unwrap().is_identical());
}

#[tokio::test]
async fn calling_a_method_the_peer_lacks_names_the_interface_and_the_method() {
    let (_s, client) = connect::<dyn v2::Versioned>(Arc::new(v2::Server)).await;
    let old = client.root::<dyn v1::Versioned>().unwrap();
    let err = old.old().await.unwrap_err();
    match &err {
        Error::UnknownMethod { interface, name, .. } => {
            assert_eq!(interface, "test.Versioned");
            assert_eq!(name.as_deref(), Some("old"));
        }
        other => panic!("expected UnknownMethod, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`old`") && text.contains("test.Versioned") && text.contains("another version"), "{text}");
    // The connection goes on.
    let new = client.root::<dyn v2::Versioned>().unwrap();
    assert_eq!(new.fresh().await.unwrap(), 2);
}

/// The same interface written with different collection and byte types that
/// postcard encodes alike: one peer uses `HashMap` and `Vec<u8>`, the other
/// `BTreeMap` and `pb::Blob` (as the IDL generates for `map` and a blob).
mod hashed {
    use std::collections::HashMap;

    #[pb::remote_interface(name = "test.Tally")]
    pub trait Tally {
        async fn tally(&self, words: HashMap<String, u32>, raw: Vec<u8>) -> Result<HashMap<String, u32>, pb::Error>;
    }

    pub struct Server;

    #[pb::remote_impl]
    impl Tally for Server {
        async fn tally(&self, words: HashMap<String, u32>, raw: Vec<u8>) -> Result<HashMap<String, u32>, pb::Error> {
            let mut out: HashMap<String, u32> = words.into_iter().map(|(w, n)| (w, n * 2)).collect();
            out.insert("bytes".into(), raw.len() as u32);
            Ok(out)
        }
    }
}

mod ordered {
    use std::collections::BTreeMap;

    #[pb::remote_interface(name = "test.Tally")]
    pub trait Tally {
        async fn tally(&self, words: BTreeMap<String, u32>, raw: pb::Blob) -> Result<BTreeMap<String, u32>, pb::Error>;
    }
}

#[tokio::test]
async fn peers_using_types_that_encode_alike_describe_alike_and_interoperate() {
    let (_s, client) = connect::<dyn hashed::Tally>(Arc::new(hashed::Server)).await;
    let tally = client.root::<dyn ordered::Tally>().unwrap();
    let report = check(&tally).await.unwrap();
    assert!(report.is_identical(), "{report}");
    let words = std::collections::BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 5)]);
    let out = tally.tally(words, pb::Blob::from(vec![0u8; 3])).await.unwrap();
    assert_eq!(out, std::collections::BTreeMap::from([("a".into(), 2), ("b".into(), 10), ("bytes".into(), 3)]));
}

/// Two versions of a model: the newer one has an event variant at the end,
/// and a mode its state can hold that the older one does not know.
mod counter_v1 {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Mode {
        Plain,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Counter {
        pub n: u64,
        pub mode: Mode,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Event {
        Add(u64),
        SetMode(Mode),
    }

    impl pb::Cacheable for Counter {
        type Event = Event;
        const NAME: &'static str = "test.Counter";
        fn apply(&mut self, event: &Event) {
            match event {
                Event::Add(k) => self.n += k,
                Event::SetMode(m) => self.mode = *m,
            }
        }
    }

    #[pb::remote_interface(name = "test.Counters")]
    pub trait Counters {
        async fn counter(&self) -> Result<pb::Cache<Counter>, pb::Error>;
    }
}

mod counter_v2 {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Mode {
        Plain,
        /// Added.
        Fancy,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Counter {
        pub n: u64,
        pub mode: Mode,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Event {
        Add(u64),
        SetMode(Mode),
        /// Added at the end.
        Double,
    }

    impl pb::Cacheable for Counter {
        type Event = Event;
        const NAME: &'static str = "test.Counter";
        fn apply(&mut self, event: &Event) {
            match event {
                Event::Add(k) => self.n += k,
                Event::SetMode(m) => self.mode = *m,
                Event::Double => self.n *= 2,
            }
        }
    }

    #[pb::remote_interface(name = "test.Counters")]
    pub trait Counters {
        async fn counter(&self) -> Result<pb::Cache<Counter>, pb::Error>;
    }

    pub struct Owner(pub pb::Model<Counter>);

    #[pb::remote_impl]
    impl Counters for Owner {
        async fn counter(&self) -> Result<pb::Cache<Counter>, pb::Error> {
            Ok(self.0.cache())
        }
    }
}

#[tokio::test]
async fn an_old_observer_of_a_newer_model_is_resynced_or_told_it_stopped() {
    use counter_v1::{Counter, Event, Mode};
    use futures_util::StreamExt;
    use pb::Change;

    let model = pb::Model::new(counter_v2::Counter { n: 0, mode: counter_v2::Mode::Plain });
    let (_s, client) = connect::<dyn counter_v2::Counters>(Arc::new(counter_v2::Owner(model.clone()))).await;
    let old = client.root::<dyn counter_v1::Counters>().unwrap();
    let mirror = old.counter().await.unwrap();
    let mut changes = mirror.changes();
    let mut next = async || tokio::time::timeout(Duration::from_secs(10), changes.next()).await.expect("told in time");

    model.apply(counter_v2::Event::Add(1));
    assert!(matches!(next().await, Some(Change::Event(Event::Add(1)))));
    // An event the old build cannot decode: the state still decodes, so
    // it gets the state instead.
    model.apply(counter_v2::Event::Double);
    match next().await {
        Some(Change::Resynced(s)) => assert_eq!(*s, Counter { n: 2, mode: Mode::Plain }),
        other => panic!("expected a resync, got {other:?}"),
    }
    // And later events as usual.
    model.apply(counter_v2::Event::Add(3));
    assert!(matches!(next().await, Some(Change::Event(Event::Add(3)))));
    assert_eq!(mirror.state().n, 5);

    // A state it cannot decode: it is told the mirror stopped, and why.
    model.apply(counter_v2::Event::SetMode(counter_v2::Mode::Fancy));
    match next().await {
        Some(Change::Stopped(e)) => assert!(e.to_string().contains("newer schema"), "{e}"),
        other => panic!("expected the mirror to stop, got {other:?}"),
    }
    assert!(!mirror.is_live());
    assert_eq!(mirror.state().n, 5, "it keeps the last state");
    for _ in 0..200 {
        if model.observers() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(model.observers(), 0, "the owner unsubscribed it");
}
