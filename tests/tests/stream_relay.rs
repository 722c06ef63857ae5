//! A relay passing a stream on: items without references go through as
//! the bytes they came in (never decoded at the relay); items with
//! references are decoded and sent on as the relay's own references.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use pb::{Client, Server};
use pb_tests::streams::{DECODED, Feed, Numbered, Numbers};

/// A server, a relay forwarding its registry, and a client of the relay.
async fn relayed() -> (Server, Client, Server, Client) {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::Registry::local().serve::<dyn Feed>(numbers)).await.unwrap();
    let session = Client::connect(server.local_addr()).await.unwrap();
    let relay = Server::bind("127.0.0.1:0", pb::Registry::forwarding(session.registry().unwrap())).await.unwrap();
    let client = Client::connect(relay.local_addr()).await.unwrap();
    (server, session, relay, client)
}

#[tokio::test]
async fn plain_items_cross_a_relay_without_being_decoded_there() {
    let (_server, _session, _relay, client) = relayed().await;
    let feed = client.get::<dyn Feed>().await.unwrap();
    let before = DECODED.load(Ordering::SeqCst);
    let mut stream = feed.counted(100_000).await.unwrap();
    let mut next = 0;
    while let Some(item) = stream.next().await {
        assert_eq!(item.unwrap().0, next);
        next += 1;
    }
    assert_eq!(next, 100_000);
    // Relay and client share this process: each item was decoded once,
    // by the client.
    assert_eq!(DECODED.load(Ordering::SeqCst) - before, 100_000);
}

#[tokio::test]
async fn items_with_references_cross_a_relay_as_working_proxies() {
    let (_server, session, relay, client) = relayed().await;
    let exported_at_relay = || relay.connections().iter().map(|c| c.stats().exports).sum::<usize>();
    let before = exported_at_relay();
    let feed = client.get::<dyn Feed>().await.unwrap();
    let mut stream = feed.objects(300).await.unwrap();
    let mut objects = Vec::new();
    while let Some(item) = stream.next().await {
        objects.push(item.unwrap().into_arc());
    }
    for (i, object) in objects.iter().enumerate() {
        assert_eq!(object.number().await, Ok(i as u64), "object {i} answers through the relay");
    }
    assert!(exported_at_relay() >= 300, "the relay exports its proxies to the client");
    drop((objects, stream, feed));
    pb_tests::eventually("the relay's exports are released", || exported_at_relay() == before).await;
    pb_tests::eventually("and its imports from the server", || session.connection().stats().imports == 0).await;
}

/// Items of `sizes` read from `feed`, checked (item `i` is `i as u8`s).
async fn read_sized(feed: &dyn Feed, sizes: Vec<usize>) {
    read_bytes(feed.sized(sizes.clone()).await.unwrap(), &sizes).await;
}

/// Byte items of `sizes` read from `stream`, checked, then its end.
async fn read_bytes<T: AsRef<[u8]> + serde::de::DeserializeOwned + Send + 'static>(
    mut stream: pb::Stream<T>,
    sizes: &[usize],
) {
    for (i, size) in sizes.iter().enumerate() {
        let item = stream.next().await.unwrap().unwrap();
        let item = item.as_ref();
        assert_eq!(item.len(), *size, "item {i}");
        assert!(item.iter().all(|&b| b == i as u8), "item {i}");
    }
    assert!(stream.next().await.is_none());
}

const SIZES: [usize; 7] = [10, 3 << 20, 256 << 10, (256 << 10) + 1, 1, 5 << 20, 100_000];

#[tokio::test]
async fn items_longer_than_a_chunk_arrive_whole_directly_and_through_a_relay() {
    let (server, _session, _relay, client) = relayed().await;
    let feed = client.get::<dyn Feed>().await.unwrap();
    read_sized(&*feed, SIZES.to_vec()).await;
    let direct = Client::connect(server.local_addr()).await.unwrap();
    let feed = direct.get::<dyn Feed>().await.unwrap();
    read_sized(&*feed, SIZES.to_vec()).await;
}

/// Labelled items of `sizes` read from `feed`: each whole, its object
/// answering its number.
async fn read_labelled(feed: &dyn Feed, sizes: &[usize]) -> Vec<Arc<dyn Numbered>> {
    let mut stream = feed.labelled(sizes.to_vec()).await.unwrap();
    let mut objects = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let item = stream.next().await.unwrap().unwrap();
        assert_eq!(item.data.len(), *size, "item {i}");
        assert!(item.data.iter().all(|&b| b == i as u8), "item {i}");
        let object = item.object.into_arc();
        assert_eq!(object.number().await, Ok(i as u64), "item {i}'s object answers");
        objects.push(object);
    }
    assert!(stream.next().await.is_none());
    objects
}

#[tokio::test]
async fn items_with_references_longer_than_a_chunk_arrive_whole_directly_and_through_a_relay() {
    let (server, session, relay, client) = relayed().await;
    let exported_at_relay = || relay.connections().iter().map(|c| c.stats().exports).sum::<usize>();
    let before = exported_at_relay();
    let feed = client.get::<dyn Feed>().await.unwrap();
    let objects = read_labelled(&*feed, &SIZES).await;
    assert!(exported_at_relay() >= SIZES.len(), "the relay exports its proxies to the client");
    drop((objects, feed));
    pb_tests::eventually("the relay's exports are released", || exported_at_relay() == before).await;
    pb_tests::eventually("and its imports from the server", || session.connection().stats().imports == 0).await;

    let direct = Client::connect(server.local_addr()).await.unwrap();
    let exported = || server.connections().iter().map(|c| c.stats().exports).sum::<usize>();
    let before = exported();
    let feed = direct.get::<dyn Feed>().await.unwrap();
    let objects = read_labelled(&*feed, &SIZES).await;
    drop((objects, feed));
    pb_tests::eventually("the server's exports are released", || exported() == before).await;
}

#[tokio::test]
async fn large_and_small_items_with_references_alternate_through_a_relay_in_order() {
    // Pulls run side by side at the relay: the small item after a large
    // one is often put together before the large one has gone on.
    let (_server, _session, _relay, client) = relayed().await;
    let feed = client.get::<dyn Feed>().await.unwrap();
    let sizes: Vec<usize> = (0..6).flat_map(|_| [2 << 20, 300 << 10, (256 << 10) + 7]).collect();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), read_labelled(&*feed, &sizes));
    read.await.expect("every item arrives (none is lost at the relay)");
}

#[tokio::test]
async fn blob_items_of_every_size_arrive_whole_directly_and_through_a_relay() {
    // Large blobs are referenced by the answers, not copied, and cut into
    // pieces across the chunks they sit in.
    let (server, _session, _relay, client) = relayed().await;
    let sizes = [10, 5000, 3 << 20, 256 << 10, (256 << 10) - 3, 100_000, 1];
    let direct = Client::connect(server.local_addr()).await.unwrap();
    for feed in [client.get::<dyn Feed>().await.unwrap(), direct.get::<dyn Feed>().await.unwrap()] {
        read_bytes(feed.blobs(sizes.to_vec()).await.unwrap(), &sizes).await;
    }
}
