//! The jelly decoder: one banana expression decoded as jelly into several
//! Rust types (a generic Python-like value, records, a recursive tree,
//! references, tuples, options). It must never panic or overflow the stack
//! (shared references may not blow up the work either), and a value that
//! decodes must encode to jelly and decode again to the same jelly.
//!
//! Input: 1 byte maximum depth, then a banana expression (dialect "pb").

#![no_main]

use std::collections::BTreeMap;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pb::wire::twisted::banana::{self, Dialect, Value};
use pb::wire::twisted::jelly::{self, DecodeOptions, Received};
use pb_fuzz_common::{Mixed, Tree};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Anything jelly carries, through `deserialize_any`. (Lists come before
/// bytes, since a blob also accepts a list of small ints, and bytes before
/// text, since text also accepts UTF-8 bytes.)
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Any {
    None(()),
    Bool(bool),
    Int(i64),
    Wide(u128),
    Float(f64),
    List(Vec<Any>),
    Dict(BTreeMap<String, Any>),
    Bytes(#[serde(with = "bytes_as_blob")] Vec<u8>),
    Text(String),
}

mod bytes_as_blob {
    use pb::Blob;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        Blob::from(v.to_vec()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Blob::deserialize(d).map(|b| b.to_vec())
    }
}

/// A record with a copy tag.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
struct User {
    id: i64,
    name: String,
    tags: Option<Vec<String>>,
}

fn check<T: Serialize + DeserializeOwned>(value: &Value, options: &DecodeOptions) {
    let Ok(decoded) = jelly::from_value_with::<T>(value, options) else { return };
    let Ok(jellied) = jelly::to_value(&decoded) else { return };
    let again: T =
        jelly::from_value_with(&jellied, &DecodeOptions { max_depth: usize::MAX }).expect("an encoded value decodes");
    let rejellied = jelly::to_value(&again).expect("re-encodes");
    let (a, b) = (banana::encode_to_vec(&jellied, Dialect::Pb), banana::encode_to_vec(&rejellied, Dialect::Pb));
    assert_eq!(a.ok(), b.ok());
}

fuzz_target!(|data: &[u8]| {
    let Some((&depth, rest)) = data.split_first() else { return };
    let depth = depth as usize % 80;
    let Ok((value, _)) = banana::decode(&Bytes::copy_from_slice(rest), Dialect::Pb, depth) else { return };
    let options = DecodeOptions { max_depth: depth };
    check::<Any>(&value, &options);
    check::<Mixed>(&value, &options);
    check::<Tree>(&value, &options);
    check::<User>(&value, &options);
    check::<(String, u8, Option<Vec<i8>>)>(&value, &options);
    let _ = jelly::from_value_with::<Vec<Received>>(&value, &options);
    let _ = jelly::from_value_with::<BTreeMap<String, (Received, Option<Received>)>>(&value, &options);
});
