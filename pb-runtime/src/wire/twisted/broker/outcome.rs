//! A method's `Result<T, E>` as PB's reply: the `Ok` value as an
//! `["answer", ...]`, the `Err` as the failure of an `["error", ...]`.
//!
//! An application error becomes a failure whose type is the error's serde
//! name and variant (`UserError.NotFound`; `#[serde(rename = "...")]`
//! chooses the Python-visible name), deriving from
//! `twisted.spread.pb.Error` so that `f.check(pb.Error)` is true, with the
//! error's `Display` text (or its type when it has none) as the value and
//! its jelly as `pb_error`. A [`crate::Error`] becomes the failure
//! [`Failure::from_error`] makes.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::super::banana::Value;
use super::super::jelly::{self, EncodeOptions, form};
use super::failure::Failure;
use crate::Error;

/// What a reply carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `["answer", req, value]`: the method's `Ok` value.
    Answer(Value),
    /// `["error", req, failure]`: its `Err`, or what kept it from running.
    Failure(Failure),
}

/// The reply for `result`, a method's `Result<T, E>` (serialized with
/// jelly: references inside go through the lent hook). `text` gives the
/// error's text; it is called only for an `Err`.
///
/// # Errors
///
/// A value jelly cannot express, or `result` that is not a `Result`.
pub fn outcome<R: Serialize + ?Sized>(
    result: &R,
    options: &EncodeOptions,
    text: &dyn Fn() -> Option<String>,
) -> Result<Outcome, Error> {
    let value = jelly::to_value_with(result, options)?;
    let not_a_result = || Error::protocol("a method's reply that is not a Result");
    let Some((form::names::DICTIONARY, [entry])) = form::split(&value) else { return Err(not_a_result()) };
    let Some([tag, payload]) = entry.as_list() else { return Err(not_a_result()) };
    match form::as_text(tag) {
        Some("Ok") => Ok(Outcome::Answer(payload.clone())),
        Some("Err") => {
            let names = match result.serialize(NameProbe { unwrap_result: true }) {
                Err(Probed::Found(names)) => names,
                Ok(()) | Err(Probed::Other) => Names::default(),
            };
            Ok(Outcome::Failure(application_failure(&names, payload, text)))
        }
        _ => Err(not_a_result()),
    }
}

/// The failure of an error of serde name `names` and jelly `value`.
fn application_failure(names: &Names, value: &Value, text: &dyn Fn() -> Option<String>) -> Failure {
    if names.ty == "Error"
        && let Ok(e) = jelly::from_value::<Error>(value)
    {
        return Failure::from_error(&e);
    }
    let kind = match (names.ty, names.variant) {
        ("", _) => "pb.ApplicationError".to_string(),
        (ty, Some(variant)) => format!("{ty}.{variant}"),
        (ty, None) => ty.to_string(),
    };
    let message = text().unwrap_or_else(|| kind.clone());
    let mut failure = Failure::new(&kind, &message, &[super::errors::PB_ERROR]);
    failure.pb_error = Some(value.clone());
    failure
}

/// The serde names of an error: its type and variant (`ty` is empty for a
/// type serde gives no name, such as a string).
#[derive(Debug, Default)]
struct Names {
    ty: &'static str,
    variant: Option<&'static str>,
}

/// What the probe found: the names (an "error" only to stop serializing).
#[derive(Debug)]
enum Probed {
    Found(Names),
    /// Serde's own error: what the value's `Serialize` raised.
    Other,
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Probed {}

impl ser::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed::Other
    }
}

/// A serializer that only reads the serde name and variant of a value;
/// with `unwrap_result`, of the payload of a `Result::Err`.
struct NameProbe {
    unwrap_result: bool,
}

fn found(ty: &'static str, variant: Option<&'static str>) -> Probed {
    Probed::Found(Names { ty, variant })
}

type Nothing = Impossible<(), Probed>;

impl ser::Serializer for NameProbe {
    type Ok = ();
    type Error = Probed;
    type SerializeSeq = Nothing;
    type SerializeTuple = Nothing;
    type SerializeTupleStruct = Nothing;
    type SerializeTupleVariant = Nothing;
    type SerializeMap = Nothing;
    type SerializeStruct = Nothing;
    type SerializeStructVariant = Nothing;

    fn serialize_unit_variant(self, name: &'static str, _: u32, variant: &'static str) -> Result<(), Probed> {
        Err(found(name, Some(variant)))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Probed> {
        if self.unwrap_result && name == "Result" && variant == "Err" {
            return value.serialize(NameProbe { unwrap_result: false });
        }
        Err(found(name, Some(variant)))
    }
    fn serialize_tuple_variant(self, name: &'static str, _: u32, v: &'static str, _: usize) -> Result<Nothing, Probed> {
        Err(found(name, Some(v)))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        v: &'static str,
        _: usize,
    ) -> Result<Nothing, Probed> {
        Err(found(name, Some(v)))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Probed> {
        Err(found(name, None))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, _: &T) -> Result<(), Probed> {
        Err(found(name, None))
    }
    fn serialize_tuple_struct(self, name: &'static str, _: usize) -> Result<Nothing, Probed> {
        Err(found(name, None))
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Nothing, Probed> {
        Err(found(name, None))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Probed> {
        value.serialize(self)
    }

    fn serialize_bool(self, _: bool) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_i8(self, _: i8) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_i16(self, _: i16) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_i32(self, _: i32) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_i64(self, _: i64) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_u8(self, _: u8) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_u16(self, _: u16) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_u32(self, _: u32) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_u64(self, _: u64) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_f32(self, _: f32) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_f64(self, _: f64) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_char(self, _: char) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_str(self, _: &str) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_none(self) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_unit(self) -> Result<(), Probed> {
        Err(found("", None))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Nothing, Probed> {
        Err(found("", None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Nothing, Probed> {
        Err(found("", None))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Nothing, Probed> {
        Err(found("", None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[allow(dead_code)]
    enum UserError {
        NotFound(u64),
        Gone,
        Pb(Error),
    }

    impl fmt::Display for UserError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no such user")
        }
    }

    fn reply<T: Serialize, E: Serialize + fmt::Display>(r: &Result<T, E>) -> Outcome {
        let text = || r.as_ref().err().map(ToString::to_string);
        outcome(r, &EncodeOptions::default(), &text).unwrap()
    }

    fn failure(o: Outcome) -> Failure {
        match o {
            Outcome::Failure(f) => f,
            Outcome::Answer(v) => panic!("an answer: {v:?}"),
        }
    }

    #[test]
    fn ok_is_an_answer_and_err_a_failure_named_by_its_enum_and_variant() {
        assert_eq!(reply::<_, UserError>(&Ok(7u8)), Outcome::Answer(Value::Int(7)));
        let f = failure(reply::<u8, _>(&Err(UserError::NotFound(7))));
        assert_eq!((f.kind.as_str(), f.value.as_str()), ("UserError.NotFound", "no such user"));
        assert!(f.check("twisted.spread.pb.Error") && f.check("builtins.Exception"));
        assert_eq!(f.pb_error, Some(form::dictionary([(form::unicode("NotFound"), Value::Int(7))])));
        assert_eq!(failure(reply::<u8, _>(&Err(UserError::Gone))).kind, "UserError.Gone");
    }

    #[test]
    fn pb_errors_keep_their_twisted_kinds() {
        let missing = Error::UnknownMethod { interface: "I".into(), method: 1, name: Some("x".into()) };
        let f = failure(reply::<u8, _>(&Err(missing.clone())));
        assert_eq!(f, Failure::from_error(&missing));
        let f = reply::<u8, _>(&Err(Error::Remote { kind: "builtins.ValueError".into(), message: "boom".into() }));
        assert_eq!(failure(f).kind, "builtins.ValueError");
    }

    #[test]
    fn an_error_without_a_name_or_text_still_says_what_it_is() {
        let text = || None;
        let f = failure(outcome(&Err::<u8, _>("plain"), &EncodeOptions::default(), &text).unwrap());
        assert_eq!((f.kind.as_str(), f.value.as_str()), ("pb.ApplicationError", "pb.ApplicationError"));
        assert!(outcome(&7u8, &EncodeOptions::default(), &text).is_err(), "not a Result");
    }
}
