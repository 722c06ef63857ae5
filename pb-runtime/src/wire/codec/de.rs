//! The decoder: postcard 1.x bytes to any `Deserialize` value, within a
//! nesting depth and a decoded-size budget.
//!
//! It accepts exactly what postcard's own deserializer accepts (the same
//! varint rules, the same tags), and fails where postcard does; it adds the
//! two limits of [`Limits`].

use std::collections::VecDeque;
use std::mem::size_of;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::DEPTH_WHAT;
use super::runs::{self, RunVisitor};
use super::{CodecError, Limits};

type Result<T> = std::result::Result<T, CodecError>;

/// The most bytes a varint of `bits` bits takes (postcard's `varint_max`).
const fn varint_max(bits: u32) -> usize {
    (bits as usize).div_ceil(7)
}

/// The largest last byte of a varint of `bits` bits (postcard's
/// `max_of_last_byte`).
const fn last_byte_max(bits: u32) -> u8 {
    (1 << (bits % 7)) - 1
}

/// The postcard deserializer over a byte slice.
pub(crate) struct Deserializer<'de> {
    input: &'de [u8],
    depth: usize,
    max_depth: usize,
    /// Bytes of decoded values still allowed.
    budget: usize,
    max_decoded_len: usize,
    /// The bytes already charged for the value being decoded (the size of
    /// the slot it goes into); a value larger than its slot (boxed away
    /// from it) is charged the difference.
    slot: usize,
}

impl<'de> Deserializer<'de> {
    pub(crate) fn new(input: &'de [u8], limits: Limits) -> Self {
        Deserializer {
            input,
            depth: 0,
            max_depth: limits.max_depth,
            budget: limits.max_decoded_len,
            max_decoded_len: limits.max_decoded_len,
            slot: 0,
        }
    }

    /// The bytes not decoded yet.
    pub(crate) fn rest(&self) -> &'de [u8] {
        self.input
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.input.split_first().ok_or_else(CodecError::end)?;
        self.input = rest;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        if n > self.input.len() {
            return Err(CodecError::end());
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("took N bytes"))
    }

    /// A varint of at most `bits` bits (16, 32 or 64), by postcard's rules:
    /// at most `varint_max(bits)` bytes, and no bits beyond `bits` in the last.
    #[inline]
    fn varint(&mut self, bits: u32) -> Result<u64> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(first.into());
        }
        let max = varint_max(bits);
        let mut out = u64::from(first & 0x7f);
        for i in 1..max {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == max - 1 && b > last_byte_max(bits) {
                    break;
                }
                return Ok(out);
            }
        }
        Err(CodecError::bad_varint())
    }

    fn varint_u128(&mut self) -> Result<u128> {
        let max = varint_max(128);
        let mut out = 0u128;
        for i in 0..max {
            let b = self.byte()?;
            out |= u128::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i == max - 1 && b > last_byte_max(128) {
                    break;
                }
                return Ok(out);
            }
        }
        Err(CodecError::bad_varint())
    }

    #[inline]
    fn len(&mut self) -> Result<usize> {
        Ok(self.varint(usize::BITS)? as usize)
    }

    /// Charge `n` bytes of decoded values to the budget.
    #[inline]
    fn charge(&mut self, n: usize) -> Result<()> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(CodecError::limit("decoded size", self.max_decoded_len)),
        }
    }

    /// Enter a compound value of type `T` one level deeper: check the depth,
    /// and charge what `T` takes beyond the slot it is decoded into.
    #[inline]
    fn enter<T>(&mut self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(CodecError::limit(DEPTH_WHAT, self.max_depth));
        }
        self.depth += 1;
        let size = size_of::<T>();
        if size > self.slot {
            self.charge(size - self.slot)?;
            self.slot = size;
        }
        Ok(())
    }

    #[inline]
    fn leave<T>(&mut self, value: T) -> T {
        self.depth -= 1;
        value
    }

    /// A byte run for serde's `Vec<u8>` or `VecDeque<u8>` visitor (`V`, as
    /// [`runs::run_visitor`] found): checked against the input and the
    /// budget, then one copy.
    #[inline(never)]
    fn byte_run<V: Visitor<'de>>(&mut self, kind: RunVisitor, len: usize) -> Result<V::Value> {
        let bytes = self.take(len)?;
        self.charge(len)?;
        let mut vec = Vec::with_capacity(len);
        runs::extend_run(&mut vec, bytes);
        Ok(match kind {
            // SAFETY: `run_visitor` returned `Vec` only if `V::Value` has the
            // type id of `Vec<u8>`, which has no lifetimes: it is `Vec<u8>`.
            RunVisitor::Vec => unsafe { runs::cast::<Vec<u8>, V::Value>(vec) },
            // SAFETY: as above, for `VecDeque<u8>`.
            RunVisitor::VecDeque => unsafe { runs::cast::<VecDeque<u8>, V::Value>(VecDeque::from(vec)) },
        })
    }
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = CodecError;

    fn is_human_readable(&self) -> bool {
        false
    }

    /// postcard is not self-describing.
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        self.enter::<()>()?;
        Err(CodecError::malformed("postcard cannot decode self-describing values"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(CodecError::malformed("postcard does not encode identifiers"))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            _ => Err(CodecError::malformed("a bool that is not 0 or 1")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i8(self.byte()? as i8)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i16(zigzag(self.varint(16)?) as i16)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i32(zigzag(self.varint(32)?) as i32)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i64(zigzag(self.varint(64)?))
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let v = self.varint_u128()?;
        visitor.visit_i128(((v >> 1) as i128) ^ -((v & 1) as i128))
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u8(self.byte()?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u16(self.varint(16)? as u16)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u32(self.varint(32)? as u32)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u64(self.varint(64)?)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u128(self.varint_u128()?)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f32(f32::from_le_bytes(self.array()?))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f64(f64::from_le_bytes(self.array()?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let bad = || CodecError::malformed("a char that is not one UTF-8 encoded character");
        let len = self.len()?;
        if len > 4 {
            return Err(bad());
        }
        let s = std::str::from_utf8(self.take(len)?).map_err(|_| bad())?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(bad()),
        }
    }

    /// Borrowed from the input (an owning visitor makes its one copy).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| CodecError::malformed("a string that is not UTF-8"))?;
        self.charge(len)?;
        visitor.visit_borrowed_str(s)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    /// Borrowed from the input: a `Blob` becomes a slice of the frame.
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        self.charge(len)?;
        visitor.visit_borrowed_bytes(bytes)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let value = match self.byte()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(&mut *self),
            _ => Err(CodecError::malformed("an option tag that is not 0 or 1")),
        };
        Ok(self.leave(value?))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let value = visitor.visit_newtype_struct(&mut *self)?;
        Ok(self.leave(value))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let len = self.len()?;
        let value = match runs::run_visitor::<'de, V>() {
            Some(kind) => self.byte_run::<V>(kind, len)?,
            None => visitor.visit_seq(Seq { de: &mut *self, left: len, elements: true })?,
        };
        Ok(self.leave(value))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let value = visitor.visit_seq(Seq { de: &mut *self, left: len, elements: false })?;
        Ok(self.leave(value))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let len = self.len()?;
        let value = visitor.visit_map(Map { de: &mut *self, left: len })?;
        Ok(self.leave(value))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.enter::<V::Value>()?;
        let value = visitor.visit_enum(&mut *self)?;
        Ok(self.leave(value))
    }
}

/// The elements of a sequence (charged to the budget) or the fields of a
/// tuple or struct (inline in their parent, already charged).
struct Seq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
    elements: bool,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = CodecError;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let size = size_of::<T::Value>();
        if self.elements {
            self.de.charge(size.max(1))?;
        }
        self.de.slot = size;
        seed.deserialize(&mut *self.de).map(Some)
    }

    /// Never more than the remaining input could hold (one byte each), so
    /// a claimed count reserves nothing the message does not back.
    fn size_hint(&self) -> Option<usize> {
        Some(if self.elements { self.left.min(self.de.input.len()) } else { self.left })
    }
}

/// The entries of a map; keys and values are charged to the budget.
struct Map<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let size = size_of::<K::Value>();
        self.de.charge(size.max(1))?;
        self.de.slot = size;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let size = size_of::<V::Value>();
        self.de.charge(size.max(1))?;
        self.de.slot = size;
        seed.deserialize(&mut *self.de)
    }

    /// As for sequences: at most one entry per remaining byte.
    fn size_hint(&self) -> Option<usize> {
        Some(self.left.min(self.de.input.len()))
    }
}

impl<'de> de::EnumAccess<'de> for &mut Deserializer<'de> {
    type Error = CodecError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let index = self.varint(32)? as u32;
        let value = seed.deserialize(index.into_deserializer())?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Deserializer<'de> {
    type Error = CodecError;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        // Inline in the enum, which was charged.
        self.slot = size_of::<T::Value>();
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Seq { de: self, left: len, elements: false })
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Seq { de: self, left: fields.len(), elements: false })
    }
}
