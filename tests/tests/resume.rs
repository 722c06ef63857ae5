//! Sessions that resume: a short outage of a link, shorter than the
//! server's grace period, loses nothing and runs nothing twice. Each test
//! goes through TCP and a fault proxy (`pb::fault::FaultProxy`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use pb::fault::FaultProxy;
use pb::{Cache, Change, Client, Config, Error, Server, SessionEvent};
use pb_tests::eventually;
use pb_tests::ledger::{Book, Ledger};
use pb_tests::models::{Dir, Directory, UserList, UserListEvent};
use pb_tests::session::{fast, kind, next_event, rebind};

/// A ledger server behind a fault proxy, and a session to it.
struct Rig {
    book: Arc<Book>,
    server: Server,
    proxy: FaultProxy,
    client: Client,
    ledger: Arc<dyn Ledger>,
}

async fn rig(config: pb::SessionConfig) -> Rig {
    rig_with(config, Config::default()).await
}

async fn rig_with(config: pb::SessionConfig, server_config: Config) -> Rig {
    let book = Arc::new(Book::default());
    let server = Server::bind_with("127.0.0.1:0", pb::root::<dyn Ledger>(book.clone()), server_config).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let client = Client::builder().config(config).connect_tcp(proxy.addr().to_string()).await.unwrap();
    let ledger = client.root::<dyn Ledger>().unwrap();
    Rig { book, server, proxy, client, ledger }
}

/// Start calls `from..to`, each taking `delay_ms` on the server.
fn start_calls(
    ledger: &Arc<dyn Ledger>,
    ids: std::ops::Range<u64>,
    delay_ms: u64,
) -> Vec<tokio::task::JoinHandle<(u64, Result<u64, Error>)>> {
    ids.map(|id| {
        let ledger = ledger.clone();
        tokio::spawn(async move { (id, ledger.record(id, delay_ms).await) })
    })
    .collect()
}

/// A 2 s outage (`fault` starts it) with 100 calls in flight, some of
/// them answered on the server during the outage, some sent into it.
async fn outage_with_calls_in_flight(fault: impl FnOnce(&FaultProxy)) {
    let r = rig(fast()).await;
    let mut events = r.client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");

    // 100 calls running on the server, finishing during the outage.
    let running = start_calls(&r.ledger, 0..100, 500);
    eventually("the calls run", || r.book.total.load(Ordering::SeqCst) == 100).await;
    fault(&r.proxy);
    // Calls sent into the outage, before the session notices it.
    let sent_into = start_calls(&r.ledger, 100..120, 0);
    eventually("the session notices", || !r.client.is_connected()).await;
    // During the outage new calls fail fast.
    assert_eq!(r.ledger.record(1_000, 0).await, Err(Error::Disconnected));
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.proxy.heal();

    for call in running.into_iter().chain(sent_into) {
        let (id, result) = call.await.unwrap();
        assert_eq!(result, Ok(id), "call {id} returns Ok, once");
    }
    match next_event(&mut events).await {
        SessionEvent::Resumed { outage, .. } => assert!(outage >= Duration::from_secs(1), "{outage:?}"),
        other => panic!("expected resumed, got {other:?}"),
    }
    for id in 0..120 {
        assert_eq!(r.book.runs_of(id), 1, "call {id} ran once");
    }
    assert_eq!(r.book.runs_of(1_000), 0, "a call failed fast never runs");
    // More calls after the resume, on the same proxy.
    let after = start_calls(&r.ledger, 200..250, 0);
    for call in after {
        let (id, result) = call.await.unwrap();
        assert_eq!(result, Ok(id));
    }
    assert!(r.book.twice().is_empty(), "nothing ran twice: {:?}", r.book.twice());
    assert_eq!(r.client.tracked(), 1, "nothing replayed, nothing new tracked");
    // Nothing else happened to the session.
    assert!(events.next().now_or_never_ok().is_none());
    assert_eq!(r.server.connections().len(), 1, "one connection, resumed");
    assert_eq!(r.server.detached_sessions(), 0);
}

trait NowOrNever: futures_util::Future + Sized {
    fn now_or_never_ok(self) -> Option<Self::Output> {
        futures_util::FutureExt::now_or_never(self)
    }
}
impl<F: futures_util::Future> NowOrNever for F {}

#[tokio::test]
async fn a_black_hole_of_2s_with_100_calls_in_flight_resumes_and_runs_each_once() {
    outage_with_calls_in_flight(FaultProxy::hold).await;
}

#[tokio::test]
async fn a_cut_of_2s_with_100_calls_in_flight_resumes_and_runs_each_once() {
    outage_with_calls_in_flight(FaultProxy::cut).await;
}

#[tokio::test]
async fn a_server_restarted_during_the_outage_falls_back_to_replay_and_runs_nothing_twice() {
    let Rig { book, server, proxy, client, ledger } = rig(fast()).await;
    let mut events = client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    let running = start_calls(&ledger, 0..100, 300);
    eventually("the calls run", || book.total.load(Ordering::SeqCst) == 100).await;
    proxy.cut();
    // The server process dies and a new one starts on its address.
    let addr = server.local_addr();
    drop(server);
    let fresh = Arc::new(Book::default());
    let _server = rebind(addr, pb::root::<dyn Ledger>(fresh.clone())).await;
    proxy.heal();

    match next_event(&mut events).await {
        SessionEvent::Disconnected { reason, .. } => assert!(reason.contains("could not resume"), "{reason}"),
        other => panic!("expected disconnected, got {other:?}"),
    }
    match next_event(&mut events).await {
        SessionEvent::Reconnected { healed, failed, .. } => assert_eq!((healed, failed), (1, 0)),
        other => panic!("expected reconnected, got {other:?}"),
    }
    for call in running {
        let (id, result) = call.await.unwrap();
        assert_eq!(result, Err(Error::ConnectionLost), "call {id}");
        assert_eq!(fresh.runs_of(id), 0, "call {id} never ran on the new process");
    }
    assert_eq!(ledger.record(7, 0).await, Ok(7), "the same proxy works on the new process");
    assert_eq!(fresh.runs_of(7), 1);
}

/// A session observing the directory's model behind a fault proxy.
async fn cache_rig() -> (Arc<Dir>, Server, FaultProxy, Client, Cache<UserList>) {
    let dir = Arc::new(Dir::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Directory>(dir.clone())).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let client = Client::builder().config(fast()).connect_tcp(proxy.addr().to_string()).await.unwrap();
    let cache = client.root::<dyn Directory>().unwrap().model().await.unwrap();
    (dir, server, proxy, client, cache)
}

#[tokio::test]
async fn a_mirror_gets_every_event_missed_in_an_outage_in_order_without_a_resync() {
    let (dir, _server, proxy, client, cache) = cache_rig().await;
    let mut changes = cache.changes();
    proxy.cut();
    eventually("the session notices", || !client.is_connected()).await;
    for id in 100..1_100 {
        dir.model.apply(UserListEvent::Added(id, format!("u{id}")));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.heal();
    for id in 100..1_100 {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.next()).await.unwrap().unwrap();
        match change {
            Change::Event(UserListEvent::Added(got, _)) => assert_eq!(got, id, "in order"),
            other => panic!("expected the event adding {id}, got {other:?}"),
        }
    }
    assert_eq!(cache.state().users.len(), 1_002);
    assert_eq!(*cache.state(), *dir.model.state());
}

#[tokio::test]
async fn a_mirror_past_its_backlog_during_an_outage_gets_one_resync() {
    let (dir, _server, proxy, client, cache) = cache_rig().await;
    let mut changes = cache.changes();
    let mut events = client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    proxy.cut();
    eventually("the session notices", || !client.is_connected()).await;
    for id in 100..100_100 {
        dir.model.apply(UserListEvent::Added(id, String::new()));
    }
    proxy.heal();
    let mut resyncs = 0;
    while cache.state().users.len() < 100_002 {
        match tokio::time::timeout(Duration::from_secs(10), changes.next()).await.unwrap().unwrap() {
            Change::Resynced(_) => resyncs += 1,
            Change::Event(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(resyncs, 1);
    assert_eq!(*cache.state(), *dir.model.state());
    assert_eq!(kind(&next_event(&mut events).await), "resumed", "the session itself resumed");
}

#[tokio::test]
async fn past_the_grace_period_the_server_forgets_the_session_and_the_client_replays() {
    let server_config = Config::default().resume_grace(Duration::from_millis(500));
    let r = rig_with(fast(), server_config).await;
    let mut events = r.client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    let running = start_calls(&r.ledger, 0..10, 2_000);
    eventually("the calls run", || r.book.total.load(Ordering::SeqCst) == 10).await;
    r.proxy.cut();
    eventually("the server keeps the session", || r.server.detached_sessions() == 1).await;
    eventually("and forgets it after its grace period", || r.server.connections().is_empty()).await;
    assert_eq!(r.server.detached_sessions(), 0);
    r.proxy.heal();
    match next_event(&mut events).await {
        SessionEvent::Disconnected { reason, .. } => assert!(reason.contains("could not resume"), "{reason}"),
        other => panic!("expected disconnected, got {other:?}"),
    }
    assert_eq!(kind(&next_event(&mut events).await), "reconnected");
    for call in running {
        assert_eq!(call.await.unwrap().1, Err(Error::ConnectionLost));
    }
    assert_eq!(r.ledger.record(99, 0).await, Ok(99));
    for id in 0..10 {
        assert_eq!(r.book.runs_of(id), 1, "ran once, on the old session");
    }
}

#[tokio::test]
async fn a_client_that_never_comes_back_costs_at_most_the_resume_budget_until_the_grace_period_ends() {
    let budget = 256 << 10;
    let server_config = Config::default().resume_grace(Duration::from_secs(1)).max_resume_bytes(budget);
    let r = rig_with(fast(), server_config).await;
    // Replies of 3 x 64 KiB finish while the link is down: kept (under budget).
    let _small = (0..3)
        .map(|_| {
            let ledger = r.ledger.clone();
            tokio::spawn(async move { ledger.bytes(64 << 10, 300).await })
        })
        .collect::<Vec<_>>();
    eventually("the calls run", || r.server.connections()[0].stats().in_flight == 3).await;
    r.proxy.cut();
    r.client.close(); // never comes back
    eventually("the replies are kept", || {
        let s = r.server.connections()[0].stats();
        s.in_flight == 0 && s.resume_bytes >= 3 * (64 << 10)
    })
    .await;
    let held = r.server.connections()[0].stats();
    assert!(!held.attached);
    assert!(held.resume_bytes <= budget, "{} kept", held.resume_bytes);
    assert_eq!(r.server.detached_sessions(), 1);
    eventually("released when the grace period ends", || r.server.connections().is_empty()).await;
    assert_eq!(r.server.detached_sessions(), 0);
}

#[tokio::test]
async fn replies_past_the_resume_budget_end_the_session_at_once() {
    let budget = 256 << 10;
    let server_config = Config::default().max_resume_bytes(budget);
    let r = rig_with(fast(), server_config).await;
    let mut events = r.client.events();
    assert_eq!(kind(&next_event(&mut events).await), "connected");
    let big = (0..8)
        .map(|_| {
            let ledger = r.ledger.clone();
            tokio::spawn(async move { ledger.bytes(64 << 10, 300).await })
        })
        .collect::<Vec<_>>();
    eventually("the calls run", || r.server.connections()[0].stats().in_flight == 8).await;
    r.proxy.cut();
    // 512 KiB of replies while the link is down: past the budget, the
    // session cannot resume and the server lets it go without waiting.
    eventually("the server drops the session", || r.server.connections().is_empty()).await;
    assert_eq!(r.server.detached_sessions(), 0);
    r.proxy.heal();
    assert_eq!(kind(&next_event(&mut events).await), "disconnected");
    assert_eq!(kind(&next_event(&mut events).await), "reconnected");
    for call in big {
        assert_eq!(call.await.unwrap(), Err(Error::ConnectionLost));
    }
}

#[tokio::test]
async fn calls_during_the_outage_wait_for_the_resume_when_asked_to() {
    let r = rig(fast().wait_for_resume(true)).await;
    r.proxy.cut();
    eventually("the session notices", || !r.client.is_connected()).await;
    let during = start_calls(&r.ledger, 0..20, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.book.total.load(Ordering::SeqCst), 0, "nothing reached the server yet");
    r.proxy.heal();
    for call in during {
        let (id, result) = call.await.unwrap();
        assert_eq!(result, Ok(id));
        assert_eq!(r.book.runs_of(id), 1);
    }
}

/// A link of the chain server <- relay <- client.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hop {
    /// Server <-> relay.
    Up,
    /// Relay <-> client.
    Down,
}

/// Cut the chain's links in the order of `cuts`, wait 1 s, heal them in the
/// order of `heals`, with 50 calls running on the server and 20 sent into
/// the outage: every call answered once, no replay anywhere, no
/// `Disconnected` at either session.
async fn chain_outage(cuts: &[Hop], heals: &[Hop]) {
    let chain = pb_tests::chain::Chain::start().await;
    let users = chain.client.registry().unwrap().get::<dyn pb_tests::aurora::UserManager>().await.unwrap();
    let mut client_events = chain.client.events();
    let mut relay_events = chain.relay_session.events();
    assert_eq!(kind(&next_event(&mut client_events).await), "connected");
    assert_eq!(kind(&next_event(&mut relay_events).await), "connected");
    let tracked = (chain.client.tracked(), chain.relay_session.tracked());

    let running: Vec<_> = (0..50)
        .map(|v| {
            let users = users.clone();
            tokio::spawn(async move { users.slow(400, v).await })
        })
        .collect();
    eventually("the calls run", || chain.users.started.load(Ordering::SeqCst) == 50).await;
    let link = |hop: Hop| if hop == Hop::Up { &chain.upstream } else { &chain.downstream };
    for &hop in cuts {
        link(hop).cut();
    }
    let sent_into: Vec<_> = (1_000..1_020)
        .map(|v| {
            let users = users.clone();
            tokio::spawn(async move { (v, users.push(v).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for &hop in heals {
        link(hop).heal();
    }

    for (v, call) in running.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), Ok(v as u64), "call {v} answered once");
    }
    let mut delivered = Vec::new();
    for call in sent_into {
        let (v, result) = call.await.unwrap();
        match result {
            Ok(()) => delivered.push(v),
            // Made after the client's session saw its link go down.
            Err(e) => assert_eq!(e, pb_tests::aurora::UserError::Pb(Error::Disconnected), "push {v}"),
        }
    }
    if !cuts.contains(&Hop::Down) {
        assert_eq!(delivered.len(), 20, "the relay held every call across its upstream outage");
    }
    let mut pushed = users.pushed().await.unwrap();
    pushed.sort_unstable();
    assert_eq!(pushed, delivered, "each delivered push ran once, the others never");
    assert_eq!(chain.users.started.load(Ordering::SeqCst), 50, "no call ran twice");

    if cuts.contains(&Hop::Up) {
        assert_eq!(kind(&next_event(&mut relay_events).await), "resumed");
    }
    if cuts.contains(&Hop::Down) {
        assert_eq!(kind(&next_event(&mut client_events).await), "resumed");
    }
    for (who, events) in [("client", &mut client_events), ("relay", &mut relay_events)] {
        if let Some(e) = futures_util::FutureExt::now_or_never(events.next()) {
            panic!("unexpected {who} event {e:?}");
        }
    }
    assert_eq!((chain.client.tracked(), chain.relay_session.tracked()), tracked, "nothing replayed");
    assert_eq!(users.get_user(1).await.unwrap().name, "alice");
}

#[tokio::test]
async fn three_hops_an_upstream_cut_is_invisible_to_the_client() {
    chain_outage(&[Hop::Up], &[Hop::Up]).await;
}

#[tokio::test]
async fn three_hops_a_downstream_cut_does_not_disturb_the_relay() {
    chain_outage(&[Hop::Down], &[Hop::Down]).await;
}

#[tokio::test]
async fn three_hops_both_cut_upstream_first_healed_upstream_first() {
    chain_outage(&[Hop::Up, Hop::Down], &[Hop::Up, Hop::Down]).await;
}

#[tokio::test]
async fn three_hops_both_cut_upstream_first_healed_downstream_first() {
    chain_outage(&[Hop::Up, Hop::Down], &[Hop::Down, Hop::Up]).await;
}

#[tokio::test]
async fn three_hops_both_cut_downstream_first_healed_upstream_first() {
    chain_outage(&[Hop::Down, Hop::Up], &[Hop::Up, Hop::Down]).await;
}

#[tokio::test]
async fn three_hops_both_cut_downstream_first_healed_downstream_first() {
    chain_outage(&[Hop::Down, Hop::Up], &[Hop::Down, Hop::Up]).await;
}

#[tokio::test]
async fn events_subscribed_during_a_resume_start_with_its_end_not_a_disconnect() {
    let r = rig(fast()).await;
    r.proxy.cut();
    eventually("the session notices", || !r.client.is_connected()).await;
    let mut events = r.client.events();
    r.proxy.heal();
    assert_eq!(kind(&next_event(&mut events).await), "resumed");
}

/// A raw hello with `payload`; what the server answers (`None`: it closed).
async fn raw_hello(addr: std::net::SocketAddr, payload: &[u8]) -> Option<bytes::Bytes> {
    use futures_util::SinkExt;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = tokio_util::codec::Framed::new(stream, tokio_util::codec::LengthDelimitedCodec::new());
    let hello = pb::wire::Header::Hello { magic: 0x7062_0001, version: 1, root: None };
    framed.send(pb_tests::raw::frame(&hello, payload)).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), framed.next()).await.expect("an answer or a close")?;
    let frame = frame.ok()?.freeze();
    let (header, rest) = pb::wire::decode_frame(&frame).unwrap();
    assert!(matches!(header, pb::wire::Header::Hello { .. }), "{header:?}");
    Some(rest)
}

#[tokio::test]
async fn hostile_resume_hellos_are_refused_and_cost_the_server_nothing() {
    let r = rig(fast()).await;
    let addr = r.server.local_addr();
    // Garbage, a truncated resume, a resume with a variant that does not exist.
    let mut truncated = vec![1u8, 0x80, 0x01];
    truncated.extend_from_slice(&[7; 10]);
    for payload in [vec![0xff; 40], truncated, vec![9, 1, 2, 3]] {
        assert!(raw_hello(addr, &payload).await.is_none(), "closed on {payload:?}");
    }
    // A well-formed resume of a session that does not exist: a new session
    // of its own (resumed: None).
    let mut forged = vec![1u8, 42];
    forged.extend_from_slice(&[0xaa; 32]);
    forged.push(0);
    let answer = raw_hello(addr, &forged).await.expect("a hello back");
    assert_eq!(answer.first(), Some(&0), "not resumed");
    assert!(answer.len() > 33, "with an identity of its own");
    // The real session goes on. The refused hellos left nothing behind;
    // the forger holds what any new client holds: its own new session,
    // which waits its grace period once its link is gone.
    assert_eq!(r.ledger.record(1, 0).await, Ok(1));
    eventually("the refused ones are gone", || r.server.connections().len() <= 2).await;
    assert!(r.server.detached_sessions() <= 1);
    assert!(r.server.connections().iter().any(|c| c.stats().attached), "the real session is attached");
}

#[tokio::test]
async fn acknowledging_frames_never_sent_closes_the_connection() {
    let r = rig(fast()).await;
    let (mut raw, _) = pb_tests::raw::RawPeer::connect(r.server.local_addr()).await;
    raw.send(&pb::wire::Header::Ack { received: 1_000 }, &[]).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async { while raw.recv().await.is_some() {} }).await;
    assert!(closed.is_ok(), "the server closed the connection");
    assert_eq!(r.ledger.record(2, 0).await, Ok(2), "and serves its other clients");
}
