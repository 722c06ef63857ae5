//! Banana's limits: Twisted's own, and the ones pb adds.

use crate::Error;

/// Longest prefix Twisted accepts, in bytes (`setPrefixLimit(64)`): integers
/// up to 448 bits.
pub const MAX_PREFIX: usize = 64;

/// Twisted's limit on each list's count and each string's length, in
/// elements or bytes (`SIZE_LIMIT = 640 * 1024`).
pub const SIZE_LIMIT: usize = 640 * 1024;

/// Limits on one banana expression, beyond Twisted's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most lists open at once (a bare atom is at depth 0, `[1]` at depth 1).
    pub max_depth: usize,
    /// Most bytes in one expression (pb's `Config::max_frame_len`).
    pub max_len: usize,
}

impl Default for Limits {
    /// pb's defaults: depth 64, 16 MiB.
    fn default() -> Self {
        Limits { max_depth: crate::wire::depth::DEFAULT_MAX_DEPTH, max_len: 16 << 20 }
    }
}

/// The error of a banana limit.
pub(crate) fn limit_error(what: &str, limit: usize) -> Error {
    Error::LimitExceeded { what: what.into(), limit: limit as u64 }
}
