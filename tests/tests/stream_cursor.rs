//! Streams whose session cannot resume (a restarted server, a restarted
//! relay): a producer with a cursor goes on where its consumer stopped,
//! one without ends with `Lost`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pb::fault::FaultProxy;
use pb::{Client, Error, Server};
use pb_tests::session::{fast, rebind};
use pb_tests::streams::{Feed, Numbers};

const N: u64 = 1_000_000;

/// Read `stream` to its end, checking that item `i` is `i`; `at(i)` runs
/// after item `i` (an outage, say). Returns the count and the error that
/// ended it, if any.
async fn read_all<F, Fut>(stream: &mut pb::Stream<u64>, mut at: F) -> (u64, Option<Error>)
where
    F: FnMut(u64) -> Option<Fut>,
    Fut: std::future::Future<Output = ()>,
{
    let (mut next, mut sum) = (0u64, 0u64);
    while let Some(item) = stream.next().await {
        match item {
            Ok(n) => {
                assert_eq!(n, next, "each item once, in order");
                sum = sum.wrapping_add(n);
                next += 1;
                if let Some(outage) = at(n) {
                    outage.await;
                }
            }
            Err(e) => return (next, Some(e)),
        }
    }
    assert_eq!(sum, (0..next).sum::<u64>(), "checksum");
    (next, None)
}

/// A `Feed` server behind a fault proxy, and a session to it through the
/// proxy: the server can be restarted on its address behind a cut link.
struct Restartable {
    server: Option<Server>,
    proxy: FaultProxy,
    client: Client,
    /// What the restarted server serves.
    fresh: Arc<Numbers>,
}

impl Restartable {
    async fn start() -> Restartable {
        let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(Arc::new(Numbers::default()))).await.unwrap();
        let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
        let client = Client::builder().config(fast()).connect_tcp(proxy.addr().to_string()).await.unwrap();
        Restartable { server: Some(server), proxy, client, fresh: Arc::new(Numbers::default()) }
    }

    fn feed(&self) -> Arc<dyn Feed> {
        self.client.root::<dyn Feed>().unwrap()
    }

    /// Cut the link, restart the server (serving `fresh`), heal the link.
    async fn restart(&mut self) {
        self.proxy.cut();
        let server = self.server.take().expect("restarted once");
        let addr = server.local_addr();
        drop(server);
        let restarted = rebind(addr, pb::root::<dyn Feed>(self.fresh.clone())).await;
        std::mem::forget(restarted); // lives to the end of the test process
        self.proxy.heal();
    }
}

/// A server restarted on its address behind a cut link, after item
/// 300,000 of a stream from `open` (a `#[pb(replay)]` method).
async fn across_a_server_restart(
    open: impl AsyncFnOnce(&dyn Feed) -> pb::Stream<u64>,
) -> (u64, Option<Error>, Arc<Numbers>) {
    let mut setup = Restartable::start().await;
    let mut stream = open(&*setup.feed()).await;
    let mut once = Some(&mut setup);
    let (count, error) = read_all(&mut stream, |n| once.take_if(|_| n == 300_000).map(|s| s.restart())).await;
    (count, error, setup.fresh.clone())
}

#[tokio::test]
async fn a_million_items_cross_a_server_restart_exactly_once_with_a_cursor() {
    let (count, error, fresh) = across_a_server_restart(async |feed| feed.tail(0, N).await.unwrap()).await;
    assert_eq!((count, error), (N, None));
    let opened = fresh.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 1, "the restarted server opened the stream once: {opened:?}");
    assert!(opened[0] > 300_000, "and started it where the consumer was: {opened:?}");
}

#[tokio::test]
async fn without_a_cursor_a_stream_asked_again_ends_with_lost() {
    let (count, error, _) = across_a_server_restart(async |feed| feed.numbers_again(0, N).await.unwrap()).await;
    match error {
        Some(Error::Lost { last }) => assert_eq!(last, count, "every item that arrived was delivered"),
        other => panic!("expected Lost, got {other:?} after {count} items"),
    }
    assert!(count > 300_000 && count < N);
}

/// A relay: a session to the server, and a server forwarding its registry.
async fn relay(upstream: SocketAddr, at: &str) -> (Client, Server) {
    let session = Client::builder().config(fast()).connect_tcp(upstream.to_string()).await.unwrap();
    let forwarding = pb::Registry::forwarding(session.registry().unwrap());
    let server = match at {
        "" => Server::bind("127.0.0.1:0", forwarding).await.unwrap(),
        addr => rebind(addr.parse().unwrap(), forwarding).await,
    };
    (session, server)
}

#[tokio::test]
async fn a_million_items_cross_a_relay_killed_and_restarted_exactly_once_with_a_cursor() {
    let numbers = Arc::new(Numbers::default());
    let registry = pb::Registry::local().serve::<dyn Feed>(numbers.clone());
    let server = Server::bind("127.0.0.1:0", registry).await.unwrap();
    let (relay_session, relay_server) = relay(server.local_addr(), "").await;
    let relay_addr = relay_server.local_addr().to_string();
    let client = Client::builder().config(fast()).connect_tcp(relay_addr.clone()).await.unwrap();
    let feed = client.get::<dyn Feed>().await.unwrap();
    let mut stream = feed.tail(0, N).await.unwrap();

    let mut old_relay = Some((relay_session, relay_server));
    let new_relay = Arc::new(std::sync::Mutex::new(None));
    let (count, error) = read_all(&mut stream, |n| {
        (n == 400_000).then(|| {
            let (old, upstream, addr, new_relay) =
                (old_relay.take(), server.local_addr(), relay_addr.clone(), new_relay.clone());
            async move {
                // The relay process dies: its connections go with it.
                let (session, relay_server) = old.unwrap();
                relay_server.abort();
                drop(relay_server);
                session.close();
                drop(session);
                tokio::time::sleep(Duration::from_millis(200)).await;
                let restarted = relay(upstream, &addr).await;
                *new_relay.lock().unwrap() = Some(restarted);
            }
        })
    })
    .await;
    assert_eq!((count, error), (N, None));
    let opened = numbers.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 2, "opened by the first relay, then by the restarted one: {opened:?}");
    assert_eq!(opened[0], 0);
    assert!(opened[1] > 400_000, "the restarted relay passed the consumer's place upstream: {opened:?}");
}

#[tokio::test]
async fn a_million_items_cross_a_restart_of_the_server_behind_a_relay_exactly_once_with_a_cursor() {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::Registry::local().serve::<dyn Feed>(numbers.clone())).await.unwrap();
    let addr = server.local_addr();
    let proxy = FaultProxy::start(addr).await.unwrap();
    let (_relay_session, relay_server) = relay(proxy.addr(), "").await;
    let client = Client::builder().config(fast()).connect_tcp(relay_server.local_addr().to_string()).await.unwrap();
    let feed = client.get::<dyn Feed>().await.unwrap();
    let mut stream = feed.tail(0, N).await.unwrap();
    let fresh = Arc::new(Numbers::default());
    let mut server = Some(server);
    let (count, error) = read_all(&mut stream, |n| {
        (n == 300_000).then(|| {
            let (proxy, server, fresh) = (&proxy, server.take(), fresh.clone());
            async move {
                proxy.cut();
                drop(server);
                let restarted = rebind(addr, pb::Registry::local().serve::<dyn Feed>(fresh)).await;
                std::mem::forget(restarted);
                proxy.heal();
            }
        })
    })
    .await;
    assert_eq!((count, error), (N, None));
    let opened = fresh.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 1, "the restarted server opened the stream once: {opened:?}");
    assert!(opened[0] > 300_000, "where the relay's consumer was: {opened:?}");
}

#[tokio::test]
async fn items_in_pieces_cross_a_server_restart_mid_item_exactly_once_with_a_cursor() {
    // 1 MiB items go in four pieces each, pulled one at a time (the window
    // is smaller than an item); the server restarts while pieces of the
    // next item travel: a part that arrived is dropped, and the fresh
    // producer sends the item again from its first piece. (Where exactly
    // the cut lands varies; `remote::tests` holds the deterministic case.)
    const SIZE: usize = 1 << 20;
    const ITEMS: u64 = 6;
    let mut setup = Restartable::start().await;
    let mut stream = setup.feed().tail_sized(SIZE, ITEMS).await.unwrap().window(512 << 10);
    let mut next = 0u64;
    let read = async {
        while let Some(item) = stream.next().await {
            let item = item.unwrap();
            assert_eq!(item, vec![next as u8; SIZE], "item {next}, whole, once, in order");
            if next == 1 {
                // Restart the server behind a cut link while item 2 travels.
                setup.restart().await;
            }
            next += 1;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("the stream goes on after the restart");
    assert_eq!(next, ITEMS);
    let opened = setup.fresh.opened.lock().unwrap().clone();
    assert!(
        opened.len() == 1 && (2..ITEMS).contains(&opened[0]),
        "the restarted server started once, at the item the consumer needed next: {opened:?}"
    );
}
