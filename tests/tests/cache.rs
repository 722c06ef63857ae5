//! Cached models: one API for a local model and a remote cache, hops 1-3,
//! per-observer views, ordering, lifetime, and bounded slow observers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pb::{Cache, Change, Connection};
use pb_tests::eventually;
use pb_tests::models::{Dir, Directory, UserList, UserListEvent};
use pb_tests::net::{self, Link};

type Changes = std::pin::Pin<Box<dyn Stream<Item = Change<UserList>> + Send>>;

async fn next(changes: &mut Changes) -> Change<UserList> {
    tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change within 10 s")
        .expect("the stream is open")
}

async fn next_event(changes: &mut Changes) -> UserListEvent {
    match next(changes).await {
        Change::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn names(cache: &Cache<UserList>) -> Vec<(u64, String)> {
    cache.state().users.iter().map(|(k, v)| (*k, v.clone())).collect()
}

/// The same checks, whatever `cache` is: a local model's view or a mirror
/// any number of hops away. `dir` changes the model.
async fn exercise(cache: Cache<UserList>, dir: Arc<dyn Directory>) {
    assert_eq!(names(&cache), [(1, "alice".into()), (2, "bob".into())], "holds the state on arrival");
    let mut changes = cache.changes();
    let mut watch = cache.watch();
    watch.borrow_and_update();

    dir.add(3, "carol".into()).await.unwrap();
    assert_eq!(next_event(&mut changes).await, UserListEvent::Added(3, "carol".into()));
    tokio::time::timeout(Duration::from_secs(10), watch.changed()).await.unwrap().unwrap();
    assert_eq!(cache.state().users.get(&3).map(String::as_str), Some("carol"));

    dir.remove(1).await.unwrap();
    dir.add(4, "dave".into()).await.unwrap();
    assert_eq!(next_event(&mut changes).await, UserListEvent::Removed(1));
    assert_eq!(next_event(&mut changes).await, UserListEvent::Added(4, "dave".into()));
    assert_eq!(names(&cache), [(2, "bob".into()), (3, "carol".into()), (4, "dave".into())]);
}

/// A relay: serves the upstream proxy as its own root.
async fn relay(link: Link, upstream: Arc<dyn Directory>) -> (Arc<dyn Directory>, Connection, Connection) {
    net::proxy::<dyn Directory>(link, upstream).await
}

#[tokio::test]
async fn a_local_model_and_a_remote_cache_pass_the_same_test() {
    let dir = Arc::new(Dir::default());
    let local = dir.model.cache();
    assert!(!local.is_mirror());
    exercise(local, dir.clone()).await;

    let dir = Arc::new(Dir::default());
    let (proxy, _s, _c) = net::proxy::<dyn Directory>(Link::Memory, dir.clone()).await;
    let remote = proxy.model().await.unwrap();
    assert!(remote.is_mirror());
    exercise(remote, proxy).await;
}

#[tokio::test]
async fn caches_work_at_hops_one_two_and_three() {
    for hops in 1..=3 {
        for link in [Link::Memory, Link::Tcp] {
            let dir = Arc::new(Dir::default());
            let (mut proxy, s, c) = net::proxy::<dyn Directory>(link, dir.clone()).await;
            let mut conns = vec![s, c];
            for _ in 1..hops {
                let (next, s, c) = relay(link, proxy).await;
                proxy = next;
                conns.extend([s, c]);
            }
            let cache = proxy.model().await.unwrap();
            exercise(cache.clone(), proxy.clone()).await;
            assert_eq!(dir.model.observers(), 1, "hop {hops}: one observer at the owner");
            drop(cache);
            eventually("unsubscribed through every hop", || dir.model.observers() == 0).await;
        }
    }
}

#[tokio::test]
async fn a_cache_sent_back_to_its_owner_arrives_as_the_owners_view_at_every_hop() {
    for hops in 1..=3 {
        let dir = Arc::new(Dir::default());
        let (mut proxy, s, c) = net::proxy::<dyn Directory>(Link::Tcp, dir.clone()).await;
        let mut conns = vec![s, c];
        for _ in 1..hops {
            let (next, s, c) = relay(Link::Tcp, proxy).await;
            proxy = next;
            conns.extend([s, c]);
        }
        let cache = proxy.model().await.unwrap();
        assert!(cache.is_mirror());
        // Each relay passes the call on with its own mirror, which arrives
        // one hop up as the cache it mirrors: the owner gets its own view.
        assert!(proxy.is_mine(cache.clone()).await.unwrap(), "hop {hops}: the owner's view, not a mirror of a mirror");
        let view = proxy.model_for(1).await.unwrap();
        assert!(proxy.is_mine(view.clone()).await.unwrap(), "hop {hops}: a per-observer view too");
        // A model of the client's own is still a mirror at the server.
        assert!(!proxy.is_mine(pb::Model::new(UserList::default()).cache()).await.unwrap());
        // Nothing was subscribed for the trips home: one observer per view.
        eventually("only the client's two mirrors observe", || dir.model.observers() == 2).await;
        drop((cache, view));
        eventually("unsubscribed", || dir.model.observers() == 0).await;
    }
}

#[tokio::test]
async fn a_relay_subscribes_upstream_once_for_all_its_observers() {
    let dir = Arc::new(Dir::default());
    let (upstream, _s, _c) = net::proxy::<dyn Directory>(Link::Tcp, dir.clone()).await;
    let mut downstream = Vec::new();
    for _ in 0..3 {
        let (proxy, s, c) = relay(Link::Tcp, upstream.clone()).await;
        let cache = proxy.model().await.unwrap();
        downstream.push((cache, proxy, s, c));
    }
    eventually("extra upstream copies released", || dir.model.observers() == 1).await;
    dir.add(7, "gus".into()).await.unwrap();
    for (cache, ..) in &downstream {
        let cache = cache.clone();
        eventually("each downstream mirror got the event", move || cache.state().users.contains_key(&7)).await;
    }
    assert_eq!(dir.model.observers(), 1);
}

#[tokio::test]
async fn each_observer_sees_only_its_view() {
    let dir = Arc::new(Dir::default());
    let (proxy, _s, _c) = net::proxy::<dyn Directory>(Link::Memory, dir.clone()).await;
    let odd = proxy.model_for(1).await.unwrap();
    let even = proxy.model_for(0).await.unwrap();
    assert_eq!(names(&odd), [(1, "alice".into())]);
    assert_eq!(names(&even), [(2, "bob".into())]);
    let (mut odd_changes, mut even_changes) = (odd.changes(), even.changes());
    for (id, name) in [(3, "carol"), (4, "dave"), (5, "erin")] {
        dir.add(id, name.into()).await.unwrap();
    }
    assert_eq!(next_event(&mut odd_changes).await, UserListEvent::Added(3, "carol".into()));
    assert_eq!(next_event(&mut odd_changes).await, UserListEvent::Added(5, "erin".into()));
    assert_eq!(next_event(&mut even_changes).await, UserListEvent::Added(4, "dave".into()));
    assert_eq!(odd.state().users.keys().copied().collect::<Vec<_>>(), [1, 3, 5]);
    assert_eq!(even.state().users.keys().copied().collect::<Vec<_>>(), [2, 4]);
    // The same filter applies to a local view.
    let local_even = dir.model.view(
        |s| UserList { users: s.users.iter().filter(|(k, _)| *k % 2 == 0).map(|(k, v)| (*k, v.clone())).collect() },
        |_, e| matches!(e, UserListEvent::Added(id, _) | UserListEvent::Removed(id) if id % 2 == 0).then(|| e.clone()),
    );
    assert_eq!(local_even.state().users.keys().copied().collect::<Vec<_>>(), [2, 4]);
}

#[tokio::test]
async fn a_thousand_events_reach_ten_observers_in_order() {
    let dir = Arc::new(Dir::default());
    let mut observers = Vec::new();
    for _ in 0..10 {
        let (proxy, s, c) = net::proxy::<dyn Directory>(Link::Tcp, dir.clone()).await;
        let cache = proxy.model().await.unwrap();
        let changes = cache.changes();
        observers.push((cache, changes, proxy, s, c));
    }
    eventually("ten observers attached", || dir.model.observers() == 10).await;
    for id in 100..1100 {
        dir.model.apply(UserListEvent::Added(id, format!("u{id}")));
    }
    for (cache, changes, ..) in &mut observers {
        for id in 100..1100 {
            assert_eq!(next_event(changes).await, UserListEvent::Added(id, format!("u{id}")), "in order, none missed");
        }
        assert_eq!(cache.state(), dir.model.state());
    }
}

#[tokio::test]
async fn dropping_a_cache_or_closing_its_connection_unsubscribes_it() {
    let dir = Arc::new(Dir::default());
    let (proxy, _s, client) = net::proxy::<dyn Directory>(Link::Tcp, dir.clone()).await;
    let cache = proxy.model().await.unwrap();
    let again = proxy.model().await.unwrap();
    assert!(cache.ptr_eq(&again), "the same view on one connection is one mirror");
    eventually("one observer", || dir.model.observers() == 1).await;
    drop((cache, again));
    eventually("unsubscribed on drop", || dir.model.observers() == 0).await;

    let _kept = proxy.model().await.unwrap();
    eventually("subscribed again", || dir.model.observers() == 1).await;
    client.close();
    eventually("unsubscribed on close", || dir.model.observers() == 0).await;
}

/// A model's cache mirrored over an in-memory link that can be held.
async fn behind_switch() -> (Arc<Dir>, pb::fault::MemorySwitch, Cache<UserList>, (Connection, Connection)) {
    let dir = Arc::new(Dir::default());
    let switch = pb::fault::MemorySwitch::default();
    let (client_side, server_side) = switch.link();
    let (server, client) = tokio::join!(
        Connection::builder().root::<dyn Directory>(dir.clone()).establish(server_side),
        Connection::builder().establish(client_side)
    );
    let (server, client) = (server.unwrap(), client.unwrap());
    let cache = client.root::<dyn Directory>().unwrap().model().await.unwrap();
    (dir, switch, cache, (server, client))
}

#[tokio::test]
async fn a_slow_observer_never_makes_the_owner_buffer_without_bound() {
    let (dir, switch, cache, _conns) = behind_switch().await;
    let mut changes = cache.changes();
    eventually("attached", || dir.model.observers() == 1).await;

    // The observer stops reading; the model changes 100,000 times.
    switch.hold();
    let mut worst = 0;
    for id in 0..100_000u64 {
        dir.model.apply(UserListEvent::Added(id % 500, format!("v{id}")));
        if id % 1000 == 0 {
            worst = worst.max(dir.model.observer_stats()[0].queued);
        }
    }
    let stats = dir.model.observer_stats();
    assert_eq!(stats.len(), 1);
    assert!(worst <= 1024 && stats[0].queued <= 1024, "the queue stays bounded (worst {worst})");
    assert!(stats[0].queued_bytes <= 4 << 20);
    assert!(stats[0].overflows > 0 && stats[0].resync_pending, "{stats:?}");

    // Reading again, it is told it missed events and gets the whole state.
    switch.heal();
    let resynced = loop {
        match next(&mut changes).await {
            Change::Resynced(state) => break state,
            Change::Event(_) => continue, // what was in flight before the hold
            other => panic!("expected a resync, got {other:?}"),
        }
    };
    assert_eq!(*resynced, *dir.model.state());
    assert_eq!(cache.state(), dir.model.state());
}

#[tokio::test]
async fn a_cache_travels_nested_in_copies_and_as_an_argument() {
    let dir = Arc::new(Dir::default());
    let (proxy, _s, _c) = net::proxy::<dyn Directory>(Link::Tcp, dir.clone()).await;
    let bundle = proxy.bundle().await.unwrap();
    assert_eq!(bundle.label, "all");
    assert!(bundle.list.is_mirror() && bundle.list.ptr_eq(&bundle.more[0]), "one view, one mirror");
    assert_eq!(names(&bundle.list), [(1, "alice".into()), (2, "bob".into())]);
    dir.add(3, "carol".into()).await.unwrap();
    let list = bundle.list.clone();
    eventually("the nested cache is fed", move || list.state().users.len() == 3).await;

    // A client-side model passed as an argument: the server gets a mirror
    // holding its state, fed by the client.
    let mine = pb::Model::new(UserList::default());
    mine.apply(UserListEvent::Added(9, "ivy".into()));
    let call = tokio::spawn({
        let (proxy, cache) = (proxy.clone(), mine.cache());
        async move { proxy.count_in(cache, 2).await }
    });
    eventually("the server observes the client's model", || mine.observers() == 1).await;
    mine.apply(UserListEvent::Added(10, "jan".into()));
    assert_eq!(call.await.unwrap().unwrap(), (1, 2));
    eventually("the server's mirror is dropped after the call", || mine.observers() == 0).await;
}

#[tokio::test]
async fn a_local_reader_that_lags_is_resynced_not_left_behind() {
    let dir = Dir::default();
    let cache = dir.model.cache();
    let mut changes = cache.changes();
    for id in 0..3000 {
        dir.model.apply(UserListEvent::Added(id, "x".into()));
    }
    match next(&mut changes).await {
        Change::Resynced(state) => assert_eq!(state.users.len(), 3000),
        other => panic!("a reader 3,000 changes behind must be told, got {other:?}"),
    }
    // Then exactly the changes after the fresh state: nothing seen twice.
    dir.model.apply(UserListEvent::Removed(0));
    assert_eq!(next_event(&mut changes).await, UserListEvent::Removed(0));
}

#[tokio::test]
async fn a_slow_observer_of_large_events_is_bounded_by_bytes_too() {
    let (dir, switch, cache, _conns) = behind_switch().await;
    eventually("attached", || dir.model.observers() == 1).await;
    switch.hold();
    let big = "x".repeat(64 * 1024);
    let mut worst = 0;
    for id in 0..200u64 {
        dir.model.apply(UserListEvent::Added(id % 10, big.clone()));
        worst = worst.max(dir.model.observer_stats()[0].queued_bytes);
    }
    assert!(worst <= 4 << 20, "at most 4 MiB queued, saw {worst}");
    assert!(dir.model.observer_stats()[0].overflows > 0, "200 x 64 KiB overflows the byte bound");
    switch.heal();
    let c = cache.clone();
    let model = dir.model.clone();
    eventually("resynced to the owner's state", move || c.state() == model.state()).await;
}

/// A model whose `apply` panics once when armed (a bug in user code, hit
/// by an event a peer sent).
mod fragile {
    use std::sync::atomic::{AtomicBool, Ordering};

    use pb::{Cache, Cacheable, Model};
    use serde::{Deserialize, Serialize};

    pub static ARMED: AtomicBool = AtomicBool::new(false);

    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Fragile {
        pub n: u64,
    }

    impl Cacheable for Fragile {
        type Event = u64;
        const NAME: &'static str = "test.Fragile";
        fn apply(&mut self, add: &u64) {
            if ARMED.swap(false, Ordering::SeqCst) {
                panic!("fragile apply");
            }
            self.n += add;
        }
    }

    #[pb::remote_interface(name = "test.Fragiles")]
    pub trait Fragiles {
        async fn model(&self) -> Result<Cache<Fragile>, pb::Error>;
    }

    pub struct Owner(pub Model<Fragile>);

    #[pb::remote_impl]
    impl Fragiles for Owner {
        async fn model(&self) -> Result<Cache<Fragile>, pb::Error> {
            Ok(self.0.cache())
        }
    }
}

#[tokio::test]
async fn a_panic_in_apply_is_contained_and_the_cache_resyncs() {
    use fragile::{ARMED, Fragile, Fragiles, Owner};
    use std::sync::atomic::Ordering;

    let model = pb::Model::new(Fragile::default());
    let (proxy, _s, _c) = net::proxy::<dyn Fragiles>(Link::Memory, Arc::new(Owner(model.clone()))).await;
    let mirror = proxy.model().await.unwrap();
    let unrelated = Cache::fixed(UserList::default());
    let mut changes = mirror.changes();
    eventually("attached", || model.observers() == 1).await;

    // The owner applies the event; the mirror's apply of it panics (the
    // event is delivered later, on this single-threaded runtime).
    model.apply(1);
    ARMED.store(true, Ordering::SeqCst);
    let resynced = loop {
        match tokio::time::timeout(Duration::from_secs(10), changes.next()).await.expect("resynced in time").unwrap() {
            Change::Resynced(s) if s.n == 1 => break s,
            Change::Resynced(_) => continue, // the state as the panic left it, first
            other => panic!("expected a resync, got {other:?}"),
        }
    };
    assert_eq!(*resynced, Fragile { n: 1 });
    // Nothing is poisoned: the mirror, other caches and the owner go on.
    assert_eq!(mirror.state().n, 1);
    assert!(unrelated.state().users.is_empty());
    model.apply(2);
    match tokio::time::timeout(Duration::from_secs(10), changes.next()).await.unwrap().unwrap() {
        Change::Event(2) => {}
        other => panic!("expected the next event, got {other:?}"),
    }
    assert_eq!(mirror.state().n, 3);

    // A panic in the owner's own apply reaches its caller, and leaves the
    // model usable; observers are resynced to the state it left.
    ARMED.store(true, Ordering::SeqCst);
    let m = model.clone();
    assert!(std::panic::catch_unwind(move || m.apply(5)).is_err());
    assert_eq!(model.state().n, 3);
    model.apply(4);
    let (mirror2, model2) = (mirror.clone(), model.clone());
    eventually("the mirror follows", move || mirror2.state() == model2.state()).await;
    assert_eq!(mirror.state().n, 7);
}

/// Documented in `pb::cache` (slow observers): a burst faster than the
/// network drains reaches even a single observer as resyncs.
#[tokio::test]
async fn a_burst_of_ten_thousand_events_reaches_an_observer_as_resyncs() {
    let dir = Arc::new(Dir::default());
    let (proxy, _s, _c) = net::proxy::<dyn Directory>(Link::Memory, dir.clone()).await;
    let cache = proxy.model().await.unwrap();
    let mut changes = cache.changes();
    eventually("attached", || dir.model.observers() == 1).await;
    for id in 0..10_000u64 {
        dir.model.apply(UserListEvent::Added(id, "u".into()));
    }
    let (mut events, mut resyncs) = (0, 0);
    while cache.state() != dir.model.state() || resyncs == 0 {
        match next(&mut changes).await {
            Change::Event(_) => events += 1,
            Change::Resynced(_) => resyncs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(resyncs >= 1, "the burst overflowed the observer's queue");
    assert!(events < 10_000, "not every event arrives as an event ({events} did)");
    assert_eq!(cache.state().users.len(), 10_000, "the state converges (ids 0..10,000 cover the initial two)");
}
