//! Streams: server and client streaming, backpressure, cancellation,
//! errors in band, and outages (resumed, and lost).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use pb::fault::FaultProxy;
use pb::{Client, Error, Server};
use pb_tests::eventually;
use pb_tests::session::{fast, fast_replay};
use pb_tests::streams::{Feed, Numbers};

async fn serve() -> (Arc<Numbers>, Server) {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers.clone())).await.unwrap();
    (numbers, server)
}

#[tokio::test]
async fn a_stream_result_arrives_whole_and_in_order() {
    let (_numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut stream = feed.numbers(5, 100_005).await.unwrap();
    let mut expect = 5;
    while let Some(n) = stream.next().await {
        assert_eq!(n.unwrap(), expect);
        expect += 1;
    }
    assert_eq!(expect, 100_005);
    assert_eq!(stream.received(), 100_000);
    assert!(stream.next().await.is_none(), "ended for good");
}

#[tokio::test]
async fn an_error_ends_the_stream_in_band() {
    let (_numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let items: Vec<_> = feed.failing(3).await.unwrap().collect().await;
    assert_eq!(items, [Ok(0), Ok(1), Ok(2), Err(Error::Busy)]);
}

#[tokio::test]
async fn a_stalled_consumer_holds_the_producer_to_about_one_window() {
    let (numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut stream = feed.endless(1024).await.unwrap();
    for i in 0..100u64 {
        assert_eq!(stream.next().await.unwrap().unwrap(), vec![i as u8; 1024]);
    }
    // The consumer stops reading: the producer stops within a window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = numbers.produced.load(Ordering::SeqCst) - 100;
    let window_items = (pb::stream::DEFAULT_WINDOW / 1024) as u64;
    assert!(ahead <= window_items + 1, "{ahead} items produced ahead of the consumer");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(numbers.produced.load(Ordering::SeqCst) - 100, ahead, "and stays stopped");
}

#[tokio::test]
async fn dropping_the_stream_stops_the_producer() {
    let (numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut stream = feed.endless(16).await.unwrap();
    stream.next().await.unwrap().unwrap();
    assert!(!numbers.dropped.load(Ordering::SeqCst));
    drop(stream);
    eventually("the producer is dropped", || numbers.dropped.load(Ordering::SeqCst)).await;
    eventually("its export is released", || server.connections()[0].stats().exports == 1).await;
}

#[tokio::test]
async fn a_channel_streams_from_the_client_with_backpressure() {
    let (_numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let (tx, items) = pb::channel::<Vec<u8>>(4);
    let upload = tokio::spawn({
        let feed = feed.clone();
        async move { feed.upload(items).await }
    });
    for i in 0..2_000u64 {
        tx.send(vec![i as u8; 100]).await.unwrap();
    }
    drop(tx);
    assert_eq!(upload.await.unwrap(), Ok((2_000, 200_000)));
}

/// A million numbers through a fault proxy whose link is cut mid-stream.
async fn million_through_a_cut(config: pb::SessionConfig) -> (u64, Option<Error>) {
    let (_numbers, server) = serve().await;
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let client = Client::builder().config(config).connect_tcp(proxy.addr().to_string()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut stream = feed.numbers(0, 1_000_000).await.unwrap();
    let (mut next, mut sum) = (0u64, 0u64);
    while let Some(item) = stream.next().await {
        match item {
            Ok(n) => {
                assert_eq!(n, next, "in order, once");
                sum = sum.wrapping_add(n);
                next += 1;
                if n == 300_000 {
                    proxy.cut();
                }
            }
            Err(e) => return (next, Some(e)),
        }
        if next == 300_001 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            proxy.heal();
        }
    }
    assert_eq!(sum, (0..1_000_000u64).sum::<u64>());
    (next, None)
}

#[tokio::test]
async fn a_million_items_cross_a_cut_exactly_once_in_order() {
    let (count, error) = million_through_a_cut(fast()).await;
    assert_eq!((count, error), (1_000_000, None));
}

#[tokio::test]
async fn without_a_resume_the_stream_ends_with_lost_and_what_arrived() {
    let (count, error) = million_through_a_cut(fast_replay()).await;
    match error {
        Some(Error::Lost { last }) => assert_eq!(last, count, "every item that arrived was delivered"),
        other => panic!("expected Lost, got {other:?} after {count} items"),
    }
    assert!(count < 1_000_000);
}

/// A server with a `Feed` in its registry, a relay forwarding to it through
/// a fault proxy, and a client of the relay.
struct Relayed {
    numbers: Arc<Numbers>,
    _server: Server,
    upstream: FaultProxy,
    _relay_session: Client,
    _relay: Server,
    client: Client,
}

async fn relayed() -> Relayed {
    let numbers = Arc::new(Numbers::default());
    let registry = pb::Registry::local().serve::<dyn Feed>(numbers.clone());
    let server = Server::bind("127.0.0.1:0", registry).await.unwrap();
    let upstream = FaultProxy::start(server.local_addr()).await.unwrap();
    let relay_session = Client::builder().config(fast()).connect_tcp(upstream.addr().to_string()).await.unwrap();
    let relay = Server::bind("127.0.0.1:0", pb::Registry::forwarding(relay_session.registry().unwrap())).await.unwrap();
    let client = Client::builder().config(fast()).connect_tcp(relay.local_addr().to_string()).await.unwrap();
    Relayed { numbers, _server: server, upstream, _relay_session: relay_session, _relay: relay, client }
}

#[tokio::test]
async fn a_relayed_stream_crosses_a_cut_of_the_upstream_link_exactly_once() {
    let r = relayed().await;
    let feed = r.client.get::<dyn Feed>().await.unwrap();
    let mut stream = feed.numbers(0, 1_000_000).await.unwrap();
    let mut next = 0u64;
    while let Some(item) = stream.next().await {
        assert_eq!(item.unwrap(), next, "in order, once");
        next += 1;
        if next == 200_000 {
            r.upstream.cut();
            tokio::time::sleep(Duration::from_millis(500)).await;
            r.upstream.heal();
        }
    }
    assert_eq!(next, 1_000_000);
}

#[tokio::test]
async fn a_relay_pulls_upstream_only_as_its_consumer_pulls() {
    let r = relayed().await;
    let feed = r.client.get::<dyn Feed>().await.unwrap();
    let mut stream = feed.endless(1024).await.unwrap();
    for _ in 0..100 {
        stream.next().await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = r.numbers.produced.load(Ordering::SeqCst) - 100;
    // The client's window, plus the relay's.
    let window_items = (pb::stream::DEFAULT_WINDOW / 1024) as u64;
    assert!(ahead <= 2 * window_items + 2, "{ahead} items produced ahead of the consumer");
    drop(stream);
    eventually("the producer is dropped through the relay", || r.numbers.dropped.load(Ordering::SeqCst)).await;
}

#[tokio::test]
async fn a_greedy_consumer_gets_answers_no_larger_than_half_a_frame() {
    let (_numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    // A consumer that asks for as many items as a pull may (65,536 of
    // 64 KiB: 4 GiB): the producer answers with at most half a frame
    // (8 MiB) at a time, so the stream works (one answer of everything
    // asked would be over the frame limit).
    let mut stream = feed.endless(64 << 10).await.unwrap().window(usize::MAX);
    for i in 0..1_000u64 {
        assert_eq!(stream.next().await.unwrap().unwrap(), vec![i as u8; 64 << 10]);
    }
}

#[tokio::test]
async fn streams_per_connection_are_limited_and_released_ones_free_their_place() {
    let numbers = Arc::new(Numbers::default());
    let config = pb::Config::default().max_streams(3);
    let server = Server::bind_with("127.0.0.1:0", pb::root::<dyn Feed>(numbers), config).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(feed.endless(8).await.unwrap());
    }
    match feed.endless(8).await {
        Err(Error::LimitExceeded { what, limit }) => assert_eq!((what.as_str(), limit), ("streams per connection", 3)),
        other => panic!("expected the stream limit, got {other:?}"),
    }
    drop(held.pop());
    let mut again = None;
    for _ in 0..100 {
        if let Ok(s) = feed.endless(8).await {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(again.unwrap().next().await.unwrap().is_ok(), "a released stream's place is free again");
}

#[tokio::test]
async fn a_sink_sends_items_then_finishes_with_the_calls_result() {
    let (_numbers, server) = serve().await;
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let upload = pb::Sink::new(4, move |items| async move { feed.upload(items).await });
    for i in 0..500u64 {
        upload.send(vec![i as u8; 300]).await.unwrap();
    }
    assert_eq!(upload.finish().await, Ok((500, 150_000)));
}

#[tokio::test]
async fn an_item_that_cannot_be_sent_ends_the_stream_with_its_error_after_the_items_before_it() {
    // Room for the root, the stream and three objects: the fourth object
    // passes the export limit.
    let numbers = Arc::new(Numbers::default());
    let config = pb::Config::default().max_exports(5);
    let server = Server::bind_with("127.0.0.1:0", pb::root::<dyn Feed>(numbers), config).await.unwrap();
    let conn = pb::Connection::connect_tcp(server.local_addr()).await.unwrap();
    let feed = conn.root::<dyn Feed>().unwrap();
    let mut stream = feed.objects(10).await.unwrap();
    let mut objects = Vec::new();
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("no hang") {
            Some(Ok(object)) => objects.push(object.into_arc()),
            Some(Err(e)) => break e,
            None => panic!("the stream ended without its error after {} items", objects.len()),
        }
    };
    assert!(matches!(error, Error::LimitExceeded { .. }), "{error:?}");
    assert_eq!(objects.len(), 3, "the items before the one that failed");
    for (i, object) in objects.iter().enumerate() {
        assert_eq!(object.number().await, Ok(i as u64));
    }
    assert!(stream.next().await.is_none(), "the error is the last item");
}
