//! What the `twisted_connection` target serves to a Twisted client, and its
//! seeds: PB messages a Twisted client sends after the handshake.

use std::collections::BTreeMap;
use std::sync::Arc;

use pb::wire::twisted::banana::{Dialect, Value};
use pb::wire::twisted::broker::{Call, Message, Target};
use pb::wire::twisted::jelly::{self, form};
use serde::{Deserialize, Serialize};

use crate::{FuzzError, Mixed, Tree};

/// Twisted's `aurora.User` copyable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
pub struct User {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// What `echo` returns: its arguments.
pub type Echoed = (String, i64, Vec<i64>, BTreeMap<String, i64>);

/// A Twisted client's callback object (`remote_hello`).
#[pb::remote_interface]
pub trait Hello {
    /// Greets `text`.
    async fn hello(&self, text: String) -> Result<String, FuzzError>;
}

/// What the `twisted_connection` target serves as the root: the methods
/// of Twisted's reference server (`server.py`, so the fixtures' calls
/// reach them) and copies, references both ways, `AnyRef`, recursive
/// values and a oneway method.
#[pb::remote_interface]
pub trait TwistedTarget {
    /// Returns its arguments.
    async fn echo(&self, s: String, n: i64, l: Vec<i64>, d: BTreeMap<String, i64>) -> Result<Echoed, FuzzError>;
    /// A copyable.
    async fn get_user(&self, id: i64) -> Result<User, FuzzError>;
    /// Takes a copyable.
    async fn put_user(&self, user: User) -> Result<(i64, String), FuzzError>;
    /// A new object, by reference.
    async fn thing(&self) -> Result<Arc<dyn TwistedTarget>, FuzzError>;
    /// `x + 1`.
    async fn ping(&self, x: i64) -> Result<i64, FuzzError>;
    /// Calls the client's object back and returns what it said.
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, FuzzError>;
    /// Fails with an application error.
    async fn fail(&self) -> Result<(), FuzzError>;
    /// Returns `m`.
    async fn mixed(&self, m: Mixed) -> Result<Mixed, FuzzError>;
    /// The nesting of `t`.
    async fn tree(&self, t: Tree) -> Result<u32, FuzzError>;
    /// Takes references inside data and returns them.
    async fn refs(&self, refs: Vec<Option<pb::Ref<dyn Hello>>>) -> Result<Vec<Option<pb::Ref<dyn Hello>>>, FuzzError>;
    /// Returns the reference it was given.
    async fn any(&self, object: pb::AnyRef) -> Result<pb::AnyRef, FuzzError>;
    /// Calls the reference it was given as a `Hello`.
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, FuzzError>;
    /// Runs, and answers no one who asked for no answer.
    #[pb(oneway)]
    async fn note(&self, x: i64) -> Result<(), FuzzError>;
}

/// The implementation of [`TwistedTarget`] the target serves.
#[derive(Default)]
pub struct TwistedTargets;

#[pb::remote_impl]
impl TwistedTarget for TwistedTargets {
    async fn echo(&self, s: String, n: i64, l: Vec<i64>, d: BTreeMap<String, i64>) -> Result<Echoed, FuzzError> {
        Ok((s, n, l, d))
    }
    async fn get_user(&self, id: i64) -> Result<User, FuzzError> {
        Ok(User { id, name: "alice".into() })
    }
    async fn put_user(&self, user: User) -> Result<(i64, String), FuzzError> {
        Ok((user.id, user.name))
    }
    async fn thing(&self) -> Result<Arc<dyn TwistedTarget>, FuzzError> {
        Ok(Arc::new(TwistedTargets))
    }
    async fn ping(&self, x: i64) -> Result<i64, FuzzError> {
        Ok(x.wrapping_add(1))
    }
    async fn call_back(&self, hello: Arc<dyn Hello>, text: String) -> Result<String, FuzzError> {
        hello.hello(text).await
    }
    async fn fail(&self) -> Result<(), FuzzError> {
        Err(FuzzError::Pb(pb::Error::Remote { kind: "twisted.spread.pb.Error".into(), message: "nope".into() }))
    }
    async fn mixed(&self, m: Mixed) -> Result<Mixed, FuzzError> {
        Ok(m)
    }
    async fn tree(&self, t: Tree) -> Result<u32, FuzzError> {
        Ok(t.nesting() as u32)
    }
    async fn refs(&self, refs: Vec<Option<pb::Ref<dyn Hello>>>) -> Result<Vec<Option<pb::Ref<dyn Hello>>>, FuzzError> {
        Ok(refs)
    }
    async fn any(&self, object: pb::AnyRef) -> Result<pb::AnyRef, FuzzError> {
        Ok(object)
    }
    async fn any_hello(&self, object: pb::AnyRef, text: String) -> Result<String, FuzzError> {
        object.downcast::<dyn Hello>()?.hello(text).await
    }
    async fn note(&self, _x: i64) -> Result<(), FuzzError> {
        Ok(())
    }
}

/// What a Twisted client sends first, after the server's offer: its
/// dialect (`b"pb"`) and its PB version.
pub fn twisted_handshake() -> Vec<u8> {
    let mut bytes = b"\x02\x82pb".to_vec();
    bytes.extend(Message::Version(6).encode(Dialect::Pb).expect("a version encodes"));
    bytes
}

/// `["remote", luid]`: one of the client's own objects.
fn remote(luid: i64) -> Value {
    form::list([Value::bytes(b"remote"), Value::Int(luid.into())])
}

/// A call of `method` on `target` (`None`: the root) with jelly `args`.
fn message(req: u64, target: Option<u64>, method: &str, answer: bool, args: Vec<Value>, kw: Value) -> Vec<u8> {
    let target = target.map_or_else(Target::root, Target::Luid);
    let call = Call {
        req,
        target,
        method: method.as_bytes().to_vec().into(),
        answer_required: answer,
        args: form::tuple(args),
        kw,
    };
    Message::Call(call).encode(Dialect::Pb).expect("a call encodes")
}

/// A call of the root with jelly `args`.
fn call(req: u64, method: &str, args: Vec<Value>) -> Vec<u8> {
    message(req, None, method, true, args, form::dictionary([]))
}

/// `v` as jelly.
fn j<T: Serialize>(v: &T) -> Value {
    jelly::to_value(v).expect("a seed value encodes")
}

fn encode(m: Message) -> Vec<u8> {
    m.encode(Dialect::Pb).expect("a message encodes")
}

/// Seeds of the `twisted_connection` target (the bytes after the
/// handshake): calls of each [`TwistedTarget`] method, with references
/// both ways, answers to the server's calls, releases, keyword arguments,
/// and deep values.
pub fn twisted_connection_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut deep = Tree::Leaf(1);
    for _ in 0..40 {
        deep = Tree::Node(vec![deep]);
    }
    let kw = form::dictionary([(form::unicode("n"), Value::Int(2)), (form::unicode("s"), form::unicode("x"))]);
    vec![
        ("echo", call(1, "echo", vec![j(&"a"), j(&1i64), j(&vec![1i64, 2]), j(&BTreeMap::from([("k", 3i64)]))])),
        (
            "echo_keywords",
            message(1, None, "echo", true, vec![], {
                let mut kw = kw.clone();
                if let Value::List(items) = &mut kw {
                    items.push(form::list([form::unicode("l"), j(&Vec::<i64>::new())]));
                    items.push(form::list([form::unicode("d"), j(&BTreeMap::<String, i64>::new())]));
                }
                kw
            }),
        ),
        (
            "copyables",
            [call(1, "get_user", vec![j(&7i64)]), call(2, "put_user", vec![j(&User { id: 9, name: "bob".into() })])]
                .concat(),
        ),
        (
            "thing_ping_decref",
            [
                call(1, "thing", vec![]),
                message(2, Some(1), "ping", true, vec![j(&41i64)], form::dictionary([])),
                encode(Message::Decref(1)),
                message(3, Some(1), "ping", true, vec![j(&1i64)], form::dictionary([])),
            ]
            .concat(),
        ),
        (
            "call_back_answered",
            [call(1, "call_back", vec![remote(1), j(&"hi")]), encode(Message::Answer { req: 1, value: j(&"got hi") })]
                .concat(),
        ),
        (
            "fail_and_unknown",
            [
                call(1, "fail", vec![]),
                call(2, "nope", vec![]),
                message(3, Some(99), "ping", true, vec![], form::dictionary([])),
            ]
            .concat(),
        ),
        ("mixed", call(1, "mixed", vec![j(&Mixed::sample())])),
        ("deep_tree", call(1, "tree", vec![j(&deep)])),
        ("refs", call(1, "refs", vec![form::list([remote(1), form::none(), remote(2)])])),
        (
            "any",
            [
                call(1, "any", vec![remote(1)]),
                call(2, "thing", vec![]),
                call(3, "any", vec![form::list([Value::bytes(b"local"), Value::Int(1)])]),
                call(4, "any_hello", vec![remote(2), j(&"x")]),
                encode(Message::Answer { req: 1, value: j(&"hello x") }),
            ]
            .concat(),
        ),
        (
            "oneway",
            [message(1, None, "note", false, vec![j(&1i64)], form::dictionary([])), call(2, "note", vec![j(&2i64)])]
                .concat(),
        ),
        ("decref_unknown", encode(Message::Decref(5))),
    ]
}
