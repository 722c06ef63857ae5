//! Shared code of the pb examples: the seed's `aurora` interfaces.
//!
//! The names come from the mailing-list thread pb grew from: a `Registry`
//! of managers, a `UserManager` that dispenses `User` records (by copy).

pub mod aurora;
pub mod demo;
pub mod log_tail;
pub mod seed;
pub mod twisted;
