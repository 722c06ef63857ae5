//! Services on top of references: the registry, cached models and login.

pub mod cache;
pub mod login;
pub(crate) mod md5;
pub mod registry;
pub mod stream;

use crate::describe::types::{Describe, TypeCx, TypeDesc};

impl<S: cache::Cacheable + Describe> Describe for cache::Cache<S>
where
    S::Event: Describe,
{
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Cache {
            name: S::NAME.to_string(),
            state: Box::new(S::describe(cx)),
            event: Box::new(<S::Event as Describe>::describe(cx)),
        }
    }
}

impl<T: Describe> Describe for stream::Stream<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Stream(Box::new(T::describe(cx)))
    }
}

impl<T: Describe> Describe for stream::Sender<T> {
    fn describe(cx: &mut TypeCx) -> TypeDesc {
        TypeDesc::Sender(Box::new(T::describe(cx)))
    }
}
