//! `pb watch`: follow a cached model obtained through a method, printing
//! its state and each change as JSON lines.
//!
//! The method's reply holds the cache as pb sends it (the model's name, a
//! snapshot of the state, and a feed object); the command attaches an
//! observer of its own to the feed and decodes the state and events by the
//! model's schema.

use std::io::Write as _;
use std::sync::Arc;

use pb::cache::{Batch, Feed, Observer, Snapshot};
use pb_idl::ir::{Def, DefKind, Schema};
use serde::Deserialize;
use serde_json::json;

use crate::Failure;

/// A cache as it arrives in a reply.
#[derive(Deserialize)]
struct CacheWire {
    model: String,
    _view: u64,
    snapshot: Snapshot,
    feed: pb::Ref<dyn Feed>,
}

/// The method's reply: a cache, or the method's error (kept as bytes).
#[derive(Deserialize)]
enum CacheReply {
    Ok(CacheWire),
    Err(crate::raw::RawReply),
}

/// Prints what the owner sends.
struct Printer {
    schema: Arc<Schema>,
    model: usize,
}

impl Printer {
    fn def(&self) -> &Def {
        &self.schema.defs[self.model]
    }

    fn state(&self, snapshot: &Snapshot) -> Result<serde_json::Value, String> {
        let DefKind::Model { state, .. } = &self.def().kind else { unreachable!("checked to be a model") };
        crate::codec::decode_fields(&self.schema, state, &mut snapshot.state.as_ref())
    }

    fn event(&self, bytes: &[u8]) -> Result<serde_json::Value, String> {
        let DefKind::Model { events, .. } = &self.def().kind else { unreachable!("checked to be a model") };
        crate::codec::decode_variant(&self.schema, self.def(), events, &mut &bytes[..])
    }
}

fn print(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[pb::remote_impl]
impl Observer for Printer {
    async fn deliver(&self, batch: Batch) -> Result<(), pb::Error> {
        if let Some(s) = &batch.resync {
            match self.state(s) {
                Ok(state) => print(json!({ "seq": s.seq, "state": state })),
                Err(e) => print(json!({ "seq": s.seq, "undecodable_state": e })),
            }
        }
        for (seq, bytes) in &batch.events {
            match self.event(bytes) {
                Ok(event) => print(json!({ "seq": seq, "event": event })),
                Err(e) => print(json!({ "seq": seq, "undecodable_event": e })),
            }
        }
        Ok(())
    }
}

/// Call `method` (id `id`, no arguments) on `handle`, print the cache's
/// state, then every change until the link closes.
///
/// # Errors
///
/// The method failed, its reply is not a cache, or the feed refused.
pub(crate) async fn watch(
    handle: &pb::ProxyHandle,
    id: u32,
    args: Vec<u8>,
    schema: Arc<Schema>,
    model: usize,
    err: Option<usize>,
    conn: &pb::Connection,
) -> Result<(), Failure> {
    let reply: CacheReply =
        handle.call(id, &crate::raw::RawArgs(args)).await.map_err(|e| Failure::from_pb("watch", &e))?;
    let cache = match reply {
        CacheReply::Ok(c) => c,
        CacheReply::Err(bytes) => {
            let mut input = bytes.0.as_slice();
            let err = match err {
                Some(e) => crate::codec::decode(&schema, &pb_idl::ir::Ty::Def(e), &mut input),
                None => crate::codec::pb_error(&mut input),
            }
            .map_err(|e| Failure::remote(format!("the error does not decode: {e}")))?;
            return Err(Failure::remote(json!({ "error": err }).to_string()));
        }
    };
    let printer = Printer { schema, model };
    print(
        json!({ "model": cache.model, "seq": cache.snapshot.seq, "state": printer.state(&cache.snapshot).map_err(Failure::remote)? }),
    );
    let observer: Arc<dyn Observer> = Arc::new(printer);
    // The feed is held for as long as we watch: releasing it unsubscribes.
    let feed = pb::Ref::into_arc(cache.feed);
    feed.attach(observer).await.map_err(|e| Failure::from_pb("attaching to the cache", &e))?;
    conn.closed().await;
    drop(feed);
    Err(Failure { code: crate::exit::CONNECTION, message: "the connection closed".into() })
}
