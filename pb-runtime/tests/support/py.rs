//! [`Py`]: any Python value jelly carries, decoded through
//! `deserialize_any` (like `serde_json::Value`), for tests.

#![allow(dead_code)]

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};

/// A Python value.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i128),
    /// A float.
    Float(f64),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `str`.
    Str(String),
    /// A list (decoded sequences of any kind land here).
    List(Vec<Py>),
    /// A tuple (encoding only: decoding cannot tell it from a list).
    Tuple(Vec<Py>),
    /// A dict, in order.
    Dict(Vec<(Py, Py)>),
}

impl Serialize for Py {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Py::None => s.serialize_none(),
            Py::Bool(b) => s.serialize_bool(*b),
            Py::Int(n) => s.serialize_i128(*n),
            Py::Float(f) => s.serialize_f64(*f),
            Py::Bytes(b) => s.serialize_bytes(b),
            Py::Str(t) => s.serialize_str(t),
            Py::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Py::Tuple(items) => {
                let mut seq = s.serialize_tuple(items.len())?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Py::Dict(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Py {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PyVisitor)
    }
}

struct PyVisitor;

impl<'de> Visitor<'de> for PyVisitor {
    type Value = Py;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Python value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Py, E> {
        Ok(Py::None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Py, E> {
        Ok(Py::None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Py, E> {
        Ok(Py::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Py, E> {
        Ok(Py::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Py, E> {
        Ok(Py::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Py, E> {
        Ok(Py::Int(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Py, E> {
        Ok(Py::Float(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Py, E> {
        Ok(Py::Bytes(v.to_vec()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Py, E> {
        Ok(Py::Str(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Py, A::Error> {
        let mut items = Vec::new();
        while let Some(i) = seq.next_element()? {
            items.push(i);
        }
        Ok(Py::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Py, A::Error> {
        let mut entries = Vec::new();
        while let Some(e) = map.next_entry()? {
            entries.push(e);
        }
        Ok(Py::Dict(entries))
    }
}

/// `str`.
pub fn s(t: &str) -> Py {
    Py::Str(t.to_string())
}
