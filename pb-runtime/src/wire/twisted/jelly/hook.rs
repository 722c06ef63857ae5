//! A connection's side of references, lent to one jelly encode or decode.
//!
//! serde gives `Serialize`/`Deserialize` impls no way to carry state, so the
//! object that turns references into [`RefForm`]s and back (a connection
//! with its export and import tables) is lent through a scoped thread-local
//! for the duration of one synchronous encode or decode, as pb's postcard
//! path lends its `WireCx`. Objects cross the hook as `dyn Any`, so the hook
//! needs no knowledge of Rust interface types: pb's type-erased `AnyRef` is
//! the natural currency (`AnyRef::new(arc)` going out, `downcast::<T>()`
//! coming in).
//!
//! ```
//! use std::any::Any;
//! use std::rc::Rc;
//! use pb_runtime::wire::twisted::jelly::{self, hook, Received, RefForm};
//!
//! /// Exports everything as luid 7; imports every reference as its luid.
//! struct Table;
//!
//! impl hook::RefHook for Table {
//!     fn export(&self, _object: &dyn Any) -> Result<RefForm, pb_runtime::Error> {
//!         Ok(RefForm::Remote(7))
//!     }
//!     fn import(&self, received: Received) -> Result<Box<dyn Any>, pb_runtime::Error> {
//!         Ok(Box::new(received.form.luid()))
//!     }
//! }
//!
//! /// A reference type: its serde impls go through the hook.
//! struct Obj(u64);
//!
//! impl serde::Serialize for Obj {
//!     fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
//!         hook::serialize_ref(&self.0, s)
//!     }
//! }
//!
//! impl<'de> serde::Deserialize<'de> for Obj {
//!     fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
//!         hook::deserialize_ref::<u64, D>(d).map(Obj)
//!     }
//! }
//!
//! let table: Rc<dyn hook::RefHook> = Rc::new(Table);
//! let value = hook::with_hook(&table, || jelly::to_value(&(Obj(1),))).unwrap();
//! let (obj,): (Obj,) = hook::with_hook(&table, || jelly::from_value(&value)).unwrap();
//! assert_eq!(obj.0, 7);
//! ```

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::refs::{Received, RefForm};

/// What a connection does with references during an encode or decode.
pub trait RefHook {
    /// Encoding: how `object` travels (`Remote` for an export of ours,
    /// `Local` for the peer's own object sent back).
    ///
    /// # Errors
    ///
    /// An object the hook cannot send (wrong type, export limit).
    fn export(&self, object: &dyn Any) -> Result<RefForm, crate::Error>;

    /// Decoding: the object a reference stands for, boxed as the type the
    /// reference type's `Deserialize` expects. [`Received::first`] is
    /// `false` for a repeat of an occurrence already imported (count one
    /// receipt per occurrence, as Twisted does).
    ///
    /// # Errors
    ///
    /// An unknown luid, or a reference the hook refuses.
    fn import(&self, received: Received) -> Result<Box<dyn Any>, crate::Error>;
}

/// The hook lent to the current encode or decode, and the first structured
/// error it raised (serde carries errors as text).
struct Lent {
    hook: Rc<dyn RefHook>,
    error: RefCell<Option<crate::Error>>,
}

impl Lent {
    fn fail(&self, e: crate::Error) -> crate::Error {
        self.error.borrow_mut().get_or_insert_with(|| e.clone());
        e
    }
}

scoped_tls::scoped_thread_local!(static HOOK: Lent);

/// Run `f` (a synchronous jelly encode or decode) with `hook` lent to the
/// reference types inside. If the hook failed, its structured error is
/// returned rather than serde's text of it.
///
/// # Errors
///
/// Whatever `f` returns.
pub fn with_hook<T>(hook: &Rc<dyn RefHook>, f: impl FnOnce() -> super::error::Result<T>) -> super::error::Result<T> {
    let lent = Lent { hook: hook.clone(), error: RefCell::new(None) };
    let result = HOOK.set(&lent, f);
    result.map_err(|e| lent.error.into_inner().map(super::error::Error).unwrap_or(e))
}

/// Remember `e` as the structured error of the lent hook's encode or
/// decode (if one is running), and return it: for reference types that
/// resolve references without the hook, so [`with_hook`] still returns
/// their error rather than serde's text of it.
pub fn fail(e: crate::Error) -> crate::Error {
    if HOOK.is_set() { HOOK.with(|lent| lent.fail(e)) } else { e }
}

/// Whether a hook is lent to the encode or decode running on this thread
/// (reference types that also travel in other formats ask this first).
pub fn is_lent() -> bool {
    HOOK.is_set()
}

scoped_tls::scoped_thread_local!(static ARGS: crate::wire::twisted::banana::Value);

/// Run `f` (the start of a call from a Twisted peer) with `args`, the
/// call's jelly arguments, lent: the generated dispatch code decodes them
/// through [`lent_args`] instead of pb's own payload.
pub fn with_args<T>(args: &crate::wire::twisted::banana::Value, f: impl FnOnce() -> T) -> T {
    ARGS.set(args, f)
}

/// `f` applied to the arguments lent by [`with_args`], if any are.
pub fn lent_args<R>(f: impl FnOnce(&crate::wire::twisted::banana::Value) -> R) -> Option<R> {
    ARGS.is_set().then(|| ARGS.with(f))
}

/// Serialize `object` as a reference through the lent hook.
///
/// # Errors
///
/// Outside [`with_hook`], or when the hook fails.
pub fn serialize_ref<T: Any, S: Serializer>(object: &T, s: S) -> Result<S::Ok, S::Error> {
    if !HOOK.is_set() {
        return Err(S::Error::custom("a reference can only be serialized with a connection's hook"));
    }
    let form = HOOK.with(|lent| lent.hook.export(object).map_err(|e| S::Error::custom(lent.fail(e))))?;
    form.serialize(s)
}

/// Deserialize a reference through the lent hook, as a `T`.
///
/// # Errors
///
/// Outside [`with_hook`], when the value is not a reference, when the hook
/// fails, or when it returns something other than a `T`.
pub fn deserialize_ref<'de, T: Any, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let received = Received::deserialize(d)?;
    if !HOOK.is_set() {
        return Err(D::Error::custom("a reference can only be deserialized with a connection's hook"));
    }
    HOOK.with(|lent| {
        let object = lent.hook.import(received).map_err(|e| D::Error::custom(lent.fail(e)))?;
        object.downcast::<T>().map(|b| *b).map_err(|_| D::Error::custom("the hook returned another type"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::wire::twisted::jelly::{self, form};

    /// Exports strings by position; refuses anything else.
    #[derive(Default)]
    struct Table {
        exported: RefCell<Vec<String>>,
        receipts: RefCell<u32>,
    }

    impl RefHook for Table {
        fn export(&self, object: &dyn Any) -> Result<RefForm, Error> {
            let name = object.downcast_ref::<String>().ok_or(Error::LimitExceeded { what: "x".into(), limit: 0 })?;
            let mut e = self.exported.borrow_mut();
            e.push(name.clone());
            Ok(RefForm::Remote(e.len() as u64))
        }

        fn import(&self, r: Received) -> Result<Box<dyn Any>, Error> {
            *self.receipts.borrow_mut() += u32::from(r.first);
            match r.form {
                RefForm::Local(id) => {
                    let e = self.exported.borrow();
                    let name = e.get(id as usize - 1).ok_or(Error::UnknownObject { id })?;
                    Ok(Box::new(name.clone()))
                }
                RefForm::Remote(id) => Ok(Box::new(format!("proxy {id}"))),
            }
        }
    }

    struct Named(String);

    impl Serialize for Named {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize_ref(&self.0, s)
        }
    }

    impl<'de> Deserialize<'de> for Named {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_ref::<String, D>(d).map(Named)
        }
    }

    #[test]
    fn references_go_through_the_lent_hook() {
        let table = Rc::new(Table::default());
        let hook: Rc<dyn RefHook> = table.clone();
        let v = with_hook(&hook, || jelly::to_value(&(Named("a".into()), Named("b".into())))).unwrap();
        let remote = |n| Value::List(vec![Value::bytes(b"remote"), Value::Int(n)]);
        assert_eq!(v, form::tuple([remote(1), remote(2)]));
        let local = Value::List(vec![Value::bytes(b"local"), Value::Int(2)]);
        let (a, b): (Named, Named) = with_hook(&hook, || jelly::from_value(&form::tuple([remote(9), local]))).unwrap();
        assert_eq!((a.0.as_str(), b.0.as_str()), ("proxy 9", "b"));
        assert_eq!(*table.receipts.borrow(), 2);
    }

    #[test]
    fn hook_errors_keep_their_kind_and_no_hook_is_an_error() {
        let hook: Rc<dyn RefHook> = Rc::new(Table::default());
        let unknown = Value::List(vec![Value::bytes(b"local"), Value::Int(5)]);
        let e = with_hook(&hook, || jelly::from_value::<Named>(&unknown)).err().unwrap();
        assert_eq!(e.0, Error::UnknownObject { id: 5 });
        assert!(jelly::to_value(&Named("a".into())).is_err());
        assert!(jelly::from_value::<Named>(&unknown).is_err());
    }

    use crate::wire::twisted::banana::Value;
}
