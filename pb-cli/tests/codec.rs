//! JSON <-> postcard by schema type, checked against what serde and
//! postcard make of the same Rust types: every type the IDL supports.

use std::collections::BTreeMap;

use pb_idl::ir::{Schema, Ty};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const SCHEMA: &str = r#"
package t;
record Scalars { a: u8, b: i8, c: u16, d: u32, e: u64, f: i16, g: i32, h: i64, i: f32, j: f64, k: bool, l: string, m: bytes }
enum Shape { Empty, One(u64), Two(string, i32), Named { x: i64, y: option<string> } }
record All {
    scalars: Scalars,
    list: list<Scalars>,
    by_name: map<string, u32>,
    by_id: map<u64, string>,
    maybe: option<Shape>,
    boxed: box<Shape>,
    shapes: list<Shape>,
    nested: list<list<option<i64>>>,
}
error Oops { NotFound(u64) = "no {0}", Bad { why: string } = "bad: {why}" }
interface Probe { all(x: All) -> All; }
"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scalars {
    a: u8,
    b: i8,
    c: u16,
    d: u32,
    e: u64,
    f: i16,
    g: i32,
    h: i64,
    i: f32,
    j: f64,
    k: bool,
    l: String,
    m: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    One(u64),
    Two(String, i32),
    Named { x: i64, y: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct All {
    scalars: Scalars,
    list: Vec<Scalars>,
    by_name: BTreeMap<String, u32>,
    by_id: BTreeMap<u64, String>,
    maybe: Option<Shape>,
    boxed: Box<Shape>,
    shapes: Vec<Shape>,
    nested: Vec<Vec<Option<i64>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Oops {
    NotFound(u64),
    Bad { why: String },
    Pb(pb::Error),
}

fn schema() -> Schema {
    let checked = pb_idl::check_str("t.pbidl", SCHEMA);
    assert!(!checked.has_errors(), "{}", checked.render());
    checked.schema
}

fn def(schema: &Schema, name: &str) -> Ty {
    Ty::Def(schema.find_id("t", name).unwrap_or_else(|| panic!("no {name}")))
}

/// Encoding the serde_json form of `value` gives postcard's bytes, and
/// decoding them gives the serde_json form back.
fn round_trip<T: Serialize>(schema: &Schema, ty: &Ty, value: &T) {
    let expected = postcard::to_allocvec(value).unwrap();
    let as_json = serde_json::to_value(value).unwrap();
    let mut bytes = Vec::new();
    pb_cli::codec::encode(schema, ty, &as_json, &mut bytes).unwrap();
    assert_eq!(bytes, expected, "encoding {as_json}");
    let mut input = bytes.as_slice();
    let back = pb_cli::codec::decode(schema, ty, &mut input).unwrap();
    assert!(input.is_empty(), "every byte read");
    assert_eq!(back, as_json);
}

fn scalars(n: i64) -> Scalars {
    Scalars {
        a: 255,
        b: -128,
        c: 65_535,
        d: u32::MAX,
        e: u64::MAX - n as u64,
        f: i16::MIN,
        g: -70_000,
        h: i64::MIN + n,
        i: 1.5,
        j: -0.25,
        k: n % 2 == 0,
        l: format!("naïve {n} ✓"),
        m: vec![0, 1, 127, 128, 255],
    }
}

#[test]
fn every_idl_type_round_trips_as_serde_and_postcard_write_it() {
    let schema = schema();
    let all = All {
        scalars: scalars(0),
        list: vec![scalars(1), scalars(2)],
        by_name: BTreeMap::from([("a".into(), 1), ("b".into(), 300)]),
        by_id: BTreeMap::from([(1, "one".into()), (u64::MAX, "max".into())]),
        maybe: Some(Shape::Named { x: -5, y: None }),
        boxed: Box::new(Shape::Two("two".into(), -2)),
        shapes: vec![Shape::Empty, Shape::One(7), Shape::Named { x: 1, y: Some("y".into()) }],
        nested: vec![vec![Some(-1), None], vec![]],
    };
    round_trip(&schema, &def(&schema, "All"), &all);
    let empty = All {
        scalars: scalars(3),
        list: vec![],
        by_name: BTreeMap::new(),
        by_id: BTreeMap::new(),
        maybe: None,
        boxed: Box::new(Shape::Empty),
        shapes: vec![],
        nested: vec![],
    };
    round_trip(&schema, &def(&schema, "All"), &empty);
    for shape in [Shape::Empty, Shape::One(0), Shape::Two(String::new(), i32::MIN), Shape::Named { x: 0, y: None }] {
        round_trip(&schema, &def(&schema, "Shape"), &shape);
    }
}

#[test]
fn error_types_decode_with_their_pb_variant() {
    let schema = schema();
    let ty = def(&schema, "Oops");
    round_trip(&schema, &ty, &Oops::NotFound(9));
    round_trip(&schema, &ty, &Oops::Bad { why: "no reason".into() });
    let bytes = postcard::to_allocvec(&Oops::Pb(pb::Error::Unauthorized)).unwrap();
    let back = pb_cli::codec::decode(&schema, &ty, &mut bytes.as_slice()).unwrap();
    assert_eq!(back["Pb"]["kind"], "Unauthorized");
}

#[test]
fn json_that_does_not_fit_says_where_and_what() {
    let schema = schema();
    let ty = def(&schema, "Shape");
    let err = |v: Value| pb_cli::codec::encode(&schema, &ty, &v, &mut Vec::new()).unwrap_err();
    assert!(err(json!("Round")).contains("has no variant `Round` (expected one of: Empty, One, Two, Named)"));
    assert!(err(json!({"One": "seven"})).contains("at $.One: expected an integer (u64), found \"seven\""));
    assert!(err(json!({"Two": ["a"]})).contains("expected a list of 2 values"));
    assert!(err(json!({"Named": {"x": 1, "z": 2}})).contains("has no field `z`"));
    let scalars_ty = def(&schema, "Scalars");
    let mut v = serde_json::to_value(scalars(0)).unwrap();
    v["a"] = json!(256);
    let e = pb_cli::codec::encode(&schema, &scalars_ty, &v, &mut Vec::new()).unwrap_err();
    assert!(e.contains("256 is out of range for u8"), "{e}");
    v["a"] = json!(1);
    v.as_object_mut().unwrap().remove("l");
    let e = pb_cli::codec::encode(&schema, &scalars_ty, &v, &mut Vec::new()).unwrap_err();
    assert!(e.contains("missing field `l`"), "{e}");
}

#[test]
fn truncated_or_lying_bytes_fail_cleanly() {
    let schema = schema();
    let ty = def(&schema, "All");
    let bytes = postcard::to_allocvec(&scalars(0)).unwrap();
    for cut in 0..bytes.len() {
        assert!(pb_cli::codec::decode(&schema, &def(&schema, "Scalars"), &mut &bytes[..cut]).is_err());
    }
    // A list claiming 2^60 items in a few bytes.
    let mut lying = postcard::to_allocvec(&scalars(0)).unwrap();
    lying.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    assert!(pb_cli::codec::decode(&schema, &ty, &mut lying.as_slice()).is_err());
}
