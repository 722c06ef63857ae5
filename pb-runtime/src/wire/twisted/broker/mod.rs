//! PB's message layer (Twisted's `Broker`), as pure functions over jelly
//! values: no connection, no tables.
//!
//! - [`handshake`]: dialect negotiation and the version check.
//! - [`message`]: [`Message`] (`message`, `cachemessage`, `answer`, `error`,
//!   `decref`, `decache`, `uncache`, `version`), [`Call`], [`RequestIds`]
//!   and [`reply`] (nothing when the caller set `answerRequired` to 0).
//! - [`failure`]: [`Failure`], the `CopyableFailure` of an `error`.
//! - [`errors`]: pb's [`Error`](crate::Error)s as failures and back.
//! - [`kwargs`]: [`fold_kwargs`], keyword arguments put at their positions.
//! - [`outcome`](mod@outcome): [`Outcome`], a method's `Result` as an answer or a failure.
//!
//! Arguments, results and failures stay jelly [`Value`](super::banana::Value)s
//! here; the connection decodes them with [`jelly`](super::jelly) into the
//! types the method declares.

pub mod errors;
pub mod failure;
pub mod handshake;
pub mod kwargs;
pub mod message;
pub mod outcome;

pub use failure::Failure;
pub use handshake::VERSION;
pub use kwargs::fold_kwargs;
pub use message::{Call, Message, RequestIds, Target, reply};
pub use outcome::{Outcome, outcome};
