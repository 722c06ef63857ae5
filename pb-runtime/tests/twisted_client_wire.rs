//! pb's Twisted client (`pb::twisted::connect`) on the wire, against a
//! Twisted server played byte by byte: the method names an interface's
//! `rename_all` gives, and `#[pb(oneway)]` calls sent with
//! `answerRequired = 0` and not waited for.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pb_runtime::Error;
use pb_runtime::wire::twisted::banana::{Dialect, Limits, Splitter, Value};
use pb_runtime::wire::twisted::broker::{Call, Message, Target};
use pb_runtime::wire::twisted::jelly::form;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[pb_macros::remote_interface(crate = "pb_runtime", rename_all = "camelCase")]
pub trait Root {
    async fn get_user(&self, id: i64) -> Result<i64, Error>;
    #[pb(name = "kept_as_is")]
    async fn explicit_name(&self) -> Result<(), Error>;
    #[pb(oneway)]
    async fn add_user(&self, name: String) -> Result<(), Error>;
}

/// [`Root`] with each wire name written out.
#[pb_macros::remote_interface(crate = "pb_runtime")]
pub trait Spelled {
    #[pb(name = "getUser")]
    async fn get_user(&self, id: i64) -> Result<i64, Error>;
    #[pb(name = "kept_as_is")]
    async fn explicit_name(&self) -> Result<(), Error>;
    #[pb(name = "addUser")]
    async fn add_user(&self, name: String) -> Result<(), Error>;
}

#[test]
fn rename_all_is_a_pb_name_on_each_method_ids_included() {
    use pb_runtime::Interface;
    let renamed = <dyn Root as Interface>::METHODS;
    let spelled = <dyn Spelled as Interface>::METHODS;
    let names: Vec<_> = renamed.iter().map(|m| m.name).collect();
    assert_eq!(names, ["getUser", "kept_as_is", "addUser"]);
    // Same wire names, same method ids and signatures: pb peers agree.
    assert_eq!(renamed, spelled);
}

const WAIT: Duration = Duration::from_secs(5);

/// The Twisted server's side of one connection.
struct Scripted {
    stream: TcpStream,
    buf: BytesMut,
    splitter: Splitter,
}

impl Scripted {
    /// Accept pb's connection and run the handshake as `fixtures/handshake.txt`
    /// records it; returns pb's side too.
    async fn open() -> (Scripted, pb_runtime::twisted::TwistedConnection) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connecting = tokio::spawn(pb_runtime::twisted::connect(addr));
        let (stream, _) = listener.accept().await.unwrap();
        let mut server = Scripted { stream, buf: BytesMut::new(), splitter: Splitter::new(Limits::default()) };
        let lines = fixtures::load("handshake");
        server.stream.write_all(&lines[0].bytes).await.unwrap();
        assert_eq!(server.recv().await, lines[1].bytes, "pb picks the dialect");
        server.splitter.set_dialect(Dialect::Pb);
        assert_eq!(server.recv().await, lines[2].bytes, "pb's version");
        server.stream.write_all(&lines[3].bytes).await.unwrap();
        let conn = tokio::time::timeout(WAIT, connecting).await.expect("connected in time").unwrap().unwrap();
        (server, conn)
    }

    /// The next whole expression pb sent.
    async fn recv(&mut self) -> Vec<u8> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(expr) = self.splitter.split(&mut self.buf).unwrap() {
                    return expr.to_vec();
                }
                let n = self.stream.read_buf(&mut self.buf).await.unwrap();
                assert!(n > 0, "pb closed the connection");
            }
        })
        .await
        .expect("pb sent a message in time")
    }

    /// The next call pb sent.
    async fn call(&mut self) -> Call {
        match Message::decode(&Bytes::from(self.recv().await), Dialect::Pb, 64).unwrap() {
            Message::Call(call) => call,
            other => panic!("not a call: {other:?}"),
        }
    }

    async fn send(&mut self, message: Message) {
        self.stream.write_all(&message.encode(Dialect::Pb).unwrap()).await.unwrap();
    }
}

#[tokio::test]
async fn rename_all_names_methods_on_the_wire_and_an_explicit_name_wins() {
    let (mut server, conn) = Scripted::open().await;
    let root = conn.root::<dyn Root>();
    let asking = tokio::spawn({
        let root = root.clone();
        async move { root.get_user(7).await }
    });
    let call = server.call().await;
    assert_eq!(&call.method[..], b"getUser");
    assert!(matches!(call.target, Target::Name(ref n) if &n[..] == b"root"));
    assert_eq!(call.args, form::tuple([Value::Int(7)]));
    server.send(Message::Answer { req: call.req, value: Value::Int(8) }).await;
    assert_eq!(asking.await.unwrap(), Ok(8));

    let asking = tokio::spawn({
        let root = root.clone();
        async move { root.explicit_name().await }
    });
    let call = server.call().await;
    assert_eq!(&call.method[..], b"kept_as_is");
    server.send(Message::Answer { req: call.req, value: form::none() }).await;
    assert_eq!(asking.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_oneway_call_asks_for_no_answer_and_does_not_wait_for_one() {
    let (mut server, conn) = Scripted::open().await;
    let root: Arc<dyn Root> = conn.root::<dyn Root>();
    // Returns at once: this server answers nothing.
    let sent = tokio::time::timeout(WAIT, root.add_user("carol".into())).await;
    assert_eq!(sent.expect("a oneway call does not wait"), Ok(()));
    let call = server.call().await;
    assert_eq!(&call.method[..], b"addUser");
    assert!(!call.answer_required, "answerRequired = 0");
    assert_eq!(call.args, form::tuple([form::unicode("carol")]));
    // The next call gets the next request id, and its answer as usual.
    let asking = tokio::spawn({
        let root = root.clone();
        async move { root.get_user(1).await }
    });
    let next = server.call().await;
    assert!(next.answer_required);
    assert_eq!(next.req, call.req + 1);
    server.send(Message::Answer { req: next.req, value: Value::Int(2) }).await;
    assert_eq!(asking.await.unwrap(), Ok(2));
    // Only a failure to send reaches the caller.
    conn.close();
    assert_eq!(root.add_user("dave".into()).await, Err(Error::Disconnected));
}
