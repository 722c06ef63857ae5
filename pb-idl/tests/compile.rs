//! The golden generated files compile as they stand (warnings denied, also
//! without the implicit prelude), and behave as documented.

#![deny(warnings)]
// Not every generated item is used by these tests.
#![allow(dead_code)]

mod common {
    include!("golden/gen/expected/common.rs");
}
mod shop {
    include!("golden/gen/expected/shop.rs");
}
mod kitchen_sink {
    include!("golden/gen/expected/kitchen.sink.rs");
}
mod streams {
    include!("golden/gen/expected/streams.rs");
}

/// Generated code names only absolute paths.
#[no_implicit_prelude]
mod hygiene {
    include!("golden/gen/expected/kitchen.sink.rs");
}
#[no_implicit_prelude]
mod hygiene_streams {
    include!("golden/gen/expected/streams.rs");
}

use pb::Interface;

#[test]
fn error_messages() {
    use kitchen_sink::Oops;
    assert_eq!(Oops::Plain.to_string(), "The first doc line is the default message ({braces} escaped)");
    assert_eq!(Oops::NoDoc.to_string(), "no doc");
    assert_eq!(Oops::Positional("bake".into(), 3).to_string(), "bake failed 3 times");
    assert_eq!(Oops::Named { what: "fry".into() }.to_string(), "cannot \"fry\" {braces}");
    let e: Oops = pb::Error::Disconnected.into();
    assert_eq!(e, Oops::Pb(pb::Error::Disconnected));
    assert_eq!(e.to_string(), pb::Error::Disconnected.to_string());
    assert_eq!(common::Failure::Denied("x".into()).to_string(), "denied: x");
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
    is_error::<Oops>();
}

#[test]
fn wire_identities() {
    type K = dyn kitchen_sink::Kitchen;
    assert_eq!(<K as Interface>::NAME, "kitchen.Renamed");
    assert_eq!(<K as Interface>::ID, 42);
    let ids: Vec<(&str, u32)> = <K as Interface>::METHODS.iter().map(|m| (m.name, m.id)).collect();
    assert!(ids.contains(&("ping", pb_idl::method_id("ping"))));
    assert!(ids.contains(&("weigh_v2", pb_idl::method_id("weigh_v2"))));
    assert!(ids.contains(&("by_id", 7)));
    assert!(!ids.iter().any(|(n, _)| *n == "name"), "local methods are not on the wire");
    let oven = <K as Interface>::METHODS.iter().find(|m| m.name == "oven").unwrap();
    assert!(oven.replay);
    assert!(<K as Interface>::METHODS.iter().find(|m| m.name == "weigh_v2").unwrap().idempotent);
    type S = dyn shop::Shop;
    assert_eq!(<S as Interface>::NAME, "shop.Shop");
    assert_eq!(<S as Interface>::ID, pb_idl::interface_id("shop.Shop"));
}

#[test]
fn derives_and_cross_package_types() {
    let item = shop::Item { sku: "a".into(), price: common::Money { cents: 5, currency: "EUR".into() } };
    assert_eq!(item.clone(), item);
    let tree = kitchen_sink::Tree {
        value: 1,
        left: Some(Box::new(kitchen_sink::Tree { value: 2, left: None, children: vec![] })),
        children: vec![],
    };
    assert_eq!(format!("{tree:?}").matches("Tree").count(), 2);
}

#[test]
fn records_travel_to_twisted_as_copies_tagged_with_their_qualified_name() {
    use pb_runtime::wire::twisted::banana::Value;
    use pb_runtime::wire::twisted::jelly::{self, form};
    let money = common::Money { cents: -5, currency: "EUR".into() };
    let expected = Value::List(vec![
        Value::bytes(b"common.Money"),
        form::dictionary([(form::unicode("cents"), Value::Int(-5)), (form::unicode("currency"), form::unicode("EUR"))]),
    ]);
    let value = jelly::to_value(&money).unwrap();
    assert_eq!(value, expected);
    assert_eq!(jelly::from_value::<common::Money>(&value).unwrap(), money);
    // Postcard ignores the name.
    let bytes = postcard::to_stdvec(&money).unwrap();
    assert_eq!(postcard::from_bytes::<common::Money>(&bytes).unwrap(), money);
    // A copy of another tag is refused.
    let other = Value::List(vec![Value::bytes(b"common.Other"), form::dictionary([])]);
    assert!(jelly::from_value::<common::Money>(&other).is_err());
}

impl kitchen_sink::PantryApply for kitchen_sink::Pantry {
    fn apply_event(&mut self, event: &kitchen_sink::PantryEvent) {
        match event {
            kitchen_sink::PantryEvent::Stocked { item, count } => {
                self.stock.insert(item.clone(), *count);
            }
            kitchen_sink::PantryEvent::Emptied(item) => {
                self.stock.remove(item);
            }
            kitchen_sink::PantryEvent::Cleared => self.stock.clear(),
        }
    }
}

impl hygiene::PantryApply for hygiene::Pantry {
    fn apply_event(&mut self, _: &hygiene::PantryEvent) {}
}

#[test]
fn models_are_cacheable() {
    use kitchen_sink::{Pantry, PantryEvent};
    assert_eq!(<Pantry as pb::Cacheable>::NAME, "kitchen.Larder");
    let model = pb::Model::new(Pantry { stock: Default::default(), shape: None });
    model.apply(PantryEvent::Stocked { item: "flour".into(), count: 2 });
    let cache: pb::Cache<Pantry> = model.cache();
    assert_eq!(cache.state().stock.get("flour"), Some(&2));
    let snapshot = kitchen_sink::Snapshot { pantry: cache.clone(), others: vec![cache] };
    let _ = snapshot.clone();
    model.apply(PantryEvent::Cleared);
    assert!(model.state().stock.is_empty());
}

struct Local;

#[pb::remote_impl]
impl kitchen_sink::Kitchen for Local {
    async fn ping(&self) -> Result<(), pb::Error> {
        Ok(())
    }
    async fn cook(&self, _shape: kitchen_sink::Shape) -> Result<kitchen_sink::Tree, kitchen_sink::Oops> {
        Err(kitchen_sink::Oops::Plain)
    }
    async fn oven(&self) -> Result<std::sync::Arc<dyn kitchen_sink::Kitchen>, pb::Error> {
        Ok(std::sync::Arc::new(Local))
    }
    async fn weigh(&self, grams: u64) -> Result<f64, pb::Error> {
        Ok(grams as f64 / 1000.0)
    }
    async fn by_id(&self) -> Result<(), pb::Error> {
        Ok(())
    }
    async fn pantry(&self) -> Result<pb::Cache<kitchen_sink::Pantry>, pb::Error> {
        Err(pb::Error::Disconnected)
    }
}

#[test]
fn local_methods_return_their_constants() {
    use kitchen_sink::Kitchen;
    let k = Local;
    assert_eq!(k.name(), "kitchen");
    assert!(k.open());
    assert_eq!(k.floors(), -2);
    assert_eq!(k.ratio(), 0.5);
}

impl hygiene_streams::BoardApply for hygiene_streams::Board {
    fn apply_event(&mut self, _: &hygiene_streams::BoardEvent) {}
}

impl streams::BoardApply for streams::Board {
    fn apply_event(&mut self, event: &streams::BoardEvent) {
        match event {
            streams::BoardEvent::Posted(line) => self.lines.push(line.clone()),
        }
    }
}

/// `stream<T>` as a result, an argument, a field, an item of another
/// stream, with references and caches as items:
/// the generated trait served and called over a connection.
mod streaming {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use pb::StreamExt;

    use super::streams::{Board, BoardEvent, Counter, Failed, Feed, Line, Transfer, Upload};

    struct Tally(AtomicU64);

    #[pb::remote_impl]
    impl Counter for Tally {
        async fn add(&self, n: u64) -> Result<u64, pb::Error> {
            Ok(self.0.fetch_add(n, Ordering::SeqCst) + n)
        }
    }

    struct Server {
        board: pb::Model<Board>,
    }

    fn numbers(n: u64) -> pb::Stream<u64> {
        pb::Stream::iter(0..n)
    }

    fn lines(from: u64, n: u64) -> pb::Stream<Line> {
        pb::Stream::iter((from..from + n).map(|seq| Line { seq, text: format!("line {seq}") }))
    }

    #[pb::remote_impl]
    impl Feed for Server {
        async fn tail(&self, from: u64) -> Result<pb::Stream<Line>, pb::Error> {
            Ok(lines(from, 3))
        }
        async fn upload(&self, upload: Upload) -> Result<u64, pb::Error> {
            let mut chunks = upload.chunks;
            let mut bytes = 0;
            while let Some(chunk) = chunks.next().await {
                bytes += chunk?.len() as u64;
            }
            Ok(bytes)
        }
        async fn shout(&self, lines: pb::Stream<Line>) -> Result<pb::Stream<Line>, pb::Error> {
            Ok(pb::Stream::new(lines.map(|l| l.map(|l| Line { text: l.text.to_uppercase(), ..l }))))
        }
        async fn batches(&self, count: u32, size: u32) -> Result<pb::Stream<pb::Stream<u64>>, pb::Error> {
            Ok(pb::Stream::iter((0..count).map(move |_| numbers(u64::from(size)))))
        }
        async fn counters(&self, n: u32) -> Result<pb::Stream<pb::Ref<dyn Counter>>, pb::Error> {
            Ok(pb::Stream::iter((0..n).map(|i| {
                let counter: Arc<dyn Counter> = Arc::new(Tally(AtomicU64::new(u64::from(i) * 100)));
                pb::Ref::new(counter)
            })))
        }
        async fn boards(&self) -> Result<pb::Stream<pb::Cache<Board>>, pb::Error> {
            Ok(pb::Stream::iter([self.board.cache(), self.board.cache()]))
        }
        async fn maybe(&self, want: bool) -> Result<Option<pb::Stream<u64>>, pb::Error> {
            Ok(want.then(|| numbers(2)))
        }
        async fn several(&self) -> Result<Vec<pb::Stream<u64>>, pb::Error> {
            Ok(vec![numbers(1), numbers(2)])
        }
        async fn by_name(&self) -> Result<BTreeMap<String, pb::Stream<u64>>, pb::Error> {
            Ok([("three".to_string(), numbers(3))].into())
        }
        async fn transfer(&self) -> Result<Transfer, Failed> {
            Err(Failed::Partial(lines(0, 2)))
        }
        async fn ticks(&self) -> Result<pb::Stream<u64>, pb::Error> {
            Ok(numbers(4))
        }
    }

    async fn all<T: serde::de::DeserializeOwned + Send + 'static>(s: pb::Stream<T>) -> Vec<T> {
        s.map(|item| item.unwrap()).collect().await
    }

    async fn feed() -> (Arc<dyn Feed>, pb::Connection, pb::Connection) {
        let board = pb::Model::new(Board { lines: Vec::new() });
        board.apply(BoardEvent::Posted(Line { seq: 7, text: "pinned".into() }));
        let root: Arc<dyn Feed> = Arc::new(Server { board });
        let (s, c) = pb::Transport::memory_pair();
        let (server, client) =
            tokio::join!(pb::Connection::builder().root(root).establish(s), pb::Connection::builder().establish(c));
        let (server, client) = (server.unwrap(), client.unwrap());
        (client.root::<dyn Feed>().unwrap(), server, client)
    }

    #[tokio::test]
    async fn streams_go_both_ways_and_inside_data() {
        let (feed, _s, _c) = feed().await;
        let tail = all(feed.tail(5).await.unwrap()).await;
        assert_eq!(tail.iter().map(|l| l.seq).collect::<Vec<_>>(), [5, 6, 7]);

        // Client streaming, inside a record: the server pulls the chunks.
        let (tx, chunks) = pb::channel(4);
        let sending = tokio::spawn(async move {
            for n in [3usize, 4, 5] {
                tx.send(vec![0u8; n]).await.unwrap();
            }
        });
        assert_eq!(feed.upload(Upload { name: "x".into(), chunks }).await.unwrap(), 12);
        sending.await.unwrap();

        // Both ways: the server's result pulls from the client's argument.
        let shouted = all(feed.shout(lines(0, 2)).await.unwrap()).await;
        assert_eq!(shouted.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["LINE 0", "LINE 1"]);

        let mut batches = feed.batches(3, 2).await.unwrap();
        let mut got = Vec::new();
        while let Some(batch) = batches.next().await {
            got.push(all(batch.unwrap()).await);
        }
        assert_eq!(got, [vec![0, 1], vec![0, 1], vec![0, 1]]);

        let counters = all(feed.counters(2).await.unwrap()).await;
        assert_eq!(counters.len(), 2);
        assert_eq!(counters[1].add(5).await.unwrap(), 105);

        for cache in all(feed.boards().await.unwrap()).await {
            assert_eq!(cache.state().lines[0].text, "pinned");
        }

        assert_eq!(all(feed.maybe(true).await.unwrap().unwrap()).await, [0, 1]);
        assert!(feed.maybe(false).await.unwrap().is_none());
        let mut lens = Vec::new();
        for s in feed.several().await.unwrap() {
            lens.push(all(s).await.len());
        }
        assert_eq!(lens, [1, 2]);
        let by_name = feed.by_name().await.unwrap().into_iter().next().unwrap();
        assert_eq!((by_name.0.as_str(), all(by_name.1).await), ("three", vec![0, 1, 2]));

        match feed.transfer().await {
            Err(Failed::Partial(done)) => assert_eq!(all(done).await.len(), 2),
            other => panic!("expected a partial failure, got {other:?}"),
        }
        assert_eq!(all(feed.ticks().await.unwrap()).await, [0, 1, 2, 3]);
    }

    #[test]
    fn types_holding_streams_derive_neither_clone_nor_eq() {
        fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
        is_error::<Failed>();
        let upload = Upload { name: "x".into(), chunks: pb::Stream::iter([vec![1u8]]) };
        assert!(format!("{upload:?}").contains("Stream"));
        // `Line` holds none: it derives everything.
        let line = Line { seq: 1, text: "a".into() };
        assert_eq!(line.clone(), line);
    }
}
