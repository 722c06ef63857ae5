//! A nesting limit for decoding.
//!
//! postcard decodes by recursion through the types being decoded and has no
//! depth limit of its own: a hostile peer that sends a recursive type (a tree,
//! a linked list, an `enum` that boxes itself) nested 50,000 deep overflows
//! the stack and aborts the process. [`Depth`] wraps any serde
//! [`Deserializer`] and counts how deeply nested the value being decoded is;
//! past the limit it fails the decode instead of recursing further.
//!
//! Each of these counts as one level: a `struct`, a tuple, an `enum`, an
//! `Option` holding a value, a newtype struct, a sequence and a map. A value
//! at the top level is at depth 0, the fields of a top-level struct at depth 1,
//! and so on. Cap'n Proto's nesting limit is the model (also 64 by default).
//!
//! Every header and payload pb decodes goes through [`take_from_bytes`],
//! with the connection's [`Config::max_depth`](crate::Config::max_depth).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use crate::Error;

/// Default maximum nesting depth of a decoded message (as Cap'n Proto's).
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// A [`Deserializer`] that fails once values nest deeper than a limit.
///
/// Use [`take_from_bytes`] for postcard; this type is public so other
/// decoders (and the fuzz targets) can wrap any deserializer.
pub struct Depth<'b, D> {
    inner: D,
    depth: usize,
    budget: &'b DepthBudget,
}

/// The shared state of one depth-limited decode: the limit, and whether the
/// decode failed on it (postcard drops the text of custom errors, so the
/// structured error is rebuilt from this flag).
#[derive(Debug)]
pub struct DepthBudget {
    max: usize,
    exceeded: Cell<bool>,
}

impl DepthBudget {
    /// A budget allowing values nested `max_depth` levels deep.
    pub fn new(max_depth: usize) -> Self {
        DepthBudget { max: max_depth, exceeded: Cell::new(false) }
    }

    /// Whether a decode using this budget failed on the depth limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    /// The limit.
    pub fn max_depth(&self) -> usize {
        self.max
    }
}

impl<'b, D> Depth<'b, D> {
    /// Wrap `inner`; the value it decodes is at depth 0.
    pub fn new(inner: D, budget: &'b DepthBudget) -> Self {
        Depth { inner, depth: 0, budget }
    }

    /// Enter one more level of nesting, or fail.
    fn enter<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > self.budget.max {
            self.budget.exceeded.set(true);
            return Err(E::custom(format_args!("message nested deeper than {} levels", self.budget.max)));
        }
        Ok(depth)
    }

    fn wrap<V>(&self, inner: V, depth: usize) -> Wrap<'b, V> {
        Wrap { inner, depth, budget: self.budget }
    }
}

/// Decode a postcard value from the front of `bytes`, nested at most
/// `max_depth` levels deep; returns the value and the bytes after it.
///
/// # Errors
///
/// [`Error::LimitExceeded`] (`what` = "nesting depth") when the value nests
/// too deeply, [`Error::Protocol`] when it does not decode.
pub fn take_from_bytes<'a, T: de::Deserialize<'a>>(bytes: &'a [u8], max_depth: usize) -> Result<(T, &'a [u8]), Error> {
    let budget = DepthBudget::new(max_depth);
    let mut de = postcard::Deserializer::from_bytes(bytes);
    match T::deserialize(Depth::new(&mut de, &budget)) {
        Ok(value) => Ok((value, de.finalize()?)),
        Err(_) if budget.exceeded() => Err(depth_error(max_depth)),
        Err(e) => Err(e.into()),
    }
}

/// The error of a decode that nested deeper than `max_depth`.
pub(crate) fn depth_error(max_depth: usize) -> Error {
    Error::LimitExceeded { what: "nesting depth".into(), limit: max_depth as u64 }
}

macro_rules! forward_plain {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(visitor)
        }
    )*};
}

macro_rules! forward_nested {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let depth = self.enter()?;
            let visitor = self.wrap(visitor, depth);
            self.inner.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Depth<'_, D> {
    type Error = D::Error;

    forward_plain! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
    }

    forward_nested! { deserialize_any deserialize_ignored_any deserialize_option deserialize_seq deserialize_map }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        let depth = self.enter()?;
        let visitor = self.wrap(visitor, depth);
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        let depth = self.enter()?;
        let visitor = self.wrap(visitor, depth);
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let depth = self.enter()?;
        let visitor = self.wrap(visitor, depth);
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let depth = self.enter()?;
        let visitor = self.wrap(visitor, depth);
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let depth = self.enter()?;
        let visitor = self.wrap(visitor, depth);
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor, seed or access whose nested values decode at `depth`.
struct Wrap<'b, T> {
    inner: T,
    depth: usize,
    budget: &'b DepthBudget,
}

impl<'b, T> Wrap<'b, T> {
    fn de<D>(&self, inner: D) -> Depth<'b, D> {
        Depth { inner, depth: self.depth, budget: self.budget }
    }
    fn wrap<U>(&self, inner: U) -> Wrap<'b, U> {
        Wrap { inner, depth: self.depth, budget: self.budget }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.de(d);
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.de(d);
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        let d = self.de(d);
        self.inner.deserialize(d)
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'b, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<'b, A> {
    type Error = A::Error;
    type Variant = Wrap<'b, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), A::Error> {
        let (depth, budget) = (self.depth, self.budget);
        let seed = self.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, Wrap { inner: variant, depth, budget }))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u32),
        Node(Vec<Tree>),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct List {
        next: Option<Box<List>>,
    }

    fn nested_tree(depth: usize) -> Vec<u8> {
        // Node(vec![Node(vec![... Leaf(7) ...])]): variant 1, length 1, repeated.
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes.extend_from_slice(&[1, 1]);
        }
        bytes.extend_from_slice(&[0, 7]);
        bytes
    }

    #[test]
    fn values_within_the_limit_decode_as_postcard_would() {
        let tree = Tree::Node(vec![Tree::Leaf(1), Tree::Node(vec![Tree::Leaf(2)])]);
        let bytes = postcard::to_allocvec(&(tree, "tail".to_string(), Some(3u8))).unwrap();
        let (value, rest): ((Tree, String, Option<u8>), _) = take_from_bytes(&bytes, DEFAULT_MAX_DEPTH).unwrap();
        assert!(rest.is_empty());
        assert_eq!(value, postcard::from_bytes(&bytes).unwrap());
    }

    #[test]
    fn each_level_counts_once() {
        // Top-level enum (1) and its Vec (2) per Node; the Leaf is an enum too.
        let bytes = nested_tree(3);
        assert!(take_from_bytes::<Tree>(&bytes, 7).is_ok());
        assert!(matches!(take_from_bytes::<Tree>(&bytes, 6), Err(Error::LimitExceeded { limit: 6, .. })));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        for depth in [65, 1_000, 100_000] {
            let bytes = nested_tree(depth);
            match take_from_bytes::<Tree>(&bytes, DEFAULT_MAX_DEPTH) {
                Err(Error::LimitExceeded { what, limit }) => {
                    assert_eq!(limit, DEFAULT_MAX_DEPTH as u64);
                    assert!(what.contains("depth"));
                }
                other => panic!("expected the depth limit, got {other:?}"),
            }
        }
        let list = [1u8; 100_000]; // Some(List { next: Some(...) }) forever
        assert!(matches!(take_from_bytes::<List>(&list, DEFAULT_MAX_DEPTH), Err(Error::LimitExceeded { .. })));
    }

    #[test]
    fn other_errors_stay_protocol_errors() {
        assert!(matches!(take_from_bytes::<Tree>(&[9], DEFAULT_MAX_DEPTH), Err(Error::Protocol(_))));
        assert!(matches!(take_from_bytes::<String>(&[5, b'a'], DEFAULT_MAX_DEPTH), Err(Error::Protocol(_))));
    }
}
