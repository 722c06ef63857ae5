//! The message decoder with its depth limit: a frame body split into its
//! header and payload, and the payload decoded as several message types
//! under a fuzzed depth limit. It must never panic or overflow the stack,
//! and must agree with plain postcard whenever the limit is not hit: same
//! value, same error. A value it accepts nests no deeper than the limit.
//!
//! Input: 1 byte depth limit (0..=95), then a frame body.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pb::Error;
use pb::wire::{self, Header};
use pb_fuzz_common::{Mixed, Tree};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decode `payload` as a `T` under `max_depth` and compare with postcard.
fn check<T: DeserializeOwned + Serialize>(payload: &[u8], max_depth: usize) -> Option<T> {
    match wire::decode_payload_limited::<T>(payload, max_depth) {
        Ok(value) => {
            // Within the limits, pb's decoder decodes exactly as postcard does.
            // (Compared as encodings: a NaN is not equal to itself.)
            let (plain, rest) = postcard::take_from_bytes::<T>(payload).expect("postcard agrees");
            assert!(rest.is_empty());
            let encoded = postcard::to_allocvec(&value).unwrap();
            assert_eq!(postcard::to_allocvec(&plain).unwrap(), encoded);
            let again = wire::decode_payload_limited::<T>(&encoded, max_depth).expect("a re-encoding decodes");
            assert_eq!(postcard::to_allocvec(&again).unwrap(), encoded);
            Some(value)
        }
        Err(Error::LimitExceeded { what, limit }) if what.contains("decoded size") => {
            // Past the decoded-size budget (only inputs far larger than
            // libFuzzer's default length can get there).
            assert_eq!(limit, wire::codec::DEFAULT_MAX_DECODED_LEN as u64);
            None
        }
        Err(Error::LimitExceeded { what, limit }) => {
            assert!(what.contains("depth"));
            assert_eq!(limit, max_depth as u64);
            None
        }
        Err(Error::Protocol(_)) => {
            // Failed before the limit: postcard fails the same way (it walks
            // the same path, so it cannot nest deeper either).
            if let Ok((_, rest)) = postcard::take_from_bytes::<T>(payload) {
                assert!(!rest.is_empty(), "postcard decoded what pb's decoder refused");
            }
            None
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&depth, body)) = data.split_first() else { return };
    let max_depth = depth as usize % 96;
    let frame = Bytes::copy_from_slice(body);
    let Ok((header, payload)) = wire::decode_frame(&frame) else { return };
    let encoded = postcard::to_allocvec(&header).unwrap();
    assert_eq!(wire::decode_frame(&Bytes::from(encoded)).unwrap().0, header, "headers round-trip");

    if let Some((tree,)) = check::<(Tree,)>(&payload, max_depth) {
        assert!(tree.nesting() < max_depth, "a tree of nesting {} under limit {max_depth}", tree.nesting());
    }
    check::<(Mixed,)>(&payload, max_depth);
    check::<Result<Mixed, Error>>(&payload, max_depth);
    check::<Error>(&payload, max_depth);
    check::<String>(&payload, max_depth);
    check::<Header>(&payload, max_depth);
    if matches!(header, Header::Goodbye) {
        let _ = check::<Vec<Option<Vec<u64>>>>(&payload, max_depth);
    }
});
