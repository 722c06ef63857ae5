//! Support code shared by pb's integration tests: the test interfaces (after
//! the seed's `aurora` example) and helpers that connect two sides over each
//! transport.

pub mod aurora;
pub mod net;
