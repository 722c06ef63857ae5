//! Caches resync after an outage of any link of server -> relay -> client
//! (TCP through fault proxies, reconnecting sessions at the relay and the
//! client): observers get `Resynced` with the fresh state, later events
//! continue in order, and the application does nothing.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pb::{Cache, Change};
use pb_tests::chain::Chain;
use pb_tests::eventually;
use pb_tests::models::{Directory, UserList, UserListEvent};
use pb_tests::session::{kind, next_event};

type Changes = std::pin::Pin<Box<dyn Stream<Item = Change<UserList>> + Send>>;

async fn next(changes: &mut Changes) -> Change<UserList> {
    tokio::time::timeout(Duration::from_secs(10), changes.next()).await.expect("a change within 10 s").unwrap()
}

async fn expect_resync(changes: &mut Changes) -> Arc<UserList> {
    match next(changes).await {
        Change::Resynced(state) => state,
        other => panic!("expected a resync, got {other:?}"),
    }
}

async fn expect_event(changes: &mut Changes, want: UserListEvent) {
    match next(changes).await {
        Change::Event(e) => assert_eq!(e, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

struct Setup {
    chain: Chain,
    dir: Arc<dyn Directory>,
    cache: Cache<UserList>,
    changes: Changes,
}

async fn setup() -> Setup {
    let chain = Chain::replaying().await;
    let dir = chain.client.registry().unwrap().get::<dyn Directory>().await.unwrap();
    let cache = dir.model().await.unwrap();
    let mut changes = cache.changes();
    dir.add(3, "carol".into()).await.unwrap();
    expect_event(&mut changes, UserListEvent::Added(3, "carol".into())).await;
    assert_eq!(chain.dir.model.observers(), 1, "the relay's mirror");
    Setup { chain, dir, cache, changes }
}

/// After healing: the cache holds the owner's state, events flow in order,
/// and the owner has exactly one observer again (the relay's).
async fn assert_flowing(s: &mut Setup, id: u64) {
    assert_eq!(s.cache.state(), s.chain.dir.model.state());
    s.dir.add(id, format!("u{id}")).await.unwrap();
    s.chain.dir.model.apply(UserListEvent::Removed(id));
    expect_event(&mut s.changes, UserListEvent::Added(id, format!("u{id}"))).await;
    expect_event(&mut s.changes, UserListEvent::Removed(id)).await;
    let model = s.chain.dir.model.clone();
    eventually("one observer at the owner", move || model.observers() == 1).await;
}

#[tokio::test]
async fn cutting_server_to_relay_resyncs_the_client_cache() {
    let mut s = setup().await;
    let mut relay_events = s.chain.relay_session.events();
    assert_eq!(kind(&next_event(&mut relay_events).await), "connected");
    s.chain.upstream.cut();
    assert_eq!(kind(&next_event(&mut relay_events).await), "disconnected");
    // A change the relay cannot see while cut.
    s.chain.dir.model.apply(UserListEvent::Added(50, "during the outage".into()));
    s.chain.upstream.heal();
    assert_eq!(kind(&next_event(&mut relay_events).await), "reconnected");
    let state = expect_resync(&mut s.changes).await;
    assert_eq!(state.users.get(&50).map(String::as_str), Some("during the outage"));
    assert_flowing(&mut s, 60).await;
}

#[tokio::test]
async fn cutting_client_to_relay_resyncs_the_client_cache() {
    let mut s = setup().await;
    let mut client_events = s.chain.client.events();
    assert_eq!(kind(&next_event(&mut client_events).await), "connected");
    s.chain.downstream.cut();
    assert_eq!(kind(&next_event(&mut client_events).await), "disconnected");
    s.chain.dir.model.apply(UserListEvent::Removed(2));
    s.chain.downstream.heal();
    assert_eq!(kind(&next_event(&mut client_events).await), "reconnected");
    let state = expect_resync(&mut s.changes).await;
    assert!(!state.users.contains_key(&2), "the change made during the outage is in the fresh state");
    assert_flowing(&mut s, 61).await;
}

#[tokio::test]
async fn restarting_the_server_resyncs_every_hop_to_the_new_state() {
    let mut s = setup().await;
    let mut relay_events = s.chain.relay_session.events();
    assert_eq!(kind(&next_event(&mut relay_events).await), "connected");
    s.chain.kill_server();
    assert_eq!(kind(&next_event(&mut relay_events).await), "disconnected");
    s.chain.restart_server().await;
    assert_eq!(kind(&next_event(&mut relay_events).await), "reconnected");
    let state = expect_resync(&mut s.changes).await;
    assert!(!state.users.contains_key(&3), "the new process's state: carol was only in the old one");
    assert_eq!(*state, *s.chain.dir.model.state());
    assert_flowing(&mut s, 62).await;
}
