//! Jelly to Rust values, through serde.
//!
//! The deserializer reads a decoded banana tree. Shared objects
//! (`["reference", n, X]` then `["dereference", n]`) are found by a scan
//! before decoding starts, and each dereference decodes `X` again (Rust
//! values have no identity to share). A dereference inside the object it
//! names (a cycle) is an error. Since nested dereferences could multiply the
//! work, the decode may visit at most twice the tree's nodes plus 65,536.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde::de::value::{BoolDeserializer, BytesDeserializer, U64Deserializer};
use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::super::banana::{BigInt, Value};
use super::cache::{CACHE_NAME, CACHED, LCACHE, is_cache_tag};
use super::error::{Error, Result};
use super::form::{self, names};
use super::refs::{REF_NAME, ROOT_LUID, RefForm};
use crate::wire::twisted::banana::limits::limit_error;

/// Options of jelly decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Most containers (jelly lists, tuples, dicts, copies, enum payloads)
    /// nested in the value decoded, dereferences included.
    pub max_depth: usize,
}

impl Default for DecodeOptions {
    /// pb's default depth (64).
    fn default() -> Self {
        DecodeOptions { max_depth: crate::wire::depth::DEFAULT_MAX_DEPTH }
    }
}

/// Decode a `T` from a jelly value with the default options.
///
/// # Errors
///
/// A value that is not a `T` (see the [module docs](super) for what maps to
/// what), a jelly form pb does not support, a bad reference, or a limit.
pub fn from_value<'de, T: de::Deserialize<'de>>(value: &'de Value) -> Result<T> {
    from_value_with(value, &DecodeOptions::default())
}

/// Decode a `T` from a jelly value.
///
/// # Errors
///
/// As [`from_value`].
pub fn from_value_with<'de, T: de::Deserialize<'de>>(value: &'de Value, options: &DecodeOptions) -> Result<T> {
    let cx = Cx::scan(value, options)?;
    T::deserialize(Deserializer { value, cx: &cx, depth: 0 })
}

/// What one decode shares: the shared objects, and its bookkeeping.
struct Cx<'de> {
    /// `["reference", n, X]`: n to X.
    shared: HashMap<i128, &'de Value>,
    /// Shared objects being decoded (a dereference to one is a cycle).
    active: RefCell<Vec<i128>>,
    /// Above 0 while a dereference re-decodes a subtree.
    replay: Cell<usize>,
    /// Nodes the decode may still visit, of `max_nodes`.
    budget: Cell<usize>,
    max_nodes: usize,
    max_depth: usize,
}

impl<'de> Cx<'de> {
    fn scan(root: &'de Value, options: &DecodeOptions) -> Result<Self> {
        let mut shared = HashMap::new();
        let mut nodes = 0usize;
        let mut todo = vec![root];
        while let Some(v) = todo.pop() {
            nodes += 1;
            let Value::List(items) = v else { continue };
            if let Some((names::REFERENCE, [Value::Int(n), inner])) = form::split(v)
                && shared.insert(*n, inner).is_some()
            {
                return Err(Error::new(format_args!("jelly reference {n} defined twice")));
            }
            todo.extend(items);
        }
        let budget = nodes.saturating_mul(2).saturating_add(1 << 16);
        Ok(Cx {
            shared,
            active: RefCell::new(Vec::new()),
            replay: Cell::new(0),
            budget: Cell::new(budget),
            max_nodes: budget,
            max_depth: options.max_depth,
        })
    }
}

/// Undoes a resolution's bookkeeping when the value has been decoded.
struct Guard<'a, 'de> {
    cx: &'a Cx<'de>,
    pushed: usize,
    replays: usize,
}

impl Drop for Guard<'_, '_> {
    fn drop(&mut self) {
        let mut active = self.cx.active.borrow_mut();
        let keep = active.len().saturating_sub(self.pushed);
        active.truncate(keep);
        self.cx.replay.set(self.cx.replay.get().saturating_sub(self.replays));
    }
}

/// A jelly node, classified.
enum Form<'de> {
    Int(i128),
    Big(&'de BigInt),
    Float(f64),
    Bytes(&'de [u8]),
    None,
    Bool(bool),
    Text(&'de str),
    Seq(&'de [Value]),
    Dict(&'de [Value]),
    Copy(&'de str, &'de Value),
    Ref(RefForm),
}

fn classify(value: &Value) -> Result<Form<'_>> {
    let items = match value {
        Value::Int(n) => return Ok(Form::Int(*n)),
        Value::BigInt(b) => return Ok(Form::Big(b)),
        Value::Float(f) => return Ok(Form::Float(*f)),
        Value::Bytes(b) => return Ok(Form::Bytes(b)),
        Value::List(items) => items,
    };
    let Some((head, rest)) = form::split(value) else {
        return Err(Error::new(format_args!(
            "bare banana list of {} elements (jelly lists start with a type name)",
            items.len()
        )));
    };
    Ok(match (head, rest) {
        (names::NONE, []) => Form::None,
        (names::BOOLEAN, [Value::Bytes(b)]) if &b[..] == b"true" => Form::Bool(true),
        (names::BOOLEAN, [Value::Bytes(b)]) if &b[..] == b"false" => Form::Bool(false),
        (names::UNICODE, [Value::Bytes(b)]) => {
            Form::Text(std::str::from_utf8(b).map_err(|_| Error::new("jelly unicode that is not UTF-8"))?)
        }
        (names::LIST | names::TUPLE | names::SET | names::FROZENSET, items) => Form::Seq(items),
        (names::DICTIONARY, entries) => Form::Dict(entries),
        // The receiver's root, which PB names instead of numbering.
        (names::LOCAL, [Value::Bytes(b)]) if &b[..] == b"root" => Form::Ref(RefForm::Local(ROOT_LUID)),
        (names::REMOTE | names::LOCAL, [Value::Int(n)]) => {
            let luid = u64::try_from(*n).map_err(|_| Error::new(format_args!("bad reference luid {n}")))?;
            Form::Ref(RefForm::from_kind(head, luid).ok_or_else(|| Error::new("reference kind"))?)
        }
        (tag, [state]) if tag.contains(&b'.') && !tag.starts_with(b".") => {
            let tag = std::str::from_utf8(tag).map_err(|_| Error::new("copy tag that is not UTF-8"))?;
            Form::Copy(tag, state)
        }
        (tag, _) => {
            return Err(Error::new(format_args!(
                "unsupported or malformed jelly type {:?}",
                String::from_utf8_lossy(&tag[..tag.len().min(64)])
            )));
        }
    })
}

/// The serde deserializer reading jelly [`Value`]s (see [`from_value`]).
pub(crate) struct Deserializer<'a, 'de> {
    value: &'de Value,
    cx: &'a Cx<'de>,
    depth: usize,
}

impl<'a, 'de> Deserializer<'a, 'de> {
    fn at(&self, value: &'de Value, depth: usize) -> Deserializer<'a, 'de> {
        Deserializer { value, cx: self.cx, depth }
    }

    /// The depth of this node's children, or the depth error.
    fn nested(&self) -> Result<usize> {
        if self.depth >= self.cx.max_depth {
            return Err(Error(limit_error("jelly nesting depth", self.cx.max_depth)));
        }
        Ok(self.depth + 1)
    }

    /// A cacheable's form (see [`CacheIn`](super::cache::CacheIn)): the
    /// sequence kind, tag, luid, first, and the state of a first send.
    fn deserialize_cache<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        let first = self.cx.replay.get() == 0;
        let luid = |n: &i128| u64::try_from(*n).map_err(|_| Error::new(format_args!("bad cache luid {n}")));
        let (kind, tag, luid, state): (&'de [u8], &'de [u8], u64, Option<&'de Value>) = match form::split(value) {
            Some((word @ (CACHED | LCACHE), [Value::Int(n)])) => (word, b"", luid(n)?, None),
            Some((tag, [Value::Int(n), state])) if is_cache_tag(tag) => (b"cache", tag, luid(n)?, Some(state)),
            _ => {
                return Err(Error::new(
                    "expected a PB cacheable ([tag, luid, state], [\"cached\", luid] or [\"lcache\", luid])",
                ));
            }
        };
        let depth = self.nested()?;
        visitor.visit_seq(CacheSeq { kind, tag, luid, first, state: state.map(|s| self.at(s, depth)), next: 0 })
    }

    /// Follow references and dereferences to the value they stand for.
    fn resolve(&self) -> Result<(&'de Value, Guard<'a, 'de>)> {
        let cx = self.cx;
        let mut guard = Guard { cx, pushed: 0, replays: 0 };
        let mut value = self.value;
        loop {
            let left = cx
                .budget
                .get()
                .checked_sub(1)
                .ok_or_else(|| Error(limit_error("jelly nodes decoded", cx.max_nodes)))?;
            cx.budget.set(left);
            match form::split(value) {
                Some((names::REFERENCE, [Value::Int(n), inner])) => {
                    cx.active.borrow_mut().push(*n);
                    guard.pushed += 1;
                    value = inner;
                }
                Some((names::DEREFERENCE, [Value::Int(n)])) => {
                    if cx.active.borrow().contains(n) {
                        return Err(Error::new(format_args!("jelly dereference {n} inside itself (a cycle)")));
                    }
                    let target =
                        cx.shared.get(n).ok_or_else(|| Error::new(format_args!("jelly dereference {n} to nothing")))?;
                    cx.active.borrow_mut().push(*n);
                    guard.pushed += 1;
                    cx.replay.set(cx.replay.get() + 1);
                    guard.replays += 1;
                    value = target;
                }
                _ => return Ok((value, guard)),
            }
        }
    }

    fn visit<V: Visitor<'de>>(&self, value: &'de Value, form: Form<'de>, visitor: V) -> Result<V::Value> {
        match form {
            Form::Int(n) => match (i64::try_from(n), u64::try_from(n)) {
                (Ok(n), _) => visitor.visit_i64(n),
                (_, Ok(n)) => visitor.visit_u64(n),
                _ => visitor.visit_i128(n),
            },
            Form::Big(b) => match (b.is_negative(), b.magnitude()) {
                (false, Some(m)) => visitor.visit_u128(m),
                _ => Err(Error::new("integer out of the range of Rust's integers")),
            },
            Form::Float(f) => visitor.visit_f64(f),
            Form::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Form::None => visitor.visit_unit(),
            Form::Bool(b) => visitor.visit_bool(b),
            Form::Text(s) => visitor.visit_borrowed_str(s),
            Form::Seq(items) => {
                let mut seq = Items { iter: items.iter(), de: self.at(value, self.nested()?) };
                let v = visitor.visit_seq(&mut seq)?;
                seq.end(items.len())?;
                Ok(v)
            }
            Form::Dict(entries) => {
                let mut map = Entries { iter: entries.iter(), value: None, de: self.at(value, self.nested()?) };
                let v = visitor.visit_map(&mut map)?;
                map.end(entries.len())?;
                Ok(v)
            }
            Form::Copy(_, state) => de::Deserializer::deserialize_any(self.at(state, self.nested()?), visitor),
            Form::Ref(form) => visitor.visit_seq(RefSeq::new(form, None)),
        }
    }
}

impl<'de> de::Deserializer<'de> for Deserializer<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        self.visit(value, classify(value)?, visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        match classify(value)? {
            Form::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            form => self.visit(value, form, visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        match classify(value)? {
            Form::None => visitor.visit_none(),
            _ => visitor.visit_some(self.at(value, self.depth)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        match classify(value)? {
            // No arguments: `()` from an empty tuple.
            Form::Seq([]) => visitor.visit_unit(),
            form => self.visit(value, form, visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value> {
        if name == CACHE_NAME {
            return self.deserialize_cache(visitor);
        }
        if name != REF_NAME {
            return visitor.visit_newtype_struct(self);
        }
        let (value, _guard) = self.resolve()?;
        match classify(value)? {
            Form::Ref(form) => {
                let first = self.cx.replay.get() == 0;
                visitor.visit_newtype_struct(RefSeq::new(form, Some(first)))
            }
            _ => Err(Error::new("expected a PB reference ([\"remote\", luid] or [\"local\", luid])")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        match classify(value)? {
            Form::Copy(tag, _) if name.contains('.') && tag != name => {
                Err(Error::new(format_args!("expected a copy of {name:?}, got one of {tag:?}")))
            }
            Form::Copy(_, state) => self.at(state, self.nested()?).deserialize_struct("", fields, visitor),
            form => self.visit(value, form, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let (value, _guard) = self.resolve()?;
        let depth = self.nested()?;
        match classify(value)? {
            Form::Text(_) | Form::Bytes(_) => visitor.visit_enum(Variant { de: self.at(value, depth), payload: None }),
            Form::Dict([Value::List(entry)]) if entry.len() == 2 => {
                visitor.visit_enum(Variant { de: self.at(&entry[0], depth), payload: Some(&entry[1]) })
            }
            _ => Err(Error::new("expected an enum: a variant name, or a dictionary of one variant")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf seq tuple tuple_struct map
    }
}

/// The elements of a jelly sequence.
struct Items<'a, 'de> {
    iter: std::slice::Iter<'de, Value>,
    /// The children's deserializer (its value is replaced per element).
    de: Deserializer<'a, 'de>,
}

impl Items<'_, '_> {
    fn end(&self, len: usize) -> Result<()> {
        match self.iter.len() {
            0 => Ok(()),
            left => Err(de::Error::invalid_length(len, &format!("{} elements", len - left).as_str())),
        }
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.iter.next() {
            Some(v) => seed.deserialize(self.de.at(v, self.de.depth)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of a jelly dictionary.
struct Entries<'a, 'de> {
    iter: std::slice::Iter<'de, Value>,
    value: Option<&'de Value>,
    de: Deserializer<'a, 'de>,
}

impl Entries<'_, '_> {
    fn end(&self, len: usize) -> Result<()> {
        match self.iter.len() {
            0 => Ok(()),
            left => Err(de::Error::invalid_length(len, &format!("{} entries", len - left).as_str())),
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(entry) = self.iter.next() else { return Ok(None) };
        let Some([key, value]) = entry.as_list() else {
            return Err(Error::new("jelly dictionary entry that is not a [key, value] pair"));
        };
        self.value = Some(value);
        seed.deserialize(self.de.at(key, self.de.depth)).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let value = self.value.take().ok_or_else(|| Error::new("dictionary value without a key"))?;
        seed.deserialize(self.de.at(value, self.de.depth))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum: its variant name, and the payload if it came as a dictionary.
struct Variant<'a, 'de> {
    de: Deserializer<'a, 'de>,
    payload: Option<&'de Value>,
}

impl<'a, 'de> EnumAccess<'de> for Variant<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self)> {
        let name = seed.deserialize(self.de.at(self.de.value, self.de.depth))?;
        Ok((name, self))
    }
}

impl<'de> Variant<'_, 'de> {
    fn payload(&self) -> Result<&'de Value> {
        self.payload.ok_or_else(|| Error::new("enum variant without its payload"))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.payload {
            None => Ok(()),
            Some(v) => de::Deserialize::deserialize(self.de.at(v, self.de.depth)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.de.at(self.payload()?, self.de.depth))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self.de.at(self.payload()?, self.de.depth), len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self.de.at(self.payload()?, self.de.depth), "", fields, visitor)
    }
}

/// A reference as serde data: its kind (bytes), its luid and, inside the
/// reserved newtype, whether this is its first decode.
/// The sequence a cacheable's form is read as (see `deserialize_cache`).
struct CacheSeq<'a, 'de> {
    kind: &'de [u8],
    tag: &'de [u8],
    luid: u64,
    first: bool,
    state: Option<Deserializer<'a, 'de>>,
    next: u8,
}

impl<'de> SeqAccess<'de> for CacheSeq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.next += 1;
        match self.next {
            1 => seed.deserialize(BytesDeserializer::new(self.kind)).map(Some),
            2 => seed.deserialize(BytesDeserializer::new(self.tag)).map(Some),
            3 => seed.deserialize(U64Deserializer::new(self.luid)).map(Some),
            4 => seed.deserialize(BoolDeserializer::new(self.first)).map(Some),
            5 => self.state.take().map(|de| seed.deserialize(de)).transpose(),
            _ => Ok(None),
        }
    }
}

struct RefSeq {
    form: RefForm,
    first: Option<bool>,
    next: u8,
}

impl RefSeq {
    fn new(form: RefForm, first: Option<bool>) -> Self {
        RefSeq { form, first, next: 0 }
    }
}

impl<'de> SeqAccess<'de> for RefSeq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.next += 1;
        match (self.next, self.first) {
            (1, _) => seed.deserialize(BytesDeserializer::new(self.form.kind())).map(Some),
            (2, _) => seed.deserialize(U64Deserializer::new(self.form.luid())).map(Some),
            (3, Some(first)) => seed.deserialize(BoolDeserializer::new(first)).map(Some),
            _ => Ok(None),
        }
    }
}

impl<'de> de::Deserializer<'de> for RefSeq {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}
