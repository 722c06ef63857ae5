//! Round-trip properties of the wire format (proptest).
//!
//! - Any message of nested copies (sequences, maps, options, strings,
//!   integers) with references anywhere inside, sent to a peer and back,
//!   arrives as the same thing: the same copies, and every reference as the
//!   original object (`Arc::ptr_eq`). The far side sees working references
//!   in the same places.
//! - Any such message without references encodes and decodes to the same
//!   value through the depth-limited decoder, with any limit at least its
//!   depth, and is refused with a clear error under a lower limit.
//! - Every frame header round-trips.

use std::collections::BTreeMap;
use std::sync::Arc;

use pb::Error;
use pb::wire::Header;
use pb_tests::aurora::UserError;
use pb_tests::net::{self, Link};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde::{Deserialize, Serialize};

/// An object that can be referenced from inside a message.
#[pb::remote_interface]
pub trait Probe {
    /// Its label.
    async fn label(&self) -> Result<u64, UserError>;
}

struct Labelled(u64);

#[pb::remote_impl]
impl Probe for Labelled {
    async fn label(&self) -> Result<u64, UserError> {
        Ok(self.0)
    }
}

/// A message: copies nested in any way, references anywhere.
#[derive(Clone, Serialize, Deserialize)]
pub enum Node {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// A reference.
    Ref(pb::Ref<dyn Probe>),
    /// A sequence.
    List(Vec<Node>),
    /// A map.
    Map(BTreeMap<String, Node>),
    /// An option.
    Maybe(Option<Box<Node>>),
}

/// The receiving side: echoes messages and reads the references it got.
#[pb::remote_interface]
pub trait Mirror {
    /// Returns `node` as it arrived.
    async fn echo(&self, node: Node) -> Result<Node, UserError>;
    /// The labels of the references in `node`, in order, asked of the
    /// references themselves (remote calls back to their owner).
    async fn labels(&self, node: Node) -> Result<Vec<u64>, UserError>;
}

struct Mirrors;

#[pb::remote_impl]
impl Mirror for Mirrors {
    async fn echo(&self, node: Node) -> Result<Node, UserError> {
        Ok(node)
    }
    async fn labels(&self, node: Node) -> Result<Vec<u64>, UserError> {
        let mut refs = Vec::new();
        collect_refs(&node, &mut refs);
        let mut labels = Vec::new();
        for r in refs {
            labels.push(r.label().await?);
        }
        Ok(labels)
    }
}

fn collect_refs(node: &Node, out: &mut Vec<pb::Ref<dyn Probe>>) {
    match node {
        Node::Int(_) | Node::Text(_) => {}
        Node::Ref(r) => out.push(r.clone()),
        Node::List(v) => v.iter().for_each(|n| collect_refs(n, out)),
        Node::Map(m) => m.values().for_each(|n| collect_refs(n, out)),
        Node::Maybe(m) => m.iter().for_each(|n| collect_refs(n, out)),
    }
}

/// The shape of a [`Node`], with references as indexes into a pool of objects.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Int(i64),
    Text(String),
    Ref(usize),
    List(Vec<Shape>),
    Map(BTreeMap<String, Shape>),
    Maybe(Option<Box<Shape>>),
}

const POOL: usize = 4;

fn shapes() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Shape::Int),
        ".{0,12}".prop_map(Shape::Text),
        (0..POOL).prop_map(Shape::Ref),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Shape::List),
            prop::collection::btree_map(".{0,6}", inner.clone(), 0..4).prop_map(Shape::Map),
            prop::option::of(inner.prop_map(Box::new)).prop_map(Shape::Maybe),
        ]
    })
}

fn build(shape: &Shape, pool: &[Arc<dyn Probe>]) -> Node {
    match shape {
        Shape::Int(i) => Node::Int(*i),
        Shape::Text(s) => Node::Text(s.clone()),
        Shape::Ref(i) => Node::Ref(pb::Ref::new(pool[*i].clone())),
        Shape::List(v) => Node::List(v.iter().map(|s| build(s, pool)).collect()),
        Shape::Map(m) => Node::Map(m.iter().map(|(k, s)| (k.clone(), build(s, pool))).collect()),
        Shape::Maybe(m) => Node::Maybe(m.as_ref().map(|s| Box::new(build(s, pool)))),
    }
}

/// The shape of `node`; a reference must be one of `pool`'s objects itself.
fn shape_of(node: &Node, pool: &[Arc<dyn Probe>]) -> Shape {
    match node {
        Node::Int(i) => Shape::Int(*i),
        Node::Text(s) => Shape::Text(s.clone()),
        Node::Ref(r) => Shape::Ref(
            pool.iter().position(|p| Arc::ptr_eq(p, r.as_arc())).expect("a reference came back as the original object"),
        ),
        Node::List(v) => Shape::List(v.iter().map(|n| shape_of(n, pool)).collect()),
        Node::Map(m) => Shape::Map(m.iter().map(|(k, n)| (k.clone(), shape_of(n, pool))).collect()),
        Node::Maybe(m) => Shape::Maybe(m.as_ref().map(|n| Box::new(shape_of(n, pool)))),
    }
}

fn ref_labels(shape: &Shape, out: &mut Vec<u64>) {
    match shape {
        Shape::Int(_) | Shape::Text(_) => {}
        Shape::Ref(i) => out.push(100 + *i as u64),
        Shape::List(v) => v.iter().for_each(|s| ref_labels(s, out)),
        Shape::Map(m) => m.values().for_each(|s| ref_labels(s, out)),
        Shape::Maybe(m) => m.iter().for_each(|s| ref_labels(s, out)),
    }
}

/// Levels the depth limit counts for `value` as a top-level value.
fn nesting(value: &Plain) -> usize {
    match value {
        Plain::Int(_) | Plain::Text(_) | Plain::Ref(_) => 1,
        Plain::List(v) => 2 + v.iter().map(nesting).max().unwrap_or(0),
        Plain::Map(m) => 2 + m.values().map(nesting).max().unwrap_or(0),
        Plain::Maybe(m) => 2 + m.iter().map(|s| nesting(s)).max().unwrap_or(0),
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() })
}

/// A reference sent back to its owner inside a result arrives as the
/// original object even though the peer drops its proxy as soon as the
/// reply is encoded: the reply is queued before the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_returned_to_its_owner_outlives_the_peers_release() {
    let (mirror, _server, client) = net::proxy::<dyn Mirror>(Link::Tcp, Arc::new(Mirrors)).await;
    let probe: Arc<dyn Probe> = Arc::new(Labelled(1));
    for _ in 0..300 {
        match mirror.echo(Node::Ref(pb::Ref::new(probe.clone()))).await {
            Ok(Node::Ref(back)) => assert!(Arc::ptr_eq(back.as_arc(), &probe)),
            Ok(_) => panic!("echo changed the message"),
            Err(e) => panic!("echo failed: {e}"),
        }
    }
    pb_tests::eventually("the peer released the reference", || client.stats().exports == 0).await;
}

#[test]
fn copies_with_references_round_trip_through_a_peer() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mirror, _server, client) = rt.block_on(net::proxy::<dyn Mirror>(Link::Tcp, Arc::new(Mirrors)));
    let pool: Vec<Arc<dyn Probe>> = (0..POOL as u64).map(|i| Arc::new(Labelled(100 + i)) as Arc<dyn Probe>).collect();
    runner(96)
        .run(&shapes(), |shape| {
            let node = build(&shape, &pool);
            let (back, labels) = rt.block_on(async { (mirror.echo(node.clone()).await, mirror.labels(node).await) });
            let back = back.map_err(|e| TestCaseError::fail(format!("echo failed: {e}")))?;
            prop_assert_eq!(shape_of(&back, &pool), shape.clone());
            let mut expected = Vec::new();
            ref_labels(&shape, &mut expected);
            prop_assert_eq!(labels.map_err(|e| TestCaseError::fail(format!("labels failed: {e}")))?, expected);
            Ok(())
        })
        .unwrap();
    // Every reference the peer received was released again.
    rt.block_on(pb_tests::eventually("the peer released every reference", || client.stats().exports == 0));
}

/// [`Node`] without references, for the plain codec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Plain {
    Int(i64),
    Text(String),
    Ref(u8),
    List(Vec<Plain>),
    Map(BTreeMap<String, Plain>),
    Maybe(Option<Box<Plain>>),
}

fn plain(shape: &Shape) -> Plain {
    match shape {
        Shape::Int(i) => Plain::Int(*i),
        Shape::Text(s) => Plain::Text(s.clone()),
        Shape::Ref(i) => Plain::Ref(*i as u8),
        Shape::List(v) => Plain::List(v.iter().map(plain).collect()),
        Shape::Map(m) => Plain::Map(m.iter().map(|(k, s)| (k.clone(), plain(s))).collect()),
        Shape::Maybe(m) => Plain::Maybe(m.as_ref().map(|s| Box::new(plain(s)))),
    }
}

#[test]
fn copies_round_trip_through_the_depth_limited_decoder() {
    runner(512)
        .run(&(shapes(), 0usize..4), |(shape, slack)| {
            let value = plain(&shape);
            let depth = nesting(&value);
            let bytes = postcard::to_allocvec(&value).unwrap();
            let decoded: Plain = pb::wire::decode_payload_limited(&bytes, depth + slack).unwrap();
            prop_assert_eq!(&decoded, &value);
            if depth > slack {
                match pb::wire::decode_payload_limited::<Plain>(&bytes, depth - 1 - slack) {
                    Err(Error::LimitExceeded { what, .. }) => prop_assert!(what.contains("depth")),
                    other => prop_assert!(false, "expected the depth limit, got {:?}", other),
                }
            }
            Ok(())
        })
        .unwrap();
}

fn headers() -> impl Strategy<Value = Header> {
    prop_oneof![
        (any::<u32>(), any::<u16>(), any::<Option<u64>>()).prop_map(|(magic, version, root)| Header::Hello {
            magic,
            version,
            root
        }),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(req, target, method)| Header::Call {
            req,
            target,
            method
        }),
        (any::<u64>(), any::<bool>()).prop_map(|(req, ok)| Header::Reply { req, ok }),
        (any::<u64>(), any::<u64>()).prop_map(|(id, count)| Header::Release { id, count }),
        any::<u64>().prop_map(|nonce| Header::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Header::Pong { nonce }),
        Just(Header::Goodbye),
    ]
}

#[test]
fn headers_round_trip_and_leave_the_payload() {
    runner(512)
        .run(&(headers(), prop::collection::vec(any::<u8>(), 0..16)), |(header, payload)| {
            let mut frame = postcard::to_allocvec(&header).unwrap();
            frame.extend_from_slice(&payload);
            let (decoded, rest) = pb::wire::decode_frame(&frame.into()).unwrap();
            prop_assert_eq!(decoded, header);
            prop_assert_eq!(&rest[..], &payload[..]);
            Ok(())
        })
        .unwrap();
}
