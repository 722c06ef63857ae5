//! Round-trip properties of banana and jelly (proptest).
//!
//! - Any Python-like value (ints of any `i128`, floats, bytes including
//!   vocabulary words, text, lists, dicts) encodes to jelly and banana and
//!   decodes back to itself, in both dialects.
//! - Any typed Rust value (structs, copyables, enums, options, maps, blobs,
//!   wide integers) does the same.
//! - Any sequence of banana expressions, cut into random reads, comes out
//!   of the splitter whole.
//! - Random bytes, and fixture messages with a byte changed, go through
//!   every layer (splitter, banana, jelly, PB messages, failures) without a
//!   panic.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/py.rs"]
mod py;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use pb_runtime::wire::Blob;
use pb_runtime::wire::twisted::banana::{self, Dialect, Limits, Splitter, VOCABULARY};
use pb_runtime::wire::twisted::broker::{Failure, Message};
use pb_runtime::wire::twisted::jelly::{self, DecodeOptions, EncodeOptions, Received};
use proptest::prelude::*;
use py::Py;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn round_trip<T: Serialize + DeserializeOwned>(value: &T, dialect: Dialect) -> T {
    let bytes = jelly::to_bytes(value, dialect, &EncodeOptions::default()).expect("encodes");
    jelly::from_bytes(&Bytes::from(bytes), dialect, 256, &DecodeOptions { max_depth: 256 }).expect("decodes")
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        proptest::sample::select(VOCABULARY.to_vec()).prop_map(<[u8]>::to_vec)
    ]
}

fn py() -> impl Strategy<Value = Py> {
    let leaf = prop_oneof![
        Just(Py::None),
        any::<bool>().prop_map(Py::Bool),
        any::<i128>().prop_map(Py::Int),
        any::<i32>().prop_map(|n| Py::Int(n.into())),
        any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Py::Float),
        bytes().prop_map(Py::Bytes),
        ".{0,12}".prop_map(Py::Str),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let key = prop_oneof![".{0,8}".prop_map(Py::Str), any::<i64>().prop_map(|n| Py::Int(n.into()))];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Py::List),
            proptest::collection::vec((key, inner), 0..6).prop_map(Py::Dict),
        ]
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
struct User {
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Line(i32, i32),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    user: User,
    maybe: Option<i64>,
    tags: Vec<String>,
    counts: BTreeMap<String, u32>,
    shapes: Vec<Shape>,
    blob: Blob,
    wide: u128,
    narrow: (i8, bool, char),
    nested: Option<Box<Record>>,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()).prop_map(Shape::Circle),
        any::<(i32, i32)>().prop_map(|(a, b)| Shape::Line(a, b)),
        any::<(u32, u32)>().prop_map(|(w, h)| Shape::Rect { w, h }),
    ]
}

fn flat_record() -> impl Strategy<Value = Record> {
    (
        (any::<i64>(), ".{0,8}"),
        any::<Option<i64>>(),
        proptest::collection::vec(".{0,6}", 0..4),
        proptest::collection::btree_map(".{0,6}", any::<u32>(), 0..4),
        proptest::collection::vec(shape(), 0..4),
        bytes(),
        any::<u128>(),
        any::<(i8, bool, char)>(),
    )
        .prop_map(|((id, name), maybe, tags, counts, shapes, blob, wide, narrow)| Record {
            user: User { id, name },
            maybe,
            tags,
            counts,
            shapes,
            blob: Blob::from(blob),
            wide,
            narrow,
            nested: None,
        })
}

fn record() -> impl Strategy<Value = Record> {
    (flat_record(), proptest::option::of(flat_record())).prop_map(|(mut r, n)| {
        r.nested = n.map(Box::new);
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn python_values_round_trip(v in py()) {
        prop_assert_eq!(round_trip(&v, Dialect::Pb), v.clone());
        prop_assert_eq!(round_trip(&v, Dialect::None), v);
    }

    #[test]
    fn typed_values_round_trip(r in record()) {
        prop_assert_eq!(round_trip(&r, Dialect::Pb), r);
    }

    #[test]
    fn banana_values_round_trip_and_split_anywhere(vs in proptest::collection::vec(py(), 1..6), cuts in proptest::collection::vec(1usize..40, 0..20)) {
        let values: Vec<_> = vs.iter().map(|v| jelly::to_value(v).unwrap()).collect();
        let exprs: Vec<Vec<u8>> = values.iter().map(|v| banana::encode_to_vec(v, Dialect::Pb).unwrap()).collect();
        for (v, e) in values.iter().zip(&exprs) {
            let (back, used) = banana::decode(&Bytes::from(e.clone()), Dialect::Pb, 256).unwrap();
            prop_assert_eq!(&back, v);
            prop_assert_eq!(used, e.len());
        }
        let all = exprs.concat();
        let mut s = Splitter::new(Limits { max_depth: 256, ..Limits::default() });
        s.set_dialect(Dialect::Pb);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut at = 0usize;
        for step in cuts.into_iter().chain(std::iter::repeat(usize::MAX)) {
            let end = all.len().min(at.saturating_add(step));
            buf.extend_from_slice(&all[at..end]);
            at = end;
            while let Some(e) = s.split(&mut buf).unwrap() {
                out.push(e.to_vec());
            }
            if at == all.len() {
                break;
            }
        }
        prop_assert_eq!(out, exprs);
        prop_assert!(buf.is_empty());
    }
}

/// Every layer, on any bytes: errors are fine, panics are not.
fn every_layer(bytes: &[u8], depth: usize) {
    for dialect in [Dialect::Pb, Dialect::None] {
        let mut s = Splitter::new(Limits { max_depth: depth, max_len: 4096 });
        s.set_dialect(dialect);
        let mut buf = BytesMut::from(bytes);
        while let Ok(Some(_)) = s.split(&mut buf) {}
        let Ok((value, _)) = banana::decode(&Bytes::copy_from_slice(bytes), dialect, depth) else { continue };
        let options = DecodeOptions { max_depth: depth };
        let _ = jelly::from_value_with::<Py>(&value, &options);
        let _ = jelly::from_value_with::<Record>(&value, &options);
        let _ = jelly::from_value_with::<Vec<Received>>(&value, &options);
        let _ = Failure::from_value(&value);
        if let Ok(Message::Call(c)) = Message::from_value(value) {
            let _ = jelly::from_value_with::<(String, Option<User>, Blob)>(&c.args, &options);
            let _ = pb_runtime::wire::twisted::broker::fold_kwargs(c.args, &c.kw, &["a", "b", "c"]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), depth in 0usize..80) {
        every_layer(&bytes, depth);
    }

    #[test]
    fn changed_fixture_bytes_never_panic(line in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let lines = fixtures::all();
        let mut bytes = lines[line.index(lines.len())].bytes.clone();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        every_layer(&bytes, 64);
        bytes.truncate(i);
        every_layer(&bytes, 64);
    }
}
