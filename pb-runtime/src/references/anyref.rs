//! References whose interface is known only at run time.
//!
//! A registry lookup returns "the object registered for interface id X": its
//! static type is not known to the registry, so it travels as an [`AnyRef`]
//! and the caller turns it into `Arc<dyn Iface>` with [`AnyRef::downcast`].
//!
//! Every `#[remote_interface]` registers its interface in a process-wide
//! table (with `inventory`), so a reference of any interface linked into the
//! process can be typed on arrival and served on to further peers: a relay
//! forwards registry lookups without naming the interfaces it forwards (the
//! seed's `remote.Registry`, which looked up "a class inheriting from the same
//! interface" to wrap what it retrieved).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::info::MethodInfo;
use super::interface::Interface;
use super::proxy::ProxyHandle;
use super::reference::{jelly_form, wire_ref};
use crate::Error;
use crate::connection::{Dispatch, JellyRef, ROOT_ID, RefCx, RemoteRef};
use crate::wire::twisted::jelly::{RefForm, hook};
use crate::wire::{self, WireRef};

/// One interface known to this process (registered by `#[remote_interface]`).
#[doc(hidden)]
pub struct InterfaceEntry {
    id: u64,
    name: &'static str,
    methods: &'static [MethodInfo],
    proxy: fn(ProxyHandle) -> AnyRef,
    /// `&Arc<dyn Trait>` (as `Any`) erased, if it is one of this interface.
    erase: fn(&(dyn Any + Send + Sync)) -> Option<AnyRef>,
}

impl InterfaceEntry {
    /// The entry of interface `T`.
    pub const fn of<T: ?Sized + Interface>() -> InterfaceEntry {
        InterfaceEntry { id: T::ID, name: T::NAME, methods: T::METHODS, proxy: typed_proxy::<T>, erase: erase::<T> }
    }
}

fn erase<T: ?Sized + Interface>(object: &(dyn Any + Send + Sync)) -> Option<AnyRef> {
    object.downcast_ref::<Arc<T>>().map(|o| AnyRef::new(o.clone()))
}

fn typed_proxy<T: ?Sized + Interface>(handle: ProxyHandle) -> AnyRef {
    AnyRef::new(T::proxy(handle))
}

inventory::collect!(InterfaceEntry);

/// The name of interface `id`, if it is linked into this process.
pub fn interface_name(id: u64) -> Option<&'static str> {
    inventory::iter::<InterfaceEntry>().find(|e| e.id == id).map(|e| e.name)
}

/// A typed object behind an [`AnyRef`].
trait Erased: Send + Sync {
    fn interface_id(&self) -> u64;
    fn interface_name(&self) -> &'static str;
    /// `&Arc<T>` as `Any`, for [`AnyRef::downcast`].
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    fn to_wire(&self, cx: &RefCx) -> Result<WireRef, Error>;
    fn to_jelly(&self, cx: &RefCx) -> Result<RefForm, Error>;
    fn proxy_handle(&self) -> Option<ProxyHandle>;
    /// Strong references to the object.
    fn holders(&self) -> usize;
}

struct Typed<T: ?Sized>(Arc<T>);

impl<T: ?Sized + Interface> Erased for Typed<T> {
    fn interface_id(&self) -> u64 {
        T::ID
    }
    fn interface_name(&self) -> &'static str {
        T::NAME
    }
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        &self.0
    }
    fn to_wire(&self, cx: &RefCx) -> Result<WireRef, Error> {
        wire_ref(&self.0, cx)
    }
    fn to_jelly(&self, cx: &RefCx) -> Result<RefForm, Error> {
        jelly_form(&self.0, cx)
    }
    fn proxy_handle(&self) -> Option<ProxyHandle> {
        T::proxy_handle(&self.0).cloned()
    }
    fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

/// A reference to an object of an interface known only at run time.
///
/// A Twisted peer's object (a `Referenceable` passed in) arrives as an
/// `AnyRef` too, but PB references carry no interface: its
/// [`interface_id`](AnyRef::interface_id) is 0, and
/// [`downcast`](AnyRef::downcast) to any interface succeeds, trusting the
/// caller's choice as Python's duck typing does (a call of a method the
/// object does not have fails with [`Error::UnknownMethod`]).
#[derive(Clone)]
pub struct AnyRef(Repr);

#[derive(Clone)]
enum Repr {
    Typed(Arc<dyn Erased>),
    /// Arrived for an interface this process does not link.
    Untyped {
        rref: Arc<RemoteRef>,
        iface: u64,
    },
    /// A Twisted peer's object: PB references carry no interface.
    Twisted(Arc<RemoteRef>),
}

impl fmt::Debug for AnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Typed(e) => write!(f, "AnyRef({})", e.interface_name()),
            Repr::Untyped { iface, .. } => write!(f, "AnyRef(unknown interface {iface:#x})"),
            Repr::Twisted(rref) => write!(f, "AnyRef(Twisted object #{} on {})", rref.id, rref.link.peer()),
        }
    }
}

impl AnyRef {
    /// Erase the interface of `object`.
    pub fn new<T: ?Sized + Interface>(object: Arc<T>) -> AnyRef {
        AnyRef(Repr::Typed(Arc::new(Typed(object))))
    }

    /// The interface id of the object: 0 for a Twisted peer's object,
    /// which comes with no interface.
    pub fn interface_id(&self) -> u64 {
        match &self.0 {
            Repr::Typed(e) => e.interface_id(),
            Repr::Untyped { iface, .. } => *iface,
            Repr::Twisted(_) => 0,
        }
    }

    /// The object as `Arc<T>`. A Twisted peer's object becomes a proxy of
    /// `T` whatever `T` is (see [`AnyRef`]).
    ///
    /// # Errors
    ///
    /// [`Error::WrongInterface`] if the object is of another interface.
    pub fn downcast<T: ?Sized + Interface>(self) -> Result<Arc<T>, Error> {
        let found = self.interface_id();
        match self.0 {
            Repr::Typed(e) => e.as_any().downcast_ref::<Arc<T>>().cloned().or_else(|| {
                // Two traits with one wire identity linked into one process (a
                // schema-generated one and a hand-written one): a proxy of either
                // serves as the other.
                (found == T::ID).then(|| e.proxy_handle().map(T::proxy)).flatten()
            }),
            Repr::Untyped { rref, iface } => {
                (iface == T::ID).then(|| T::proxy(ProxyHandle::new(rref, T::NAME, T::METHODS)))
            }
            Repr::Twisted(rref) => Some(T::proxy(ProxyHandle::new(rref, T::NAME, T::METHODS))),
        }
        .ok_or_else(|| Error::WrongInterface { expected: T::NAME.into(), found })
    }
}

impl AnyRef {
    /// Whether anything but this reference (and its clones) holds the
    /// object: a peer it is exported to, a typed handle.
    pub(crate) fn is_held_elsewhere(&self) -> bool {
        match &self.0 {
            Repr::Typed(e) => Arc::strong_count(e) > 1 || e.holders() > 1,
            Repr::Untyped { rref, .. } | Repr::Twisted(rref) => Arc::strong_count(rref) > 1,
        }
    }

    /// The handle to call the remote object through, whether or not its
    /// interface is linked into this process (`None` for a local object):
    /// for tools that call methods by id with arguments they encode
    /// themselves, such as the `pb` command.
    pub fn remote_handle(&self) -> Option<ProxyHandle> {
        match &self.0 {
            Repr::Typed(e) => e.proxy_handle(),
            Repr::Untyped { rref, .. } => Some(ProxyHandle::new(rref.clone(), "(unknown interface)", &[])),
            Repr::Twisted(rref) => Some(ProxyHandle::new(rref.clone(), "(Twisted object)", &[])),
        }
    }

    /// A reference to the remote object `rref` of interface `iface`: typed
    /// if the interface is linked into this process.
    pub(crate) fn remote(rref: Arc<RemoteRef>, iface: u64) -> AnyRef {
        match inventory::iter::<InterfaceEntry>().find(|e| e.id == iface) {
            Some(entry) => (entry.proxy)(ProxyHandle::new(rref, entry.name, entry.methods)),
            None => AnyRef(Repr::Untyped { rref, iface }),
        }
    }

    /// The proxy handle, when the object is a proxy.
    pub(crate) fn proxy_handle(&self) -> Option<ProxyHandle> {
        match &self.0 {
            Repr::Typed(e) => e.proxy_handle(),
            Repr::Untyped { .. } | Repr::Twisted(_) => None,
        }
    }
}

impl Serialize for AnyRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if hook::is_lent() {
            // A jelly encode for a Twisted peer.
            let form = RefCx::with(|cx| {
                let cx = cx.ok_or_else(|| S::Error::custom("a reference can only go to a Twisted peer in a call"))?;
                let result = match &self.0 {
                    Repr::Typed(e) => e.to_jelly(cx),
                    Repr::Untyped { rref, .. } | Repr::Twisted(rref) => match rref.id_on(cx.link().id()) {
                        Some(ROOT_ID) => Err(Error::protocol("a Twisted peer's root object cannot be sent back to it")),
                        Some(id) => Ok(RefForm::Local(id)),
                        None => Err(Error::protocol(
                            "a reference of an unknown interface cannot go to a Twisted peer; downcast it first",
                        )),
                    },
                };
                result.map_err(|e| S::Error::custom(hook::fail(e)))
            })?;
            return form.serialize(s);
        }
        let wire = RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| S::Error::custom("pb references can only be serialized by a pb connection"))?;
            let result = match &self.0 {
                Repr::Typed(e) => e.to_wire(cx),
                Repr::Untyped { rref, iface } => match rref.id_on(cx.link().id()) {
                    Some(id) => Ok(WireRef::Receiver { id }),
                    None => Err(Error::WrongInterface {
                        expected: "an interface linked into this process".into(),
                        found: *iface,
                    }),
                },
                // Twisted's reference sent on over pb's wire: it has no
                // interface to go with it.
                Repr::Twisted(_) => Err(Error::WrongInterface {
                    expected: "an interface linked into this process (downcast a Twisted object first)".into(),
                    found: 0,
                }),
            };
            result.map_err(|e| S::Error::custom(wire::fail(e)))
        })?;
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for AnyRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if hook::is_lent() {
            // From a Twisted peer: our own objects sent back are typed; the
            // peer's own carry no interface (see `Repr::Twisted`).
            let result = match hook::deserialize_ref::<JellyRef, D>(d)? {
                JellyRef::Local(object) => erase_export(&*object).ok_or_else(|| Error::WrongInterface {
                    expected: "an interface linked into this process".into(),
                    found: object.interface_id(),
                }),
                JellyRef::Remote(rref) => Ok(AnyRef(Repr::Twisted(rref))),
            };
            return result.map_err(|e| D::Error::custom(hook::fail(e)));
        }
        let wire = WireRef::deserialize(d)?;
        RefCx::with(|cx| {
            let cx = cx.ok_or_else(|| D::Error::custom("pb references can only be deserialized by a pb connection"))?;
            let result = match wire {
                WireRef::Receiver { id } => {
                    cx.link().exported(id).and_then(|object| erase_export(&*object).ok_or(Error::UnknownObject { id }))
                }
                WireRef::Sender { id, iface } => Ok(AnyRef::remote(cx.link().import(id), iface)),
            };
            result.map_err(|e| D::Error::custom(wire::fail(e)))
        })
    }
}

/// One of our exports as an [`AnyRef`]. Every exported object's interface
/// is linked in (it was exported from here): its entry erases it.
fn erase_export(object: &dyn Dispatch) -> Option<AnyRef> {
    inventory::iter::<InterfaceEntry>()
        .filter(|e| e.id == object.interface_id())
        .find_map(|e| (e.erase)(object.object()))
}
