//! Keyword arguments folded into positional ones, by parameter name.

use super::super::banana::Value;
use super::super::jelly::form::{self, names};
use crate::Error;

/// The call's arguments as one positional jelly tuple: `args` (a jelly
/// tuple or list) followed by the keyword arguments of `kw` (a jelly
/// dictionary with text or byte keys), each put at the position of its name
/// in `params`.
///
/// With no keyword arguments, `args` is returned as is (and `params` is not
/// consulted). Parameters after the last one given are left out, so a
/// method whose trailing parameters have defaults on the Python side must
/// be called with them given (Rust has no defaults to fill in).
///
/// # Errors
///
/// [`Error::Protocol`] when `args` or `kw` is not of the form above, a
/// keyword names no parameter or one already given positionally, or a
/// parameter before a given keyword is missing.
pub fn fold_kwargs(args: Value, kw: &Value, params: &[&str]) -> Result<Value, Error> {
    let entries = match form::split(kw) {
        Some((names::DICTIONARY, entries)) => entries,
        _ => return Err(Error::protocol("PB keyword arguments are not a dictionary")),
    };
    match form::split(&args) {
        Some((names::TUPLE | names::LIST, _)) => {}
        _ => return Err(Error::protocol("PB arguments are not a tuple")),
    }
    if entries.is_empty() {
        return Ok(args);
    }
    let Value::List(mut items) = args else { return Err(Error::protocol("PB arguments are not a tuple")) };
    let given = items.len() - 1;
    let mut slots: Vec<Option<Value>> = vec![None; params.len().saturating_sub(given)];
    for entry in entries {
        let Some([key, value]) = entry.as_list() else {
            return Err(Error::protocol("PB keyword argument that is not a [name, value] pair"));
        };
        let name = form::as_text(key).ok_or_else(|| Error::protocol("PB keyword argument name that is not text"))?;
        let index = params.iter().position(|p| *p == name);
        match index {
            Some(i) if i < given => {
                return Err(Error::protocol(format_args!("PB argument {name:?} given twice")));
            }
            Some(i) if slots[i - given].is_none() => slots[i - given] = Some(value.clone()),
            Some(_) => return Err(Error::protocol(format_args!("PB keyword argument {name:?} given twice"))),
            None => return Err(Error::protocol(format_args!("unexpected PB keyword argument {name:?}"))),
        }
    }
    let last = slots.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    for (i, slot) in slots.into_iter().take(last).enumerate() {
        let value = slot.ok_or_else(|| Error::protocol(format_args!("PB argument {:?} missing", params[given + i])))?;
        items.push(value);
    }
    Ok(Value::List(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i128) -> Value {
        Value::Int(n)
    }

    #[test]
    fn keywords_land_at_their_positions() {
        let params = ["a", "b", "c"];
        let kw = form::dictionary([(form::unicode("c"), int(3)), (Value::bytes(b"b"), int(2))]);
        let folded = fold_kwargs(form::tuple([int(1)]), &kw, &params).unwrap();
        assert_eq!(folded, form::tuple([int(1), int(2), int(3)]));
        let none = form::dictionary([]);
        assert_eq!(fold_kwargs(form::tuple([int(1)]), &none, &[]).unwrap(), form::tuple([int(1)]));
    }

    #[test]
    fn bad_keywords_are_errors() {
        let params = ["a", "b", "c"];
        let kw = |k: &str| form::dictionary([(form::unicode(k), int(9))]);
        assert!(fold_kwargs(form::tuple([int(1)]), &kw("a"), &params).is_err(), "given twice");
        assert!(fold_kwargs(form::tuple([int(1)]), &kw("z"), &params).is_err(), "unknown");
        assert!(fold_kwargs(form::tuple([int(1)]), &kw("c"), &params).is_err(), "b missing");
        assert_eq!(fold_kwargs(form::tuple([int(1)]), &kw("b"), &params).unwrap(), form::tuple([int(1), int(9)]));
        let twice = form::dictionary([(form::unicode("b"), int(1)), (Value::bytes(b"b"), int(2))]);
        assert!(fold_kwargs(form::tuple([]), &twice, &params).is_err());
        assert!(fold_kwargs(int(1), &kw("a"), &params).is_err());
        assert!(fold_kwargs(form::tuple([]), &int(1), &params).is_err());
    }
}
