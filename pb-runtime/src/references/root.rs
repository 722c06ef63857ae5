//! Root objects: what a connection serves as object 0, and proxies to the
//! peer's root.

use std::sync::Arc;

use super::dispatcher::dispatcher;
use super::interface::Interface;
use super::proxy::ProxyHandle;
use crate::connection::{ROOT_ID, RemoteRef};
use crate::{Connection, ConnectionBuilder, Error};

/// What a server can publish as the root of each connection: a [`Root`]
/// (`pb::root::<dyn Iface>(object)`), an `Arc<dyn Iface>`, a
/// [`Registry`](crate::Registry), a [`Portal`](crate::login::Portal).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be served as a root object",
    label = "the interface it is served as is not named",
    note = "name the interface once: `pb::root::<dyn YourInterface>(object)`; a root is a `pb::root(..)`, an `Arc<dyn YourInterface>`, a `pb::Registry` or a `pb::login::Portal`"
)]
pub trait IntoRoot {
    /// A factory of connection builders, one per accepted connection.
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync>;
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized + Interface> IntoRoot for Arc<T> {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        Arc::new(move || Connection::builder().root::<T>(self.clone()))
    }
}

/// A root object with its interface named, for [`Server::bind`](crate::Server::bind):
/// see [`root`].
#[derive(Clone)]
pub struct Root {
    make: Arc<dyn Fn() -> ConnectionBuilder + Send + Sync>,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").finish_non_exhaustive()
    }
}

/// Serve `object` as interface `I`: the interface is named once, and the
/// object is an `Arc` of the implementing type (or an `Arc<dyn I>`).
///
/// ```ignore
/// # use std::sync::Arc;
/// # #[pb::remote_interface]
/// # pub trait UserManager { async fn count(&self) -> Result<u64, pb::Error>; }
/// struct Users;
/// # #[pb::remote_impl]
/// # impl UserManager for Users { async fn count(&self) -> Result<u64, pb::Error> { Ok(1) } }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pb::Error> {
/// let server = pb::Server::bind("127.0.0.1:0", pb::root::<dyn UserManager>(Arc::new(Users))).await?;
/// # Ok(())
/// # }
/// ```
pub fn root<I: ?Sized + Interface>(object: Arc<I>) -> Root {
    Root { make: Arc::new(move || Connection::builder().root::<I>(object.clone())) }
}

impl IntoRoot for Root {
    fn into_root(self) -> Arc<dyn Fn() -> ConnectionBuilder + Send + Sync> {
        self.make
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

    /// The peer's root object, whatever its interface (for tools: see
    /// [`AnyRef::remote_handle`](crate::AnyRef::remote_handle)).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownObject`] if the peer serves no root.
    pub fn peer_root(&self) -> Result<crate::AnyRef, Error> {
        let iface = self.peer_root_interface().ok_or(Error::UnknownObject { id: ROOT_ID })?;
        Ok(crate::AnyRef::remote(Arc::new(RemoteRef::new(self.link(), ROOT_ID, false)), iface))
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
