//! Hostile stream peers, on raw frames: one that never pulls, one that
//! asks for too much, one that asks to start at items never sent, one that
//! sends nonsense to a stream. Each gets an error or nothing, never more
//! work or memory than an honest peer; the stream and the connection go on.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pb::wire::WireRef;
use pb::{Error, Server};
use pb_tests::raw::{RawPeer, fault};
use pb_tests::streams::{Feed, Numbers};

fn method(name: &str) -> u32 {
    <dyn Feed as pb::Interface>::METHODS.iter().find(|m| m.name == name).expect("a Feed method").id
}

/// The stream protocol's method ids (`pb_ids::method_id` of their names).
const PULL: &str = "pull";
const RESUME: &str = "resume";

fn args<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

/// A pull's answer: the first item's number, the items, the end if any.
type Batch<T> = (u64, Vec<T>, Option<Result<(), Error>>);

/// A pull's answer on the wire: the first item's number, how many items,
/// whether they hold no references, their bytes, the end if any.
type WireBatch = (u64, u32, bool, Vec<u8>, Option<Result<(), Error>>, Option<u64>);

async fn serve() -> (Arc<Numbers>, Server, RawPeer) {
    let numbers = Arc::new(Numbers::default());
    let server = Server::bind("127.0.0.1:0", pb::root::<dyn Feed>(numbers.clone())).await.unwrap();
    let (raw, _) = RawPeer::connect(server.local_addr()).await;
    (numbers, server, raw)
}

/// Call `name` on the root with `a`; the id of the stream it returns.
async fn open(raw: &mut RawPeer, name: &str, a: &[u8]) -> u64 {
    let (ok, payload) = raw.call(0, method(name), a).await;
    assert!(ok, "{:?}", fault(&payload));
    match postcard::from_bytes::<Result<WireRef, Error>>(&payload).unwrap().unwrap() {
        WireRef::Sender { id, .. } => id,
        other => panic!("expected a stream, got {other:?}"),
    }
}

async fn pull<T: serde::de::DeserializeOwned>(raw: &mut RawPeer, stream: u64, max: u32) -> Result<Batch<T>, Error> {
    let (ok, payload) = raw.call(stream, pb_ids::method_id(PULL), &args(&(max,))).await;
    assert!(ok, "a pull is answered: {:?}", fault(&payload));
    let (first, count, plain, bytes, end, piece) =
        postcard::from_bytes::<Result<WireBatch, Error>>(&payload).unwrap()?;
    assert!(plain, "numbers and bytes hold no references");
    assert_eq!(piece, None, "whole items");
    let (mut items, mut rest) = (Vec::new(), &bytes[..]);
    for _ in 0..count {
        let (item, after) = postcard::take_from_bytes::<T>(rest).unwrap();
        items.push(item);
        rest = after;
    }
    assert!(rest.is_empty());
    Ok((first, items, end))
}

async fn resume(raw: &mut RawPeer, stream: u64, next: u64) -> Result<(), Error> {
    let (ok, payload) = raw.call(stream, pb_ids::method_id(RESUME), &args(&(next,))).await;
    assert!(ok, "a resume is answered: {:?}", fault(&payload));
    postcard::from_bytes(&payload).unwrap()
}

#[tokio::test]
async fn a_peer_that_never_pulls_costs_no_production() {
    let (numbers, _server, mut raw) = serve().await;
    let _stream = open(&mut raw, "endless", &args(&(1024usize,))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(numbers.produced.load(Ordering::SeqCst), 0, "nothing produced before a pull");
}

#[tokio::test]
async fn a_greedy_pull_is_clamped() {
    let (_numbers, _server, mut raw) = serve().await;
    let stream = open(&mut raw, "endless", &args(&(1024usize,))).await;
    let (first, items, end) = pull::<Vec<u8>>(&mut raw, stream, u32::MAX).await.unwrap();
    assert_eq!((first, end), (0, None));
    assert!(!items.is_empty() && items.len() <= 16, "{} items in the first answer", items.len());
    let given = items.len() as u64;
    let (first, items, _) = pull::<Vec<u8>>(&mut raw, stream, u32::MAX).await.unwrap();
    assert_eq!(first, given);
    // At most one chunk (256 KiB of items: under 256 items of 1 KiB).
    assert!(!items.is_empty() && items.len() <= 256, "{} items", items.len());
}

#[tokio::test]
async fn starting_at_an_item_never_sent_is_refused_and_the_stream_goes_on() {
    let (_numbers, _server, mut raw) = serve().await;
    // Without a cursor: only "where it is" is accepted.
    let stream = open(&mut raw, "numbers", &args(&(0u64, 100u64))).await;
    let (_, items, _) = pull::<u64>(&mut raw, stream, 10).await.unwrap();
    assert_eq!(items, (0..10).collect::<Vec<_>>());
    assert_eq!(resume(&mut raw, stream, 1_000_000).await, Err(Error::Lost { last: 10 }));
    assert_eq!(resume(&mut raw, stream, 3).await, Err(Error::Lost { last: 10 }));
    assert_eq!(resume(&mut raw, stream, 10).await, Ok(()));
    let (first, items, _) = pull::<u64>(&mut raw, stream, 5).await.unwrap();
    assert_eq!((first, items), (10, vec![10, 11, 12, 13, 14]), "nothing skipped, nothing repeated");

    // With a cursor, once items were given: no jumping about either.
    let tail = open(&mut raw, "tail", &args(&(0u64, 100u64))).await;
    pull::<u64>(&mut raw, tail, 5).await.unwrap();
    assert_eq!(resume(&mut raw, tail, 50).await, Err(Error::Lost { last: 5 }));
    let (first, items, _) = pull::<u64>(&mut raw, tail, 2).await.unwrap();
    assert_eq!((first, items), (5, vec![5, 6]));
}

#[tokio::test]
async fn nonsense_to_a_stream_gets_errors_and_the_connection_goes_on() {
    let (_numbers, _server, mut raw) = serve().await;
    let stream = open(&mut raw, "numbers", &args(&(0u64, 100u64))).await;
    let (ok, payload) = raw.call(stream, 0xdead_beef, &[]).await;
    assert!(!ok);
    assert!(matches!(fault(&payload), Error::UnknownMethod { method: 0xdead_beef, .. }));
    let (ok, payload) = raw.call(stream, pb_ids::method_id(PULL), &[0xff; 9]).await;
    assert!(!ok);
    assert!(matches!(fault(&payload), Error::Protocol(_)), "{:?}", fault(&payload));
    let (first, items, _) = pull::<u64>(&mut raw, stream, 3).await.unwrap();
    assert_eq!((first, items), (0, vec![0, 1, 2]));
}

/// Read `n` items of `stream` over raw pulls, checking that every answer
/// is at most a chunk (with 4 KiB of room for length prefixes) and that
/// `plain` says whether the items hold references; returns the items and
/// how many answers they took.
async fn read_in_pieces<T: serde::de::DeserializeOwned>(
    raw: &mut RawPeer,
    stream: u64,
    n: usize,
    plain: bool,
) -> (Vec<T>, usize) {
    let (mut items, mut assembling, mut answers) = (Vec::new(), Vec::new(), 0);
    while items.len() < n {
        let (ok, payload) = raw.call(stream, pb_ids::method_id(PULL), &args(&(1000u32,))).await;
        assert!(ok);
        answers += 1;
        assert!(payload.len() <= (260 << 10) + 64, "an answer of {} bytes", payload.len());
        let (first, count, was_plain, bytes, _, piece) =
            postcard::from_bytes::<Result<WireBatch, Error>>(&payload).unwrap().unwrap();
        assert_eq!(was_plain, plain, "whether the items hold references");
        assert_eq!(first, items.len() as u64);
        match piece {
            Some(offset) => {
                assert_eq!(offset, assembling.len() as u64, "pieces in order");
                assembling.extend_from_slice(&bytes);
                if count == 1 {
                    items.push(postcard::from_bytes(&std::mem::take(&mut assembling)).unwrap());
                }
            }
            None => {
                let mut rest = &bytes[..];
                for _ in 0..count {
                    let (item, after) = postcard::take_from_bytes::<T>(rest).unwrap();
                    items.push(item);
                    rest = after;
                }
            }
        }
    }
    (items, answers)
}

#[tokio::test]
async fn an_item_longer_than_a_chunk_comes_in_pieces_of_at_most_a_chunk() {
    let (_numbers, _server, mut raw) = serve().await;
    let sizes = vec![1000usize, 1 << 20, (256 << 10) + 1, 10];
    let stream = open(&mut raw, "sized", &args(&(sizes.clone(),))).await;
    let (items, _) = read_in_pieces::<Vec<u8>>(&mut raw, stream, sizes.len(), true).await;
    for (i, (item, size)) in items.iter().zip(&sizes).enumerate() {
        assert_eq!(item.len(), *size);
        assert!(item.iter().all(|&b| b == i as u8));
    }
}

#[tokio::test]
async fn an_item_with_a_reference_longer_than_a_chunk_comes_in_pieces_of_at_most_a_chunk() {
    let (_numbers, server, mut raw) = serve().await;
    let sizes = vec![1usize << 20, 10];
    let exports = || server.connections()[0].stats().exports;
    let before = exports();
    let stream = open(&mut raw, "labelled", &args(&(sizes.clone(),))).await;
    let (items, answers) = read_in_pieces::<(WireRef, Vec<u8>)>(&mut raw, stream, sizes.len(), false).await;
    assert_eq!(answers, 6, "four pieces of 256 KiB and a fifth of the rest, then the small item");
    for (i, (object, data)) in items.iter().enumerate() {
        assert!(matches!(object, WireRef::Sender { .. }), "item {i}'s object is the server's: {object:?}");
        assert_eq!(data.len(), sizes[i]);
        assert!(data.iter().all(|&b| b == i as u8));
    }
    // The stream and the two objects are exported, each once.
    assert_eq!(exports() - before, 3);
}
