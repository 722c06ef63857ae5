//! The encoder: any `Serialize` value to postcard 1.x's bytes.

use serde::Serialize;
use serde::ser::{self, SerializeSeq as _};

use super::CodecError;
use super::runs;

/// Where encoded bytes go: a `Vec<u8>`, or a frame buffer that references
/// large blobs instead of copying them (`FrameBuf`).
pub(crate) trait Output {
    /// Append one byte.
    fn push(&mut self, byte: u8);
    /// Append a run of bytes.
    fn extend(&mut self, data: &[u8]);
    /// Make room for `additional` more bytes (a hint).
    fn reserve(&mut self, additional: usize);
}

/// Appending to an output borrowed (a buffer kept across encodes).
impl<O: Output + ?Sized> Output for &mut O {
    #[inline]
    fn push(&mut self, byte: u8) {
        (**self).push(byte);
    }
    #[inline]
    fn extend(&mut self, data: &[u8]) {
        (**self).extend(data);
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        (**self).reserve(additional);
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
    #[inline]
    fn extend(&mut self, data: &[u8]) {
        runs::extend_run(self, data);
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
}

/// Most bytes reserved up front for a sequence (its elements take at least
/// its length in bytes, unless they encode to nothing, like `()`).
const RESERVE_MAX: usize = 1 << 20;

/// The postcard serializer.
pub(crate) struct Serializer<O> {
    pub(crate) out: O,
}

type Result<T = ()> = std::result::Result<T, CodecError>;

impl<O: Output> Serializer<O> {
    #[inline]
    fn varint_u64(&mut self, mut v: u64) {
        if v < 0x80 {
            self.out.push(v as u8);
            return;
        }
        let mut buf = [0u8; 10];
        let mut i = 0;
        while v >= 0x80 {
            buf[i] = v as u8 | 0x80;
            v >>= 7;
            i += 1;
        }
        buf[i] = v as u8;
        self.out.extend(&buf[..=i]);
    }

    fn varint_u128(&mut self, mut v: u128) {
        let mut buf = [0u8; 19];
        let mut i = 0;
        while v >= 0x80 {
            buf[i] = v as u8 | 0x80;
            v >>= 7;
            i += 1;
        }
        buf[i] = v as u8;
        self.out.extend(&buf[..=i]);
    }

    #[inline]
    fn len(&mut self, len: usize) {
        self.varint_u64(len as u64);
    }

    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.out.extend(v);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The length of `iter` when its size hint is exact (serde's rule).
fn exact_len<I: Iterator>(iter: &I) -> Option<usize> {
    match iter.size_hint() {
        (lo, Some(hi)) if lo == hi => Some(lo),
        _ => None,
    }
}

impl<O: Output> ser::Serializer for &mut Serializer<O> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push(v as u8);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.out.push(v as u8);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.varint_u64(zigzag(v.into()));
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.varint_u64(zigzag(v.into()));
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.varint_u64(zigzag(v));
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.varint_u128(((v << 1) ^ (v >> 127)) as u128);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.out.push(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.varint_u64(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.varint_u64(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.varint_u64(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.varint_u128(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.out.extend(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.out.extend(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.bytes(v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result {
        self.out.push(0);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        self.out.push(1);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result {
        self.varint_u64(index.into());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result {
        self.varint_u64(index.into());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self> {
        let len = len.ok_or_else(|| CodecError::malformed("the length of a sequence must be known"))?;
        self.len(len);
        self.out.reserve(len.min(RESERVE_MAX));
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self> {
        self.varint_u64(index.into());
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self> {
        let len = len.ok_or_else(|| CodecError::malformed("the length of a map must be known"))?;
        self.len(len);
        self.out.reserve(len.min(RESERVE_MAX));
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self> {
        self.varint_u64(index.into());
        Ok(self)
    }

    /// Byte runs (`Vec<u8>`, `[u8]`, `VecDeque<u8>`) are written as their
    /// length and one copy; everything else element by element.
    fn collect_seq<I>(self, iter: I) -> Result
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        if let Some((a, b)) = runs::byte_run(&iter) {
            // One allocation for the length and the run (not a small one
            // for the length, then a reallocation).
            self.out.reserve(10 + a.len() + b.len());
            self.len(a.len() + b.len());
            self.out.extend(a);
            self.out.extend(b);
            return Ok(());
        }
        let iter = iter.into_iter();
        let mut seq = self.serialize_seq(exact_len(&iter))?;
        for item in iter {
            seq.serialize_element(&item)?;
        }
        ser::SerializeSeq::end(seq)
    }

    /// Formats twice, as postcard does: once to count, once to write.
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result {
        use std::fmt::Write;
        struct Count(usize);
        impl Write for Count {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 += s.len();
                Ok(())
            }
        }
        struct Out<'o, O>(&'o mut O);
        impl<O: Output> Write for Out<'_, O> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.extend(s.as_bytes());
                Ok(())
            }
        }
        let mut count = Count(0);
        let fail = |_| CodecError::malformed("a `Display` impl failed during `collect_str`");
        write!(count, "{value}").map_err(fail)?;
        self.len(count.0);
        write!(Out(&mut self.out), "{value}").map_err(fail)
    }
}

macro_rules! compound {
    ($($trait:ident :: $method:ident),*) => {$(
        impl<O: Output> ser::$trait for &mut Serializer<O> {
            type Ok = ();
            type Error = CodecError;
            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }
            #[inline]
            fn end(self) -> Result {
                Ok(())
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl<O: Output> ser::SerializeMap for &mut Serializer<O> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

macro_rules! named_fields {
    ($($trait:ident),*) => {$(
        impl<O: Output> ser::$trait for &mut Serializer<O> {
            type Ok = ();
            type Error = CodecError;
            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, value: &T) -> Result {
                value.serialize(&mut **self)
            }
            #[inline]
            fn end(self) -> Result {
                Ok(())
            }
        }
    )*};
}

named_fields!(SerializeStruct, SerializeStructVariant);
