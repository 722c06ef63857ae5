//! The banana splitter: any byte stream, read in any chunk size, with any
//! depth and size limits, in either dialect. It must never panic, must agree
//! with the whole-expression decoder on where each expression ends, must
//! only yield expressions that decode, and must never hold much more buffer
//! than the bytes that actually arrived (a count's claim is not an
//! allocation). Decoded values re-encode canonically: encoding, decoding
//! and encoding again gives the same bytes.
//!
//! Input: 1 byte maximum depth, 2 bytes maximum expression length, 1 byte
//! read size (its top bit selects dialect "pb"), then the stream.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use pb::wire::twisted::banana::{self, Dialect, Limits, Splitter};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let limits = Limits { max_depth: data[0] as usize % 80, max_len: u16::from_be_bytes([data[1], data[2]]) as usize };
    let chunk = (data[3] & 0x7f) as usize % 64 + 1;
    let dialect = if data[3] & 0x80 != 0 { Dialect::Pb } else { Dialect::None };
    let stream = &data[4..];

    let mut splitter = Splitter::new(limits);
    splitter.set_dialect(dialect);
    let mut buf = BytesMut::new();
    let mut consumed = 0;
    'feed: for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match splitter.split(&mut buf) {
                Ok(Some(expr)) => {
                    assert!(expr.len() <= limits.max_len);
                    let expr: Bytes = expr.freeze();
                    // The splitter cut where the stream says.
                    assert_eq!(&expr[..], &stream[consumed..consumed + expr.len()]);
                    consumed += expr.len();
                    // It decodes whole, under the same limits.
                    let (value, used) =
                        banana::decode(&expr, dialect, limits.max_depth).expect("split expressions decode");
                    assert_eq!(used, expr.len());
                    if let Ok(once) = banana::encode_to_vec(&value, dialect) {
                        let (again, _) =
                            banana::decode(&Bytes::from(once.clone()), dialect, usize::MAX).expect("re-decodes");
                        assert_eq!(banana::encode_to_vec(&again, dialect).expect("re-encodes"), once);
                    }
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
            assert_eq!(splitter.has_begun(), !buf.is_empty());
        }
        // Buffer held: what arrived and is not yet cut, plus growth slack.
        assert!(buf.capacity() <= 2 * (stream.len() + 64), "capacity {}", buf.capacity());
    }
});
