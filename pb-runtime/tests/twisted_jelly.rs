//! Jelly through serde, against real Twisted's bytes.
//!
//! - Rust values encode to exactly the bytes of `jelly_values.txt`, the
//!   echo call's arguments and the copyable `aurora.User`, and decode back.
//! - Shared objects decode as copies; a cycle, `datetime` and `Decimal` are
//!   clean errors; a Twisted failure decodes into a struct.
//! - References: `["remote", n]`/`["local", n]` travel through a stub
//!   connection hook; a dereference marks repeats as not `first`.
//! - Copy tags are only sent when allowed.
//! - Hostile jelly is an error, never a panic.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/py.rs"]
mod py;

use std::collections::BTreeMap;

use bytes::Bytes;
use pb_runtime::Error;
use pb_runtime::wire::Blob;
use pb_runtime::wire::twisted::banana::{self, Dialect, Value};
use pb_runtime::wire::twisted::jelly::{self, CopyTags, DecodeOptions, EncodeOptions, Received, RefForm, form};
use py::{Py, s};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn enc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    jelly::to_bytes(v, Dialect::Pb, &EncodeOptions::default()).unwrap()
}

fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    Ok(jelly::from_bytes(&Bytes::copy_from_slice(bytes), Dialect::Pb, 64, &DecodeOptions::default())?)
}

fn fixture(case: &str, repr_prefix: &str) -> Vec<u8> {
    let lines = fixtures::load(case);
    let line = lines.iter().find(|l| l.repr.starts_with(repr_prefix));
    line.unwrap_or_else(|| panic!("no {repr_prefix} in {case}")).bytes.clone()
}

/// Assert `value` encodes to the fixture bytes and decodes back to itself.
fn golden<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, bytes: &[u8]) {
    assert_eq!(enc(&value), bytes, "{value:?}");
    assert_eq!(dec::<T>(bytes).unwrap(), value);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum IntOrStr {
    Int(i64),
    Str(String),
}

#[test]
fn jelly_values_match_twisted() {
    let f = |p| fixture("jelly_values", p);
    golden(None::<u8>, &f("[b'None']"));
    golden((), &f("[b'None']"));
    golden(true, &f("[b'boolean', b'true']"));
    golden(false, &f("[b'boolean', b'false']"));
    golden("two".to_string(), &f("[b'unicode', b'two']"));
    golden("é".to_string(), &f("[b'unicode', b'\\xc3"));
    golden(Blob::from(&b"bytes"[..]), &f("b'bytes'"));
    golden(4.5f64, &f("4.5"));
    golden((1u8, 2u8), &f("[b'tuple', 1, 2]"));
    golden(vec![IntOrStr::Int(1), IntOrStr::Str("a".into())], &f("[b'list', 1,"));
    // {"k": "v", 1: None}: mixed keys, through the generic value.
    golden(Py::Dict(vec![(s("k"), s("v")), (Py::Int(1), Py::None)]), &f("[b'dictionary', [[b'unicode', b'k']"));
}

#[test]
fn shared_objects_decode_as_copies_and_cycles_fail() {
    let shared: BTreeMap<String, Vec<i32>> =
        dec(&fixture("jelly_values", "[b'dictionary', [[b'unicode', b'a']")).unwrap();
    assert_eq!(shared, BTreeMap::from([("a".into(), vec![1]), ("b".into(), vec![1])]));
    let cyc = dec::<Py>(&fixture("jelly_values", "[b'reference', 1, [b'list'"));
    assert!(matches!(&cyc, Err(Error::Protocol(m)) if m.contains("cycle")), "{cyc:?}");
}

#[test]
fn sets_decode_as_sequences_and_unsupported_types_fail_cleanly() {
    assert_eq!(dec::<Vec<u8>>(&fixture("jelly_values", "[b'set'")).unwrap(), [3]);
    assert_eq!(dec::<std::collections::BTreeSet<u8>>(&fixture("jelly_values", "[b'set'")).unwrap().len(), 1);
    for unsupported in ["[b'datetime'", "[b'decimal'"] {
        let e = dec::<Py>(&fixture("jelly_values", unsupported));
        assert!(matches!(&e, Err(Error::Protocol(m)) if m.contains("unsupported")), "{e:?}");
    }
}

#[test]
fn every_jelly_value_line_decodes_or_fails_cleanly() {
    for line in fixtures::load("jelly_values") {
        let r = dec::<Py>(&line.bytes);
        let unsupported = ["[b'datetime'", "[b'decimal'", "[b'reference', 1, [b'list'"];
        assert_eq!(r.is_err(), unsupported.iter().any(|u| line.repr.starts_with(u)), "{}: {r:?}", line.at());
    }
}

/// The jelly value of a message's element `index` (0: the command name).
fn part(bytes: &[u8], index: usize) -> Value {
    let (v, _) = banana::decode(&Bytes::copy_from_slice(bytes), Dialect::Pb, 64).unwrap();
    v.as_list().unwrap()[index].clone()
}

fn bytes_of(v: &Value) -> Vec<u8> {
    banana::encode_to_vec(v, Dialect::Pb).unwrap()
}

#[test]
fn echo_arguments_match_twisted() {
    type Echo = (i32, String, Blob, f64, Option<String>, bool, Vec<i32>, (i32,), BTreeMap<String, String>);
    let msg = fixture("call_echo", "(b'message'");
    let args = part(&msg, 5);
    let echo: Echo = jelly::from_value(&args).unwrap();
    let expected: Echo = (
        1,
        "two".into(),
        Blob::from(&b"three"[..]),
        4.5,
        None,
        true,
        vec![1],
        (2,),
        BTreeMap::from([("k".into(), "v".into())]),
    );
    assert_eq!(echo, expected);
    assert_eq!(enc(&expected), bytes_of(&args));
    let kw: BTreeMap<String, String> = jelly::from_value(&part(&msg, 6)).unwrap();
    assert_eq!(kw, BTreeMap::from([("kw".into(), "x".into())]));
}

/// The copyable of server.py.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
struct User {
    id: i64,
    name: String,
}

/// The same state, without a copy tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PlainUser {
    id: i64,
    name: String,
}

#[test]
fn copyables_match_twisted() {
    let answer = fixture("copyable_result", "(b'answer'");
    let user = part(&answer, 2);
    golden(User { id: 7, name: "alice".into() }, &bytes_of(&user));
    let arg = part(&fixture("copyable_argument", "(b'message'"), 5);
    golden((User { id: 8, name: "bob".into() },), &bytes_of(&arg));
    // Decoding accepts the state without its tag, and a plain struct
    // accepts a copy's state.
    let plain = enc(&PlainUser { id: 7, name: "alice".into() });
    assert_eq!(dec::<User>(&plain).unwrap(), User { id: 7, name: "alice".into() });
    assert_eq!(dec::<PlainUser>(&bytes_of(&user)).unwrap(), PlainUser { id: 7, name: "alice".into() });
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.Other")]
struct Other {
    id: i64,
    name: String,
}

#[test]
fn copy_tags_are_checked_both_ways() {
    let user = bytes_of(&part(&fixture("copyable_result", "(b'answer'"), 2));
    assert!(dec::<Other>(&user).is_err(), "a copy of aurora.User is not an aurora.Other");
    let only = EncodeOptions { copy_tags: CopyTags::Only(["aurora.User".to_string()].into()) };
    let u = User { id: 1, name: "a".into() };
    assert!(jelly::to_value_with(&u, &only).is_ok());
    let e = jelly::to_value_with(&Other { id: 1, name: "a".into() }, &only).unwrap_err();
    assert!(e.to_string().contains("told about"), "{e}");
    #[derive(Serialize)]
    #[serde(rename = "not a.name")]
    struct Bad {}
    assert!(jelly::to_value(&Bad {}).is_err());
}

/// A Twisted failure, as `errors.txt` carries it.
#[derive(Debug, Deserialize)]
#[serde(rename = "twisted.spread.pb.CopyableFailure")]
struct Failure {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    parents: Vec<String>,
    traceback: String,
    tb: Option<String>,
}

#[test]
fn failures_decode() {
    let lines = fixtures::load("errors");
    let errors: Vec<_> = lines.iter().filter(|l| l.decode_only).collect();
    assert_eq!(errors.len(), 3);
    let f: Failure = jelly::from_value(&part(&errors[0].bytes, 2)).unwrap();
    assert_eq!((f.kind.as_str(), f.value.as_str()), ("twisted.spread.pb.Error", "nope"));
    assert_eq!(f.parents[0], "twisted.spread.pb.Error");
    assert_eq!((f.traceback.as_str(), f.tb), ("Traceback unavailable\n", None));
    let f: Failure = jelly::from_value(&part(&errors[2].bytes, 2)).unwrap();
    assert!(f.parents.iter().any(|p| p == "builtins.AttributeError"), "{f:?}");
}

/// Unit, newtype, tuple and struct variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Line(i32, i32),
    Rect { w: u32, h: u32 },
}

#[test]
fn enums_follow_the_documented_convention() {
    assert_eq!(jelly::to_value(&Shape::Empty).unwrap(), form::unicode("Empty"));
    assert_eq!(
        jelly::to_value(&Shape::Circle(1.0)).unwrap(),
        form::dictionary([(form::unicode("Circle"), Value::Float(1.0))])
    );
    for shape in [Shape::Empty, Shape::Circle(1.5), Shape::Line(1, -2), Shape::Rect { w: 3, h: 4 }] {
        golden(shape.clone(), &enc(&shape));
    }
    // A unit variant may also come as bytes (Python code often sends bytes).
    assert_eq!(dec::<Shape>(&enc(&Blob::from(&b"Empty"[..]))).unwrap(), Shape::Empty);
}

/// Objects of a stub connection: the hook turns them into luids and back.
mod stub {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        /// Luids exported while encoding, receipts counted while decoding.
        pub static EXPORTED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
        pub static RECEIVED: RefCell<Vec<Received>> = const { RefCell::new(Vec::new()) };
    }

    /// A reference to an object, as the connection layer would have it.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Obj {
        /// One of ours, by name.
        Mine(String),
        /// A proxy to the peer's luid.
        Proxy(u64),
    }

    impl Serialize for Obj {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let form = match self {
                Obj::Mine(name) => EXPORTED.with_borrow_mut(|e| {
                    let luid = e.iter().position(|n| n == name).unwrap_or_else(|| {
                        e.push(name.clone());
                        e.len() - 1
                    });
                    RefForm::Remote(luid as u64 + 1)
                }),
                Obj::Proxy(luid) => RefForm::Local(*luid),
            };
            form.serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Obj {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let r = Received::deserialize(d)?;
            RECEIVED.with_borrow_mut(|v| v.push(r));
            match r.form {
                RefForm::Remote(luid) => Ok(Obj::Proxy(luid)),
                RefForm::Local(luid) => EXPORTED
                    .with_borrow(|e| e.get(luid as usize - 1).cloned())
                    .map(Obj::Mine)
                    .ok_or_else(|| serde::de::Error::custom("unknown luid")),
            }
        }
    }
}

#[test]
fn references_go_through_the_connection_hook() {
    use stub::{EXPORTED, Obj, RECEIVED};
    // reference_from_client: the client passes its own object and a string.
    let msg = fixture("reference_from_client", "(b'message', 6");
    let args = (Obj::Mine("cb".into()), "hi".to_string());
    assert_eq!(enc(&args), bytes_of(&part(&msg, 5)));
    // The peer's view of those arguments: a proxy to luid 1.
    let (obj, text): (Obj, String) = jelly::from_value(&part(&msg, 5)).unwrap();
    assert_eq!((obj, text.as_str()), (Obj::Proxy(1), "hi"));
    // Sent back to its owner, it is ["local", 1] and arrives as the original.
    let back = jelly::to_value(&Obj::Proxy(1)).unwrap();
    assert_eq!(back, Value::List(vec![Value::bytes(b"local"), Value::Int(1)]));
    assert_eq!(jelly::from_value::<Obj>(&back).unwrap(), Obj::Mine("cb".into()));
    // login: (challenge, ["remote", 1]) in an answer.
    let answer = part(&fixture("login_md5_challenge", "(b'answer', 1"), 2);
    let (challenge, challenger): (Blob, Obj) = jelly::from_value(&answer).unwrap();
    assert_eq!((&challenge[..], challenger), (&b"0123456789abcdef"[..], Obj::Proxy(1)));
    assert_eq!(EXPORTED.with_borrow(Vec::len), 1);
    RECEIVED.with_borrow_mut(Vec::clear);
    // A shared list holding a reference: the repeat is not `first`.
    let shared = form::tuple([
        form::tagged(
            b"reference",
            [Value::Int(1), form::list([Value::List(vec![Value::bytes(b"remote"), Value::Int(5)])])],
        ),
        form::tagged(b"dereference", [Value::Int(1)]),
    ]);
    let (a, b): (Vec<Obj>, Vec<Obj>) = jelly::from_value(&shared).unwrap();
    assert_eq!((a, b), (vec![Obj::Proxy(5)], vec![Obj::Proxy(5)]));
    let firsts: Vec<bool> = RECEIVED.with_borrow(|r| r.iter().map(|r| r.first).collect());
    assert_eq!(firsts, [true, false]);
    // A reference where a plain value is expected, and the reverse.
    assert!(jelly::from_value::<Obj>(&form::unicode("x")).is_err());
    assert!(jelly::from_value::<String>(&back).is_err());
}

#[test]
fn hostile_jelly_is_an_error_never_a_panic() {
    let l = |items: Vec<Value>| Value::List(items);
    let b = Value::bytes;
    let cases = vec![
        ("bare list", l(vec![b(b"xxxxxxxxxx")])),
        ("empty list", l(vec![])),
        ("list of ints", l(vec![Value::Int(1), Value::Int(2)])),
        ("unicode not utf-8", l(vec![b(b"unicode"), b(b"\xff")])),
        ("boolean maybe", l(vec![b(b"boolean"), b(b"maybe")])),
        ("dereference to nothing", l(vec![b(b"dereference"), Value::Int(9)])),
        ("dictionary of non-pairs", l(vec![b(b"dictionary"), Value::Int(1)])),
        ("dictionary of triples", l(vec![b(b"dictionary"), l(vec![Value::Int(1), Value::Int(2), Value::Int(3)])])),
        ("remote with a negative luid", l(vec![b(b"remote"), Value::Int(-1)])),
        ("instance", l(vec![b(b"instance"), b(b"os.system"), Value::Int(1)])),
        ("class", l(vec![b(b"class"), b(b"os.system")])),
        ("huge int", Value::from_digits(false, &[0x7f; 64])),
        ("reference defined twice", {
            let r = l(vec![b(b"reference"), Value::Int(1), Value::Int(2)]);
            form::list([r.clone(), r])
        }),
    ];
    for (what, value) in cases {
        assert!(jelly::from_value::<Py>(&value).is_err(), "{what} as Py");
        assert!(jelly::from_value::<(String, u8)>(&value).is_err(), "{what} as a tuple");
        assert!(jelly::from_value::<Option<Vec<i8>>>(&value).is_err(), "{what} as Option<Vec>");
    }
    // Wrong types and ranges.
    assert!(jelly::from_value::<u8>(&Value::Int(256)).is_err());
    assert!(jelly::from_value::<(u8,)>(&form::tuple([Value::Int(1), Value::Int(2)])).is_err());
    assert!(jelly::from_value::<String>(&Value::bytes(b"\xff")).is_err());
}

#[test]
fn nesting_and_expansion_are_limited() {
    // 100 nested lists: over the default depth of 64.
    let mut v = form::none();
    for _ in 0..100 {
        v = form::list([v]);
    }
    let e = jelly::from_value::<Py>(&v).unwrap_err();
    assert!(matches!(e.0, Error::LimitExceeded { .. }), "{e}");
    assert!(jelly::from_value_with::<Py>(&v, &DecodeOptions { max_depth: 200 }).is_ok());
    // References doubling at each level: 2^40 nodes once expanded.
    let mut items = vec![form::tagged(b"reference", [Value::Int(0), Value::Int(7)])];
    for n in 1..40 {
        let d = form::tagged(b"dereference", [Value::Int(n - 1)]);
        items.push(form::tagged(b"reference", [Value::Int(n), form::list([d.clone(), d])]));
    }
    let e = jelly::from_value_with::<Py>(&form::list(items), &DecodeOptions { max_depth: 1000 }).unwrap_err();
    assert!(matches!(e.0, Error::LimitExceeded { .. }), "{e}");
}
