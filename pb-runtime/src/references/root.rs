//! Root objects: what a connection serves as object 0, and proxies to the
//! peer's root.

use std::sync::Arc;

use super::dispatcher::dispatcher;
use super::interface::Interface;
use super::proxy::ProxyHandle;
use crate::connection::{ROOT_ID, RemoteRef};
use crate::{Connection, ConnectionBuilder, Error};

/// What a server can publish as the root of each connection: an
/// `Arc<dyn Iface>`, a [`Registry`](crate::Registry), a
/// [`Portal`](crate::login::Portal).
pub trait IntoRoot {
    /// A factory of connection builders, one per accepted connection.
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync>;
}

impl<T: ?Sized + Interface> IntoRoot for Arc<T> {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        Arc::new(move || Connection::builder().root::<T>(self.clone()))
    }
}

impl ConnectionBuilder {
    /// Serve `object` as this side's root (object id 0 on the connection).
    pub fn root<T: ?Sized + Interface>(self, object: Arc<T>) -> Self {
        self.root_dispatch(dispatcher(object))
    }
}

impl Connection {
    /// A proxy to the peer's root object.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownObject`] if the peer serves no root,
    /// [`Error::WrongInterface`] if its root is of another interface.
    pub fn root<T: ?Sized + Interface>(&self) -> Result<Arc<T>, Error> {
        Ok(T::proxy(ProxyHandle::new(self.root_ref::<T>()?, T::NAME, T::METHODS)))
    }

    /// A reference to the peer's root, checked to be of interface `T`.
    pub(crate) fn root_ref<T: ?Sized + Interface>(&self) -> Result<Arc<RemoteRef>, Error> {
        match self.peer_root_interface() {
            None => Err(Error::UnknownObject { id: ROOT_ID }),
            Some(iface) if iface != T::ID => Err(Error::WrongInterface { expected: T::NAME.into(), found: iface }),
            Some(_) => Ok(Arc::new(RemoteRef::new(self.link(), ROOT_ID, false))),
        }
    }
}
