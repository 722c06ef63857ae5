//! What pb's fuzz targets share: the message types the message decoder is
//! fuzzed with, the interfaces the connection targets serve, and builders of
//! well-formed frames for the seed corpus (`make-seeds`).

pub mod twisted;

use std::collections::BTreeMap;
use std::sync::Arc;

use pb::wire::{Header, WireRef};
use serde::{Deserialize, Serialize};

/// Magic and version of a pb hello (see `pb::wire`).
pub const MAGIC: u32 = 0x7062_0001;
/// Protocol version.
pub const VERSION: u16 = 2;

/// A recursive value: nesting attacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tree {
    /// A leaf.
    Leaf(u32),
    /// A node.
    Node(Vec<Tree>),
}

impl Tree {
    /// Levels the depth limit counts for this tree as a top-level value:
    /// two per node (the enum and its `Vec`), one for a leaf.
    pub fn nesting(&self) -> usize {
        match self {
            Tree::Leaf(_) => 1,
            Tree::Node(c) => 2 + c.iter().map(Tree::nesting).max().unwrap_or(0),
        }
    }
}

/// A message with every kind of serde shape: structs, strings, options,
/// sequences, maps, enums, a recursive value and a pb error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixed {
    /// An integer.
    pub id: u64,
    /// A string.
    pub name: String,
    /// A sequence of options.
    pub tags: Vec<Option<String>>,
    /// A map.
    pub map: BTreeMap<u32, Vec<i64>>,
    /// A recursive value.
    pub tree: Tree,
    /// A pb error (the payload of failed replies).
    pub error: Option<pb::Error>,
    /// Bytes, floats, chars, a unit and a tuple.
    pub misc: (Vec<u8>, f64, char, (), (i8, u128)),
}

impl Mixed {
    /// A small sample.
    pub fn sample() -> Mixed {
        Mixed {
            id: 7,
            name: "seven".into(),
            tags: vec![Some("a".into()), None],
            map: [(1, vec![-1, 2]), (3, vec![])].into_iter().collect(),
            tree: Tree::Node(vec![Tree::Leaf(1), Tree::Node(vec![Tree::Leaf(2)])]),
            error: Some(pb::Error::UnknownObject { id: 9 }),
            misc: (vec![1, 2, 3], 1.5, 'x', (), (-3, 1 << 100)),
        }
    }
}

/// The error type of [`Target`].
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum FuzzError {
    /// A transport failure.
    #[error(transparent)]
    Pb(#[from] pb::Error),
}

/// What the connection target serves.
#[pb::remote_interface]
pub trait Target {
    /// Returns `v`.
    async fn echo(&self, v: u64) -> Result<u64, FuzzError>;
    /// Returns `m`.
    async fn mixed(&self, m: Mixed) -> Result<Mixed, FuzzError>;
    /// The nesting of `t`.
    async fn tree(&self, t: Tree) -> Result<u32, FuzzError>;
    /// A new object, by reference.
    async fn child(&self) -> Result<Arc<dyn Target>, FuzzError>;
    /// Takes a reference (and drops it).
    async fn take(&self, other: Arc<dyn Target>) -> Result<bool, FuzzError>;
    /// Takes references inside data and returns them.
    async fn refs(&self, refs: Vec<Option<pb::Ref<dyn Target>>>)
    -> Result<Vec<Option<pb::Ref<dyn Target>>>, FuzzError>;
}

/// The implementation of [`Target`] the connection target serves.
#[derive(Default)]
pub struct Targets;

#[pb::remote_impl]
impl Target for Targets {
    async fn echo(&self, v: u64) -> Result<u64, FuzzError> {
        Ok(v)
    }
    async fn mixed(&self, m: Mixed) -> Result<Mixed, FuzzError> {
        Ok(m)
    }
    async fn tree(&self, t: Tree) -> Result<u32, FuzzError> {
        Ok(t.nesting() as u32)
    }
    async fn child(&self) -> Result<Arc<dyn Target>, FuzzError> {
        Ok(Arc::new(Targets))
    }
    async fn take(&self, other: Arc<dyn Target>) -> Result<bool, FuzzError> {
        Ok(<dyn Target as pb::Interface>::proxy_handle(&*other).is_some())
    }
    async fn refs(
        &self,
        refs: Vec<Option<pb::Ref<dyn Target>>>,
    ) -> Result<Vec<Option<pb::Ref<dyn Target>>>, FuzzError> {
        Ok(refs)
    }
}

/// The wire id of a [`Target`] method.
pub fn method(name: &str) -> u32 {
    <dyn Target as pb::Interface>::METHODS.iter().find(|m| m.name == name).expect("a Target method").id
}

/// The interface id of [`Target`].
pub fn target_iface() -> u64 {
    <dyn Target as pb::Interface>::ID
}

/// A frame body: a header and a payload.
pub fn body<P: Serialize + ?Sized>(header: &Header, payload: &P) -> Vec<u8> {
    let mut buf = postcard::to_allocvec(header).unwrap();
    buf.extend(postcard::to_allocvec(payload).unwrap());
    buf
}

/// A frame on the wire: the 4-byte length prefix and the body.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A call frame on the wire.
pub fn call<A: Serialize>(req: u64, target: u64, name: &str, args: &A) -> Vec<u8> {
    framed(&body(&Header::Call { req, target, method: method(name) }, args))
}

/// The hello a client sends first.
pub fn hello() -> Vec<u8> {
    framed(&body(&Header::Hello { magic: MAGIC, version: VERSION, root: None }, &()))
}

/// The postcard encoding of a chain of `nodes` tree nodes, by hand (serde
/// would recurse).
pub fn deep_tree(nodes: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 * nodes + 2);
    for _ in 0..nodes {
        bytes.extend_from_slice(&[1, 1]);
    }
    bytes.extend_from_slice(&[0, 7]);
    bytes
}

/// Seeds of the connection target: frames sent after the hello.
pub fn connection_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let sender = WireRef::Sender { id: 1, iface: target_iface() };
    let mine = WireRef::Receiver { id: 1 };
    let mut deep_call = framed(&{
        let mut b = postcard::to_allocvec(&Header::Call { req: 1, target: 0, method: method("tree") }).unwrap();
        b.extend(deep_tree(1000));
        b
    });
    deep_call.extend(call(2, 0, "echo", &(2u64,)));
    vec![
        ("echo", call(1, 0, "echo", &(42u64,))),
        ("mixed", call(1, 0, "mixed", &(Mixed::sample(),))),
        ("tree", call(1, 0, "tree", &(Tree::Node(vec![Tree::Leaf(1)]),))),
        ("deep_tree", deep_call),
        ("child_then_release", {
            let mut v = call(1, 0, "child", &());
            v.extend(call(2, 1, "echo", &(5u64,)));
            v.extend(framed(&body(&Header::Release { id: 1, count: 1 }, &())));
            v.extend(call(3, 1, "echo", &(6u64,)));
            v
        }),
        ("take_sender", call(1, 0, "take", &(sender,))),
        ("take_receiver", {
            let mut v = call(1, 0, "child", &());
            v.extend(call(2, 0, "take", &(mine,)));
            v
        }),
        ("refs", {
            let mut v = call(1, 0, "child", &());
            v.extend(call(2, 0, "refs", &(vec![Some(sender), None, Some(mine)],)));
            v
        }),
        ("ping_pong_reply_goodbye", {
            let mut v = framed(&body(&Header::Ping { nonce: 3 }, &()));
            v.extend(framed(&body(&Header::Pong { nonce: 4 }, &())));
            v.extend(framed(&body(&Header::Reply { req: 9, ok: false }, &pb::Error::Busy)));
            v.extend(framed(&body(&Header::Goodbye, "bye")));
            v
        }),
        ("unknown_object_and_method", {
            let mut v = call(1, 77, "echo", &(1u64,));
            v.extend(framed(&body(&Header::Call { req: 2, target: 0, method: 0xdead_beef }, &())));
            v
        }),
    ]
}

/// Seeds of the message decoder: a depth byte, then one frame body.
pub fn message_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with_depth = |d: u8, body: Vec<u8>| {
        let mut v = vec![d];
        v.extend(body);
        v
    };
    let ok: Result<Mixed, pb::Error> = Ok(Mixed::sample());
    vec![
        ("call_mixed", with_depth(64, body(&Header::Call { req: 1, target: 0, method: 5 }, &(Mixed::sample(),)))),
        ("reply_ok", with_depth(64, body(&Header::Reply { req: 1, ok: true }, &ok))),
        ("reply_fault", with_depth(8, body(&Header::Reply { req: 1, ok: false }, &pb::Error::Busy))),
        ("goodbye", with_depth(64, body(&Header::Goodbye, "closed"))),
        ("hello", with_depth(2, body(&Header::Hello { magic: MAGIC, version: VERSION, root: Some(3) }, &()))),
        ("release", with_depth(64, body(&Header::Release { id: 1, count: 2 }, &()))),
        ("send_mixed", with_depth(64, body(&Header::Send { target: 0, method: 5 }, &(Mixed::sample(),)))),
        (
            "deep_tree",
            with_depth(64, {
                let mut b = postcard::to_allocvec(&Header::Call { req: 1, target: 0, method: 5 }).unwrap();
                b.extend(deep_tree(100));
                b
            }),
        ),
        ("tree", with_depth(10, body(&Header::Ping { nonce: 1 }, &(Tree::Node(vec![Tree::Leaf(1)]),)))),
    ]
}

/// Seeds of the frame decoder: two bytes of maximum frame length, one byte
/// of read size, then a byte stream.
pub fn frame_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with = |max: u16, chunk: u8, stream: Vec<u8>| {
        let mut v = max.to_be_bytes().to_vec();
        v.push(chunk);
        v.extend(stream);
        v
    };
    let mut session = hello();
    session.extend(call(1, 0, "echo", &(1u64,)));
    session.extend(framed(&[]));
    vec![
        ("session", with(1024, 7, session)),
        ("empty_frames", with(16, 1, [framed(&[]), framed(&[]), framed(b"x")].concat())),
        ("too_long", with(8, 3, framed(&[1; 9]))),
        ("huge_prefix", with(u16::MAX, 64, u32::MAX.to_be_bytes().to_vec())),
        ("truncated", with(512, 5, framed(&[2; 100])[..40].to_vec())),
    ]
}
