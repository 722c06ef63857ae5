//! Twisted Perspective Broker's wire format: banana and jelly.
//!
//! - [`banana`]: the byte layer (tokens, dialects, limits, the splitter).
//! - [`jelly`]: Rust values to and from jelly's nested lists through serde.
//! - [`broker`]: PB's messages over jelly values (calls, answers, failures,
//!   reference counts, the handshake), as pure functions.
//!
//! This module is self-contained: it knows nothing of connections. A
//! connection speaking to Twisted cuts its input with
//! [`banana::Splitter`], reads each expression as a [`broker::Message`],
//! and maps arguments and results with [`jelly`]. The facts it follows
//! (with Twisted source lines) are in `pb-runtime/tests/twisted/PROTOCOL.txt`,
//! and the golden bytes it is tested against in
//! `pb-runtime/tests/twisted/fixtures/`.
//!
//! # Examples
//!
//! A server reading a call recorded from a real Twisted client, and
//! answering it:
//!
//! ```
//! use bytes::BytesMut;
//! use pb_runtime::wire::twisted::banana::{self, Dialect, Limits, Splitter};
//! use pb_runtime::wire::twisted::broker::{self, Message, Target};
//! use pb_runtime::wire::twisted::jelly;
//!
//! #[derive(serde::Serialize)]
//! #[serde(rename = "aurora.User")] // the copy tag Python registered
//! struct User { id: i64, name: String }
//!
//! // (b'message', 2, b'root', b'get_user', 1, [b'tuple', 7], [b'dictionary'])
//! let mut input = BytesMut::from(&b"\x07\x80\x1a\x87\x02\x81\x04\x82root\x08\x82get_user\x01\x81\x02\x80\x0b\x87\x07\x81\x01\x80\x05\x87"[..]);
//! let mut splitter = Splitter::new(Limits::default());
//! splitter.set_dialect(Dialect::Pb); // after the handshake
//! let expr = splitter.split(&mut input)?.expect("a whole expression");
//! let Message::Call(call) = Message::decode(&expr.freeze(), Dialect::Pb, 64)? else { panic!() };
//! assert_eq!((call.target.clone(), &call.method[..]), (Target::root(), &b"get_user"[..]));
//!
//! let (id,): (i64,) = jelly::from_value(&call.args)?;
//! let user = jelly::to_value(&User { id, name: "alice".into() })?;
//! let answer = broker::reply(&call, Ok(user)).expect("an answer was required");
//! let bytes = answer.encode(Dialect::Pb)?;
//! assert!(bytes.windows(11).any(|w| w == b"aurora.User"));
//! # Ok::<(), pb_runtime::Error>(())
//! ```
//!
//! # Layering
//!
//! Banana knows bytes and [`banana::Value`]s; jelly knows values and serde;
//! the broker knows messages. References to objects are jelly forms
//! ([`jelly::RefForm`]) that a connection turns into objects through its
//! own context or a lent [`jelly::hook::RefHook`].

pub mod banana;
pub mod broker;
pub mod jelly;
