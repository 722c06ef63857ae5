//! The codec against postcard itself, and its limits.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Limits, from_bytes, take_from_bytes, to_vec};
use crate::Error;
use crate::wire::Blob;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Prims {
    a: bool,
    b: i8,
    c: i16,
    d: i32,
    e: i64,
    f: i128,
    g: u8,
    h: u16,
    i: u32,
    j: u64,
    k: u128,
    l: char,
    m: f32,
    n: f64,
    o: usize,
    p: isize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: Option<u64>, b: Vec<Shape> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrapper(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mix {
    text: String,
    bytes: Vec<u8>,
    shorts: Vec<u16>,
    maybe: Option<Option<String>>,
    shapes: Vec<Shape>,
    map: BTreeMap<String, u32>,
    tuple: (u8, i64, (), Unit),
    wrapper: Wrapper,
    blob: Blob,
    deque: VecDeque<u8>,
    boxed: Box<[u8]>,
    nested: Vec<Vec<u8>>,
}

fn prims() -> impl Strategy<Value = Prims> {
    let floats = (any::<f32>().prop_filter("NaN", |f| !f.is_nan()), any::<f64>().prop_filter("NaN", |f| !f.is_nan()));
    (
        (any::<bool>(), any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<i128>()),
        (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), any::<u128>(), any::<char>()),
        floats,
        (any::<usize>(), any::<isize>()),
    )
        .prop_map(|((a, b, c, d, e, f), (g, h, i, j, k, l), (m, n), (o, p))| Prims {
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            l,
            m,
            n,
            o,
            p,
        })
}

fn shapes() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        Just(Shape::Unit),
        any::<i32>().prop_map(Shape::Newtype),
        (any::<u8>(), ".{0,8}").prop_map(|(a, b)| Shape::Tuple(a, b)),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        (any::<Option<u64>>(), prop::collection::vec(inner, 0..4)).prop_map(|(a, b)| Shape::Struct { a, b })
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn mixes() -> impl Strategy<Value = Mix> {
    (
        (".{0,40}", bytes(5000), prop::collection::vec(any::<u16>(), 0..20), any::<Option<Option<String>>>()),
        (prop::collection::vec(shapes(), 0..3), prop::collection::btree_map(".{0,5}", any::<u32>(), 0..4)),
        (any::<(u8, i64)>(), bytes(200), bytes(6000), bytes(20), bytes(20)),
        prop::collection::vec(bytes(10), 0..4),
    )
        .prop_map(|((text, bytes, shorts, maybe), (shapes, map), ((t0, t1), w, blob, deque, boxed), nested)| Mix {
            text,
            bytes,
            shorts,
            maybe,
            shapes,
            map,
            tuple: (t0, t1, (), Unit),
            wrapper: Wrapper(w),
            blob: Blob::from(blob),
            deque: deque.into(),
            boxed: boxed.into(),
            nested,
        })
}

/// Our bytes are postcard's, and we read postcard's bytes back.
fn agrees<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let theirs = postcard::to_stdvec(value).unwrap();
    prop_assert_eq!(&to_vec(value).unwrap(), &theirs);
    prop_assert_eq!(&from_bytes::<T>(&theirs, Limits::default()).unwrap(), value);
    Ok(())
}

/// On any input we fail exactly where postcard fails, and otherwise read
/// the same value (compared as encodings).
fn same_verdict<T: Serialize + DeserializeOwned>(input: &[u8]) -> Result<(), TestCaseError> {
    let ours = take_from_bytes::<T>(input, Limits::default());
    let theirs = postcard::take_from_bytes::<T>(input);
    match (ours, theirs) {
        (Ok((a, ra)), Ok((b, rb))) => {
            prop_assert_eq!(ra, rb);
            prop_assert_eq!(postcard::to_stdvec(&a).unwrap(), postcard::to_stdvec(&b).unwrap());
        }
        (Err(Error::Protocol(_)), Err(_)) => {}
        (ours, theirs) => prop_assert!(false, "ours {:?}, postcard {:?}", ours.err(), theirs.err()),
    }
    Ok(())
}

proptest! {
    #[test]
    fn primitives_encode_and_decode_as_postcard(p in prims()) {
        agrees(&p)?;
    }

    #[test]
    fn compound_values_encode_and_decode_as_postcard(m in mixes()) {
        agrees(&m)?;
        agrees(&(m.bytes.clone(), m.text.clone(), Some(m.shapes.clone())))?;
    }

    #[test]
    fn random_bytes_never_panic_and_fail_where_postcard_fails(input in bytes(64)) {
        same_verdict::<Mix>(&input)?;
        same_verdict::<Prims>(&input)?;
        same_verdict::<Vec<Shape>>(&input)?;
        same_verdict::<(Vec<u8>, String, char)>(&input)?;
        same_verdict::<Option<VecDeque<u8>>>(&input)?;
        same_verdict::<(u16, u32, i16, i128)>(&input)?;
    }

    #[test]
    fn mutated_encodings_never_panic_and_fail_where_postcard_fails(
        m in mixes(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>(),
    ) {
        let mut input = postcard::to_stdvec(&m).unwrap();
        let i = at.index(input.len());
        input[i] = byte;
        same_verdict::<Mix>(&input)?;
        input.truncate(cut.index(input.len()));
        same_verdict::<Mix>(&input)?;
    }
}

fn decoded_size_exceeded<T: std::fmt::Debug>(result: Result<T, Error>, budget: usize) {
    match result {
        Err(Error::LimitExceeded { what, limit }) => {
            assert_eq!(what, "decoded size");
            assert_eq!(limit, budget as u64);
        }
        other => panic!("expected the decoded-size limit, got {other:?}"),
    }
}

fn budget(max_decoded_len: usize) -> Limits {
    Limits { max_decoded_len, ..Limits::default() }
}

/// Seven bytes on the wire (seven `None` tags), 168 in memory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sparse {
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
    d: Option<String>,
    e: Option<String>,
    f: Option<String>,
    g: Option<String>,
}

/// The encoding of a list of `n` empty [`Sparse`] records.
fn sparse_list(n: usize) -> Vec<u8> {
    let mut bytes = to_vec(&n).unwrap();
    bytes.resize(bytes.len() + 7 * n, 0);
    bytes
}

#[test]
fn a_list_of_millions_of_empty_records_exceeds_the_default_budget() {
    // 16.8 MB on the wire, 400 MB of values: refused after 64 MiB.
    let bytes = sparse_list(2_400_000);
    decoded_size_exceeded(from_bytes::<Vec<Sparse>>(&bytes, Limits::default()), super::DEFAULT_MAX_DECODED_LEN);
    // A list that fits decodes.
    assert_eq!(from_bytes::<Vec<Sparse>>(&sparse_list(1000), Limits::default()).unwrap().len(), 1000);
}

#[test]
fn every_element_is_charged_its_size() {
    let bytes = sparse_list(100);
    let needed = 24 + 100 * size_of::<Sparse>();
    assert_eq!(from_bytes::<Vec<Sparse>>(&bytes, budget(needed)).unwrap().len(), 100);
    decoded_size_exceeded(from_bytes::<Vec<Sparse>>(&bytes, budget(needed - 1)), needed - 1);
}

#[test]
fn byte_runs_and_strings_are_charged_their_length() {
    let bytes = to_vec(&vec![7u8; 1000]).unwrap();
    assert_eq!(from_bytes::<Vec<u8>>(&bytes, budget(24 + 1000)).unwrap(), vec![7u8; 1000]);
    decoded_size_exceeded(from_bytes::<Vec<u8>>(&bytes, budget(24 + 999)), 24 + 999);
    decoded_size_exceeded(from_bytes::<String>(&to_vec(&"x".repeat(500)).unwrap(), budget(499)), 499);
}

#[test]
fn values_boxed_away_from_their_slot_are_charged() {
    #[derive(Debug, Serialize, Deserialize)]
    enum Big {
        Small,
        Large([u64; 16]),
    }
    // One byte each on the wire, a pointer in the list and 136 bytes behind it.
    let list: Vec<Box<Big>> = (0..1000).map(|_| Box::new(Big::Small)).collect();
    let bytes = to_vec(&list).unwrap();
    let inline = 24 + 1000 * 8;
    assert!(from_bytes::<Vec<Box<Big>>>(&bytes, budget(inline + 1000 * size_of::<Big>())).is_ok());
    decoded_size_exceeded(from_bytes::<Vec<Box<Big>>>(&bytes, budget(inline + 1000)), inline + 1000);
    if let Big::Large(_) = *from_bytes::<Box<Big>>(&[1; 17], Limits::default()).unwrap() {
    } else {
        panic!("a large value");
    }
}

#[test]
fn elements_that_encode_to_nothing_still_cost_a_byte() {
    // 2^40 units claimed in six bytes: without a charge per element this
    // would spin for hours.
    let bytes = to_vec(&(1usize << 40)).unwrap();
    decoded_size_exceeded(from_bytes::<Vec<()>>(&bytes, budget(1000)), 1000);
}

#[test]
fn a_claimed_length_beyond_the_input_fails_cleanly() {
    let mut bytes = to_vec(&(u32::MAX as usize)).unwrap();
    bytes.extend_from_slice(&[1, 2, 3]);
    for result in [
        from_bytes::<Vec<u8>>(&bytes, Limits::default()).map(|_| ()),
        from_bytes::<VecDeque<u8>>(&bytes, Limits::default()).map(|_| ()),
        from_bytes::<Vec<u16>>(&bytes, Limits::default()).map(|_| ()),
        from_bytes::<String>(&bytes, Limits::default()).map(|_| ()),
        from_bytes::<Blob>(&bytes, Limits::default()).map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Protocol(_))), "{result:?}");
    }
}

#[test]
fn a_blob_borrows_from_a_frame_and_a_vec_is_copied_once() {
    let payload = Bytes::from(to_vec(&(vec![5u8; 10], Blob::from(vec![6u8; 10]))).unwrap());
    let (v, blob): (Vec<u8>, Blob) = from_bytes(&payload, Limits::default()).unwrap();
    assert_eq!(v, vec![5u8; 10]);
    assert_eq!(&blob[..], &[6u8; 10]);
}

#[test]
fn sequences_of_unknown_length_are_an_error_as_in_postcard() {
    struct Unsized;
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq((0..10u8).filter(|i| i % 2 == 0))
        }
    }
    assert!(postcard::to_stdvec(&Unsized).is_err());
    assert!(matches!(to_vec(&Unsized), Err(Error::Protocol(_))));
}

#[test]
fn collect_str_writes_a_string() {
    struct Shown;
    impl Serialize for Shown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&format_args!("{}-{}", 12, "ab"))
        }
    }
    assert_eq!(to_vec(&Shown).unwrap(), postcard::to_stdvec(&Shown).unwrap());
}
