//! PB's messages: the top-level lists a Broker sends (pb.py
//! `expressionReceived` calls `proto_<name>(*rest)`).

use bytes::Bytes;
use serde::Serialize;

use super::super::banana::{self, Dialect, Value};
use super::super::jelly::{self, EncodeOptions, form};
use crate::Error;

/// The object a call is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An object published under a name; Twisted's root is `b"root"`.
    Name(Bytes),
    /// An object the receiver exported under this luid.
    Luid(u64),
}

impl Target {
    /// The root object (`b"root"`).
    pub fn root() -> Target {
        Target::Name(Bytes::from_static(ROOT))
    }

    fn to_value(&self) -> Value {
        match self {
            Target::Name(n) => Value::Bytes(n.clone()),
            Target::Luid(id) => Value::Int((*id).into()),
        }
    }
}

/// The name Twisted publishes its root object under.
pub const ROOT: &[u8] = b"root";

/// A call: `["message", req, object, name, answerRequired, args, kw]`, or
/// the same layout as `"cachemessage"` to a cache's observer.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Request id: each sender counts from 1 ([`RequestIds`]).
    pub req: u64,
    /// The receiver's object.
    pub target: Target,
    /// The bare method name (the receiver adds `remote_`, `perspective_`...).
    pub method: Bytes,
    /// Whether the caller wants a reply (`0` for `pbanswer=False`: no reply
    /// at all is sent, not even an error).
    pub answer_required: bool,
    /// Positional arguments: a jelly tuple `["tuple", ...]`.
    pub args: Value,
    /// Keyword arguments: a jelly dictionary `["dictionary", [k, v], ...]`
    /// (see [`fold_kwargs`](super::kwargs::fold_kwargs)).
    pub kw: Value,
}

impl Call {
    /// A call of `method` with `args` (a Rust tuple, serialized with jelly;
    /// `()` stands for no arguments) and no keyword arguments.
    ///
    /// # Errors
    ///
    /// `args` does not serialize, or not as a tuple.
    pub fn new<A: Serialize>(
        req: u64,
        target: Target,
        method: &str,
        args: &A,
        options: &EncodeOptions,
    ) -> Result<Call, Error> {
        let mut args = jelly::to_value_with(args, options)?;
        if args == form::none() {
            args = form::tuple([]);
        }
        if form::split(&args).map(|(head, _)| head) != Some(form::names::TUPLE) {
            return Err(Error::protocol("PB call arguments must be a tuple"));
        }
        let method = Bytes::copy_from_slice(method.as_bytes());
        Ok(Call { req, target, method, answer_required: true, args, kw: form::dictionary([]) })
    }
}

/// One PB message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `["version", n]`: both sides send it first; it must match
    /// [`VERSION`](super::handshake::VERSION). Also a harmless keepalive.
    Version(i128),
    /// `["message", ...]`: call a referenced object.
    Call(Call),
    /// `["cachemessage", ...]`: call an observer of a cache.
    CacheCall(Call),
    /// `["answer", req, result]`.
    Answer {
        /// The call's request id.
        req: u64,
        /// The result, as jelly.
        value: Value,
    },
    /// `["error", req, failure]`: see [`Failure`](super::failure::Failure).
    Error {
        /// The call's request id.
        req: u64,
        /// The failure, as jelly (usually a `CopyableFailure`).
        failure: Value,
    },
    /// `["decref", luid]`: the sender dropped one reference it received.
    Decref(u64),
    /// `["decache", luid]`: the sender dropped one cache copy it received.
    Decache(u64),
    /// `["uncache", luid]`: the cache's owner stopped observing it.
    Uncache(u64),
}

fn word(w: &'static [u8]) -> Value {
    Value::bytes(w)
}

fn id(n: u64) -> Value {
    Value::Int(n.into())
}

impl Message {
    /// The message as a banana value.
    pub fn to_value(&self) -> Value {
        let items = match self {
            Message::Version(v) => vec![word(b"version"), Value::Int(*v)],
            Message::Call(c) | Message::CacheCall(c) => vec![
                word(if matches!(self, Message::Call(_)) { b"message" } else { b"cachemessage" }),
                id(c.req),
                c.target.to_value(),
                Value::Bytes(c.method.clone()),
                Value::Int(c.answer_required.into()),
                c.args.clone(),
                c.kw.clone(),
            ],
            Message::Answer { req, value } => vec![word(b"answer"), id(*req), value.clone()],
            Message::Error { req, failure } => vec![word(b"error"), id(*req), failure.clone()],
            Message::Decref(luid) => vec![word(b"decref"), id(*luid)],
            Message::Decache(luid) => vec![word(b"decache"), id(*luid)],
            Message::Uncache(luid) => vec![word(b"uncache"), id(*luid)],
        };
        Value::List(items)
    }

    /// The message's banana bytes.
    ///
    /// # Errors
    ///
    /// The banana encoder's limits (a string or list over 640 KiB).
    pub fn encode(&self, dialect: Dialect) -> Result<Vec<u8>, Error> {
        banana::encode_to_vec(&self.to_value(), dialect)
    }

    /// Read a message from a decoded expression.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for anything but the messages above, well formed.
    /// (Twisted drops the connection on an unknown command; so should the
    /// caller.)
    pub fn from_value(value: Value) -> Result<Message, Error> {
        let Value::List(items) = value else { return Err(Error::protocol("PB message that is not a list")) };
        let mut items = items.into_iter();
        let Some(Value::Bytes(name)) = items.next() else {
            return Err(Error::protocol("PB message without a command name"));
        };
        let rest: Vec<Value> = items.collect();
        let bad = || Error::protocol(format_args!("malformed PB {:?} message", String::from_utf8_lossy(&name)));
        let message = match &name[..] {
            b"version" => match <[Value; 1]>::try_from(rest) {
                Ok([Value::Int(v)]) => Message::Version(v),
                _ => return Err(bad()),
            },
            b"decref" | b"decache" | b"uncache" => {
                let [v] = <[Value; 1]>::try_from(rest).map_err(|_| bad())?;
                let luid = luid(&v).ok_or_else(bad)?;
                match &name[..] {
                    b"decref" => Message::Decref(luid),
                    b"decache" => Message::Decache(luid),
                    _ => Message::Uncache(luid),
                }
            }
            b"answer" | b"error" => {
                let [req, value] = <[Value; 2]>::try_from(rest).map_err(|_| bad())?;
                let req = luid(&req).ok_or_else(bad)?;
                if &name[..] == b"answer" {
                    Message::Answer { req, value }
                } else {
                    Message::Error { req, failure: value }
                }
            }
            b"message" | b"cachemessage" => {
                let [req, target, method, answer, args, kw] = <[Value; 6]>::try_from(rest).map_err(|_| bad())?;
                let target = match target {
                    Value::Bytes(n) => Target::Name(n),
                    other => Target::Luid(luid(&other).ok_or_else(bad)?),
                };
                let (Value::Bytes(method), Value::Int(answer)) = (method, answer) else { return Err(bad()) };
                let call =
                    Call { req: luid(&req).ok_or_else(bad)?, target, method, answer_required: answer != 0, args, kw };
                if &name[..] == b"message" { Message::Call(call) } else { Message::CacheCall(call) }
            }
            _ => {
                let shown = String::from_utf8_lossy(&name[..name.len().min(64)]).into_owned();
                return Err(Error::protocol(format_args!("unknown PB command {shown:?}")));
            }
        };
        Ok(message)
    }

    /// Decode a message from one whole banana expression.
    ///
    /// # Errors
    ///
    /// As [`banana::decode`] and [`Message::from_value`]; bytes after the
    /// expression are an error.
    pub fn decode(bytes: &Bytes, dialect: Dialect, max_depth: usize) -> Result<Message, Error> {
        let (value, used) = banana::decode(bytes, dialect, max_depth)?;
        if used != bytes.len() {
            return Err(Error::protocol("bytes after a PB message"));
        }
        Message::from_value(value)
    }
}

/// A request id or luid: a non-negative integer that fits a `u64`.
fn luid(v: &Value) -> Option<u64> {
    v.as_int().and_then(|n| u64::try_from(n).ok())
}

/// Request ids of one sender: 1, 2, 3... (Twisted's `newRequestID`). The
/// two directions of a connection count independently.
#[derive(Debug, Clone, Default)]
pub struct RequestIds {
    last: u64,
}

impl RequestIds {
    /// The next request id.
    pub fn next_id(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

/// The reply to `call`: `["answer", req, value]` or `["error", req,
/// failure]`, or nothing when the caller asked for no answer.
pub fn reply(call: &Call, outcome: Result<Value, Value>) -> Option<Message> {
    if !call.answer_required {
        return None;
    }
    Some(match outcome {
        Ok(value) => Message::Answer { req: call.req, value },
        Err(failure) => Message::Error { req: call.req, failure },
    })
}
