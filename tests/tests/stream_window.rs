//! The window of a received stream adapts to how fast its consumer reads:
//! a slow reader holds little, directly and through a relay, and a fast
//! one gets the whole window back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pb::{Client, Server};
use pb_tests::streams::{Feed, Numbers};

const ITEM: usize = 1024;

/// Read `stream` slowly (about a thousand 1 KiB items a second) for
/// `time`; returns how many items were read.
async fn read_slowly(stream: &mut pb::Stream<Vec<u8>>, time: Duration) -> u64 {
    let (start, mut read) = (Instant::now(), 0u64);
    while start.elapsed() < time {
        assert_eq!(stream.next().await.unwrap().unwrap().len(), ITEM);
        read += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    read
}

/// How far ahead of a slow reader the producer gets once the window has
/// adapted, through `hops` streams.
async fn ahead_of_a_slow_reader(numbers: &Numbers, feed: &dyn Feed) -> u64 {
    let mut stream = feed.endless(ITEM).await.unwrap().window(256 << 10);
    // Drain what the full window brought, then measure.
    let mut read = read_slowly(&mut stream, Duration::from_millis(1500)).await;
    read += read_slowly(&mut stream, Duration::from_millis(500)).await;
    numbers.produced.load(Ordering::SeqCst) - read
}

#[tokio::test]
async fn a_slow_reader_holds_a_small_window() {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers.clone())).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let ahead = ahead_of_a_slow_reader(&numbers, &*feed).await;
    // The window's floor (64 KiB: 64 items) and one request's answer; a
    // window that did not adapt keeps 256 items ahead.
    assert!(ahead <= 64 + 40, "{ahead} items produced ahead of a slow reader");
}

#[tokio::test]
async fn a_slow_reader_holds_a_small_window_through_a_relay() {
    let numbers = Arc::new(Numbers::default());
    let registry = pb::Registry::local().serve::<dyn Feed>(numbers.clone());
    let server = Server::bind("127.0.0.1:0", registry).await.unwrap();
    // The relay's window: at most 256 KiB too.
    let config = pb::SessionConfig::default().connection(pb::Config::default().stream_window(256 << 10));
    let session = Client::builder().config(config).connect_tcp(server.local_addr()).await.unwrap();
    let relay = Server::bind("127.0.0.1:0", pb::Registry::forwarding(session.registry().unwrap())).await.unwrap();
    let client = Client::connect(relay.local_addr()).await.unwrap();
    let feed = client.get::<dyn Feed>().await.unwrap();
    let ahead = ahead_of_a_slow_reader(&numbers, &*feed).await;
    // Both windows at their floor (the relay's reader is the client's
    // pulls, as slow as the client); fixed windows keep 512 ahead.
    assert!(ahead <= 2 * (64 + 40), "{ahead} items produced ahead of a slow reader, through a relay");
}

#[tokio::test]
async fn a_fast_reader_gets_the_whole_window_back() {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers.clone())).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let mut stream = feed.endless(ITEM).await.unwrap().window(256 << 10);
    let mut read = read_slowly(&mut stream, Duration::from_millis(1500)).await;
    // Now read as fast as items come, for a while, then stop reading.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        stream.next().await.unwrap().unwrap();
        read += 1;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = numbers.produced.load(Ordering::SeqCst) - read;
    assert!(ahead > 128, "only {ahead} items ahead: the window did not grow back");
    assert!(ahead <= 256 + 40, "{ahead} items ahead: more than the most allowed");
}
