//! Sessions that resume: a short outage of a link, shorter than the
//! server's grace period, loses nothing and runs nothing twice. Each test
//! goes through TCP and a fault proxy (`pb::fault::FaultProxy`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use pb::fault::FaultProxy;
use pb::{Client, Error, Server, SessionEvent};
use pb_tests::eventually;
use pb_tests::ledger::{Book, Ledger};
use pb_tests::session::{fast, kind, next_event};

/// A ledger server behind a fault proxy, and a session to it.
struct Rig {
    book: Arc<Book>,
    server: Server,
    proxy: FaultProxy,
    client: Client,
    ledger: Arc<dyn Ledger>,
}

async fn rig(config: pb::SessionConfig) -> Rig {
    let book = Arc::new(Book::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Ledger>(book.clone())).await.unwrap();
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
