//! A channel's sending half passed to a peer (as an argument, inside
//! copied data): the peer's items come out of the local stream, in order,
//! with backpressure, and the peer learns when the consumer is gone.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use pb::{Client, Server};
use pb_tests::eventually;
use pb_tests::streams::{Feed, Job, Numbers};

async fn serve() -> (Arc<Numbers>, Server, Client) {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers.clone())).await.unwrap();
    let client = Client::connect(server.local_addr()).await.unwrap();
    (numbers, server, client)
}

#[tokio::test]
async fn a_sender_passed_to_the_server_brings_its_items_back_in_order_and_ends_the_stream() {
    let (_numbers, _server, client) = serve().await;
    let feed = client.root::<dyn Feed>().unwrap();
    let (tx, mut rx) = pb::channel::<u64>(16);
    feed.push(tx, 100_000).await.unwrap();
    let mut next = 0;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(10), rx.next()).await.expect("the stream ends") {
        assert_eq!(item.unwrap(), next, "in order, once");
        next += 1;
    }
    assert_eq!(next, 100_000, "every item, then the end once the server's sender is gone");
}

#[tokio::test]
async fn a_sender_inside_copied_data_works_beside_a_local_one() {
    let (_numbers, _server, client) = serve().await;
    let feed = client.root::<dyn Feed>().unwrap();
    let (tx, mut rx) = pb::channel::<String>(4);
    tx.send("local".into()).await.unwrap();
    let job = Job { count: 1_000, results: tx.clone() };
    let run = tokio::spawn(async move { feed.run(job).await });
    assert_eq!(rx.next().await.unwrap().unwrap(), "local");
    for i in 0..1_000 {
        assert_eq!(rx.next().await.unwrap().unwrap(), format!("result {i}"));
    }
    assert_eq!(run.await.unwrap(), Ok(1_000));
    drop(tx);
    let end = tokio::time::timeout(Duration::from_secs(10), rx.next()).await.expect("the stream ends");
    assert!(end.is_none(), "no sender left: {end:?}");
}

#[tokio::test]
async fn a_remote_sender_waits_for_a_stalled_consumer_and_learns_when_it_is_gone() {
    let (numbers, _server, client) = serve().await;
    let feed = client.root::<dyn Feed>().unwrap();
    let (tx, mut rx) = pb::channel::<Vec<u8>>(16);
    feed.push_blobs(tx, 64 << 10).await.unwrap();
    for _ in 0..10 {
        assert_eq!(rx.next().await.unwrap().unwrap().len(), 64 << 10);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = numbers.pushed.load(Ordering::SeqCst) - 10;
    // The local channel (16), the forwarding pulls' window (1 MiB: 16
    // items), the remote sender's buffer (16), one item in each hand.
    assert!(ahead <= 16 + 16 + 16 + 4, "{ahead} items sent ahead of a consumer that read 10");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(numbers.pushed.load(Ordering::SeqCst) - 10, ahead, "the sender is held back");
    drop(rx);
    eventually("the remote sender learns the consumer is gone", || numbers.push_refused.load(Ordering::SeqCst)).await;
}
