//! The hostile-peer suite: raw sockets against a real `pb::Server`, one test
//! per attack. After each, [`Harness::check`] asserts that the server is
//! alive, that the hostile connections are gone, that the process never
//! allocated more than a budget beyond its baseline (a counting global
//! allocator measures it) and freed it again, and that a second,
//! well-behaved client is served correctly.
//!
//! The counters are process-wide, so the tests take turns (`SERIAL`).

use std::time::Duration;

use pb::wire::{Header, WireRef};
use pb::{Config, Error};
use pb_tests::alloc::Counting;
use pb_tests::aurora::UserError;
use pb_tests::hostile::{DEFAULT_PEAK_BUDGET, Harness, Target, Tree, method};
use pb_tests::raw::{RawPeer, fault, socket_closed_within};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[global_allocator]
static ALLOC: Counting = Counting;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long the server may take to close a hostile connection.
const CLOSE: Duration = Duration::from_secs(5);

fn args<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

fn ok<T: serde::de::DeserializeOwned>(reply: (bool, bytes::Bytes)) -> Result<T, UserError> {
    assert!(reply.0, "expected the method to run, got the fault {:?}", fault(&reply.1));
    postcard::from_bytes(&reply.1).unwrap()
}

fn failed(reply: (bool, bytes::Bytes)) -> Error {
    assert!(!reply.0, "expected a fault, the method ran");
    fault(&reply.1)
}

/// The id of a fresh child object exported to `raw`.
async fn child_of(raw: &mut RawPeer) -> u64 {
    let r: Result<WireRef, UserError> = ok(raw.call(0, method("child"), &[]).await);
    match r.unwrap() {
        WireRef::Sender { id, .. } => id,
        other => panic!("expected an export, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_bytes_close_only_that_connection() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;

    // Another protocol altogether: "GET " reads as a 1.2 GB length prefix.
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: pb\r\n\r\n").await.unwrap();
    assert!(socket_closed_within(&mut s, CLOSE).await, "closed on an http request");

    // Random bytes, then end of stream.
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..20 {
        let mut s = TcpStream::connect(h.addr).await.unwrap();
        let junk: Vec<u8> = (0..rng.usize(1..4096)).map(|_| rng.u8(..)).collect();
        s.write_all(&junk).await.unwrap();
        s.shutdown().await.unwrap();
        assert!(socket_closed_within(&mut s, CLOSE).await, "closed on random bytes");
    }

    // Well-framed garbage after a good handshake: a header that does not decode.
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    raw.write_raw(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]).await;
    assert!(raw.closed_within(CLOSE).await);
    assert!(conn.close_reason().unwrap().contains("header"), "{:?}", conn.close_reason());

    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn huge_length_prefixes_are_refused_before_allocating() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;

    // The largest prefix the 4-byte framing can express (4 GiB - 1), before
    // and after the handshake.
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    assert!(socket_closed_within(&mut s, CLOSE).await);
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    raw.write_raw(&u32::MAX.to_be_bytes()).await;
    assert!(raw.closed_within(CLOSE).await);
    assert!(conn.close_reason().unwrap().contains("over the limit"), "{:?}", conn.close_reason());

    // 4 GiB itself does not fit in the prefix: written as 8 bytes, it frames
    // as a one-byte frame (no valid header) and is refused as garbage.
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    raw.write_raw(&(4u64 << 30).to_be_bytes()).await;
    assert!(raw.closed_within(CLOSE).await);

    // One byte over the limit.
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    raw.write_raw(&((16u32 << 20) + 1).to_be_bytes()).await;
    assert!(raw.closed_within(CLOSE).await);

    // A prefix of exactly the limit (16 MiB) and ten bytes: the server waits
    // for the rest, holding ten bytes, not 16 MiB.
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    raw.write_raw(&(16u32 << 20).to_be_bytes()).await;
    raw.write_raw(&[0; 10]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!conn.is_closed(), "a frame within the limit is waited for");
    assert!(h.peak_growth() < 2 << 20, "a 16 MiB claim allocated {} bytes", h.peak_growth());
    drop(raw);

    h.check(0, 2 << 20).await;
}

#[tokio::test]
async fn a_truncated_frame_then_close_is_a_clean_close() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    raw.write_raw(&100u32.to_be_bytes()).await;
    raw.write_raw(&[1; 10]).await;
    raw.shutdown_write().await;
    assert!(raw.closed_within(CLOSE).await);
    assert!(conn.close_reason().unwrap().contains("remaining"), "{:?}", conn.close_reason());
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn a_message_nested_100_000_deep_gets_a_depth_error() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    // Without a limit, decoding this overflows the server's stack.
    let deep = Tree::encode_chain(100_000);
    match failed(raw.call(0, method("depth"), &deep).await) {
        Error::LimitExceeded { what, limit } => {
            assert_eq!(limit, 64);
            assert!(what.contains("nesting depth"), "{what}");
        }
        other => panic!("expected the depth limit, got {other:?}"),
    }
    // The connection goes on, and shallow trees are fine.
    assert_eq!(ok::<u32>(raw.call(0, method("depth"), &Tree::encode_chain(10)).await), Ok(11));

    // A well-behaved caller gets the limit as a typed error too.
    let client = pb::Client::connect(h.addr.to_string()).await.unwrap();
    let target = client.root::<dyn Target>().unwrap();
    let mut tree = Tree::Leaf(0);
    for _ in 0..40 {
        tree = Tree::Node(vec![tree]);
    }
    match target.depth(tree).await {
        Err(UserError::Pb(Error::LimitExceeded { limit: 64, .. })) => {}
        other => panic!("expected the depth limit, got {other:?}"),
    }
    client.close();
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn arguments_that_decode_past_the_budget_get_a_size_error() {
    let _turn = SERIAL.lock().await;
    let budget = 1 << 20;
    let h = Harness::start(Config::default().max_decoded_len(budget)).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    // 200 KB on the wire, 3.2 MB of values (2 bytes a leaf, 32 in memory).
    let wide = Tree::Node(vec![Tree::Leaf(0); 100_000]);
    match failed(raw.call(0, method("depth"), &args(&(wide,))).await) {
        Error::LimitExceeded { what, limit } => {
            assert_eq!(limit, budget as u64);
            assert!(what.contains("decoded size"), "{what}");
        }
        other => panic!("expected the decoded-size limit, got {other:?}"),
    }
    // The connection goes on, and smaller messages are fine.
    let narrow = Tree::Node(vec![Tree::Leaf(0); 1000]);
    assert_eq!(ok::<u32>(raw.call(0, method("depth"), &args(&(narrow,))).await), Ok(2));
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn forged_object_ids_reach_nothing() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut victim, _) = RawPeer::connect(h.addr).await;
    let (mut attacker, _) = RawPeer::connect(h.addr).await;
    let echo = method("echo");

    // Ids never exported.
    for id in [1, 2, 12_345, u64::MAX] {
        assert_eq!(failed(attacker.call(id, echo, &args(&(1u64,))).await), Error::UnknownObject { id });
    }

    // An id exported on another connection: named as a target, or passed back
    // as "your reference" inside the arguments.
    let theirs = child_of(&mut victim).await;
    assert_eq!(failed(attacker.call(theirs, echo, &args(&(1u64,))).await), Error::UnknownObject { id: theirs });
    let forged = WireRef::Receiver { id: theirs };
    assert_eq!(
        failed(attacker.call(0, method("is_local"), &args(&(forged,))).await),
        Error::UnknownObject { id: theirs }
    );
    // A reference claiming another interface.
    let wrong = WireRef::Sender { id: 9, iface: 0x1234 };
    assert!(matches!(
        failed(attacker.call(0, method("is_local"), &args(&(wrong,))).await),
        Error::WrongInterface { found: 0x1234, .. }
    ));

    // The victim's object still works for the victim, and only for it.
    assert_eq!(ok::<u64>(victim.call(theirs, echo, &args(&(5u64,))).await), Ok(5));
    drop((victim, attacker));
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn forged_method_ids_get_unknown_method() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    for m in [0, 1, 0xdead_beef, u32::MAX - 1] {
        match failed(raw.call(0, m, &[]).await) {
            Error::UnknownMethod { method, interface, .. } => {
                assert_eq!(method, m);
                assert!(interface.contains("Target"), "{interface}");
            }
            other => panic!("expected UnknownMethod, got {other:?}"),
        }
    }
    // The reserved id answers the interface description, whatever the arguments.
    let described: Result<pb::describe::InterfaceDescription, Error> = {
        let reply = raw.call(0, pb::wire::DESCRIBE_METHOD, &[0xff; 3]).await;
        assert!(reply.0, "the description is an ordinary reply");
        postcard::from_bytes(&reply.1).unwrap()
    };
    assert!(described.unwrap().name.contains("Target"));
    // A known method with arguments that do not decode.
    assert!(matches!(failed(raw.call(0, method("echo"), &[0xff; 11]).await), Error::Protocol(_)));
    assert_eq!(ok::<u64>(raw.call(0, method("echo"), &args(&(3u64,))).await), Ok(3));
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn releases_of_unknown_ids_and_double_releases_are_ignored() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    let echo = method("echo");

    raw.send(&Header::Release { id: 999, count: 1 }, &[]).await;
    raw.send(&Header::Release { id: u64::MAX, count: u64::MAX }, &[]).await;
    // The root cannot be released.
    raw.send(&Header::Release { id: 0, count: 1_000 }, &[]).await;
    assert_eq!(ok::<u64>(raw.call(0, echo, &args(&(1u64,))).await), Ok(1));

    let child = child_of(&mut raw).await;
    assert_eq!(conn.stats().exports, 2);
    raw.send(&Header::Release { id: child, count: 1 }, &[]).await;
    raw.send(&Header::Release { id: child, count: 1 }, &[]).await; // double
    assert_eq!(failed(raw.call(child, echo, &args(&(1u64,))).await), Error::UnknownObject { id: child });
    assert_eq!(conn.stats().exports, 1);

    // Releasing more than was sent drops the export once, no underflow.
    let again = child_of(&mut raw).await;
    assert_ne!(again, child, "ids are not reused");
    raw.send(&Header::Release { id: again, count: 50 }, &[]).await;
    assert_eq!(ok::<u64>(raw.call(0, echo, &args(&(2u64,))).await), Ok(2));
    assert_eq!(conn.stats().exports, 1);
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn replies_to_requests_never_sent_are_ignored() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    raw.send(&Header::Reply { req: 77, ok: true }, &[1, 2, 3]).await;
    raw.send(&Header::Reply { req: 0, ok: false }, &[0xff; 100]).await;
    raw.send(&Header::Reply { req: u64::MAX, ok: true }, &[]).await;
    raw.send(&Header::Pong { nonce: 5 }, &[]).await;
    assert_eq!(ok::<u64>(raw.call(0, method("echo"), &args(&(8u64,))).await), Ok(8));
    assert!(!conn.is_closed());
    assert_eq!(conn.stats().pending, 0);
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn a_flood_past_the_in_flight_limit_gets_busy() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default().max_in_flight(8)).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    let slow = method("slow");
    let mut reqs = Vec::new();
    for i in 0..2_000u64 {
        reqs.push(raw.feed(0, slow, &args(&(300u64, i))).await);
    }
    raw.flush().await;
    let (mut ran, mut busy) = (0, 0);
    let mut answered = std::collections::HashSet::new();
    while answered.len() < reqs.len() {
        let Some((Header::Reply { req, ok }, payload)) = raw.recv().await else { panic!("the server closed") };
        assert!(answered.insert(req), "one reply per call");
        if ok {
            ran += 1;
        } else {
            assert_eq!(fault(&payload), Error::Busy);
            busy += 1;
        }
        assert!(conn.stats().in_flight <= 8);
    }
    assert!(ran >= 8 && busy > 0, "ran {ran}, busy {busy}");
    assert!(h.root.most_running.load(std::sync::atomic::Ordering::SeqCst) <= 8);
    assert_eq!(conn.stats().in_flight, 0);
    assert_eq!(ok::<u64>(raw.call(0, method("echo"), &args(&(1u64,))).await), Ok(1));
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test(start_paused = true)]
async fn slowloris_peers_are_cut_at_the_handshake_timeout() {
    let _turn = SERIAL.lock().await;
    let timeout = Duration::from_secs(3);
    let h = Harness::start(Config::default().handshake_timeout(timeout)).await;
    // Paused clock: a second per byte costs no real time.
    let start = tokio::time::Instant::now();
    let hello = pb_tests::raw::frame(&Header::Hello { magic: 0x7062_0001, version: 1, root: None }, &[]);
    let mut hello_framed = (hello.len() as u32).to_be_bytes().to_vec();
    hello_framed.extend_from_slice(&hello);
    let mut peers = Vec::new();
    for _ in 0..20 {
        peers.push(TcpStream::connect(h.addr).await.unwrap());
    }
    let mut sent = 0;
    let mut open = peers.len();
    while open > 0 && sent < hello_framed.len() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        open = 0;
        for p in &mut peers {
            if p.write_all(&hello_framed[sent..=sent]).await.is_ok() && !socket_closed_within(p, Duration::ZERO).await {
                open += 1;
            }
        }
        sent += 1;
    }
    let took = start.elapsed();
    assert_eq!(open, 0, "every slow peer was cut");
    assert!(sent < hello_framed.len(), "cut before the hello was complete");
    assert!(took >= timeout && took <= timeout + Duration::from_secs(2), "cut after {took:?}");
    assert_eq!(h.server.handshaking(), 0);
    assert!(h.server.connections().is_empty());
    drop(peers);

    tokio::time::resume();
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test(start_paused = true)]
async fn a_slowloris_after_the_handshake_is_cut_at_the_frame_timeout() {
    let _turn = SERIAL.lock().await;
    let timeout = Duration::from_secs(5);
    let h = Harness::start(Config::default().frame_timeout(timeout)).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    // Idle time between frames is fine.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!conn.is_closed());
    // A call, one byte per second.
    let call = pb_tests::raw::frame(&Header::Call { req: 1, target: 0, method: method("echo") }, &args(&(1u64,)));
    let mut bytes = (call.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&call);
    let start = tokio::time::Instant::now();
    for byte in &bytes {
        if conn.is_closed() {
            break;
        }
        let _ = raw.stream().write_all(&[*byte]).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(conn.is_closed(), "the slow peer was cut ({} bytes, {:?})", bytes.len(), start.elapsed());
    let took = start.elapsed();
    assert!(took > timeout && took <= timeout + Duration::from_secs(3), "cut after {took:?}");
    assert!(conn.close_reason().unwrap().contains("slow peer"), "{:?}", conn.close_reason());
    drop(raw);
    tokio::time::resume();
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn a_stalled_partial_frame_is_cut_at_the_frame_timeout() {
    let _turn = SERIAL.lock().await;
    // Real time: the frame must stall with every byte already read, so only
    // a timer of its own can cut it.
    let timeout = Duration::from_secs(1);
    let h = Harness::start(Config::default().frame_timeout(timeout)).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    // A 16 MiB frame announced, 15 MiB of it sent, then nothing.
    let mut bytes = (16u32 << 20).to_be_bytes().to_vec();
    bytes.resize(4 + (15 << 20), 0);
    let start = tokio::time::Instant::now();
    raw.stream().write_all(&bytes).await.unwrap();
    drop(bytes);
    while !conn.is_closed() && start.elapsed() < timeout + Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(conn.is_closed(), "the stalled frame was not cut after {:?}", start.elapsed());
    assert!(conn.close_reason().unwrap().contains("slow peer"), "{:?}", conn.close_reason());
    drop(raw);
    h.check(0, 40 << 20).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_at_once() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default().max_connections(4)).await;
    let mut peers = Vec::new();
    for _ in 0..4 {
        peers.push(RawPeer::connect(h.addr).await.0);
    }
    h.wait_connections(4).await;
    for _ in 0..20 {
        let mut s = TcpStream::connect(h.addr).await.unwrap();
        assert!(socket_closed_within(&mut s, CLOSE).await, "a connection over the limit is closed");
    }
    assert_eq!(h.server.connections().len(), 4);
    // The peers within the limit are served; a freed slot can be taken again.
    assert_eq!(ok::<u64>(peers[0].call(0, method("echo"), &args(&(9u64,))).await), Ok(9));
    peers.pop();
    h.wait_connections(3).await;
    let (mut again, _) = RawPeer::connect(h.addr).await;
    assert_eq!(ok::<u64>(again.call(0, method("echo"), &args(&(10u64,))).await), Ok(10));
    drop((peers, again));
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

#[tokio::test]
async fn a_peer_that_never_reads_is_cut_at_the_queue_limit() {
    let _turn = SERIAL.lock().await;
    let queue = 4 << 20;
    let h = Harness::start(Config::default().max_queued_bytes(queue)).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    // 64 KiB replies, far more of them than the socket buffers hold; never read.
    let blob = method("blob");
    let mut closed = false;
    for _ in 0..40 {
        for _ in 0..50 {
            raw.feed(0, blob, &args(&(64u32 << 10,))).await;
        }
        raw.flush().await;
        if tokio::time::timeout(Duration::from_millis(200), conn.closed()).await.is_ok() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server closed the connection of a peer that does not read");
    assert!(conn.close_reason().unwrap().contains("not reading"), "{:?}", conn.close_reason());
    // Memory stayed near the queue limit, and the writer let go of it.
    assert!(h.peak_growth() < queue + (4 << 20), "peak {} bytes", h.peak_growth());
    // The peer still holds its socket open and reads nothing, yet what was
    // queued for it is freed (after a short grace for the last writes).
    h.wait_freed(512 << 10).await;
    assert!(raw.closed_within(CLOSE).await, "the server closed its side");
    drop(raw);
    h.check(0, queue + (4 << 20)).await;
}

#[tokio::test]
async fn a_storm_of_1000_connects_and_disconnects() {
    let _turn = SERIAL.lock().await;
    let h = Harness::start(Config::default()).await;
    let hello = pb_tests::raw::frame(&Header::Hello { magic: 0x7062_0001, version: 1, root: None }, &[]);
    let mut hello_framed = (hello.len() as u32).to_be_bytes().to_vec();
    hello_framed.extend_from_slice(&hello);
    let storm = async {
        for batch in 0..20 {
            let mut tasks = Vec::new();
            for i in 0..50usize {
                let (addr, hello) = (h.addr, hello_framed.clone());
                tasks.push(tokio::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    match (batch * 50 + i) % 3 {
                        0 => {}                                            // connect and go
                        1 => s.write_all(&hello).await.unwrap_or(()),      // full hello, then go
                        _ => s.write_all(&hello[..3]).await.unwrap_or(()), // half a prefix
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), storm).await.expect("the storm ends within 60 s");
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}

/// Print the test methods' deliberate panics in one line: the default hook
/// would resolve a backtrace (tens of MiB of debug info, kept cached), which
/// the memory budget would count against the server.
fn quiet_boom_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if msg.starts_with("boom") {
                eprintln!("deliberate panic in a remote method: {msg}");
            } else {
                default(info);
            }
        }));
    });
}

#[tokio::test]
async fn panics_become_error_replies_and_others_are_served() {
    let _turn = SERIAL.lock().await;
    quiet_boom_panics();
    let h = Harness::start(Config::default()).await;
    let (mut raw, _) = RawPeer::connect(h.addr).await;
    let conn = h.newest_connection().await;
    let client = pb::Client::connect(h.addr.to_string()).await.unwrap();
    let target = client.root::<dyn Target>().unwrap();
    for name in ["explode", "explode_at_once"] {
        match failed(raw.call(0, method(name), &[]).await) {
            Error::Panicked { message } => assert!(message.contains("boom"), "{message}"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(ok::<u64>(raw.call(0, method("echo"), &args(&(4u64,))).await), Ok(4));
        assert_eq!(target.echo(5).await.unwrap(), 5, "another client is served meanwhile");
    }
    assert!(matches!(target.explode().await, Err(UserError::Pb(Error::Panicked { .. }))));
    assert!(matches!(target.explode_at_once().await, Err(UserError::Pb(Error::Panicked { .. }))));
    assert_eq!(target.echo(6).await.unwrap(), 6);
    assert!(!conn.is_closed());
    assert_eq!(conn.stats().in_flight, 0);
    client.close();
    drop(raw);
    h.check(0, DEFAULT_PEAK_BUDGET).await;
}
