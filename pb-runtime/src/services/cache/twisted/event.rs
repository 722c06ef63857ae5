//! A model's event as a call of a Twisted `RemoteCache`'s observer, and
//! back.
//!
//! An event is an enum value; its variant (serde's name, so
//! `#[serde(rename)]` chooses it) is the method, `observe_<variant>` on the
//! Python side, and its fields are the positional arguments:
//!
//! | event | call |
//! | --- | --- |
//! | `Cleared` (unit) | `observe_Cleared()` |
//! | `Emptied(item)` (newtype) | `observe_Emptied(item)` |
//! | `Moved(a, b)` (tuple) | `observe_Moved(a, b)` |
//! | `Stocked { item, count }` (struct) | `observe_Stocked(item, count)`, in declaration order |
//!
//! which is what `pb-idl gen --python` writes for a model's events.
//! Decoding a Twisted `Cacheable`'s `observer.callRemote(name, *args,
//! **kw)` reads the same: the method names the variant, and the positional
//! arguments fill it in order; a struct variant may also come as keyword
//! arguments only (by field name).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::ser::{self, Impossible};

use crate::Error;
use crate::wire::twisted::banana::Value;
use crate::wire::twisted::jelly::{self, Error as JErr, form, form::names};

/// `event` as the observer call it makes: the method name and the
/// positional arguments (a jelly tuple).
///
/// # Errors
///
/// An event that is not an enum value, or a field that does not encode.
pub(crate) fn to_call<E: Serialize>(event: &E) -> Result<(&'static str, Value), Error> {
    let (name, args) = event.serialize(Variant).map_err(Error::from)?;
    Ok((name, form::tuple(args)))
}

/// The event a peer's observer call `method(*args, **kw)` stands for.
///
/// # Errors
///
/// Arguments that are not a jelly tuple and dictionary, both positional and
/// keyword arguments, or a call no variant of `E` accepts.
pub(crate) fn from_call<E: DeserializeOwned>(method: &str, args: &Value, kw: &Value) -> Result<E, Error> {
    let items = match form::split(args) {
        Some((names::TUPLE | names::LIST, items)) => items,
        _ => return Err(Error::protocol("observer call arguments that are not a tuple")),
    };
    let kw_empty = match form::split(kw) {
        Some((names::DICTIONARY, entries)) => entries.is_empty(),
        _ => return Err(Error::protocol("observer call keyword arguments that are not a dictionary")),
    };
    let tagged = |payload: Value| form::dictionary([(form::unicode(method), payload)]);
    let candidates = match (items, kw_empty) {
        ([], true) => vec![form::unicode(method)],
        ([one], true) => vec![tagged(one.clone()), tagged(form::tuple([one.clone()]))],
        (_, true) => vec![tagged(form::tuple(items.iter().cloned()))],
        ([], false) => vec![tagged(kw.clone())],
        _ => return Err(Error::protocol(format_args!("observe_{method}: both positional and keyword arguments"))),
    };
    let mut first = None;
    for candidate in &candidates {
        match jelly::from_value::<E>(candidate) {
            Ok(event) => return Ok(event),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let why = first.map(|e| e.0.to_string()).unwrap_or_default();
    Err(Error::protocol(format_args!(
        "observe_{method} with {} arguments is no event of this model: {why}",
        items.len()
    )))
}

/// Serializes an enum value as (variant, jelly fields).
struct Variant;

type Call = (&'static str, Vec<Value>);

fn not_enum() -> JErr {
    JErr::new("a model's event must be an enum value to reach a Twisted observer (observe_<variant>)")
}

fn field<T: Serialize + ?Sized>(value: &T) -> Result<Value, JErr> {
    jelly::to_value(value)
}

/// The fields of a tuple or struct variant.
struct Fields {
    name: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for Fields {
    type Ok = Call;
    type Error = JErr;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JErr> {
        self.items.push(field(value)?);
        Ok(())
    }
    fn end(self) -> Result<Call, JErr> {
        Ok((self.name, self.items))
    }
}

impl ser::SerializeStructVariant for Fields {
    type Ok = Call;
    type Error = JErr;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> Result<(), JErr> {
        self.items.push(field(value)?);
        Ok(())
    }
    fn end(self) -> Result<Call, JErr> {
        Ok((self.name, self.items))
    }
}

macro_rules! refuse {
    ($($f:ident($($t:ty),*);)*) => {
        $(fn $f(self, $(_: $t),*) -> Result<Call, JErr> { Err(not_enum()) })*
    };
}

impl ser::Serializer for Variant {
    type Ok = Call;
    type Error = JErr;
    type SerializeSeq = Impossible<Call, JErr>;
    type SerializeTuple = Impossible<Call, JErr>;
    type SerializeTupleStruct = Impossible<Call, JErr>;
    type SerializeTupleVariant = Fields;
    type SerializeMap = Impossible<Call, JErr>;
    type SerializeStruct = Impossible<Call, JErr>;
    type SerializeStructVariant = Fields;

    refuse! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_i64(i64);
        serialize_i128(i128); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); serialize_u64(u64);
        serialize_u128(u128); serialize_f32(f32); serialize_f64(f64); serialize_char(char); serialize_str(&str);
        serialize_bytes(&[u8]); serialize_none(); serialize_unit(); serialize_unit_struct(&'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Call, JErr> {
        value.serialize(self)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Call, JErr> {
        Ok((variant, Vec::new()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Call, JErr> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Call, JErr> {
        Ok((variant, vec![field(value)?]))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, JErr> {
        Err(not_enum())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, JErr> {
        Err(not_enum())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, JErr> {
        Err(not_enum())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Fields, JErr> {
        Ok(Fields { name: variant, items: Vec::with_capacity(len) })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, JErr> {
        Err(not_enum())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, JErr> {
        Err(not_enum())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Fields, JErr> {
        Ok(Fields { name: variant, items: Vec::with_capacity(len) })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Ev {
        Cleared,
        Emptied(String),
        Moved(u32, u32),
        Stocked { item: String, count: u32 },
        Pair((u32, u32)),
    }

    fn args(items: impl IntoIterator<Item = Value>) -> Value {
        form::tuple(items)
    }

    #[test]
    fn each_variant_is_a_call_with_positional_arguments_and_reads_back() {
        let events = [
            Ev::Cleared,
            Ev::Emptied("jam".into()),
            Ev::Moved(1, 2),
            Ev::Stocked { item: "jam".into(), count: 3 },
            Ev::Pair((4, 5)),
        ];
        let calls = [
            ("Cleared", args([])),
            ("Emptied", args([form::unicode("jam")])),
            ("Moved", args([Value::Int(1), Value::Int(2)])),
            ("Stocked", args([form::unicode("jam"), Value::Int(3)])),
            ("Pair", args([form::tuple([Value::Int(4), Value::Int(5)])])),
        ];
        for (event, call) in events.iter().zip(calls) {
            assert_eq!(to_call(event).unwrap(), call);
            let back: Ev = from_call(call.0, &call.1, &form::dictionary([])).unwrap();
            assert_eq!(&back, event);
        }
        // A struct variant by keyword.
        let kw =
            form::dictionary([(form::unicode("count"), Value::Int(3)), (form::unicode("item"), form::unicode("x"))]);
        let ev: Ev = from_call("Stocked", &args([]), &kw).unwrap();
        assert_eq!(ev, Ev::Stocked { item: "x".into(), count: 3 });
    }

    #[test]
    fn calls_no_variant_takes_are_errors() {
        let none = form::dictionary([]);
        let kw = form::dictionary([(form::unicode("item"), form::unicode("x"))]);
        let bad = [
            ("Nope", args([]), none.clone()),
            ("Emptied", args([]), none.clone()),
            ("Emptied", args([Value::Int(1)]), none.clone()),
            ("Moved", args([Value::Int(1)]), none.clone()),
            ("Moved", args([Value::Int(1), Value::Int(2), Value::Int(3)]), none.clone()),
            ("Stocked", args([form::unicode("x")]), kw.clone()),
            ("Cleared", Value::Int(1), none.clone()),
            ("Cleared", args([]), Value::Int(1)),
        ];
        for (method, a, k) in bad {
            assert!(from_call::<Ev>(method, &a, &k).is_err(), "{method} {a:?} {k:?}");
        }
        assert!(to_call(&5u32).is_err());
        assert!(to_call(&"x").is_err());
    }
}
