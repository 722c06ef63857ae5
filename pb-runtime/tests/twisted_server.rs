//! A pb server for Twisted clients (`Server::bind_twisted`) on the wire:
//! fed the client's side of real Twisted transcripts it answers with the
//! server's bytes, and hostile or broken input gets an error or a closed
//! connection, never a panic or a hang.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pb_runtime::wire::twisted::banana::{self, Dialect, Limits, Splitter};
use pb_runtime::wire::twisted::broker::{Failure, Message};
use pb_runtime::{Config, Error, Server};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Twisted's `aurora.User`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    id: i64,
    name: String,
}

/// `[id, name]` as a Python list (what `server.py`'s `put_user` answers).
pub struct IdName(i64, String);

impl Serialize for IdName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&self.0)?;
        seq.serialize_element(&self.1)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for IdName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (id, name) = <(i64, String)>::deserialize(d)?;
        Ok(IdName(id, name))
    }
}

#[pb_macros::remote_interface(crate = "pb_runtime")]
pub trait Root {
    async fn get_user(&self, id: i64) -> Result<User, Error>;
    async fn put_user(&self, user: User) -> Result<IdName, Error>;
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error>;
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error>;
    async fn fail(&self) -> Result<(), Error>;
    async fn boom(&self) -> Result<(), Error>;
}

#[pb_macros::remote_interface(crate = "pb_runtime")]
pub trait Thing {
    async fn ping(&self, x: i64) -> Result<i64, Error>;
}

#[pb_macros::remote_interface(crate = "pb_runtime")]
pub trait Hello {
    async fn hello(&self, text: String) -> Result<String, Error>;
}

struct Server1;
struct Thing1;

#[pb_macros::remote_impl(crate = "pb_runtime")]
impl Thing for Thing1 {
    async fn ping(&self, x: i64) -> Result<i64, Error> {
        Ok(x + 1)
    }
}

#[pb_macros::remote_impl(crate = "pb_runtime")]
impl Root for Server1 {
    async fn get_user(&self, id: i64) -> Result<User, Error> {
        Ok(User { id, name: "alice".into() })
    }
    async fn put_user(&self, user: User) -> Result<IdName, Error> {
        Ok(IdName(user.id, user.name))
    }
    async fn thing(&self) -> Result<Arc<dyn Thing>, Error> {
        Ok(Arc::new(Thing1))
    }
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, Error> {
        hello.hello(text).await
    }
    async fn fail(&self) -> Result<(), Error> {
        Err(Error::Remote { kind: "twisted.spread.pb.Error".into(), message: "nope".into() })
    }
    async fn boom(&self) -> Result<(), Error> {
        Err(Error::Remote { kind: "builtins.ValueError".into(), message: "boom".into() })
    }
}

async fn serve(config: Config) -> Server {
    let root = pb_runtime::root::<dyn Root>(Arc::new(Server1));
    Server::bind_twisted_with("127.0.0.1:0", root, config).await.unwrap()
}

const WAIT: Duration = Duration::from_secs(5);

/// A Twisted client played byte by byte.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    splitter: Splitter,
}

impl Raw {
    async fn connect(server: &Server) -> Raw {
        let stream = TcpStream::connect(server.local_addr()).await.unwrap();
        Raw { stream, buf: BytesMut::new(), splitter: Splitter::new(Limits::default()) }
    }

    /// Connect and run the handshake as `fixtures/handshake.txt` records it.
    async fn open(server: &Server) -> Raw {
        let mut raw = Raw::connect(server).await;
        let lines = fixtures::load("handshake");
        let (offer, pick, version) = (&lines[0].bytes, &lines[1].bytes, &lines[2].bytes);
        assert_eq!(raw.recv().await.as_deref(), Some(&offer[..]), "the server offers its dialects first");
        raw.send(pick).await;
        raw.splitter.set_dialect(Dialect::Pb);
        raw.send(version).await;
        assert_eq!(raw.recv().await.as_deref(), Some(&lines[3].bytes[..]), "the server's version");
        raw
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next whole expression's bytes, or `None` when the server closed.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(expr) = self.splitter.split(&mut self.buf).unwrap() {
                    return Some(expr.to_vec());
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("the server answered or closed in time")
    }

    async fn recv_message(&mut self) -> Message {
        let bytes = self.recv().await.expect("a message, not a closed connection");
        Message::decode(&Bytes::from(bytes), Dialect::Pb, 64).unwrap()
    }

    /// Whether the server closes the connection (sending nothing more).
    async fn is_closed(&mut self) -> bool {
        self.recv().await.is_none()
    }
}

/// Play `case`: send each C>S line, and expect each S>C line as sent.
async fn play(raw: &mut Raw, case: &str) {
    for line in fixtures::load(case) {
        match line.dir.as_str() {
            "C>S" => raw.send(&line.bytes).await,
            _ => assert_eq!(raw.recv().await, Some(line.bytes.clone()), "{}", line.at()),
        }
    }
}

#[tokio::test]
async fn transcripts_of_real_twisted_get_the_same_bytes_back() {
    let server = serve(Config::default()).await;
    let mut raw = Raw::open(&server).await;
    play(&mut raw, "copyable_result").await;
    play(&mut raw, "copyable_argument").await;
    play(&mut raw, "reference_and_decref").await;
    // Twisted's server releases the client's callback as soon as its method
    // has returned a Deferred; pb's holds it until the method (which awaits
    // the callback) completes: the same bytes, the decref after the
    // client's answer rather than before it.
    let lines = fixtures::load("reference_from_client");
    let bytes = |i: usize| Some(lines[i].bytes.clone());
    raw.send(&lines[0].bytes).await;
    assert_eq!(raw.recv().await, bytes(1), "pb calls the client's object back");
    raw.send(&lines[3].bytes).await;
    assert_eq!(raw.recv().await, bytes(2), "then releases it");
    assert_eq!(raw.recv().await, bytes(4), "and answers");
    raw.send(&Message::Version(6).encode(Dialect::Pb).unwrap()).await; // a round trip
    play(&mut raw, "copyable_result").await;
    assert_eq!(server.twisted_connections()[0].exported(), 0, "the thing was released by its decref");
}

#[tokio::test]
async fn failures_say_what_twisted_says() {
    let server = serve(Config::default()).await;
    let mut raw = Raw::open(&server).await;
    let lines = fixtures::load("errors");
    for pair in lines.chunks(2) {
        raw.send(&pair[0].bytes).await;
        let ours = raw.recv_message().await;
        let theirs = Message::decode(&Bytes::from(pair[1].bytes.clone()), Dialect::Pb, 64).unwrap();
        let (Message::Error { req: a, failure: ours }, Message::Error { req: b, failure: theirs }) = (ours, theirs)
        else {
            panic!("{}: not a failure", pair[1].at());
        };
        let (ours, theirs) = (Failure::from_value(&ours).unwrap(), Failure::from_value(&theirs).unwrap());
        assert_eq!((a, &ours.kind, &ours.value), (b, &theirs.kind, &theirs.value), "{}", pair[1].at());
        assert_eq!(ours.parents, theirs.parents, "{}", pair[1].at());
    }
}

/// `["message", req, target, name, answer, args, kw]` in dialect pb.
fn message(req: u64, target: banana::Value, name: &[u8], answer: bool, args: banana::Value) -> Vec<u8> {
    use pb_runtime::wire::twisted::jelly::form;
    let items = vec![
        banana::Value::bytes(b"message"),
        banana::Value::Int(req.into()),
        target,
        banana::Value::Bytes(Bytes::copy_from_slice(name)),
        banana::Value::Int(answer.into()),
        args,
        form::dictionary([]),
    ];
    banana::encode_to_vec(&banana::Value::List(items), Dialect::Pb).unwrap()
}

fn root() -> banana::Value {
    banana::Value::bytes(b"root")
}

fn failure_of(m: Message, req: u64) -> Failure {
    match m {
        Message::Error { req: r, failure } if r == req => Failure::from_value(&failure).unwrap(),
        other => panic!("expected the failure of {req}, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_calls_are_answered_and_the_connection_stays() {
    use pb_runtime::wire::twisted::jelly::form;
    let server = serve(Config::default()).await;
    let mut raw = Raw::open(&server).await;
    let seven = form::tuple([banana::Value::Int(7)]);
    raw.send(&message(1, banana::Value::Int(99), b"get_user", true, seven.clone())).await;
    let f = failure_of(raw.recv_message().await, 1);
    assert_eq!((f.kind.as_str(), f.value.as_str()), ("twisted.spread.pb.Error", "Invalid Object ID"));
    raw.send(&message(2, banana::Value::bytes(b"elsewhere"), b"get_user", true, seven.clone())).await;
    assert_eq!(failure_of(raw.recv_message().await, 2).value, "Invalid Object ID");
    raw.send(&message(3, root(), b"get_\xffuser", true, seven.clone())).await;
    assert!(failure_of(raw.recv_message().await, 3).check("twisted.spread.flavors.NoSuchMethod"));
    raw.send(&message(4, root(), b"get_user", true, banana::Value::Int(7))).await;
    assert!(failure_of(raw.recv_message().await, 4).value.contains("not a tuple"), "arguments that are not a tuple");
    raw.send(&message(5, root(), b"get_user", true, form::tuple([form::unicode("seven")]))).await;
    assert!(failure_of(raw.recv_message().await, 5).check("twisted.spread.pb.Error"), "an argument of another type");
    // A cache message: pb sends no caches.
    let mut cache = message(6, banana::Value::Int(1), b"added", true, form::tuple([]));
    cache.splice(2..4, [0x19, 0x87]); // "cachemessage" (vocab 25) for "message" (vocab 26)
    raw.send(&cache).await;
    assert_eq!(failure_of(raw.recv_message().await, 6).value, "Invalid Object ID");
    // An answer to no call of ours is dropped; a oneway call that fails
    // gets nothing; the next call is answered with its own id.
    raw.send(&Message::Answer { req: 77, value: form::none() }.encode(Dialect::Pb).unwrap()).await;
    raw.send(&message(8, root(), b"fail", false, form::tuple([]))).await;
    raw.send(&message(9, root(), b"no_such", false, form::tuple([]))).await;
    raw.send(&message(10, root(), b"get_user", true, seven)).await;
    match raw.recv_message().await {
        Message::Answer { req: 10, .. } => {}
        other => panic!("expected the answer to 10, got {other:?}"),
    }
}

/// Bytes that break banana or PB, each sent after a good handshake.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend([0x01, 0x80]);
    }
    deep.extend([0x00, 0x81]);
    let mut long_prefix = vec![0x01; 65];
    long_prefix.push(0x81);
    vec![
        ("a 65-byte prefix", long_prefix),
        ("a list of 655,361", vec![0x01, 0x00, 0x28, 0x80]),
        ("an unknown type byte", vec![0x01, 0x88]),
        ("an unknown vocabulary index", vec![0x20, 0x87]),
        ("an unknown command", vec![0x01, 0x80, 0x03, 0x82, b'x', b'x', b'x']),
        ("a malformed message", vec![0x02, 0x80, 0x1a, 0x87, 0x01, 0x81]),
        ("a version other than 6", vec![0x02, 0x80, 0x13, 0x87, 0x05, 0x81]),
        ("nesting over the depth limit", deep),
        ("a decref of an object never sent", vec![0x02, 0x80, 0x1d, 0x87, 0x05, 0x81]),
    ]
}

#[tokio::test]
async fn hostile_input_closes_the_connection_not_the_server() {
    let server = serve(Config::default()).await;
    for (what, bytes) in hostile() {
        let mut raw = Raw::open(&server).await;
        raw.send(&bytes).await;
        assert!(raw.is_closed().await, "{what}: the connection was not closed");
    }
    // A peer that picks no dialect pb offered, or answers with a list.
    for pick in [&b"\x05\x82bogus"[..], &b"\x00\x80"[..]] {
        let mut raw = Raw::connect(&server).await;
        raw.recv().await.expect("the offer");
        raw.send(pick).await;
        assert!(raw.is_closed().await, "{pick:?}");
    }
    let mut raw = Raw::open(&server).await;
    play(&mut raw, "copyable_result").await;
}

#[tokio::test]
async fn slow_peers_are_dropped_by_the_deadlines() {
    let config =
        Config::default().handshake_timeout(Duration::from_millis(200)).frame_timeout(Duration::from_millis(200));
    let server = serve(config).await;
    // Silent after the offer: the handshake deadline.
    let mut raw = Raw::connect(&server).await;
    raw.recv().await.expect("the offer");
    assert!(raw.is_closed().await, "the handshake deadline");
    // Half a message, then silence: the frame deadline.
    let mut raw = Raw::open(&server).await;
    let whole = message(1, root(), b"get_user", true, banana::Value::Int(7));
    raw.send(&whole[..whole.len() / 2]).await;
    assert!(raw.is_closed().await, "the frame deadline");
    // Idle between messages is fine.
    let mut raw = Raw::open(&server).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    play(&mut raw, "copyable_result").await;
}

#[tokio::test]
async fn the_limits_hold_over_pbs_wire() {
    let config = Config::default().max_exports(1).max_frame_len(1024);
    let server = serve(config).await;
    let mut raw = Raw::open(&server).await;
    let thing = |req: u64| message(req, root(), b"thing", true, pb_runtime::wire::twisted::jelly::form::tuple([]));
    raw.send(&thing(1)).await;
    assert!(matches!(raw.recv_message().await, Message::Answer { req: 1, .. }));
    raw.send(&thing(2)).await;
    let f = failure_of(raw.recv_message().await, 2);
    assert_eq!(f.value, "limit exceeded: exports per connection (limit 1)");
    assert_eq!(server.twisted_connections()[0].exported(), 1, "the refused export was rolled back");
    // A message over the frame limit closes the connection.
    let big = pb_runtime::wire::twisted::jelly::form::tuple([banana::Value::Bytes(Bytes::from(vec![b'x'; 2000]))]);
    raw.send(&message(3, root(), b"get_user", true, big)).await;
    assert!(raw.is_closed().await, "a message over the frame limit");
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected() {
    use pb_runtime::wire::twisted::jelly::{self, form};
    let server = serve(Config::default().max_queued_bytes(256 << 10)).await;
    let mut raw = Raw::open(&server).await;
    let user = jelly::to_value(&User { id: 1, name: "x".repeat(100_000) }).unwrap();
    let call = message(1, root(), b"put_user", true, form::tuple([user]));
    // Keep calling, never reading: the answers pile up on the server.
    let sent = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..2_000 {
            if raw.stream.write_all(&call).await.is_err() {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(sent, Ok(true) | Err(_)), "the server kept reading calls it could not answer");
    eventually(|| server.twisted_connections().is_empty()).await;
}

async fn eventually(f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the connection was not closed");
}
