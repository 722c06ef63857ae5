//! Remote interfaces: what `#[remote_interface]` implements for `dyn Trait`.

use std::sync::Arc;

use super::info::MethodInfo;
use super::proxy::ProxyHandle;
use super::types::{MethodTypes, TypeCx};
use crate::Error;
use crate::connection::{CallFuture, Reply};

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
    /// the object, and return the future that sends its result through
    /// `reply` (see [`Reply::send`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMethod`] or a decode error, before the object is called.
    fn dispatch(this: &Arc<Self>, method: u32, args: &[u8], reply: Reply) -> Result<CallFuture, Error>;

    /// Wrap a proxy handle in the interface's proxy type.
    fn proxy(handle: ProxyHandle) -> Arc<Self>;

    /// The proxy handle, when `this` is a proxy (and not a local object).
    fn proxy_handle(this: &Self) -> Option<&ProxyHandle>;

    /// The types of the remote methods, for peers that ask (see
    /// [`crate::describe::types`]). Generated; empty by default.
    fn method_types(cx: &mut TypeCx) -> Vec<MethodTypes> {
        let _ = cx;
        Vec::new()
    }
}
