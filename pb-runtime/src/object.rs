//! Remote interfaces, object references and the server-side dispatch table.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::anyref::AnyRef;
use crate::connection::CallContext;
use crate::proxy::ProxyHandle;
use crate::wire::{DecodeCx, EncodeCx, EncodedFrame, WireCx, WireRef};

/// The future a dispatched call runs. It queues its reply through
/// [`CallContext::encode_return`] and resolves to an empty frame, or to an
/// error the connection sends as the reply instead.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<EncodedFrame, Error>> + Send>>;

/// What the runtime knows about one method of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method's name as written in the trait.
    pub name: &'static str,
    /// Its stable id on the wire.
    pub id: u32,
    /// Declared safe to re-run after an outage to rebuild what it returned.
    pub replay: bool,
    /// Declared idempotent: retried once after healing if the link dropped.
    pub idempotent: bool,
    /// Hash of the method's signature (argument, result and error types,
    /// with paths reduced to their last segment): peers compare it to tell
    /// whether a method changed. See [`crate::describe`].
    pub signature: u64,
}

/// Implemented by `#[remote_interface]` for `dyn Trait`: everything the
/// runtime needs to export, call and proxy objects of that interface.
///
/// Not meant to be implemented by hand.
pub trait Interface: Send + Sync + 'static {
    /// The interface name (the trait name unless overridden).
    const NAME: &'static str;
    /// Stable interface id (a hash of [`Interface::NAME`] unless overridden).
    const ID: u64;
    /// The remote methods (local methods are not listed).
    const METHODS: &'static [MethodInfo];

    /// The dispatch table: decode arguments for `method` from `args`, call
    /// the object, and return the future that encodes its result.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMethod`] or a decode error, before the object is called.
    fn dispatch(this: &Arc<Self>, method: u32, args: &[u8], cx: CallContext) -> Result<CallFuture, Error>;

    /// Wrap a proxy handle in the interface's proxy type.
    fn proxy(handle: ProxyHandle) -> Arc<Self>;

    /// The proxy handle, when `this` is a proxy (and not a local object).
    fn proxy_handle(this: &Self) -> Option<&ProxyHandle>;
}

/// Type-erased dispatch table of one exported object.
pub(crate) trait Dispatch: Send + Sync + 'static {
    fn interface_id(&self) -> u64;
    fn call(&self, method: u32, args: &[u8], cx: CallContext) -> Result<CallFuture, Error>;
    /// The exported object as `Arc<dyn Trait>` inside `Any`, for identity.
    fn original(&self) -> &(dyn Any + Send + Sync);
    /// The exported object with its interface erased.
    fn any_ref(&self) -> AnyRef;
    /// The interface, as peers see it (answers [`crate::wire::DESCRIBE_METHOD`]).
    fn describe(&self) -> crate::describe::InterfaceDescription;
}

/// The dispatch table of an `Arc<dyn Trait>`.
pub(crate) struct Dispatcher<T: ?Sized + Interface>(pub(crate) Arc<T>);

impl<T: ?Sized + Interface> Dispatch for Dispatcher<T> {
    fn interface_id(&self) -> u64 {
        T::ID
    }
    fn call(&self, method: u32, args: &[u8], cx: CallContext) -> Result<CallFuture, Error> {
        T::dispatch(&self.0, method, args, cx)
    }
    fn original(&self) -> &(dyn Any + Send + Sync) {
        &self.0
    }
    fn any_ref(&self) -> AnyRef {
        AnyRef::new(self.0.clone())
    }
    fn describe(&self) -> crate::describe::InterfaceDescription {
        crate::describe::InterfaceDescription::of::<T>()
    }
}

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
    let wire = EncodeCx::with(|cx| {
        let cx = cx.ok_or_else(|| S::Error::custom("pb references can only be serialized by a pb connection"))?;
        wire_ref(object, cx).map_err(|e| S::Error::custom(cx.fail(e)))
    })?;
    wire.serialize(s)
}

/// How `object` travels on the connection of `cx`: the peer's own reference
/// if it is a proxy to an object on that connection, else an export.
pub(crate) fn wire_ref<T: ?Sized + Interface>(object: &Arc<T>, cx: &WireCx) -> Result<WireRef, Error> {
    if let Some(handle) = T::proxy_handle(object)
        && let Some(id) = handle.id_on(&cx.conn)
    {
        return Ok(WireRef::Receiver { id });
    }
    let id = cx.conn.export(object.clone())?;
    cx.exported(id);
    Ok(WireRef::Sender { id, iface: T::ID })
}

/// Deserialize `Arc<dyn Iface>` from a reference on the connection being decoded.
///
/// # Errors
///
/// Fails outside a pb connection's decode, on an id the connection never
/// exported, or on a reference to another interface.
pub fn deserialize_arc<'de, T: ?Sized + Interface, D: Deserializer<'de>>(d: D) -> Result<Arc<T>, D::Error> {
    let wire = WireRef::deserialize(d)?;
    DecodeCx::with(|cx| {
        let cx = cx.ok_or_else(|| D::Error::custom("pb references can only be deserialized by a pb connection"))?;
        let result = match wire {
            WireRef::Receiver { id } => cx.conn.exported::<T>(id),
            WireRef::Sender { id, iface } if iface == T::ID => {
                Ok(T::proxy(ProxyHandle::new(cx.conn.import(id), T::NAME)))
            }
            WireRef::Sender { iface, .. } => Err(Error::WrongInterface { expected: T::NAME.to_string(), found: iface }),
        };
        result.map_err(|e| D::Error::custom(cx.fail(e)))
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
