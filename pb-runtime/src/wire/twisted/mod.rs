//! Twisted Perspective Broker's wire format: banana and jelly.
//!
//! - [`banana`]: the byte layer (tokens, dialects, limits, the splitter).
//! - [`jelly`]: Rust values to and from jelly's nested lists through serde.
//! - [`broker`]: PB's messages over jelly values (calls, answers, failures,
//!   reference counts, the handshake), as pure functions.
//!
//! This module is self-contained: it knows nothing of connections. A
//! connection speaking to Twisted cuts its input with
//! [`banana::Splitter`], decodes each expression with [`banana::decode`],
//! and maps values with [`jelly`]. The facts it follows (with Twisted source
//! lines) are in `pb-runtime/tests/twisted/PROTOCOL.txt`, and the golden
//! bytes it is tested against in `pb-runtime/tests/twisted/fixtures/`.

pub mod banana;
pub mod broker;
pub mod jelly;
