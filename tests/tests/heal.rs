//! Multi-hop healing by replay over TCP through fault-injecting proxies:
//! server -> relay -> client, each link cut (or the server restarted) and
//! healed; the client keeps its proxies and does nothing. Each case checks
//! the event order at both sessions and that nothing leaks once healed.
//!
//! The sessions here do not resume (`Chain::replaying`), so every outage
//! heals by replaying, as after a server restart; `resume.rs` covers
//! outages that resume.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::{FutureExt, Stream, StreamExt};
use pb::{Error, SessionEvent};
use pb_tests::aurora::{Presence, UserError, UserManager};
use pb_tests::chain::Chain;
use pb_tests::eventually;
use pb_tests::session::{kind, next_event};

type Events = std::pin::Pin<Box<dyn Stream<Item = SessionEvent> + Send>>;

/// What the client holds: obtained from the root, through the relay's
/// registry, and through a replay method.
struct Held {
    users: Arc<dyn UserManager>,
    presence: Arc<dyn Presence>,
}

async fn obtain(chain: &Chain) -> Held {
    let registry = chain.client.registry().unwrap();
    let users = registry.get::<dyn UserManager>().await.unwrap();
    let presence = users.presence().await.unwrap();
    drop(registry); // the lookup keeps its parent path alive by itself
    Held { users, presence }
}

/// The held proxies work, against the server's current objects.
async fn assert_working(chain: &Chain, held: &Held, user: u64) {
    assert_eq!(held.users.get_user(2).await.unwrap().name, "bob");
    held.presence.set_online(user, true).await.unwrap();
    assert!(chain.users.presence.is_online(user).await.unwrap(), "the call reached the server's object");
    held.presence.set_online(user, false).await.unwrap();
}

/// Calls fail (fast) with the link-down error, wherever the link is down.
async fn assert_failing(held: &Held) {
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), held.users.get_user(1)).await.expect("fails fast");
    assert_eq!(r, Err(UserError::Pb(Error::Disconnected)));
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), held.presence.is_online(1)).await.unwrap();
    assert_eq!(r, Err(UserError::Pb(Error::Disconnected)));
}

fn events(client: &pb::Client) -> Events {
    Box::pin(client.events())
}

async fn expect(events: &mut Events, want: &str) -> SessionEvent {
    let e = next_event(events).await;
    assert_eq!(kind(&e), want, "got {e:?}");
    e
}

fn counts(e: &SessionEvent) -> (usize, usize) {
    match e {
        SessionEvent::Reconnected { healed, failed, .. } | SessionEvent::Healed { healed, failed, .. } => {
            (*healed, *failed)
        }
        other => panic!("no counts in {other:?}"),
    }
}

/// No further event is waiting.
fn quiet(events: &mut Events) {
    if let Some(e) = events.next().now_or_never() {
        panic!("unexpected event {e:?}");
    }
}

/// Live objects and table sizes at every hop, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    presence_strong: usize,
    server_exports: usize,
    relay_exports: usize,
    relay_imports: usize,
    relay_tracked: usize,
    client_imports: usize,
    client_tracked: usize,
}

fn footprint(chain: &Chain) -> Footprint {
    let server_conns = chain.server.as_ref().unwrap().connections();
    let relay_conns = chain.relay.connections();
    Footprint {
        presence_strong: Arc::strong_count(&chain.users.presence),
        server_exports: server_conns.iter().map(|c| c.stats().exports).sum(),
        relay_exports: relay_conns.iter().map(|c| c.stats().exports).sum(),
        relay_imports: chain.relay_session.connection().stats().imports,
        relay_tracked: chain.relay_session.tracked(),
        client_imports: chain.client.connection().stats().imports,
        client_tracked: chain.client.tracked(),
    }
}

/// After healing, every count is back where it was (and the server's
/// connection count is one: the relay's).
async fn assert_no_leaks(chain: &Chain, before: &Footprint) {
    eventually("dead links' state dropped", || {
        chain.server.as_ref().unwrap().connections().len() == 1 && chain.relay.connections().len() == 1
    })
    .await;
    eventually("footprint back to its starting values", || footprint(chain) == *before).await;
}

/// The client's session saw nothing: its own link never went down.
fn client_untouched(client_events: &mut Events) {
    quiet(client_events);
}

/// Cut both links and wait until both sessions noticed.
async fn cut_both(chain: &Chain, relay_events: &mut Events, client_events: &mut Events) {
    chain.upstream.cut();
    chain.downstream.cut();
    expect(relay_events, "disconnected").await;
    expect(client_events, "disconnected").await;
    // The relay dropped the presence proxy it had passed on: its only holder
    // was the client's closed connection (re-obtained when the client replays).
    eventually("the relay released what the client held", || chain.relay_session.tracked() == 2).await;
}

async fn setup() -> (Chain, Held, Events, Events, Footprint) {
    let chain = Chain::replaying().await;
    let held = obtain(&chain).await;
    assert_working(&chain, &held, 10).await;
    let mut relay_events = events(&chain.relay_session);
    let mut client_events = events(&chain.client);
    expect(&mut relay_events, "connected").await;
    expect(&mut client_events, "connected").await;
    let before = footprint(&chain);
    assert_eq!(before.client_tracked, 3, "root, registry lookup, replayed presence");
    assert_eq!(before.relay_tracked, 3, "the relay's root, its forwarded lookup, the presence it passed on");
    (chain, held, relay_events, client_events, before)
}

#[tokio::test]
async fn cutting_server_to_relay_heals_without_the_client_doing_anything() {
    let (chain, held, mut relay_events, mut client_events, before) = setup().await;

    chain.upstream.cut();
    expect(&mut relay_events, "disconnected").await;
    assert_failing(&held).await;
    assert!(chain.client.is_connected(), "the client's own link is fine");

    chain.upstream.heal();
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (3, 0));
    assert_working(&chain, &held, 11).await;
    client_untouched(&mut client_events);
    quiet(&mut relay_events);
    assert_no_leaks(&chain, &before).await;
}

#[tokio::test]
async fn cutting_client_to_relay_reconnects_and_re_resolves_through_the_relay() {
    let (chain, held, mut relay_events, mut client_events, before) = setup().await;

    chain.downstream.cut();
    expect(&mut client_events, "disconnected").await;
    assert_failing(&held).await;

    chain.downstream.heal();
    assert_eq!(counts(&expect(&mut client_events, "reconnected").await), (3, 0));
    assert_working(&chain, &held, 12).await;
    quiet(&mut relay_events);
    quiet(&mut client_events);
    assert_no_leaks(&chain, &before).await;
}

#[tokio::test]
async fn cutting_both_and_healing_the_server_side_first() {
    let (chain, held, mut relay_events, mut client_events, before) = setup().await;

    cut_both(&chain, &mut relay_events, &mut client_events).await;
    assert_failing(&held).await;

    chain.upstream.heal();
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (2, 0));
    assert_failing(&held).await; // the client's own link is still cut
    chain.downstream.heal();
    assert_eq!(counts(&expect(&mut client_events, "reconnected").await), (3, 0));
    assert_working(&chain, &held, 13).await;
    quiet(&mut relay_events);
    quiet(&mut client_events);
    assert_no_leaks(&chain, &before).await;
}

#[tokio::test]
async fn cutting_both_and_healing_the_client_side_first() {
    let (chain, held, mut relay_events, mut client_events, before) = setup().await;

    cut_both(&chain, &mut relay_events, &mut client_events).await;

    // The client is back at the relay, but the relay is not back at the
    // server: the registry lookup is answered from the relay's healing
    // proxy, the replayed `presence()` cannot be.
    chain.downstream.heal();
    assert_eq!(counts(&expect(&mut client_events, "reconnected").await), (2, 1));
    assert_failing(&held).await;

    chain.upstream.heal();
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (2, 0));
    // The client retries the failed path by itself.
    assert_eq!(counts(&expect(&mut client_events, "healed").await), (1, 0));
    assert_working(&chain, &held, 14).await;
    quiet(&mut relay_events);
    quiet(&mut client_events);
    assert_no_leaks(&chain, &before).await;
}

#[tokio::test]
async fn restarting_the_server_process_heals_every_hop() {
    let (mut chain, held, mut relay_events, mut client_events, _) = setup().await;
    let old_users = chain.users.clone();

    chain.kill_server();
    expect(&mut relay_events, "disconnected").await;
    assert_failing(&held).await;

    chain.restart_server().await;
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (3, 0));
    // Same client proxies, new process's objects (fresh state, new ids).
    assert_working(&chain, &held, 15).await;
    assert!(!old_users.presence.is_online(15).await.unwrap());
    client_untouched(&mut client_events);
    quiet(&mut relay_events);

    // Nothing of the old process is held any more, and the new one holds
    // exactly what the healed proxies need.
    eventually("old objects released", || Arc::strong_count(&old_users.presence) == 1).await;
    let now = footprint(&chain);
    assert_eq!(now.presence_strong, 2, "the new presence: held by its owner and exported once");
    assert_eq!(now.server_exports, 3, "registry, UserManager, Presence, on the relay's connection");
    assert_eq!((now.relay_tracked, now.client_tracked), (3, 3));
}

#[tokio::test]
async fn a_black_holed_link_is_detected_by_ping_and_heals() {
    let (chain, held, mut relay_events, mut client_events, before) = setup().await;

    chain.upstream.hold(); // nothing closes: only the ping can tell
    match expect(&mut relay_events, "disconnected").await {
        SessionEvent::Disconnected { reason, .. } => assert!(reason.contains("pong"), "{reason}"),
        _ => unreachable!(),
    }
    assert_failing(&held).await;
    chain.upstream.heal();
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (3, 0));
    assert_working(&chain, &held, 16).await;
    client_untouched(&mut client_events);
    assert_no_leaks(&chain, &before).await;
}

#[tokio::test]
async fn a_call_in_flight_when_the_client_link_drops_fails_with_connection_lost_and_runs_once() {
    let (chain, held, _relay_events, mut client_events, _) = setup().await;
    let call = tokio::spawn({
        let users = held.users.clone();
        async move { users.slow(400, 7).await }
    });
    eventually("the call reached the server", || chain.users.started.load(Ordering::SeqCst) == 1).await;
    chain.downstream.cut();
    assert_eq!(call.await.unwrap(), Err(UserError::Pb(Error::ConnectionLost)));
    expect(&mut client_events, "disconnected").await;
    chain.downstream.heal();
    expect(&mut client_events, "reconnected").await;
    // The server ran it once (it completes there: the relay's link was fine);
    // nobody sent it again.
    eventually("completed on the server", || chain.users.completed.load(Ordering::SeqCst) == 1).await;
    assert_eq!(held.users.started().await.unwrap(), 1, "not retried");
}

#[tokio::test]
async fn an_idempotent_call_in_flight_is_retried_once_after_the_client_link_heals() {
    let (chain, held, _relay_events, mut client_events, _) = setup().await;
    let call = tokio::spawn({
        let users = held.users.clone();
        async move { users.slow_idempotent(300, 8).await }
    });
    eventually("the call reached the server", || chain.users.started.load(Ordering::SeqCst) == 1).await;
    chain.downstream.cut();
    expect(&mut client_events, "disconnected").await;
    chain.downstream.heal();
    assert_eq!(call.await.unwrap(), Ok(8), "one Ok, from the retry");
    assert_eq!(chain.users.started.load(Ordering::SeqCst), 2, "sent once more, no more");
}

#[tokio::test]
async fn a_failed_call_retries_a_failed_replay_at_once_without_waiting_for_a_ping() {
    // Pings every hour: only the failed call can trigger the retry.
    let config = pb_tests::session::fast_replay().ping_interval(std::time::Duration::from_secs(3600));
    let chain = Chain::start_configs(config, pb_tests::session::fast_replay()).await;
    let held = obtain(&chain).await;
    let mut relay_events = events(&chain.relay_session);
    let mut client_events = events(&chain.client);
    expect(&mut relay_events, "connected").await;
    expect(&mut client_events, "connected").await;

    cut_both(&chain, &mut relay_events, &mut client_events).await;
    chain.downstream.heal();
    assert_eq!(counts(&expect(&mut client_events, "reconnected").await), (2, 1));
    chain.upstream.heal();
    assert_eq!(counts(&expect(&mut relay_events, "reconnected").await), (2, 0));

    // The stale proxy's call fails fast and kicks the session, which
    // replays its path at once.
    assert_eq!(held.presence.is_online(1).await, Err(UserError::Pb(Error::Disconnected)));
    assert_eq!(counts(&expect(&mut client_events, "healed").await), (1, 0));
    assert!(!held.presence.is_online(1).await.unwrap());
}

/// A call sent into a black-holed link fails with `ConnectionLost` once the
/// client declares the link lost; when the link heals, the held request
/// reaches the relay after the client's goodbye is already read with it, and
/// is not run (`ConnectionLost` promises only "may have run": refusing late
/// delivery where the protocol can tell keeps a retry from running twice).
#[tokio::test]
async fn a_call_held_in_a_black_hole_is_not_run_after_the_client_gave_up() {
    let (chain, held, _relay_events, mut client_events, _) = setup().await;
    chain.downstream.hold();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), held.presence.set_online(77, true)).await;
    assert_eq!(r.expect("declared lost in time"), Err(UserError::Pb(Error::ConnectionLost)));
    expect(&mut client_events, "disconnected").await;
    chain.downstream.heal();
    expect(&mut client_events, "reconnected").await;
    // The held bytes were delivered when the link healed; give them time.
    assert_working(&chain, &held, 78).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!chain.users.presence.is_online(77).await.unwrap(), "the call the client gave up on ran late");
}
