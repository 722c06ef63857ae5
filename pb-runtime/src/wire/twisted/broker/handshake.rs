//! The start of a PB connection: dialect negotiation, then versions.
//!
//! The server speaks first with its dialects, `[b"pb", b"none"]` (a Twisted
//! client sends nothing until they arrive); the client answers with the
//! first of them it knows, as a plain byte string, and both switch to it.
//! Then each side sends `["version", 6]` without waiting for the other's,
//! and calls may follow at once.

use super::super::banana::{Dialect, Value};
use crate::Error;

/// PB's protocol version (pb.py `Broker.version`).
pub const VERSION: i128 = 6;

/// The server's first expression: the dialects it offers.
pub fn offer() -> Value {
    Value::List(Dialect::OFFERED.iter().map(|d| Value::bytes(d.name())).collect())
}

/// Client side: the dialect to pick from the server's offer (the first one
/// known, in the server's order) and the expression to answer with.
///
/// # Errors
///
/// [`Error::Protocol`] when the offer is not a list or names no known dialect.
pub fn choose(offer: &Value) -> Result<(Dialect, Value), Error> {
    let names = offer.as_list().ok_or_else(|| Error::protocol("banana dialect offer that is not a list"))?;
    names
        .iter()
        .find_map(|n| n.as_bytes().and_then(Dialect::from_name))
        .map(|d| (d, Value::bytes(d.name())))
        .ok_or_else(|| Error::protocol("the peer offers no banana dialect pb knows"))
}

/// Server side: the dialect the client picked.
///
/// # Errors
///
/// [`Error::Protocol`] when the answer is not an offered dialect.
pub fn accept(answer: &Value) -> Result<Dialect, Error> {
    answer
        .as_bytes()
        .and_then(Dialect::from_name)
        .ok_or_else(|| Error::protocol("the peer picked no banana dialect pb offered"))
}

/// Check the peer's `["version", n]`.
///
/// # Errors
///
/// [`Error::Protocol`] when it differs from [`VERSION`] (Twisted raises
/// `ProtocolError` and drops the connection).
pub fn check_version(version: i128) -> Result<(), Error> {
    if version != VERSION {
        return Err(Error::protocol(format_args!("the peer speaks PB version {version}, pb speaks {VERSION}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_on_pb() {
        let (dialect, answer) = choose(&offer()).unwrap();
        assert_eq!(dialect, Dialect::Pb);
        assert_eq!(accept(&answer).unwrap(), Dialect::Pb);
        let only_none = Value::List(vec![Value::bytes(b"zzz"), Value::bytes(b"none")]);
        assert_eq!(choose(&only_none).unwrap().0, Dialect::None);
        assert!(choose(&Value::List(vec![Value::bytes(b"zzz")])).is_err());
        assert!(accept(&Value::bytes(b"zzz")).is_err());
        assert!(check_version(6).is_ok() && check_version(5).is_err());
    }
}
