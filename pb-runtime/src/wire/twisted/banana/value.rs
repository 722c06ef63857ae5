//! [`Value`]: one banana expression, decoded.

use bytes::Bytes;

/// A decoded banana expression (or one to encode).
///
/// Integers in `i128`'s range are [`Value::Int`]; the few beyond it (banana
/// carries up to 448 bits) are [`Value::BigInt`], so every value Twisted can
/// send decodes and re-encodes to the same bytes. A vocabulary word decodes
/// to the word's [`Value::Bytes`], as in Twisted; which bytes go out as
/// `VOCAB` tokens is the encoder's business.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer in `i128`'s range.
    Int(i128),
    /// An integer outside `i128`'s range.
    BigInt(BigInt),
    /// A float (a `FLOAT` token).
    Float(f64),
    /// A byte string (a `STRING` or `VOCAB` token).
    Bytes(Bytes),
    /// A list (Python tuples are sent as lists too).
    List(Vec<Value>),
}

impl Value {
    /// A byte string value from static bytes.
    pub fn bytes(b: &'static [u8]) -> Value {
        Value::Bytes(Bytes::from_static(b))
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The integer, if this is one in `i128`'s range.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// An integer value from a sign and a magnitude (as a `u128`).
    pub fn from_u128(magnitude: u128, negative: bool) -> Value {
        match (negative, i128::try_from(magnitude)) {
            (false, Ok(n)) => Value::Int(n),
            (true, Ok(n)) => Value::Int(-n),
            (true, Err(_)) if magnitude == i128::MIN.unsigned_abs() => Value::Int(i128::MIN),
            _ => Value::BigInt(BigInt::from_u128(magnitude, negative)),
        }
    }

    /// An integer value from a sign and base-128 digits (least significant
    /// first), as banana carries it.
    pub fn from_digits(negative: bool, digits: &[u8]) -> Value {
        let magnitude = digits
            .iter()
            .rev()
            .try_fold(0u128, |acc, &d| acc.checked_mul(128).and_then(|a| a.checked_add(u128::from(d & 0x7f))));
        match magnitude {
            Some(m) if m <= i128::MIN.unsigned_abs() => Value::from_u128(m, negative),
            _ => Value::BigInt(BigInt::from_digits(negative, digits)),
        }
    }
}

/// An integer outside `i128`'s range, kept as banana's base-128 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    /// Least significant first, no high zero digits, each below 128.
    digits: Vec<u8>,
}

impl BigInt {
    /// From a sign and base-128 digits, least significant first (high zero
    /// digits are dropped, and each digit's high bit is ignored).
    pub fn from_digits(negative: bool, digits: &[u8]) -> BigInt {
        let end = digits.iter().rposition(|&d| d & 0x7f != 0).map_or(0, |i| i + 1);
        BigInt { negative, digits: digits[..end].iter().map(|d| d & 0x7f).collect() }
    }

    /// From a sign and a magnitude.
    pub fn from_u128(mut magnitude: u128, negative: bool) -> BigInt {
        let mut digits = Vec::new();
        while magnitude != 0 {
            digits.push((magnitude & 0x7f) as u8);
            magnitude >>= 7;
        }
        BigInt { negative, digits }
    }

    /// Whether the integer is negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The magnitude's base-128 digits, least significant first.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The magnitude, if it fits in a `u128`.
    pub fn magnitude(&self) -> Option<u128> {
        self.digits.iter().rev().try_fold(0u128, |acc, &d| acc.checked_mul(128)?.checked_add(u128::from(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_pick_the_narrowest_form() {
        assert_eq!(Value::from_digits(false, &[0x2c, 0x02]), Value::Int(300));
        assert_eq!(Value::from_digits(true, &[]), Value::Int(0));
        assert_eq!(Value::from_u128(i128::MIN.unsigned_abs(), true), Value::Int(i128::MIN));
        let big = Value::from_u128(u128::MAX, false);
        let Value::BigInt(b) = &big else { panic!("{big:?}") };
        assert_eq!(b.magnitude(), Some(u128::MAX));
        assert_eq!(Value::from_digits(false, b.digits()), big);
        let huge = Value::from_digits(false, &[1; 64]);
        assert!(matches!(&huge, Value::BigInt(b) if b.magnitude().is_none() && b.digits().len() == 64));
    }
}
