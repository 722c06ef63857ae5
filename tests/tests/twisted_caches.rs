//! Caches over PB's wire between pb's two Twisted ends, without Python: a
//! `pb::Model` served by `Server::bind_twisted` and observed through
//! `pb::twisted::connect` travels as Twisted's cacheable (`[tag, luid,
//! state]`, `cachemessage`s, `decache`/`uncache`) both ways. The live tests
//! (`twisted_live.rs`, `twisted_clients.rs`) run the same against real
//! Twisted.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pb::{Cache, Change, Error, Model};
use pb_tests::eventually;
use serde::{Deserialize, Serialize};

/// A model with every kind of event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pantry {
    stock: Vec<(String, u32)>,
    shape: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PantryEvent {
    Stocked { item: String, count: u32 },
    Emptied(String),
    Reshaped(String, u32),
    Cleared,
}

impl pb::Cacheable for Pantry {
    type Event = PantryEvent;
    const NAME: &'static str = "kitchen.Larder";
    fn apply(&mut self, event: &PantryEvent) {
        match event {
            PantryEvent::Stocked { item, count } => self.stock.push((item.clone(), *count)),
            PantryEvent::Emptied(item) => self.stock.retain(|(i, _)| i != item),
            PantryEvent::Reshaped(shape, n) => self.shape = Some(format!("{shape}{n}")),
            PantryEvent::Cleared => self.stock.clear(),
        }
    }
}

#[pb::remote_interface]
pub trait Kitchen {
    async fn pantry(&self) -> Result<Cache<Pantry>, Error>;
    /// The pantry with only the stock of `item` (a per-observer view).
    async fn only(&self, item: String) -> Result<Cache<Pantry>, Error>;
    async fn apply(&self, event: PantryEvent) -> Result<(), Error>;
    /// Whether `cache` came back as the model's own view.
    async fn is_mine(&self, cache: Cache<Pantry>) -> Result<bool, Error>;
    async fn observers(&self) -> Result<usize, Error>;
}

struct KitchenImpl {
    model: Model<Pantry>,
}

#[pb::remote_impl]
impl Kitchen for KitchenImpl {
    async fn pantry(&self) -> Result<Cache<Pantry>, Error> {
        Ok(self.model.cache())
    }
    async fn only(&self, item: String) -> Result<Cache<Pantry>, Error> {
        let keep = item.clone();
        let state = move |p: &Pantry| Pantry {
            stock: p.stock.iter().filter(|(i, _)| *i == keep).cloned().collect(),
            ..p.clone()
        };
        let event = move |_: &Pantry, e: &PantryEvent| match e {
            PantryEvent::Stocked { item: i, .. } | PantryEvent::Emptied(i) if *i != item => None,
            other => Some(other.clone()),
        };
        Ok(self.model.view(state, event))
    }
    async fn apply(&self, event: PantryEvent) -> Result<(), Error> {
        self.model.apply(event);
        Ok(())
    }
    async fn is_mine(&self, cache: Cache<Pantry>) -> Result<bool, Error> {
        Ok(self.model.is_view(&cache))
    }
    async fn observers(&self) -> Result<usize, Error> {
        Ok(self.model.observers())
    }
}

async fn served() -> (pb::Server, Model<Pantry>, pb::twisted::TwistedConnection, Arc<dyn Kitchen>) {
    let model = Model::new(Pantry { stock: vec![("jam".into(), 2)], shape: None });
    let kitchen: Arc<dyn Kitchen> = Arc::new(KitchenImpl { model: model.clone() });
    let server = pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Kitchen>(kitchen)).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let root = conn.root::<dyn Kitchen>();
    (server, model, conn, root)
}

const WAIT: Duration = Duration::from_secs(5);

async fn next<S: pb::Cacheable>(changes: &mut (impl futures_util::Stream<Item = Change<S>> + Unpin)) -> Change<S> {
    tokio::time::timeout(WAIT, changes.next()).await.expect("a change in time").expect("a change")
}

#[tokio::test]
async fn a_model_is_mirrored_and_each_event_arrives_in_order() {
    let (_server, model, _conn, kitchen) = served().await;
    let pantry = kitchen.pantry().await.unwrap();
    assert!(pantry.is_mirror() && pantry.is_live());
    assert_eq!(*pantry.state(), *model.state());
    assert_eq!(model.observers(), 1);
    let mut changes = pantry.changes();
    let events = [
        PantryEvent::Stocked { item: "tea".into(), count: 3 },
        PantryEvent::Emptied("jam".into()),
        PantryEvent::Reshaped("round".into(), 2),
        PantryEvent::Cleared,
        PantryEvent::Stocked { item: "salt".into(), count: 1 },
    ];
    for e in &events {
        kitchen.apply(e.clone()).await.unwrap();
    }
    for e in &events {
        match next(&mut changes).await {
            Change::Event(got) => assert_eq!(&got, e),
            other => panic!("expected {e:?}, got {other:?}"),
        }
    }
    assert_eq!(*pantry.state(), *model.state());
    // Events applied by the model's owner directly arrive too, in order.
    for n in 0..100 {
        model.apply(PantryEvent::Stocked { item: format!("i{n}"), count: n });
    }
    for n in 0..100 {
        assert!(matches!(next(&mut changes).await, Change::Event(PantryEvent::Stocked { count, .. }) if count == n));
    }
    assert_eq!(*pantry.state(), *model.state());
}

#[tokio::test]
async fn copies_are_one_mirror_and_dropping_it_releases_the_observer() {
    let (server, model, conn, kitchen) = served().await;
    let a = kitchen.pantry().await.unwrap();
    let b = kitchen.pantry().await.unwrap();
    assert!(a.ptr_eq(&b), "a second send is [\"cached\", luid]: the same mirror");
    assert_eq!(model.observers(), 1);
    // Sent back, the mirror is the model's own view ([\"lcache\", luid]).
    assert!(kitchen.is_mine(a.clone()).await.unwrap());
    drop((a, b));
    eventually("the observer is released", || model.observers() == 0).await;
    // A fresh copy is a new observer with the current state.
    model.apply(PantryEvent::Cleared);
    let fresh = kitchen.pantry().await.unwrap();
    assert!(fresh.state().stock.is_empty());
    eventually("one observer again", || model.observers() == 1).await;
    // Closing the connection releases it too, and the mirror stops being live.
    conn.close();
    eventually("the mirror is no longer live", || !fresh.is_live()).await;
    eventually("closing released the observer", || model.observers() == 0).await;
    drop(server);
}

#[tokio::test]
async fn a_per_observer_view_is_what_the_observer_sees() {
    let (_server, model, _conn, kitchen) = served().await;
    let tea = kitchen.only("tea".into()).await.unwrap();
    assert!(tea.state().stock.is_empty(), "no tea yet, and jam is hidden");
    let mut changes = tea.changes();
    model.apply(PantryEvent::Stocked { item: "jam".into(), count: 1 });
    model.apply(PantryEvent::Stocked { item: "tea".into(), count: 4 });
    let Change::Event(e) = next(&mut changes).await else { panic!("an event") };
    assert_eq!(e, PantryEvent::Stocked { item: "tea".into(), count: 4 }, "the jam event was hidden");
    assert_eq!(tea.state().stock, [("tea".to_string(), 4)]);
    // Two views of one model are two caches on one connection.
    let all = kitchen.pantry().await.unwrap();
    assert!(!all.ptr_eq(&tea));
    assert_eq!(model.observers(), 2);
}

#[tokio::test]
async fn the_twisted_client_example_passes_against_the_twisted_server_example() {
    let server = pb_examples::twisted::server::bind("127.0.0.1:0").await.unwrap();
    let report = pb_examples::twisted::client::run(server.local_addr()).await.expect("connected");
    let failed: Vec<_> = report.iter().filter(|(_, o)| o.is_err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(report.iter().any(|(name, _)| name.starts_with("users:")));
}

/// A model whose events are no enum, and whose `apply` panics on 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    n: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Add(u32);

impl pb::Cacheable for Counter {
    type Event = Add;
    const NAME: &'static str = "test.Counter";
    fn apply(&mut self, event: &Add) {
        assert!(event.0 != 0, "adding zero");
        self.n += event.0;
    }
}

#[pb::remote_interface]
pub trait Counters {
    async fn counter(&self) -> Result<Cache<Counter>, Error>;
}

struct CountersImpl(Model<Counter>);

#[pb::remote_impl]
impl Counters for CountersImpl {
    async fn counter(&self) -> Result<Cache<Counter>, Error> {
        Ok(self.0.cache())
    }
}

async fn counter_served() -> (pb::Server, Model<Counter>, pb::twisted::TwistedConnection, Cache<Counter>) {
    let model = Model::new(Counter { n: 1 });
    let root = pb::root::<dyn Counters>(Arc::new(CountersImpl(model.clone())));
    let server = pb::Server::bind_twisted("127.0.0.1:0", root).await.unwrap();
    let conn = pb::twisted::connect(server.local_addr()).await.unwrap();
    let counter = conn.root::<dyn Counters>().counter().await.unwrap();
    assert_eq!(counter.state().n, 1);
    (server, model, conn, counter)
}

#[tokio::test]
async fn an_observer_that_cannot_follow_is_disconnected() {
    // An event that is no enum has no observe_<variant> to call.
    let (_server, model, conn, _counter) = counter_served().await;
    model.apply(Add(2));
    eventually("the connection closed", || conn.is_closed()).await;
    eventually("the observer is released", || model.observers() == 0).await;
    // A panicking apply leaves the state as it was left: PB cannot send a
    // new one, so the observer is disconnected.
    let (_server, model, conn, _counter) = counter_served().await;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.apply(Add(0))));
    assert!(panicked.is_err());
    eventually("the connection closed", || conn.is_closed()).await;
    eventually("the observer is released", || model.observers() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_changing_while_it_is_sent_is_followed_exactly() {
    let (_server, model, _conn, kitchen) = served().await;
    let applier = {
        let model = model.clone();
        tokio::spawn(async move {
            for n in 0..2000u32 {
                model.apply(PantryEvent::Stocked { item: format!("i{n}"), count: n });
                if n % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    // Copies sent while events are applied: each starts from a state and
    // gets exactly the events after it.
    let mut mirrors = Vec::new();
    for view in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let cache = if view == 0 { kitchen.pantry().await } else { kitchen.only(format!("i{}", view * 600)).await };
        mirrors.push(cache.unwrap());
    }
    assert!(!applier.is_finished(), "the copies were sent while the model changed");
    applier.await.unwrap();
    let whole = model.state();
    eventually("the whole view converges", || *mirrors[0].state() == *whole).await;
    for (view, mirror) in mirrors.iter().enumerate().skip(1) {
        let item = format!("i{}", view * 600);
        let want: Vec<_> = whole.stock.iter().filter(|(i, _)| *i == item).cloned().collect();
        eventually("a filtered view converges", || mirror.state().stock == want).await;
    }
}
