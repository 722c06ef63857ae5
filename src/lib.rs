//! pb facade.
pub use pb_runtime::*;
