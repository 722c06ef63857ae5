//! Rust values to jelly, through serde.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::Serialize;
use serde::ser;

use super::super::banana::Value;
use super::cache::CACHE_NAME;
use super::error::{Error, Result};
use super::form::{self, names};
use super::refs::REF_NAME;

/// Which copy tags may be sent.
///
/// A struct whose serde name is dotted (`#[serde(rename = "aurora.User")]`)
/// goes out as the copyable `[b"aurora.User", {state}]`, and a Twisted peer
/// drops the connection on a tag it has not registered with
/// `setUnjellyableForClass` (the caller's Deferred then never fires). So a
/// tag must be something the peer was told about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CopyTags {
    /// A dotted serde name is the declaration: the type's author states
    /// that the peer registers it (the default; serde never makes a dotted
    /// name by itself).
    #[default]
    Declared,
    /// Only these tags; serializing a struct with any other dotted name
    /// fails (what a session that knows its peer's registry should use).
    Only(BTreeSet<String>),
}

impl CopyTags {
    fn check(&self, tag: &str) -> Result<()> {
        match self {
            CopyTags::Only(tags) if !tags.contains(tag) => {
                Err(Error::new(format_args!("copy tag {tag:?} is not one the peer was told about")))
            }
            _ if tag.starts_with('.') || tag.ends_with('.') || tag.contains(char::is_whitespace) => {
                Err(Error::new(format_args!("{tag:?} is not a Python qualified name")))
            }
            _ => Ok(()),
        }
    }
}

/// Options of jelly encoding.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// Which copy tags may be sent.
    pub copy_tags: CopyTags,
}

/// Serialize `value` to jelly with the default options.
///
/// # Errors
///
/// A value jelly cannot express (see [`Serializer`]) or a copy tag refused
/// by [`CopyTags`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    to_value_with(value, &EncodeOptions::default())
}

/// Serialize `value` to jelly.
///
/// # Errors
///
/// As [`to_value`].
pub fn to_value_with<T: Serialize + ?Sized>(value: &T, options: &EncodeOptions) -> Result<Value> {
    value.serialize(Serializer { options })
}

/// The serde serializer producing jelly [`Value`]s; see the
/// [module docs](super) for the mapping.
#[derive(Clone, Copy)]
pub struct Serializer<'o> {
    options: &'o EncodeOptions,
}

impl<'o> Serializer<'o> {
    /// A serializer with `options`.
    pub fn new(options: &'o EncodeOptions) -> Self {
        Serializer { options }
    }

    fn variant(self, variant: &str, payload: Value) -> Value {
        form::dictionary([(form::unicode(variant), payload)])
    }
}

fn int(n: i128) -> Result<Value> {
    Ok(Value::Int(n))
}

impl<'o> ser::Serializer for Serializer<'o> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Items<'o>;
    type SerializeTuple = Items<'o>;
    type SerializeTupleStruct = Items<'o>;
    type SerializeTupleVariant = Items<'o>;
    type SerializeMap = Dict<'o>;
    type SerializeStruct = Dict<'o>;
    type SerializeStructVariant = Dict<'o>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(form::boolean(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        int(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Value> {
        int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        int(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Value> {
        Ok(Value::from_u128(v, false))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        Ok(form::unicode(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(form::unicode(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::Bytes(Bytes::copy_from_slice(v)))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(form::none())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(form::none())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value> {
        Ok(form::none())
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Value> {
        Ok(form::unicode(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<Value> {
        if name == CACHE_NAME {
            // A cacheable's form arrives as ["tuple", ...]: it goes bare.
            return match value.serialize(self)? {
                Value::List(mut items) if items.len() > 1 && items[0].as_bytes() == Some(names::TUPLE) => {
                    items.remove(0);
                    Ok(Value::List(items))
                }
                other => Err(Error::new(format_args!("malformed cacheable {other:?}"))),
            };
        }
        if name != REF_NAME {
            return value.serialize(self);
        }
        // The reference's (kind, luid) arrives as ["tuple", kind, luid].
        match value.serialize(self)? {
            Value::List(mut items) if items.len() == 3 && items[0].as_bytes() == Some(names::TUPLE) => {
                items.remove(0);
                Ok(Value::List(items))
            }
            other => Err(Error::new(format_args!("malformed reference {other:?}"))),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value> {
        let payload = value.serialize(self)?;
        Ok(self.variant(variant, payload))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Items<'o>> {
        Ok(Items::new(self, names::LIST, len, None))
    }
    fn serialize_tuple(self, len: usize) -> Result<Items<'o>> {
        Ok(Items::new(self, names::TUPLE, Some(len), None))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Items<'o>> {
        Ok(Items::new(self, names::TUPLE, Some(len), None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Items<'o>> {
        Ok(Items::new(self, names::TUPLE, Some(len), Some(variant)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Dict<'o>> {
        Ok(Dict::new(self, len, None, None))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Dict<'o>> {
        let tag = if name.contains('.') {
            self.options.copy_tags.check(name)?;
            Some(name)
        } else {
            None
        };
        Ok(Dict::new(self, Some(len), tag, None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Dict<'o>> {
        Ok(Dict::new(self, Some(len), None, Some(variant)))
    }
}

/// Capacity to reserve for `len` elements: serde's hint, but never much.
fn capacity(len: Option<usize>) -> usize {
    len.unwrap_or(0).min(64) + 1
}

/// A sequence or tuple being serialized.
pub struct Items<'o> {
    ser: Serializer<'o>,
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl<'o> Items<'o> {
    fn new(ser: Serializer<'o>, name: &'static [u8], len: Option<usize>, variant: Option<&'static str>) -> Self {
        let mut items = Vec::with_capacity(capacity(len));
        items.push(Value::bytes(name));
        Items { ser, items, variant }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.items.push(value.serialize(self.ser)?);
        Ok(())
    }

    fn finish(self) -> Result<Value> {
        let value = Value::List(self.items);
        Ok(match self.variant {
            Some(v) => self.ser.variant(v, value),
            None => value,
        })
    }
}

macro_rules! items_impl {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Items<'_> {
            type Ok = Value;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.push(value)
            }
            fn end(self) -> Result<Value> {
                self.finish()
            }
        }
    )*};
}

items_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A map or struct being serialized.
pub struct Dict<'o> {
    ser: Serializer<'o>,
    entries: Vec<Value>,
    key: Option<Value>,
    tag: Option<&'static str>,
    variant: Option<&'static str>,
}

impl<'o> Dict<'o> {
    fn new(ser: Serializer<'o>, len: Option<usize>, tag: Option<&'static str>, variant: Option<&'static str>) -> Self {
        let mut entries = Vec::with_capacity(capacity(len));
        entries.push(Value::bytes(names::DICTIONARY));
        Dict { ser, entries, key: None, tag, variant }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let value = value.serialize(self.ser)?;
        self.entries.push(Value::List(vec![form::unicode(key), value]));
        Ok(())
    }

    fn finish(self) -> Result<Value> {
        let dict = Value::List(self.entries);
        Ok(match (self.tag, self.variant) {
            (Some(tag), _) => Value::List(vec![Value::Bytes(Bytes::from_static(tag.as_bytes())), dict]),
            (None, Some(v)) => self.ser.variant(v, dict),
            (None, None) => dict,
        })
    }
}

impl ser::SerializeMap for Dict<'_> {
    type Ok = Value;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(self.ser)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(|| Error::new("map value without a key"))?;
        let value = value.serialize(self.ser)?;
        self.entries.push(Value::List(vec![key, value]));
        Ok(())
    }

    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStruct for Dict<'_> {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Dict<'_> {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<Value> {
        self.finish()
    }
}
