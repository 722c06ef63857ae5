//! Banana against real Twisted's bytes, and against hostile bytes.
//!
//! - Every line of every fixture (`tests/twisted/fixtures/`) decodes, and
//!   re-encodes to the same bytes.
//! - The scalar fixtures decode to the values Python printed.
//! - A session's bytes, concatenated, come out of the splitter as the same
//!   expressions whatever the split point.
//! - Hostile input is an error, never a panic.

#[path = "support/fixtures.rs"]
mod fixtures;

use bytes::{Bytes, BytesMut};
use pb_runtime::Error;
use pb_runtime::wire::twisted::banana::{self, Dialect, Limits, Splitter, Value};

fn decode(bytes: &[u8]) -> Result<Value, Error> {
    let bytes = Bytes::copy_from_slice(bytes);
    let (value, used) = banana::decode(&bytes, Dialect::Pb, 64)?;
    assert_eq!(used, bytes.len(), "trailing bytes");
    Ok(value)
}

#[test]
fn every_fixture_line_decodes_and_re_encodes_to_its_bytes() {
    let lines = fixtures::all();
    assert_eq!(lines.len(), 86, "the 11 fixture files hold 86 lines");
    for line in lines {
        let value = decode(&line.bytes).unwrap_or_else(|e| panic!("{}: {e}", line.at()));
        let again = banana::encode_to_vec(&value, Dialect::Pb).unwrap();
        assert_eq!(again, line.bytes, "{}", line.at());
    }
}

#[test]
fn scalars_decode_to_what_python_printed() {
    let lines = fixtures::load("banana_values");
    let mut checked = 0;
    for line in &lines {
        let value = decode(&line.bytes).unwrap();
        let expected = match line.repr.as_str() {
            "1.5" => Value::Float(1.5),
            "inf" => Value::Float(f64::INFINITY),
            "-0.0" => {
                assert!(matches!(value, Value::Float(f) if f == 0.0 && f.is_sign_negative()));
                continue;
            }
            r if r.starts_with("b'") => Value::Bytes(Bytes::copy_from_slice(&r.as_bytes()[2..r.len() - 1])),
            r if r.starts_with('[') => continue,
            r => match r.parse::<i128>() {
                Ok(n) => Value::Int(n),
                // 2**447: check the digits (64 bytes of prefix, the top one 0x40).
                Err(_) => {
                    let Value::BigInt(b) = &value else { panic!("{}: {value:?}", line.at()) };
                    assert_eq!(b.digits().len(), 64);
                    assert_eq!(b.digits()[63], 0x40);
                    continue;
                }
            },
        };
        assert_eq!(value, expected, "{}", line.at());
        checked += 1;
    }
    assert!(checked >= 17, "{checked}");
    assert_eq!(decode(&[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x85]).unwrap(), {
        Value::from_u128(1 << 64, false)
    });
}

/// All messages of the fixture files in one stream, as a peer would see them.
fn stream() -> (Vec<u8>, Vec<Vec<u8>>) {
    let exprs: Vec<Vec<u8>> = fixtures::all().into_iter().filter(|l| l.dir != "val").map(|l| l.bytes).collect();
    (exprs.concat(), exprs)
}

#[test]
fn the_splitter_cuts_a_session_at_every_split_point() {
    let (all, exprs) = stream();
    for cut in 0..=all.len() {
        let mut s = Splitter::new(Limits::default());
        s.set_dialect(Dialect::Pb);
        let mut out = Vec::new();
        let mut buf = BytesMut::from(&all[..cut]);
        while let Some(e) = s.split(&mut buf).unwrap() {
            out.push(e.to_vec());
        }
        buf.extend_from_slice(&all[cut..]);
        while let Some(e) = s.split(&mut buf).unwrap() {
            out.push(e.to_vec());
        }
        assert_eq!(out, exprs, "cut at {cut}");
        assert!(buf.is_empty());
    }
}

#[test]
fn the_splitter_takes_a_byte_at_a_time() {
    let (all, exprs) = stream();
    let mut s = Splitter::new(Limits::default());
    s.set_dialect(Dialect::Pb);
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    for b in all {
        buf.extend_from_slice(&[b]);
        while let Some(e) = s.split(&mut buf).unwrap() {
            out.push(e.to_vec());
        }
        assert_eq!(s.has_begun(), !buf.is_empty());
    }
    assert_eq!(out, exprs);
}

/// The splitter's and the decoder's verdicts on hostile bytes (both must
/// be errors, or `Ok(None)` for the splitter when the bytes are merely
/// incomplete).
type Verdicts = (Result<Option<BytesMut>, Error>, Result<(Value, usize), Error>);

fn hostile(bytes: &[u8], limits: Limits) -> Verdicts {
    let mut s = Splitter::new(limits);
    s.set_dialect(Dialect::Pb);
    let split = s.split(&mut BytesMut::from(bytes));
    let decoded = banana::decode(&Bytes::copy_from_slice(bytes), Dialect::Pb, limits.max_depth);
    (split, decoded)
}

#[test]
fn hostile_banana_is_an_error_never_a_panic() {
    let lim = Limits::default();
    let mut count_655361 = vec![0x01, 0x00, 0x28, 0x80];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("65-byte prefix", [vec![0x01; 65], vec![0x81]].concat()),
        ("65-byte prefix, no type byte yet", vec![0x01; 65]),
        ("list count 655,361", count_655361.clone()),
        ("string length 655,361", {
            count_655361[3] = 0x82;
            count_655361
        }),
        ("unknown type byte", vec![0x01, 0x88]),
        ("type byte 0xff", vec![0x01, 0xff]),
        ("unknown vocabulary index 32", vec![0x20, 0x87]),
        ("vocabulary index 0", vec![0x00, 0x87]),
        ("huge vocabulary index", [vec![0x7f; 64], vec![0x87]].concat()),
    ];
    for (what, bytes) in &cases {
        let (split, decoded) = hostile(bytes, lim);
        assert!(split.is_err(), "{what}: splitter said {split:?}");
        assert!(decoded.is_err(), "{what}: decoder said {decoded:?}");
    }
    // Vocabulary outside dialect "pb".
    let mut s = Splitter::new(lim);
    assert!(s.split(&mut BytesMut::from(&[0x01u8, 0x87][..])).is_err());
    assert!(banana::decode(&Bytes::from_static(&[0x01, 0x87]), Dialect::None, 64).is_err());
}

#[test]
fn truncated_input_waits_in_the_splitter_and_fails_in_the_decoder() {
    let cases: [&[u8]; 4] =
        [&[0x84, 0x3f, 0xf8, 0, 0], &[0x05, 0x82, b'h', b'i'], &[0x02, 0x80, 0x01, 0x81], &[0x01, 0x01]];
    for bytes in cases {
        let (split, decoded) = hostile(bytes, Limits::default());
        assert!(matches!(split, Ok(None)), "{bytes:?}: {split:?}");
        assert!(matches!(decoded, Err(Error::Protocol(_))), "{bytes:?}: {decoded:?}");
    }
}

#[test]
fn depth_and_size_over_the_limits_are_errors() {
    let deep: Vec<u8> = [0x01, 0x80].repeat(100_000);
    let (split, decoded) = hostile(&deep, Limits::default());
    assert!(matches!(split, Err(Error::LimitExceeded { .. })), "{split:?}");
    assert!(matches!(decoded, Err(Error::LimitExceeded { .. })), "{decoded:?}");

    let small = Limits { max_depth: 64, max_len: 1024 };
    let long_list: Vec<u8> = [&[0x00, 0x10, 0x80][..], &[0x01, 0x81].repeat(2048)].concat();
    let (split, _) = hostile(&long_list, small);
    assert!(matches!(split, Err(Error::LimitExceeded { .. })), "{split:?}");
    let long_string = [0x00, 0x10, 0x82];
    let (split, _) = hostile(&long_string, small);
    assert!(matches!(split, Err(Error::LimitExceeded { .. })), "claimed before arriving: {split:?}");
}

#[test]
fn a_claimed_count_reserves_nothing() {
    // A list claiming 655,360 elements, then one element: the splitter holds
    // the few bytes that arrived, and waits.
    let mut s = Splitter::new(Limits::default());
    let mut buf = BytesMut::from(&[0x00, 0x00, 0x28, 0x80, 0x01, 0x81][..]);
    assert!(s.split(&mut buf).unwrap().is_none());
    assert!(s.has_begun());
    assert!(buf.capacity() < 1024, "{}", buf.capacity());
}

#[test]
fn the_dialect_switches_between_expressions_of_one_read() {
    // The client's dialect pick and its first vocabulary message arrive
    // together: the server cuts the pick, switches, then cuts the rest.
    let t = fixtures::load("handshake");
    let c2s: Vec<u8> = t.iter().filter(|l| l.dir == "C>S").flat_map(|l| l.bytes.clone()).collect();
    let mut s = Splitter::new(Limits::default());
    let mut buf = BytesMut::from(&c2s[..]);
    let pick = s.split(&mut buf).unwrap().unwrap();
    assert_eq!(decode(&pick).unwrap(), Value::bytes(b"pb"));
    assert!(s.clone().split(&mut buf.clone()).is_err(), "vocabulary before the switch");
    s.set_dialect(Dialect::Pb);
    let version = s.split(&mut buf).unwrap().unwrap();
    assert_eq!(decode(&version).unwrap(), Value::List(vec![Value::bytes(b"version"), Value::Int(6)]));
}
