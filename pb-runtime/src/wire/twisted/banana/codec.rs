//! Encoding and decoding one whole banana expression.

use bytes::Bytes;

use super::dialect::{Dialect, vocab_index};
use super::limits::{MAX_PREFIX, SIZE_LIMIT, limit_error};
use super::token::{self, FLOAT, INT, LIST, LONGINT, LONGNEG, NEG, STRING, Token, VOCAB, write_prefix};
use super::value::Value;
use crate::Error;

/// Append the banana encoding of `value` to `out`, as Twisted's `_encode`
/// would (same type bytes, same vocabulary compression in dialect "pb").
///
/// # Errors
///
/// [`Error::LimitExceeded`] when a list or string is over [`SIZE_LIMIT`] or
/// an integer needs more than 64 prefix bytes: Twisted would drop the
/// connection on either. `out` may then hold part of the encoding.
pub fn encode(value: &Value, dialect: Dialect, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Int(n) => {
            let magnitude = n.unsigned_abs();
            let type_byte = match (*n < 0, magnitude <= 1 << 31) {
                (false, _) if magnitude < 1 << 31 => INT,
                (false, _) => LONGINT,
                (true, true) => NEG,
                (true, false) => LONGNEG,
            };
            write_prefix(magnitude, out);
            out.push(type_byte);
        }
        Value::BigInt(b) => {
            if b.digits().len() > MAX_PREFIX {
                return Err(limit_error("banana prefix bytes", MAX_PREFIX));
            }
            out.extend_from_slice(b.digits());
            out.push(if b.is_negative() { LONGNEG } else { LONGINT });
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Bytes(b) => {
            if let (Dialect::Pb, Some(index)) = (dialect, vocab_index(b)) {
                write_prefix(u128::from(index), out);
                out.push(VOCAB);
            } else {
                check_len(b.len())?;
                write_prefix(b.len() as u128, out);
                out.push(STRING);
                out.extend_from_slice(b);
            }
        }
        Value::List(items) => {
            check_len(items.len())?;
            write_prefix(items.len() as u128, out);
            out.push(LIST);
            for item in items {
                encode(item, dialect, out)?;
            }
        }
    }
    Ok(())
}

/// The banana encoding of `value`.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_to_vec(value: &Value, dialect: Dialect) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode(value, dialect, &mut out)?;
    Ok(out)
}

fn check_len(len: usize) -> Result<(), Error> {
    if len > SIZE_LIMIT {
        return Err(limit_error("banana list or string length", SIZE_LIMIT));
    }
    Ok(())
}

/// Decode one expression from the front of `bytes`, with lists nested at
/// most `max_depth` deep; returns it and the number of bytes it took.
/// Strings are slices of `bytes` (no copy).
///
/// # Errors
///
/// [`Error::Protocol`] when `bytes` ends inside the expression or holds a
/// bad token (see [`token::read`]); [`Error::LimitExceeded`] for nesting
/// over `max_depth` and the token limits.
pub fn decode(bytes: &Bytes, dialect: Dialect, max_depth: usize) -> Result<(Value, usize), Error> {
    // Lists being filled: their elements so far and how many are missing.
    let mut open: Vec<(Vec<Value>, usize)> = Vec::new();
    let mut pos = 0;
    loop {
        let Some((tok, used)) = token::read(&bytes[pos..], dialect)? else {
            return Err(Error::protocol("truncated banana expression"));
        };
        if matches!(tok, Token::List(_)) && open.len() >= max_depth {
            return Err(limit_error("banana nesting depth", max_depth));
        }
        let mut done = match tok {
            Token::List(0) => Value::List(Vec::new()),
            Token::List(n) => {
                // Grows with the elements that arrive, never by the claim.
                open.push((Vec::with_capacity(n.min(16)), n));
                pos += used;
                continue;
            }
            Token::Int { negative, digits } => Value::from_digits(negative, digits),
            Token::String(s) => Value::Bytes(bytes.slice_ref(s)),
            Token::Float(f) => Value::Float(f),
            Token::Vocab(word) => Value::Bytes(Bytes::from_static(word)),
        };
        pos += used;
        // Close every list this value completes.
        loop {
            let Some((items, missing)) = open.last_mut() else { return Ok((done, pos)) };
            items.push(done);
            *missing -= 1;
            if *missing > 0 {
                break;
            }
            match open.pop() {
                Some((items, _)) => done = Value::List(items),
                None => return Err(Error::protocol("banana decoder state")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Bytes {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>().into()
    }

    #[test]
    fn message_round_trips() {
        let full = hex("07801a8705810181048270696e67018102800b87298101800587");
        for cut in 0..full.len() {
            assert!(decode(&full.slice(..cut), Dialect::Pb, 64).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(&full, Dialect::Pb, 64).unwrap().1, full.len());
        let v = Value::List(vec![Value::bytes(b"answer"), Value::Int(5), Value::Int(42)]);
        let enc = encode_to_vec(&v, Dialect::Pb).unwrap();
        assert_eq!(enc, hex("03801b8705812a81").to_vec());
        assert_eq!(decode(&Bytes::from(enc), Dialect::Pb, 64).unwrap(), (v, 8));
    }

    #[test]
    fn dialect_none_spells_words_out() {
        let v = Value::bytes(b"None");
        assert_eq!(encode_to_vec(&v, Dialect::None).unwrap(), b"\x04\x82None");
        assert_eq!(encode_to_vec(&v, Dialect::Pb).unwrap(), [0x01, 0x87]);
    }

    #[test]
    fn depth_is_limited() {
        let deep = Bytes::from([0x01, LIST].repeat(10).into_iter().chain([0x00, LIST]).collect::<Vec<u8>>());
        assert!(decode(&deep, Dialect::Pb, 11).is_ok());
        assert!(matches!(decode(&deep, Dialect::Pb, 10), Err(Error::LimitExceeded { .. })));
    }

    #[test]
    fn oversized_values_are_not_encoded() {
        let long = Value::Bytes(Bytes::from(vec![0u8; SIZE_LIMIT + 1]));
        assert!(encode_to_vec(&long, Dialect::Pb).is_err());
        let ok = Value::Bytes(Bytes::from(vec![0u8; SIZE_LIMIT]));
        assert!(encode_to_vec(&ok, Dialect::Pb).is_ok());
    }
}
