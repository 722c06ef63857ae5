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
mod senders {
    include!("golden/gen/expected/senders.rs");
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
#[no_implicit_prelude]
mod hygiene_senders {
    include!("golden/gen/expected/senders.rs");
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

impl hygiene_senders::BoardApply for hygiene_senders::Board {
    fn apply_event(&mut self, _: &hygiene_senders::BoardEvent) {}
}

impl senders::BoardApply for senders::Board {
    fn apply_event(&mut self, event: &senders::BoardEvent) {
        match event {
            senders::BoardEvent::Posted(e) => self.events.push(e.clone()),
        }
    }
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
                tx.send(pb::Blob::from(vec![0u8; n])).await.unwrap();
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
        let upload = Upload { name: "x".into(), chunks: pb::Stream::iter([pb::Blob::from(vec![1u8])]) };
        assert!(format!("{upload:?}").contains("Stream"));
        // `Line` holds none: it derives everything.
        let line = Line { seq: 1, text: "a".into() };
        assert_eq!(line.clone(), line);
    }
}

/// `sender<T>` as an argument, a result, a field, inside other types, an
/// item of a stream, with references and streams as items, and taken by
/// `@idempotent` and `@replay` methods: the generated trait served and
/// called over a connection.
mod sending {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use pb::StreamExt;

    use super::senders::{Board, BoardEvent, Counter, Event, Hub, Pipe, Route, Subscription};

    struct Tally(AtomicU64);

    #[pb::remote_impl]
    impl Counter for Tally {
        async fn add(&self, n: u64) -> Result<u64, pb::Error> {
            Ok(self.0.fetch_add(n, Ordering::SeqCst) + n)
        }
    }

    fn tally(start: u64) -> pb::Ref<dyn Counter> {
        let counter: Arc<dyn Counter> = Arc::new(Tally(AtomicU64::new(start)));
        pb::Ref::new(counter)
    }

    /// The hub: what the inbox's senders send comes out of `received`.
    struct Server {
        board: pb::Model<Board>,
        inbox: pb::Sender<String>,
        received: tokio::sync::Mutex<pb::Stream<String>>,
    }

    #[pb::remote_impl]
    impl Hub for Server {
        async fn events(&self, n: u32, to: pb::Sender<Event>) -> Result<u32, pb::Error> {
            for seq in 0..u64::from(n) {
                to.send(Event { seq, text: format!("event {seq}") }).await?;
            }
            Ok(n)
        }
        async fn subscribe(&self, sub: Subscription) -> Result<u32, pb::Error> {
            sub.events.send(Event { seq: 0, text: sub.topic }).await?;
            Ok(1)
        }
        async fn inbox(&self) -> Result<pb::Sender<String>, pb::Error> {
            Ok(self.inbox.clone())
        }
        async fn received(&self, n: u32) -> Result<Vec<String>, pb::Error> {
            let mut lines = self.received.lock().await;
            let mut out = Vec::new();
            while out.len() < n as usize {
                match lines.next().await {
                    Some(line) => out.push(line?),
                    None => break,
                }
            }
            Ok(out)
        }
        async fn counters(&self, n: u32, to: pb::Sender<pb::Ref<dyn Counter>>) -> Result<(), pb::Error> {
            for i in 0..n {
                to.send(tally(u64::from(i) * 100)).await?;
            }
            Ok(())
        }
        async fn fan(&self, mut to: pb::Stream<pb::Sender<u64>>) -> Result<u32, pb::Error> {
            let mut i = 0;
            while let Some(tx) = to.next().await {
                tx?.send(u64::from(i)).await?;
                i += 1;
            }
            Ok(i)
        }
        async fn batches(&self, count: u32, size: u32, to: pb::Sender<pb::Stream<u64>>) -> Result<(), pb::Error> {
            for _ in 0..count {
                to.send(pb::Stream::iter(0..u64::from(size))).await?;
            }
            Ok(())
        }
        async fn maybe(&self, to: Option<pb::Sender<u64>>) -> Result<bool, pb::Error> {
            match to {
                Some(tx) => tx.send(7).await.map(|()| true),
                None => Ok(false),
            }
        }
        async fn several(&self, to: Vec<pb::Sender<u64>>) -> Result<(), pb::Error> {
            for (i, tx) in (0u64..).zip(&to) {
                tx.send(i).await?;
            }
            Ok(())
        }
        async fn by_name(&self, to: BTreeMap<String, pb::Sender<u64>>) -> Result<(), pb::Error> {
            for (name, tx) in &to {
                tx.send(name.len() as u64).await?;
            }
            Ok(())
        }
        async fn route(&self, route: Route) -> Result<u32, pb::Error> {
            match route {
                Route::Nowhere => Ok(0),
                Route::To(tx) => tx.send("routed".into()).await.map(|()| 1),
                Route::Both { events, counts } => {
                    events.send(Event { seq: 1, text: "both".into() }).await?;
                    counts.send(2).await.map(|()| 2)
                }
            }
        }
        async fn boards(&self, to: pb::Sender<pb::Cache<Board>>) -> Result<(), pb::Error> {
            to.send(self.board.cache()).await?;
            to.send(self.board.cache()).await
        }
        async fn pipe(&self, pipe: Pipe) -> Result<(), pb::Error> {
            let Pipe { mut input, output } = pipe;
            let mut sum = 0;
            while let Some(n) = input.next().await {
                sum += n?;
            }
            output.send(sum).await
        }
        async fn ping(&self, to: pb::Sender<u64>) -> Result<(), pb::Error> {
            to.send(1).await
        }
        async fn follow(&self, counters: pb::Sender<pb::Ref<dyn Counter>>) -> Result<Arc<dyn Counter>, pb::Error> {
            let counter = tally(10);
            counters.send(counter.clone()).await?;
            Ok(counter.into_arc())
        }
    }

    /// Every item of a stream, until it ends (every sender into it gone).
    async fn all<T: serde::de::DeserializeOwned + Send + 'static>(s: pb::Stream<T>) -> Vec<T> {
        let items = tokio::time::timeout(std::time::Duration::from_secs(10), s.map(|item| item.unwrap()).collect());
        items.await.expect("the stream ends once its senders are gone")
    }

    async fn hub() -> (Arc<dyn Hub>, pb::Connection, pb::Connection) {
        let (inbox, received) = pb::channel(4);
        let board = pb::Model::new(Board { events: Vec::new() });
        board.apply(BoardEvent::Posted(Event { seq: 7, text: "pinned".into() }));
        let received = tokio::sync::Mutex::new(received);
        let root: Arc<dyn Hub> = Arc::new(Server { board, inbox, received });
        let (s, c) = pb::Transport::memory_pair();
        let (server, client) =
            tokio::join!(pb::Connection::builder().root(root).establish(s), pb::Connection::builder().establish(c));
        let (server, client) = (server.unwrap(), client.unwrap());
        (client.root::<dyn Hub>().unwrap(), server, client)
    }

    #[tokio::test]
    async fn senders_go_both_ways_and_inside_data() {
        let (hub, _s, _c) = hub().await;

        // An argument: the server sends into the client's channel.
        let (tx, rx) = pb::channel(4);
        assert_eq!(hub.events(3, tx).await.unwrap(), 3);
        assert_eq!(all(rx).await.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);

        // Inside a record, which clones: each copy sends into the channel.
        let (tx, rx) = pb::channel(4);
        let sub = Subscription { topic: "news".into(), events: tx };
        assert_eq!(hub.subscribe(sub.clone()).await.unwrap(), 1);
        assert_eq!(hub.subscribe(sub).await.unwrap(), 1);
        assert_eq!(all(rx).await.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["news", "news"]);

        // A result: the client sends into the server's channel.
        let inbox = hub.inbox().await.unwrap();
        inbox.send("a".into()).await.unwrap();
        inbox.send("b".into()).await.unwrap();
        assert_eq!(hub.received(2).await.unwrap(), ["a", "b"]);

        // References as items.
        let (tx, rx) = pb::channel(4);
        hub.counters(2, tx).await.unwrap();
        let counters = all(rx).await;
        assert_eq!(counters.len(), 2);
        assert_eq!(counters[1].add(5).await.unwrap(), 105);

        // Senders as the items of a stream.
        let ((a, from_a), (b, from_b)) = (pb::channel(1), pb::channel(1));
        assert_eq!(hub.fan(pb::Stream::iter([a, b])).await.unwrap(), 2);
        assert_eq!((all(from_a).await, all(from_b).await), (vec![0], vec![1]));

        // Streams as the items of a sender.
        let (tx, rx) = pb::channel(4);
        hub.batches(2, 3, tx).await.unwrap();
        let mut got = Vec::new();
        for batch in all(rx).await {
            got.push(all(batch).await);
        }
        assert_eq!(got, [vec![0, 1, 2], vec![0, 1, 2]]);

        // Inside other types.
        let (tx, rx) = pb::channel(1);
        assert!(hub.maybe(Some(tx)).await.unwrap());
        assert_eq!(all(rx).await, [7]);
        assert!(!hub.maybe(None).await.unwrap());
        let ((a, from_a), (b, from_b)) = (pb::channel(1), pb::channel(1));
        hub.several(vec![a, b]).await.unwrap();
        assert_eq!((all(from_a).await, all(from_b).await), (vec![0], vec![1]));
        let (tx, rx) = pb::channel(1);
        hub.by_name([("three".to_string(), tx)].into()).await.unwrap();
        assert_eq!(all(rx).await, [5]);
        let (tx, rx) = pb::channel(1);
        assert_eq!(hub.route(Route::To(tx)).await.unwrap(), 1);
        assert_eq!(all(rx).await, ["routed"]);
        let ((events, got_events), (counts, got_counts)) = (pb::channel(1), pb::channel(1));
        assert_eq!(hub.route(Route::Both { events, counts }).await.unwrap(), 2);
        assert_eq!(all(got_events).await[0].text, "both");
        assert_eq!(all(got_counts).await, [2]);
        assert_eq!(hub.route(Route::Nowhere).await.unwrap(), 0);

        // Caches as items.
        let (tx, rx) = pb::channel(2);
        hub.boards(tx).await.unwrap();
        let boards = all(rx).await;
        assert_eq!(boards.len(), 2);
        for cache in boards {
            assert_eq!(cache.state().events[0].text, "pinned");
        }

        // A stream in and a sender out, in one record.
        let (tx, rx) = pb::channel(1);
        hub.pipe(Pipe { input: pb::Stream::iter(1..=4), output: tx }).await.unwrap();
        assert_eq!(all(rx).await, [10]);

        // `@idempotent` and `@replay` methods take senders.
        let (tx, rx) = pb::channel(2);
        hub.ping(tx.clone()).await.unwrap();
        hub.ping(tx).await.unwrap();
        assert_eq!(all(rx).await, [1, 1]);
        let (tx, mut rx) = pb::channel(1);
        let counter = hub.follow(tx).await.unwrap();
        assert_eq!(counter.add(1).await.unwrap(), 11);
        let sent = rx.next().await.unwrap().unwrap();
        assert_eq!(sent.add(1).await.unwrap(), 12, "the same counter");
    }

    #[test]
    fn types_holding_senders_derive_clone_not_eq() {
        let (tx, _rx) = pb::channel::<u64>(1);
        let route = Route::Both { events: pb::channel(1).0, counts: tx };
        assert!(format!("{:?}", route.clone()).contains("Sender"));
        let pipe = Pipe { input: pb::Stream::iter([1]), output: pb::channel(1).0 };
        assert!(format!("{pipe:?}").contains("Sender"));
    }

    #[test]
    fn senders_describe_themselves() {
        use pb::describe::types::{Describe, Shape, TypeCx, TypeDesc, TypeTable};
        let mut cx = TypeCx::default();
        let TypeDesc::Named(i) = <Subscription as Describe>::describe(&mut cx) else { panic!("a named record") };
        let table = TypeTable::new(Vec::new(), cx);
        let Shape::Record(fields) = &table.types[i as usize].shape else { panic!("a record") };
        assert!(matches!(&fields[1].ty, TypeDesc::Sender(item) if matches!(**item, TypeDesc::Named(_))), "{fields:?}");
    }
}
