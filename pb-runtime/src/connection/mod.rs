//! One connection to a peer: framing, the reader and writer tasks, the
//! export and import tables, the server side of calls and the client side.
//!
//! Connections are symmetric: either side may serve a root object and call
//! the other's. Each connection has its own export table, so ids from
//! another connection mean nothing here and are rejected.
//!
//! | file | owns |
//! | --- | --- |
//! | `link.rs` | what the layers above see: `Link`, `Dispatch`, `RemoteRef`, `Reply`, the reference context of an encode or decode |
//! | `tables.rs` | export, import and pending-call tables |
//! | `outbox.rs` | the queue of outgoing frames, written many per system call |
//! | `writer.rs` | the writer task |
//! | `core.rs` | the connection's state (implements `Link`); a session's link going down and resuming |
//! | `dispatch.rs` | the server side of calls: look up, start, answer |
//! | `calls.rs` | the client side: `send_call`, `send_oneway` |
//! | `reader.rs` | the reader task: frames in, messages handled in order, acknowledged on a session |
//! | `behalf.rs` | whether the running code is a peer's call (its calls wait for a resume) |
//! | `handshake.rs` | the hellos, and the choice between a new connection and a resumed session |
//! | `resume.rs` | a server's table of resumable sessions: identities, how many wait |
//! | `twisted/` | a connection to a Twisted PB peer (banana and jelly), behind the same `Link`: client and server handshakes, calls both ways |
//! | `handle.rs` | the public handles: `Connection`, `ConnectionBuilder`, `Stats` |

mod behalf;
mod calls;
mod core;
mod dispatch;
mod handle;
mod handshake;
mod link;
mod outbox;
mod reader;
mod resume;
mod tables;
mod twisted;
mod writer;

pub(crate) use behalf::patient;
pub(crate) use calls::{send_call, send_call_measured, send_oneway};
pub(crate) use handle::OnOpenTwisted;
pub use handle::{Connection, ConnectionBuilder, Stats};
pub(crate) use handshake::{Intent, Opened};
pub(crate) use link::Dispatch;
pub use link::{CallFuture, Reply};
pub(crate) use link::{
    JellyCalls, JellyRef, JellySlot, Link, ReceivedCache, RefCx, RemoteRef, SentCache, StreamCount, decode_with_refs,
};
pub(crate) use resume::Sessions;
pub(crate) use tables::ROOT_ID;
pub(crate) use twisted::{Settings as TwistedSettings, TwistedLink};
