//! The dispatch table of an exported `Arc<dyn Trait>`, as its connection
//! sees it.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;

use super::describe::InterfaceDescription;
use super::interface::Interface;
use crate::Error;
use crate::connection::{CallFuture, Dispatch, Reply};

/// The dispatch table of an `Arc<dyn Trait>`.
pub(crate) struct Dispatcher<T: ?Sized + Interface>(pub(crate) Arc<T>);

impl<T: ?Sized + Interface> Dispatch for Dispatcher<T> {
    fn interface_id(&self) -> u64 {
        T::ID
    }

    fn call(&self, method: u32, args: &Bytes, reply: Reply) -> Result<CallFuture, Error> {
        if method == crate::wire::DESCRIBE_METHOD {
            // Answered by the runtime for every object: its interface, so a
            // peer can tell whether it runs the same version before calling;
            // with its methods' types when asked with version 2 or later (the
            // arguments are then that one byte; anything else is version 1).
            if let [version] = args.as_ref()
                && *version >= super::types::TYPES_VERSION
            {
                let types = super::describe::type_table::<T>();
                reply.send(&super::describe::DescribeReply::WithTypes(InterfaceDescription::of::<T>(), types))?;
            } else {
                reply.send(&Ok::<_, Error>(InterfaceDescription::of::<T>()))?;
            }
            return Ok(Box::pin(std::future::ready(Ok(()))));
        }
        T::dispatch(&self.0, method, args, reply)
    }

    fn object(&self) -> &(dyn Any + Send + Sync) {
        &self.0
    }

    fn method_named(&self, name: &str) -> Option<(u32, &'static [&'static str])> {
        // Several methods may share a wire name (with ids set apart): the
        // first declared answers to it.
        T::METHODS.iter().find(|m| m.name == name).map(|m| (m.id, m.params))
    }

    fn interface_name(&self) -> &'static str {
        T::NAME
    }
}

/// Export `object` as an `Arc<dyn Dispatch>`.
pub(crate) fn dispatcher<T: ?Sized + Interface>(object: Arc<T>) -> Arc<dyn Dispatch> {
    Arc::new(Dispatcher(object))
}
