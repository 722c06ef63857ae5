//! Building and reading jelly's forms: the nested lists Twisted's `jelly`
//! makes of Python values, before banana turns them into bytes.
//!
//! A jelly value is a banana [`Value`]: bytes, integers and floats stand for
//! themselves, and everything else is a list whose first element names its
//! type (`["unicode", b"text"]`, `["dictionary", [k, v], ...]`). A bare list
//! is never a Python list: those are `["list", ...]`.

use bytes::Bytes;

use super::super::banana::Value;

/// Type names jelly puts at the head of a list.
pub mod names {
    /// `None`.
    pub const NONE: &[u8] = b"None";
    /// `True`/`False`: `["boolean", b"true"]`.
    pub const BOOLEAN: &[u8] = b"boolean";
    /// `str`: `["unicode", utf8]`.
    pub const UNICODE: &[u8] = b"unicode";
    /// `list`.
    pub const LIST: &[u8] = b"list";
    /// `tuple`.
    pub const TUPLE: &[u8] = b"tuple";
    /// `set`.
    pub const SET: &[u8] = b"set";
    /// `frozenset`.
    pub const FROZENSET: &[u8] = b"frozenset";
    /// `dict`: `["dictionary", [k, v], ...]`.
    pub const DICTIONARY: &[u8] = b"dictionary";
    /// The first occurrence of a shared object: `["reference", n, value]`.
    pub const REFERENCE: &[u8] = b"reference";
    /// A later occurrence: `["dereference", n]`.
    pub const DEREFERENCE: &[u8] = b"dereference";
    /// An object the sender exports: `["remote", luid]`.
    pub const REMOTE: &[u8] = b"remote";
    /// An object the receiver exported: `["local", luid]`.
    pub const LOCAL: &[u8] = b"local";
}

/// A list whose head is the type name `name`, followed by `items`.
pub fn tagged(name: &'static [u8], items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(std::iter::once(Value::bytes(name)).chain(items).collect())
}

/// `None`: `["None"]`.
pub fn none() -> Value {
    tagged(names::NONE, [])
}

/// A bool: `["boolean", b"true"]` or `["boolean", b"false"]`.
pub fn boolean(b: bool) -> Value {
    tagged(names::BOOLEAN, [Value::bytes(if b { b"true" } else { b"false" })])
}

/// A `str`: `["unicode", utf8]`.
pub fn unicode(s: &str) -> Value {
    tagged(names::UNICODE, [Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))])
}

/// A tuple: `["tuple", items...]`.
pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
    tagged(names::TUPLE, items)
}

/// A list: `["list", items...]`.
pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
    tagged(names::LIST, items)
}

/// A dict: `["dictionary", [k, v], ...]`.
pub fn dictionary(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
    tagged(names::DICTIONARY, entries.into_iter().map(|(k, v)| Value::List(vec![k, v])))
}

/// The type name at the head of `value` and the items after it, if `value`
/// is a list that starts with a byte string.
pub fn split(value: &Value) -> Option<(&[u8], &[Value])> {
    let (head, rest) = value.as_list()?.split_first()?;
    Some((head.as_bytes()?, rest))
}

/// The text of a `["unicode", utf8]` form, or of a byte string that is
/// UTF-8 (Twisted and cred send some names as bytes).
pub fn as_text(value: &Value) -> Option<&str> {
    match value {
        Value::Bytes(b) => std::str::from_utf8(b).ok(),
        _ => match split(value)? {
            (names::UNICODE, [Value::Bytes(b)]) => std::str::from_utf8(b).ok(),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_read_back() {
        assert_eq!(as_text(&unicode("é")), Some("é"));
        assert_eq!(as_text(&Value::bytes(b"alice")), Some("alice"));
        assert_eq!(as_text(&none()), None);
        assert_eq!(split(&tuple([Value::Int(1)])), Some((names::TUPLE, &[Value::Int(1)][..])));
        assert_eq!(split(&Value::List(vec![])), None);
    }
}
