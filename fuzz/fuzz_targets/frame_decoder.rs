//! The frame decoder: any byte stream, read in any chunk size, against any
//! maximum frame length. It must never panic, must agree with a plain
//! reference parser, must refuse a prefix over the limit, and must never
//! hold much more buffer than the bytes that actually arrived (a length
//! prefix's claim is not an allocation).
//!
//! Input: 2 bytes maximum frame length, 1 byte read size (its top bit turns
//! on a frame timeout, which never expires here: the bookkeeping must not
//! change what is decoded), then the stream.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use pb::wire::frame::{FrameDecoder, PREFIX_LEN};
use tokio_util::codec::Decoder;

/// What a reference parser reads from the whole stream: the frames, and
/// whether it stopped on a prefix over the limit.
fn reference(mut input: &[u8], max: usize) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    while input.len() >= PREFIX_LEN {
        let len = u32::from_be_bytes(input[..4].try_into().unwrap()) as usize;
        if len > max {
            return (frames, true);
        }
        if input.len() < PREFIX_LEN + len {
            break;
        }
        frames.push(input[PREFIX_LEN..PREFIX_LEN + len].to_vec());
        input = &input[PREFIX_LEN + len..];
    }
    (frames, false)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max = u16::from_be_bytes([data[0], data[1]]) as usize;
    let chunk = (data[2] & 0x7f) as usize % 64 + 1;
    let timed = data[2] & 0x80 != 0;
    let stream = &data[3..];
    let (expected, over) = reference(stream, max);

    let mut decoder = FrameDecoder::new(max);
    if timed {
        decoder = decoder.with_timeout(std::time::Duration::from_secs(3600));
    }
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut refused = false;
    'feed: for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max);
                    let frame: Bytes = frame.freeze();
                    // Whatever the frame holds, splitting it never panics.
                    let _ = pb::wire::decode_frame(&frame);
                    frames.push(frame.to_vec());
                }
                Ok(None) => break,
                Err(_) => {
                    refused = true;
                    break 'feed;
                }
            }
        }
        // Buffer space follows what arrived, not what a prefix claims.
        assert!(buf.capacity() <= buf.len() + (256 << 10), "capacity {} for {} bytes", buf.capacity(), buf.len());
    }
    assert_eq!(frames, expected);
    assert_eq!(refused, over);
});
