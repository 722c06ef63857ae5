//! Services on top of references: the registry, cached models and login.

pub mod cache;
pub mod login;
pub mod registry;
