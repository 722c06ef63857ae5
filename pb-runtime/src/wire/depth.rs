//! The nesting limit of decoding.
//!
//! postcard decodes by recursion through the types being decoded and has no
//! depth limit of its own: a hostile peer that sends a recursive type (a tree,
//! a linked list, an `enum` that boxes itself) nested 50,000 deep would
//! overflow the stack and abort the process. pb's decoder
//! ([`super::codec`]) counts how deeply nested the value being decoded is;
//! past the limit it fails the decode instead of recursing further.
//!
//! Each of these counts as one level: a `struct`, a tuple, an `enum`, an
//! `Option` (holding a value or not), a newtype struct, a sequence and a map.
//! A value at the top level is at depth 0, the fields of a top-level struct
//! at depth 1, and so on. Cap'n Proto's nesting limit is the model (also 64
//! by default).
//!
//! Every header and payload pb decodes is checked this way, with the
//! connection's [`Config::max_depth`](crate::Config::max_depth).

use serde::de;

pub use super::codec::DEFAULT_MAX_DEPTH;
use super::codec::{self, Limits};
use crate::Error;

/// Decode a postcard value from the front of `bytes`, nested at most
/// `max_depth` levels deep (and within the default decoded-size budget,
/// [`codec::DEFAULT_MAX_DECODED_LEN`]); returns the value and the bytes
/// after it.
///
/// # Errors
///
/// [`Error::LimitExceeded`] (`what` = "nesting depth") when the value nests
/// too deeply, or ("decoded size") when it decodes to too much memory;
/// [`Error::Protocol`] when it does not decode.
pub fn take_from_bytes<'a, T: de::Deserialize<'a>>(bytes: &'a [u8], max_depth: usize) -> Result<(T, &'a [u8]), Error> {
    codec::take_from_bytes(bytes, Limits { max_depth, ..Limits::default() })
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u32),
        Node(Vec<Tree>),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct List {
        next: Option<Box<List>>,
    }

    fn nested_tree(depth: usize) -> Vec<u8> {
        // Node(vec![Node(vec![... Leaf(7) ...])]): variant 1, length 1, repeated.
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes.extend_from_slice(&[1, 1]);
        }
        bytes.extend_from_slice(&[0, 7]);
        bytes
    }

    #[test]
    fn values_within_the_limit_decode_as_postcard_would() {
        let tree = Tree::Node(vec![Tree::Leaf(1), Tree::Node(vec![Tree::Leaf(2)])]);
        let bytes = postcard::to_allocvec(&(tree, "tail".to_string(), Some(3u8))).unwrap();
        let (value, rest): ((Tree, String, Option<u8>), _) = take_from_bytes(&bytes, DEFAULT_MAX_DEPTH).unwrap();
        assert!(rest.is_empty());
        assert_eq!(value, postcard::from_bytes(&bytes).unwrap());
    }

    #[test]
    fn each_level_counts_once() {
        // Top-level enum (1) and its Vec (2) per Node; the Leaf is an enum too.
        let bytes = nested_tree(3);
        assert!(take_from_bytes::<Tree>(&bytes, 7).is_ok());
        assert!(matches!(take_from_bytes::<Tree>(&bytes, 6), Err(Error::LimitExceeded { limit: 6, .. })));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        for depth in [65, 1_000, 100_000] {
            let bytes = nested_tree(depth);
            match take_from_bytes::<Tree>(&bytes, DEFAULT_MAX_DEPTH) {
                Err(Error::LimitExceeded { what, limit }) => {
                    assert_eq!(limit, DEFAULT_MAX_DEPTH as u64);
                    assert!(what.contains("depth"));
                }
                other => panic!("expected the depth limit, got {other:?}"),
            }
        }
        let list = [1u8; 100_000]; // Some(List { next: Some(...) }) forever
        assert!(matches!(take_from_bytes::<List>(&list, DEFAULT_MAX_DEPTH), Err(Error::LimitExceeded { .. })));
    }

    #[test]
    fn other_errors_stay_protocol_errors() {
        assert!(matches!(take_from_bytes::<Tree>(&[9], DEFAULT_MAX_DEPTH), Err(Error::Protocol(_))));
        assert!(matches!(take_from_bytes::<String>(&[5, b'a'], DEFAULT_MAX_DEPTH), Err(Error::Protocol(_))));
    }
}
