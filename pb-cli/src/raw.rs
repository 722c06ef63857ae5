//! Calls with arguments encoded by [`crate::codec`] and replies kept as
//! bytes, through the typed call API: postcard writes a tuple of `u8`s as
//! the bytes themselves, and reads them back one by one.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Call `method` on `handle` with postcard-encoded `args` (the arguments
/// one after the other); the reply payload comes back as bytes.
///
/// # Errors
///
/// A transport error, or an error the peer answered for the call.
pub(crate) async fn call(handle: &pb::ProxyHandle, method: u32, args: Vec<u8>) -> Result<Vec<u8>, pb::Error> {
    let reply: RawReply = handle.call(method, &RawArgs(args)).await?;
    Ok(reply.0)
}

pub(crate) struct RawArgs(pub(crate) Vec<u8>);

impl Serialize for RawArgs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

pub(crate) struct RawReply(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for RawReply {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_tuple(usize::MAX, Rest)
    }
}

/// Reads bytes until the payload ends.
struct Rest;

impl<'de> Visitor<'de> for Rest {
    type Value = RawReply;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the bytes of a reply")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawReply, A::Error> {
        let mut out = Vec::new();
        // The end of the payload is an "unexpected end" error: the bytes
        // read so far are the whole reply.
        while let Ok(Some(b)) = seq.next_element::<u8>() {
            out.push(b);
        }
        Ok(RawReply(out))
    }
}
