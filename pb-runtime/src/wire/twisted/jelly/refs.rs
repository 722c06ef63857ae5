//! References to objects inside jelly: PB's `["remote", luid]` and
//! `["local", luid]`.
//!
//! jelly itself knows nothing of connections. A Rust type that stands for
//! a remote object (pb's `Arc<dyn Iface>`, `Ref<T>`, `AnyRef`) serializes a
//! [`RefForm`] and deserializes a [`Received`]; the jelly serializer and
//! deserializer recognise them by the reserved newtype name [`REF_NAME`] and
//! write or read the PB forms. Turning a form into an object and back is the
//! connection's job, done inside those `Serialize`/`Deserialize` impls with
//! the connection lent through a scoped thread-local, as pb's postcard path
//! does with its `WireCx`: either the connection's own context, or a
//! [`RefHook`](super::hook::RefHook) lent with
//! [`with_hook`](super::hook::with_hook) and reached through
//! [`serialize_ref`](super::hook::serialize_ref) and
//! [`deserialize_ref`](super::hook::deserialize_ref).
//!
//! - `RefForm::Remote(luid)`: an object the *sender* exports under `luid`
//!   (Twisted's `Referenceable.jellyFor`); the receiver makes a proxy.
//! - `RefForm::Local(luid)`: an object the *receiver* exported earlier,
//!   sent back to it (Twisted's `RemoteReference.jellyFor` to its owner);
//!   it arrives as the original object, with no count change.
//!
//! Twisted counts one reference per occurrence it receives (each
//! `RemoteReference` sends its own decref), but an object shared inside one
//! message arrives once plus `["dereference", n]`s. The deserializer
//! re-decodes a dereferenced subtree for each use, so a `["remote", n]`
//! inside it is met several times: [`Received::first`] is `false` on the
//! repeats, and only the first should be counted.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::form;
use crate::wire::twisted::banana::Value;

/// The newtype name the jelly serializer and deserializer reserve for
/// references (a NUL byte first, so no Rust type can clash with it).
pub const REF_NAME: &str = "\0pb.twisted.ref";

/// The luid a decode gives `["local", b"root"]`: the receiver's root
/// object sent back to it (PB names the root `b"root"` rather than giving it
/// a luid; exported objects have luids from 1 up).
pub const ROOT_LUID: u64 = 0;

/// How a reference travels in jelly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefForm {
    /// `["remote", luid]`: an object the sender exports.
    Remote(u64),
    /// `["local", luid]`: an object the receiver exported.
    Local(u64),
}

impl RefForm {
    /// The form's name on the wire (`b"remote"` or `b"local"`).
    pub fn kind(self) -> &'static [u8] {
        match self {
            RefForm::Remote(_) => super::form::names::REMOTE,
            RefForm::Local(_) => super::form::names::LOCAL,
        }
    }

    /// The luid.
    pub fn luid(self) -> u64 {
        match self {
            RefForm::Remote(id) | RefForm::Local(id) => id,
        }
    }

    /// The form with wire name `kind`, if it is one.
    pub fn from_kind(kind: &[u8], luid: u64) -> Option<RefForm> {
        match kind {
            b"remote" => Some(RefForm::Remote(luid)),
            b"local" => Some(RefForm::Local(luid)),
            _ => None,
        }
    }
}

/// A reference as decoded: its form, and whether this is the first time the
/// decode met this occurrence (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The form.
    pub form: RefForm,
    /// `false` when a `["dereference", n]` re-decodes an occurrence already met.
    pub first: bool,
}

/// The serde data inside the reserved newtype: the kind as bytes and the luid.
struct Kind<'a>(&'a [u8]);

impl Serialize for Kind<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for RefForm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(REF_NAME, &(Kind(self.kind()), self.luid()))
    }
}

impl<'de> Deserialize<'de> for RefForm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Received::deserialize(d).map(|r| r.form)
    }
}

impl<'de> Deserialize<'de> for Received {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(REF_NAME, RefVisitor)
    }
}

struct RefVisitor;

impl<'de> Visitor<'de> for RefVisitor {
    type Value = Received;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PB reference ([\"remote\", luid] or [\"local\", luid])")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Received, D::Error> {
        d.deserialize_tuple(3, self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Received, A::Error> {
        let kind: serde_bytes_like::ByteBuf = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let luid: u64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let first = seq.next_element::<bool>()?.unwrap_or(true);
        let form = RefForm::from_kind(&kind.0, luid)
            .ok_or_else(|| de::Error::custom(format_args!("unknown reference kind {:?}", kind.0)))?;
        Ok(Received { form, first })
    }
}

/// The luid of each `["remote", luid]` occurrence in a jelly value, in
/// order: what a receiver owes one decref each (Twisted counted one send per
/// occurrence), whether or not its decode met them. A `["dereference", n]`
/// repeats no occurrence; a dictionary entry `[key, value]` is not a form.
pub fn remote_occurrences(value: &Value) -> Vec<u64> {
    fn walk(value: &Value, out: &mut Vec<u64>) {
        let Some(items) = value.as_list() else { return };
        match items.split_first() {
            Some((head, [luid])) if head.as_bytes() == Some(form::names::REMOTE) => {
                if let Some(luid) = luid.as_int().and_then(|n| u64::try_from(n).ok()) {
                    out.push(luid);
                }
            }
            Some((head, entries)) if head.as_bytes() == Some(form::names::DICTIONARY) => {
                for entry in entries {
                    entry.as_list().into_iter().flatten().for_each(|kv| walk(kv, out));
                }
            }
            _ => items.iter().for_each(|item| walk(item, out)),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

/// A byte string that also accepts text (the kind may come back as either).
pub(crate) mod serde_bytes_like {
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, Visitor};

    pub(crate) struct ByteBuf(pub(crate) Vec<u8>);

    impl<'de> Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_byte_buf(V)
        }
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = ByteBuf;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
            Ok(ByteBuf(v.to_vec()))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
            Ok(ByteBuf(v.as_bytes().to_vec()))
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
            let mut v = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                if v.len() >= 16 {
                    return Err(de::Error::custom("reference kind too long"));
                }
                v.push(b);
            }
            Ok(ByteBuf(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_occurrences_count_forms_not_lookalikes() {
        let remote = |n| Value::List(vec![Value::bytes(b"remote"), Value::Int(n)]);
        let shared = Value::List(vec![Value::bytes(b"reference"), Value::Int(1), remote(5)]);
        let deref = Value::List(vec![Value::bytes(b"dereference"), Value::Int(1)]);
        // {b"remote": 9}: a dictionary entry, not a reference.
        let lookalike = form::dictionary([(Value::bytes(b"remote"), Value::Int(9))]);
        let copy = Value::List(vec![Value::bytes(b"aurora.Box"), form::dictionary([(form::unicode("r"), remote(7))])]);
        let local = Value::List(vec![Value::bytes(b"local"), Value::Int(3)]);
        let value = form::tuple([shared, deref, lookalike, copy, local, remote(5)]);
        assert_eq!(remote_occurrences(&value), vec![5, 7, 5]);
    }

    #[test]
    fn the_root_sent_back_by_name_is_local_root_luid() {
        let root = Value::List(vec![Value::bytes(b"local"), Value::bytes(b"root")]);
        assert_eq!(super::super::from_value::<RefForm>(&root).unwrap(), RefForm::Local(ROOT_LUID));
        let other = Value::List(vec![Value::bytes(b"local"), Value::bytes(b"other")]);
        assert!(super::super::from_value::<RefForm>(&other).is_err());
    }
}
