//! Caches on PB's wire against a peer played message by message: a pb
//! server's model fed to a "Twisted client" (the exchange of
//! `fixtures/cacheable.txt`), a pb client's mirror fed by a "Twisted
//! server", and hostile cache messages both ways (an unknown luid, a state
//! that does not decode, an observer call with wrong arguments): an error
//! answered or the connection dropped as Twisted would, never a panic.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pb_runtime::wire::twisted::banana::{Dialect, Limits, Splitter, Value};
use pb_runtime::wire::twisted::broker::{Call, Failure, Message, Target};
use pb_runtime::wire::twisted::jelly::{self, CacheForm, CacheIn, EncodeOptions, form};
use pb_runtime::{Cache, Cacheable, Change, Error, Model, Server};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `server.py`'s `aurora.UserList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserListEvent {
    #[serde(rename = "added")]
    Added(String),
}

impl Cacheable for UserList {
    type Event = UserListEvent;
    const NAME: &'static str = "aurora.UserList";
    fn apply(&mut self, event: &UserListEvent) {
        let UserListEvent::Added(name) = event;
        self.users.push(name.clone());
    }
}

#[pb_macros::remote_interface(crate = "pb_runtime")]
pub trait Root {
    async fn users(&self) -> Result<Cache<UserList>, Error>;
    async fn add_user(&self, name: String) -> Result<(), Error>;
    /// A list whose one name is too long for PB's wire (640 KiB).
    async fn too_big(&self) -> Result<Cache<UserList>, Error>;
    /// Two copies of the list, read from a tuple of any length.
    #[pb(name = "users", id = 0x0ec4_0001)]
    async fn users_twice(&self) -> Result<Pair, Error>;
}

/// The first two items of a tuple (the rest is left unread).
#[derive(Debug)]
pub struct Pair(Cache<UserList>, Cache<UserList>);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pair;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a tuple of caches")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let missing = || serde::de::Error::custom("two caches");
                let a = seq.next_element()?.ok_or_else(missing)?;
                let b = seq.next_element()?.ok_or_else(missing)?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Pair(a, b))
            }
        }
        d.deserialize_seq(V)
    }
}

impl Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.0, &self.1).serialize(s)
    }
}

struct RootImpl(Model<UserList>, Model<UserList>);

#[pb_macros::remote_impl(crate = "pb_runtime")]
impl Root for RootImpl {
    async fn users(&self) -> Result<Cache<UserList>, Error> {
        Ok(self.0.cache())
    }
    async fn add_user(&self, name: String) -> Result<(), Error> {
        self.0.apply(UserListEvent::Added(name));
        Ok(())
    }
    async fn too_big(&self) -> Result<Cache<UserList>, Error> {
        Ok(self.1.cache())
    }
    async fn users_twice(&self) -> Result<Pair, Error> {
        Ok(Pair(self.0.cache(), self.0.cache()))
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// One end of a PB connection, played message by message.
struct Peer {
    stream: TcpStream,
    buf: BytesMut,
    splitter: Splitter,
}

impl Peer {
    fn new(stream: TcpStream) -> Peer {
        Peer { stream, buf: BytesMut::new(), splitter: Splitter::new(Limits::default()) }
    }

    /// A Twisted client of `server`, past the handshake.
    async fn client_of(server: &Server) -> Peer {
        let mut peer = Peer::new(TcpStream::connect(server.local_addr()).await.unwrap());
        let lines = fixtures::load("handshake");
        assert_eq!(peer.recv().await.as_deref(), Some(&lines[0].bytes[..]));
        peer.send(&lines[1].bytes).await;
        peer.splitter.set_dialect(Dialect::Pb);
        peer.send(&lines[2].bytes).await;
        assert_eq!(peer.recv().await.as_deref(), Some(&lines[3].bytes[..]));
        peer
    }

    /// A Twisted server for the client that connects to `listener`, past
    /// the handshake.
    async fn server_for(listener: &TcpListener) -> Peer {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = Peer::new(stream);
        let lines = fixtures::load("handshake");
        peer.send(&lines[0].bytes).await;
        assert_eq!(peer.recv().await.as_deref(), Some(&lines[1].bytes[..]), "the client picks pb");
        peer.splitter.set_dialect(Dialect::Pb);
        assert_eq!(peer.recv().await.as_deref(), Some(&lines[2].bytes[..]), "the client's version");
        peer.send(&lines[3].bytes).await;
        peer
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn send_message(&mut self, m: Message) {
        self.send(&m.encode(Dialect::Pb).unwrap()).await;
    }

    /// The next whole expression's bytes, or `None` when the peer closed.
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
        .expect("the peer sent or closed in time")
    }

    async fn recv_message(&mut self) -> Message {
        let bytes = self.recv().await.expect("a message, not a closed connection");
        Message::decode(&Bytes::from(bytes), Dialect::Pb, 64).unwrap()
    }

    /// Whether the peer closes the connection (sending nothing more).
    async fn is_closed(&mut self) -> bool {
        self.recv().await.is_none()
    }

    /// Nothing arrives for a moment.
    async fn is_quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(200), self.stream.read_buf(&mut self.buf)).await.is_err()
    }
}

fn call(req: u64, target: Target, method: &str, args: Value) -> Message {
    let mut call = Call::new(req, target, method, &(), &EncodeOptions::default()).unwrap();
    call.args = args;
    Message::Call(call)
}

fn cache_call(req: u64, luid: u64, method: &str, answer: bool, args: Value) -> Message {
    let mut call = Call::new(req, Target::Luid(luid), method, &(), &EncodeOptions::default()).unwrap();
    (call.args, call.answer_required) = (args, answer);
    Message::CacheCall(call)
}

fn answer_of(m: Message, req: u64) -> Value {
    match m {
        Message::Answer { req: r, value } if r == req => value,
        other => panic!("expected the answer to {req}, got {other:?}"),
    }
}

fn failure_of(m: Message, req: u64) -> Failure {
    match m {
        Message::Error { req: r, failure } if r == req => Failure::from_value(&failure).unwrap(),
        other => panic!("expected the failure of {req}, got {other:?}"),
    }
}

async fn serve() -> (Server, Model<UserList>) {
    serve_big().await.0
}

async fn serve_big() -> ((Server, Model<UserList>), Model<UserList>) {
    let model = Model::new(UserList { users: vec!["alice".into()] });
    let big = Model::new(UserList { users: vec!["x".repeat(700 << 10)] });
    let root = pb_runtime::root::<dyn Root>(Arc::new(RootImpl(model.clone(), big.clone())));
    ((Server::bind_twisted("127.0.0.1:0", root).await.unwrap(), model), big)
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not in time: {what}");
}

#[tokio::test]
async fn a_model_plays_the_cacheable_transcript_as_twisted_does() {
    let (server, model) = serve().await;
    let mut client = Peer::client_of(&server).await;
    let t: Vec<_> = fixtures::load("cacheable");
    // The client's own bytes: users, users, add_user("bob").
    client.send(&t[0].bytes).await;
    let first: CacheIn<UserList> = jelly::from_value(&answer_of(client.recv_message().await, 10)).unwrap();
    let CacheForm::Cache { tag, luid } = first.form else { panic!("{:?}", first.form) };
    assert_eq!((tag.as_str(), first.state.unwrap().users), ("aurora.UserList", vec!["alice".to_string()]));
    assert_eq!(model.observers(), 1);
    client.send(&t[2].bytes).await;
    let again: CacheIn<UserList> = jelly::from_value(&answer_of(client.recv_message().await, 11)).unwrap();
    assert_eq!(again.form, CacheForm::Cached(luid));
    client.send(&t[4].bytes).await;
    // As Twisted: the observer call goes out before the answer.
    let Message::CacheCall(c) = client.recv_message().await else { panic!("a cache message first") };
    assert_eq!((c.target, &c.method[..]), (Target::Luid(luid), &b"added"[..]));
    assert_eq!(jelly::from_value::<(String,)>(&c.args).unwrap().0, "bob");
    assert!(!c.answer_required, "pb waits for no answer");
    assert_eq!(answer_of(client.recv_message().await, 12), form::none());
    // One decache per copy; the last is answered with uncache.
    client.send_message(Message::Decache(luid)).await;
    assert!(client.is_quiet().await);
    assert_eq!(model.observers(), 1, "one copy is still held");
    client.send_message(Message::Decache(luid)).await;
    assert_eq!(client.recv_message().await, Message::Uncache(luid));
    assert_eq!(model.observers(), 0);
    // Another decache is one too many: Twisted's KeyError drops the
    // connection.
    client.send_message(Message::Decache(luid)).await;
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn a_cache_whose_answer_cannot_be_sent_is_taken_back() {
    let ((server, _), big) = serve_big().await;
    let mut client = Peer::client_of(&server).await;
    client.send_message(call(1, Target::root(), "too_big", form::tuple([]))).await;
    let f = failure_of(client.recv_message().await, 1);
    assert!(f.value.contains("640") || f.value.contains("limit"), "{}", f.value);
    assert_eq!(big.observers(), 0, "the peer never got it: nobody observes");
    big.apply(UserListEvent::Added("y".into()));
    assert!(client.is_quiet().await, "no cache message for a cache the peer does not hold");
}

#[tokio::test]
async fn releases_of_caches_never_sent_drop_the_connection() {
    let (server, model) = serve().await;
    for message in [Message::Decache(1), Message::Uncache(1)] {
        let mut client = Peer::client_of(&server).await;
        client.send_message(message.clone()).await;
        assert!(client.is_closed().await, "{message:?}");
    }
    // A cache message to a cache the client does not hold is an error
    // answer, as Twisted's "Invalid Object ID"; the connection stays.
    let mut client = Peer::client_of(&server).await;
    client.send_message(cache_call(1, 5, "added", true, form::tuple([]))).await;
    assert_eq!(failure_of(client.recv_message().await, 1).value, "Invalid Object ID");
    client.send_message(call(2, Target::root(), "users", form::tuple([]))).await;
    answer_of(client.recv_message().await, 2);
    assert_eq!(model.observers(), 1);
    // The connection's close releases the observer.
    drop(client);
    eventually("the observer is released", || model.observers() == 0).await;
}

/// A pb client connected to a played Twisted server: the server, and the
/// client's root.
async fn played() -> (Peer, pb_runtime::twisted::TwistedConnection, Arc<dyn Root>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = tokio::spawn(async move { pb_runtime::twisted::connect(addr).await.unwrap() });
    let server = Peer::server_for(&listener).await;
    let conn = connect.await.unwrap();
    let root = conn.root::<dyn Root>();
    (server, conn, root)
}

/// A pb client's call of `users` through a played Twisted server that
/// answers with `answer`: the server, the call's result, the connection.
async fn users_through(
    answer: Value,
) -> (Peer, Result<Cache<UserList>, Error>, pb_runtime::twisted::TwistedConnection) {
    let (mut server, conn, root) = played().await;
    let users = tokio::spawn(async move { root.users().await });
    let Message::Call(c) = server.recv_message().await else { panic!("the call") };
    assert_eq!(&c.method[..], b"users");
    server.send_message(Message::Answer { req: c.req, value: answer }).await;
    (server, users.await.unwrap(), conn)
}

fn cache_form(tag: &[u8], luid: i128, state: Value) -> Value {
    Value::List(vec![Value::Bytes(Bytes::copy_from_slice(tag)), Value::Int(luid), state])
}

fn user_list(names: &[&str]) -> Value {
    let list = form::tagged(form::names::LIST, names.iter().map(|n| form::unicode(n)));
    form::dictionary([(form::unicode("users"), list)])
}

#[tokio::test]
async fn a_twisted_cacheable_is_followed_and_bad_observer_calls_are_refused() {
    let (mut server, users, conn) = users_through(cache_form(b"aurora.UserList", 4, user_list(&["alice"]))).await;
    let users = users.unwrap();
    assert_eq!(users.state().users, ["alice"]);
    let mut changes = users.changes();
    // Calls no event of the model takes: failures, the mirror unchanged.
    let bob = || form::tuple([form::unicode("bob")]);
    let bad = [
        ("nope", bob()),
        ("added", form::tuple([])),
        ("added", form::tuple([form::unicode("a"), form::unicode("b")])),
        ("added", form::tuple([Value::Int(3)])),
    ];
    for (req, (method, args)) in (1..).zip(bad) {
        server.send_message(cache_call(req, 4, method, true, args.clone())).await;
        let f = failure_of(server.recv_message().await, req);
        assert!(f.value.contains("observe_"), "{method} {args:?}: {}", f.value);
    }
    // Not answered when no answer is wanted.
    server.send_message(cache_call(9, 4, "nope", false, bob())).await;
    // To a luid it never sent: Twisted's "Invalid Object ID".
    server.send_message(cache_call(10, 7, "added", true, bob())).await;
    assert_eq!(failure_of(server.recv_message().await, 10).value, "Invalid Object ID");
    // A good one is applied and answered with None.
    server.send_message(cache_call(11, 4, "added", true, bob())).await;
    assert_eq!(answer_of(server.recv_message().await, 11), form::none());
    let change = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut changes)).await.unwrap();
    assert!(matches!(change, Some(Change::Event(UserListEvent::Added(ref n))) if n == "bob"), "{change:?}");
    assert_eq!(users.state().users, ["alice", "bob"]);
    // Dropping the mirror decaches its one copy.
    drop((users, changes));
    assert_eq!(server.recv_message().await, Message::Decache(4));
    // The uncache that answers it forgets the cache; another is of a cache
    // never sent (Twisted's KeyError): the connection is dropped.
    server.send_message(Message::Uncache(4)).await;
    server.send_message(Message::Uncache(4)).await;
    assert!(server.is_closed().await);
    eventually("the client's connection closed", || conn.is_closed()).await;
}

#[tokio::test]
async fn copies_no_decode_keeps_are_released_at_once() {
    let not_a_list = form::dictionary([(form::unicode("users"), Value::Int(3))]);
    let cases = [
        ("a state that does not decode", cache_form(b"aurora.UserList", 4, not_a_list), true),
        ("another model's tag", cache_form(b"aurora.Other", 4, user_list(&[])), true),
        ("a later send of a cache never sent", Value::List(vec![Value::bytes(b"cached"), Value::Int(4)]), true),
        ("our own cache that we never sent", Value::List(vec![Value::bytes(b"lcache"), Value::Int(4)]), false),
        ("a negative luid", cache_form(b"aurora.UserList", -1, user_list(&[])), false),
    ];
    for (what, answer, copy) in cases {
        let (mut server, users, conn) = users_through(answer).await;
        assert!(matches!(users, Err(Error::Protocol(_)) | Err(Error::UnknownObject { .. })), "{what}: {users:?}");
        assert!(!conn.is_closed(), "{what}");
        if !copy {
            // No copy was sent, so none is released; the link still works.
            assert!(server.is_quiet().await, "{what}");
            server.send_message(cache_call(1, 4, "added", true, form::tuple([]))).await;
            assert_eq!(failure_of(server.recv_message().await, 1).value, "Invalid Object ID", "{what}");
            continue;
        }
        // The copy Twisted counted is released, so it stops observing.
        assert_eq!(server.recv_message().await, Message::Decache(4), "{what}");
        // Until its uncache arrives, its changes are dropped quietly.
        server.send_message(cache_call(1, 4, "added", true, form::tuple([form::unicode("x")]))).await;
        assert_eq!(answer_of(server.recv_message().await, 1), form::none(), "{what}");
        server.send_message(Message::Uncache(4)).await;
        server.send_message(cache_call(2, 4, "added", true, form::tuple([]))).await;
        assert_eq!(failure_of(server.recv_message().await, 2).value, "Invalid Object ID", "{what}");
    }
}

#[tokio::test]
async fn the_copy_of_an_abandoned_call_is_released() {
    let (mut server, conn, root) = played().await;
    let call = futures_util::FutureExt::now_or_never(root.users());
    assert!(call.is_none(), "the call was sent, then abandoned");
    let Message::Call(c) = server.recv_message().await else { panic!("the call") };
    server.send_message(Message::Answer { req: c.req, value: cache_form(b"aurora.UserList", 4, user_list(&[])) }).await;
    assert_eq!(server.recv_message().await, Message::Decache(4));
    // A copy kept by one decode and another left unread in the same
    // answer: only the unread one is released.
    let users = tokio::spawn(async move { root.users_twice().await });
    let Message::Call(c) = server.recv_message().await else { panic!("the call") };
    let cached = Value::List(vec![Value::bytes(b"cached"), Value::Int(5)]);
    let pair = form::tuple([cache_form(b"aurora.UserList", 5, user_list(&["al"])), cached.clone(), cached]);
    server.send_message(Message::Answer { req: c.req, value: pair }).await;
    let Pair(a, b) = users.await.unwrap().unwrap();
    assert!(a.ptr_eq(&b) && a.state().users == ["al"]);
    assert_eq!(server.recv_message().await, Message::Decache(5), "the third copy, which no field read");
    assert!(server.is_quiet().await);
    drop((a, b));
    assert_eq!(server.recv_message().await, Message::Decache(5));
    assert_eq!(server.recv_message().await, Message::Decache(5));
    assert!(!conn.is_closed());
}
