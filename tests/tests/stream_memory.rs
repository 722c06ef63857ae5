//! What streams cost in memory: idle streams, and a stalled consumer. One
//! test at a time (the allocation counters are process-wide).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pb::{Client, Server};
use pb_tests::alloc::{self, Counting};
use pb_tests::streams::{Feed, Numbers};

#[global_allocator]
static ALLOC: Counting = Counting;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn ten_thousand_idle_streams_take_under_50_mb_on_both_sides() {
    let _turn = SERIAL.lock().await;
    let numbers = Arc::new(Numbers::default());
    let config = pb::Config::default().max_streams(20_000);
    let server = Server::bind_with("127.0.0.1:0", pb::root::<dyn Feed>(numbers), config).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    feed.numbers(0, 1).await.unwrap().next().await; // warm up
    let before = alloc::current();
    let mut streams = Vec::new();
    for _ in 0..10_000 {
        streams.push(feed.endless(64).await.unwrap());
    }
    let used = alloc::current().saturating_sub(before);
    assert!(used < 50 << 20, "10,000 idle streams take {used} bytes");
    eprintln!("10,000 idle streams: {} bytes each, client and server together", used / 10_000);
    assert_eq!(server.connections()[0].stats().exports, 10_001);
}

#[tokio::test]
async fn a_stalled_consumer_holds_memory_flat_at_about_one_window() {
    let _turn = SERIAL.lock().await;
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers)).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    let feed = client.root::<dyn Feed>().unwrap();
    let before = alloc::current();
    let mut stream = feed.endless(64 << 10).await.unwrap();
    for _ in 0..50 {
        stream.next().await.unwrap().unwrap();
    }
    // The producer keeps trying; the consumer reads nothing more.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = alloc::current().saturating_sub(before);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = alloc::current().saturating_sub(before);
    let window = pb::stream::DEFAULT_WINDOW;
    assert!(second <= first + (64 << 10), "memory grows while stalled: {first} then {second} bytes");
    // Both sides in this process: the receiver's window, the sender's
    // batch being written, and one item, with room for socket buffers.
    assert!(second <= 3 * window + (64 << 10), "{second} bytes held for a stalled stream");
    drop(stream);
}
