//! Objects by reference inside copied data: [`Ref`], and how an
//! `Arc<dyn Iface>` crosses a connection.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::dispatcher::dispatcher;
use super::interface::Interface;
use super::proxy::ProxyHandle;
use crate::Error;
use crate::connection::{JellyRef, ROOT_ID, RefCx};
use crate::wire::twisted::jelly::{RefForm, hook};
use crate::wire::{self, WireRef};

/// A reference to an object, for use *inside* copyable data.
///
/// A method argument or result of type `Arc<dyn Iface>` is passed by
/// reference directly. Inside a struct, `Vec`, `Option` or map that is passed
/// by copy, write `pb::Ref<dyn Iface>` instead: it derefs to the object,
/// converts from and into `Arc<dyn Iface>`, and crosses the wire as a
/// reference (the far side gets a working proxy; sent back to its owner it
/// arrives as the original `Arc`).
///
/// serde cannot do this for a bare `Arc<dyn Iface>` field: its `Arc` impls
/// serialize through `&T` (no owner to keep alive on export) and deserialize
/// through `Box<T>` (a new allocation, so identity would be lost).
pub struct Ref<T: ?Sized>(Arc<T>);

impl<T: ?Sized> Ref<T> {
    /// Wrap an object.
    pub fn new(object: Arc<T>) -> Self {
        Ref(object)
    }
    /// The object as an `Arc`.
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }
    /// Borrow the object as an `Arc`.
    pub fn as_arc(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T: ?Sized> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref(self.0.clone())
    }
}

impl<T: ?Sized> Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> From<Arc<T>> for Ref<T> {
    fn from(a: Arc<T>) -> Self {
        Ref(a)
    }
}

impl<T: ?Sized> From<Ref<T>> for Arc<T> {
    fn from(r: Ref<T>) -> Self {
        r.0
    }
}

impl<T: ?Sized + Interface> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match T::proxy_handle(&self.0) {
            Some(h) => write!(f, "Ref<{}>({h:?})", T::NAME),
            None => write!(f, "Ref<{}>(local {:p})", T::NAME, Arc::as_ptr(&self.0) as *const ()),
        }
    }
}

impl<T: ?Sized + Interface> Serialize for Ref<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_arc(&self.0, s)
    }
}

impl<'de, T: ?Sized + Interface> Deserialize<'de> for Ref<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_arc(d).map(Ref)
    }
}

/// Serialize `Arc<dyn Iface>` as a reference on the connection being encoded for.
///
/// # Errors
///
/// Fails outside a pb connection's encode (a reference means nothing there),
/// or when the connection's export limit is reached.
pub fn serialize_arc<T: ?Sized + Interface, S: Serializer>(object: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
    if hook::is_lent() {
        // A jelly encode for a Twisted peer.
        let form = RefCx::with(|cx| {
            let cx =
                cx.ok_or_else(|| S::Error::custom("a reference can only go to a Twisted peer in a call or reply"))?;
            jelly_form(object, cx).map_err(|e| S::Error::custom(hook::fail(e)))
        })?;
        return form.serialize(s);
    }
    let wire = RefCx::with(|cx| {
        let cx = cx.ok_or_else(|| S::Error::custom("pb references can only be serialized by a pb connection"))?;
        wire_ref(object, cx).map_err(|e| S::Error::custom(wire::fail(e)))
    })?;
    wire.serialize(s)
}

/// How `object` travels on the connection of `cx`: the peer's own reference
/// if it is a proxy to an object on that connection, else an export.
pub(crate) fn wire_ref<T: ?Sized + Interface>(object: &Arc<T>, cx: &RefCx) -> Result<WireRef, Error> {
    if let Some(handle) = T::proxy_handle(object)
        && let Some(id) = handle.id_on(cx.link().id())
    {
        return Ok(WireRef::Receiver { id });
    }
    let key = (Arc::as_ptr(object) as *const () as usize, T::ID);
    let id = cx.export(key, &mut || dispatcher(object.clone()))?;
    Ok(WireRef::Sender { id, iface: T::ID })
}

/// How `object` travels to a Twisted peer on the connection of `cx`: the
/// peer's own object (`["local", luid]`) if it is a proxy to one, else an
/// export of ours (`["remote", luid]`), counted once more per send.
pub(crate) fn jelly_form<T: ?Sized + Interface>(object: &Arc<T>, cx: &RefCx) -> Result<RefForm, Error> {
    if let Some(handle) = T::proxy_handle(object)
        && let Some(id) = handle.id_on(cx.link().id())
    {
        if id == ROOT_ID {
            // Twisted names its root `b"root"`; it has no luid to send back.
            return Err(Error::protocol("a Twisted peer's root object cannot be sent back to it"));
        }
        return Ok(RefForm::Local(id));
    }
    let key = (Arc::as_ptr(object) as *const () as usize, T::ID);
    let id = cx.export(key, &mut || dispatcher(object.clone()))?;
    Ok(RefForm::Remote(id))
}

/// Our export `id` on the connection of `cx`, typed as `T`.
pub(crate) fn exported<T: ?Sized + Interface>(cx: &RefCx, id: u64) -> Result<Arc<T>, Error> {
    let object = cx.link().exported(id)?;
    object
        .object()
        .downcast_ref::<Arc<T>>()
        .cloned()
        .ok_or_else(|| Error::WrongInterface { expected: T::NAME.to_string(), found: object.interface_id() })
}

/// Deserialize `Arc<dyn Iface>` from a reference on the connection being decoded.
///
/// # Errors
///
/// Fails outside a pb connection's decode, on an id the connection never
/// exported, or on a reference to another interface.
pub fn deserialize_arc<'de, T: ?Sized + Interface, D: Deserializer<'de>>(d: D) -> Result<Arc<T>, D::Error> {
    if hook::is_lent() {
        // A jelly decode from a Twisted peer: its references carry no
        // interface, so the method's declared one is trusted; our own
        // objects sent back arrive as the original `Arc`.
        return match hook::deserialize_ref::<JellyRef, D>(d)? {
            JellyRef::Remote(target) => Ok(T::proxy(ProxyHandle::new(target, T::NAME, T::METHODS))),
            JellyRef::Local(object) => object.object().downcast_ref::<Arc<T>>().cloned().ok_or_else(|| {
                let found = object.interface_id();
                D::Error::custom(hook::fail(Error::WrongInterface { expected: T::NAME.to_string(), found }))
            }),
        };
    }
    let wire = WireRef::deserialize(d)?;
    RefCx::with(|cx| {
        let cx = cx.ok_or_else(|| D::Error::custom("pb references can only be deserialized by a pb connection"))?;
        let result = match wire {
            WireRef::Receiver { id } => exported::<T>(cx, id),
            WireRef::Sender { id, iface } if iface == T::ID => {
                Ok(T::proxy(ProxyHandle::new(cx.link().import(id), T::NAME, T::METHODS)))
            }
            WireRef::Sender { iface, .. } => Err(Error::WrongInterface { expected: T::NAME.to_string(), found: iface }),
        };
        result.map_err(|e| D::Error::custom(wire::fail(e)))
    })
}

/// `&Arc<dyn Iface>` as a serializable reference (used by generated code for
/// top-level arguments and results).
pub struct SerArc<'a, T: ?Sized>(pub &'a Arc<T>);

impl<T: ?Sized + Interface> Serialize for SerArc<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_arc(self.0, s)
    }
}

impl<T: ?Sized + Interface> super::types::Describe for Ref<T> {
    fn describe(_: &mut super::types::TypeCx) -> super::types::TypeDesc {
        super::types::TypeDesc::Ref(T::NAME.to_string())
    }
}
