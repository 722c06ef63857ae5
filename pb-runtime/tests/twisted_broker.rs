//! PB's message layer against real Twisted transcripts.
//!
//! Each fixture is a recorded conversation between a Twisted client and
//! server. Fed the server's side, the client logic here (pure functions over
//! jelly values) must produce exactly the client's bytes; fed the client's
//! side, the server logic must produce the server's bytes (or, for failures,
//! whose bytes vary, an equivalent failure).

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeMap;

use bytes::Bytes;
use pb_runtime::wire::Blob;
use pb_runtime::wire::twisted::banana::{self, Dialect, Value};
use pb_runtime::wire::twisted::broker::{self, Call, Failure, Message, RequestIds, Target, handshake};
use pb_runtime::wire::twisted::jelly::{self, CacheForm, CacheIn, CacheOut, EncodeOptions, RefForm, form};
use serde::{Deserialize, Serialize};

/// One side of a recorded conversation.
struct Transcript {
    /// What the client sent, in order.
    c2s: Vec<Vec<u8>>,
    /// What the server sent, in order.
    s2c: Vec<Vec<u8>>,
}

fn transcript(case: &str) -> Transcript {
    let lines = fixtures::load(case);
    let side = |dir: &str| lines.iter().filter(|l| l.dir == dir).map(|l| l.bytes.clone()).collect();
    Transcript { c2s: side("C>S"), s2c: side("S>C") }
}

fn message(bytes: &[u8]) -> Message {
    Message::decode(&Bytes::copy_from_slice(bytes), Dialect::Pb, 64).unwrap()
}

fn value(bytes: &[u8]) -> Value {
    banana::decode(&Bytes::copy_from_slice(bytes), Dialect::Pb, 64).unwrap().0
}

fn call<A: Serialize>(req: u64, target: Target, method: &str, args: &A) -> Call {
    Call::new(req, target, method, args, &EncodeOptions::default()).unwrap()
}

fn send(m: Message) -> Vec<u8> {
    m.encode(Dialect::Pb).unwrap()
}

fn answer(m: &Message, req: u64) -> Value {
    match m {
        Message::Answer { req: r, value } if *r == req => value.clone(),
        other => panic!("expected answer {req}, got {other:?}"),
    }
}

fn incoming_call(m: Message) -> Call {
    match m {
        Message::Call(c) => c,
        other => panic!("expected a call, got {other:?}"),
    }
}

#[test]
fn every_message_parses_and_re_encodes_to_its_bytes() {
    let mut n = 0;
    for line in fixtures::all().into_iter().filter(|l| l.dir != "val") {
        let v = value(&line.bytes);
        if let Some(parsed) = Message::from_value(v.clone()).ok().filter(|_| line.repr.starts_with('(')) {
            assert_eq!(send(parsed), line.bytes, "{}", line.at());
            n += 1;
        } else {
            // The dialect offer and answer of the handshake.
            assert!(handshake::choose(&v).is_ok() || handshake::accept(&v).is_ok(), "{}", line.at());
        }
    }
    assert_eq!(n, 44, "48 messages, 4 of them dialect lines");
}

#[test]
fn handshake_client_and_server() {
    let t = transcript("handshake");
    // Client: pick a dialect from the offer (sent before any dialect is
    // chosen, so without vocabulary), then send the version.
    let (dialect, pick) = handshake::choose(&value(&t.s2c[0])).unwrap();
    let out = vec![banana::encode_to_vec(&pick, Dialect::None).unwrap(), send(Message::Version(broker::VERSION))];
    assert_eq!(out, t.c2s);
    assert_eq!(dialect, Dialect::Pb);
    // Server: offer, accept, version.
    assert_eq!(banana::encode_to_vec(&handshake::offer(), Dialect::None).unwrap(), t.s2c[0]);
    assert_eq!(handshake::accept(&value(&t.c2s[0])).unwrap(), Dialect::Pb);
    let Message::Version(v) = message(&t.c2s[1]) else { panic!() };
    handshake::check_version(v).unwrap();
    assert_eq!(send(Message::Version(broker::VERSION)), t.s2c[1]);
}

type Echo = (i32, String, Blob, f64, Option<()>, bool, Vec<i32>, (i32,), BTreeMap<String, String>);

#[test]
fn call_echo_client_and_server() {
    let t = transcript("call_echo");
    let args: Echo = (
        1,
        "two".into(),
        Blob::from(&b"three"[..]),
        4.5,
        None,
        true,
        vec![1],
        (2,),
        BTreeMap::from([("k".into(), "v".into())]),
    );
    let mut c = call(1, Target::root(), "echo", &args);
    c.kw = jelly::to_value(&BTreeMap::from([("kw", "x")])).unwrap();
    assert_eq!(vec![send(Message::Call(c))], t.c2s);
    let (echoed, kw): (Echo, BTreeMap<String, String>) = jelly::from_value(&answer(&message(&t.s2c[0]), 1)).unwrap();
    assert_eq!((echoed, kw["kw"].as_str()), (args, "x"));
    // Server: echo returns [args, kw] as a Python list.
    let c = incoming_call(message(&t.c2s[0]));
    assert_eq!((&c.target, &c.method[..], c.answer_required), (&Target::root(), &b"echo"[..], true));
    let result = form::list([c.args.clone(), c.kw.clone()]);
    assert_eq!(send(broker::reply(&c, Ok(result)).unwrap()), t.s2c[0]);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "aurora.User")]
struct User {
    id: i64,
    name: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum IntOrStr {
    Int(i64),
    Str(String),
}

#[test]
fn copyables_client_and_server() {
    let t = transcript("copyable_result");
    assert_eq!(vec![send(Message::Call(call(2, Target::root(), "get_user", &(7,))))], t.c2s);
    let user: User = jelly::from_value(&answer(&message(&t.s2c[0]), 2)).unwrap();
    assert_eq!(user, User { id: 7, name: "alice".into() });
    let c = incoming_call(message(&t.c2s[0]));
    let (id,): (i64,) = jelly::from_value(&c.args).unwrap();
    let result = jelly::to_value(&User { id, name: "alice".into() }).unwrap();
    assert_eq!(send(broker::reply(&c, Ok(result)).unwrap()), t.s2c[0]);

    let t = transcript("copyable_argument");
    let bob = User { id: 8, name: "bob".into() };
    assert_eq!(vec![send(Message::Call(call(3, Target::root(), "put_user", &(bob.clone(),))))], t.c2s);
    let c = incoming_call(message(&t.c2s[0]));
    let (got,): (User,) = jelly::from_value(&c.args).unwrap();
    assert_eq!(got, bob);
    let result = jelly::to_value(&vec![IntOrStr::Int(got.id), IntOrStr::Str(got.name)]).unwrap();
    assert_eq!(send(broker::reply(&c, Ok(result)).unwrap()), t.s2c[0]);
}

#[test]
fn references_and_decrefs_client_and_server() {
    let t = transcript("reference_and_decref");
    // Client: get the thing, ping it, drop it (one receipt, one decref).
    let mut out = vec![send(Message::Call(call(4, Target::root(), "thing", &())))];
    let thing: RefForm = jelly::from_value(&answer(&message(&t.s2c[0]), 4)).unwrap();
    let RefForm::Remote(luid) = thing else { panic!("{thing:?}") };
    out.push(send(Message::Call(call(5, Target::Luid(luid), "ping", &(41,)))));
    let pong: i64 = jelly::from_value(&answer(&message(&t.s2c[1]), 5)).unwrap();
    assert_eq!(pong, 42);
    out.push(send(Message::Decref(luid)));
    assert_eq!(out, t.c2s);
    // Server: export the thing as luid 1, answer the ping, take the decref.
    let c = incoming_call(message(&t.c2s[0]));
    assert_eq!(send(broker::reply(&c, Ok(jelly::to_value(&RefForm::Remote(1)).unwrap())).unwrap()), t.s2c[0]);
    let c = incoming_call(message(&t.c2s[1]));
    assert_eq!(c.target, Target::Luid(1));
    let (n,): (i64,) = jelly::from_value(&c.args).unwrap();
    assert_eq!(send(broker::reply(&c, Ok(Value::Int((n + 1).into()))).unwrap()), t.s2c[1]);
    assert_eq!(message(&t.c2s[2]), Message::Decref(1));
}

#[test]
fn references_from_the_client_and_calls_back() {
    let t = transcript("reference_from_client");
    // Client: pass its own object (luid 1 in its table), answer the
    // server's call on it; the server's requests count from 1 on their own.
    let mut out = vec![send(Message::Call(call(6, Target::root(), "call_back", &(RefForm::Remote(1), "hi"))))];
    let back = incoming_call(message(&t.s2c[0]));
    assert_eq!((back.req, &back.target, &back.method[..]), (1, &Target::Luid(1), &b"hello"[..]));
    let (text,): (String,) = jelly::from_value(&back.args).unwrap();
    let result = jelly::to_value(&format!("got {text}")).unwrap();
    assert_eq!(message(&t.s2c[1]), Message::Decref(1));
    out.push(send(broker::reply(&back, Ok(result)).unwrap()));
    assert_eq!(out, t.c2s);
    let done: String = jelly::from_value(&answer(&message(&t.s2c[2]), 6)).unwrap();
    assert_eq!(done, "got hi");
    // Server: call the client's object back with its own request ids.
    let c = incoming_call(message(&t.c2s[0]));
    let (cb, text): (RefForm, String) = jelly::from_value(&c.args).unwrap();
    let mut ids = RequestIds::default();
    let hello = call(ids.next_id(), Target::Luid(cb.luid()), "hello", &(text,));
    let out = vec![send(Message::Call(hello)), send(Message::Decref(cb.luid()))];
    assert_eq!(out, t.s2c[..2]);
    let got: String = jelly::from_value(&answer(&message(&t.c2s[1]), 1)).unwrap();
    assert_eq!(send(broker::reply(&c, Ok(jelly::to_value(&got).unwrap())).unwrap()), t.s2c[2]);
}

#[test]
fn errors_client_and_server() {
    let t = transcript("errors");
    let out: Vec<Vec<u8>> = [(7, "fail"), (8, "boom"), (9, "no_such_method")]
        .iter()
        .map(|(req, m)| send(Message::Call(call(*req, Target::root(), m, &()))))
        .collect();
    assert_eq!(out, t.c2s);
    let expected = [
        (7, "twisted.spread.pb.Error", "nope", "twisted.spread.pb.Error"),
        (8, "builtins.ValueError", "boom", "builtins.Exception"),
        (9, "twisted.spread.flavors.NoSuchMethod", "No such method: remote_no_such_method", "builtins.AttributeError"),
    ];
    for ((req, kind, text, base), bytes) in expected.iter().zip(&t.s2c) {
        let Message::Error { req: r, failure } = message(bytes) else { panic!() };
        let f = Failure::from_value(&failure).unwrap();
        assert_eq!((r, f.kind.as_str(), f.value.as_str()), (*req, *kind, *text));
        assert!(f.check(base) && f.check("builtins.BaseException"), "{f:?}");
        assert_eq!((f.traceback.as_str(), &f.pb_error), ("Traceback unavailable\n", &None));
        match f.to_error() {
            pb_runtime::Error::UnknownMethod { name: Some(n), .. } => assert_eq!(n, "no_such_method"),
            pb_runtime::Error::Remote { kind: k, message } => {
                assert_eq!((k.as_str(), message.as_str()), (*kind, *text))
            }
            other => panic!("{other:?}"),
        }
        // Server: the same failure from pb carries what Python reads.
        let c = incoming_call(message(&t.c2s[(*req - 7) as usize]));
        let bases: Vec<&str> = f.parents[1..].iter().map(String::as_str).collect();
        let ours = Failure::new(kind, text, &bases);
        let reply = broker::reply(&c, Err(ours.to_value())).unwrap();
        let Message::Error { req: r2, failure } = message(&send(reply)) else { panic!() };
        assert_eq!((r2, Failure::from_value(&failure).unwrap()), (*req, f));
    }
}

#[test]
fn md5_login_client() {
    let t = transcript("login_md5_challenge");
    // The handshake, then login("alice") with bytes, as cred sends it.
    let (_, pick) = handshake::choose(&value(&t.s2c[0])).unwrap();
    let mut out = vec![
        banana::encode_to_vec(&pick, Dialect::None).unwrap(),
        send(Message::Version(broker::VERSION)),
        send(Message::Call(call(1, Target::root(), "login", &(Blob::from(&b"alice"[..]),)))),
    ];
    assert_eq!(message(&t.s2c[1]), Message::Version(6));
    let (challenge, challenger): (Blob, RefForm) = jelly::from_value(&answer(&message(&t.s2c[2]), 1)).unwrap();
    assert_eq!(&challenge[..], b"0123456789abcdef");
    // respond(challenge, b"secret"): md5(md5(password) + challenge), golden.
    let response = fixtures::unhex("fb654aad50303a26b539858afb969f27");
    let respond = call(2, Target::Luid(challenger.luid()), "respond", &(Blob::from(response), None::<()>));
    out.push(send(Message::Call(respond)));
    out.push(send(Message::Decref(challenger.luid())));
    let avatar: RefForm = jelly::from_value(&answer(&message(&t.s2c[3]), 2)).unwrap();
    out.push(send(Message::Call(call(3, Target::Luid(avatar.luid()), "whoami", &()))));
    assert_eq!(out, t.c2s);
    // The avatar id comes back as bytes; it reads as text.
    let me: String = jelly::from_value(&answer(&message(&t.s2c[4]), 3)).unwrap();
    assert_eq!(me, "alice");
}

#[test]
fn cache_messages_parse_and_are_answered() {
    let t = transcript("cacheable");
    let Message::CacheCall(c) = message(&t.s2c[2]) else { panic!("{:?}", message(&t.s2c[2])) };
    assert_eq!((c.req, &c.target, &c.method[..]), (2, &Target::Luid(2), &b"added"[..]));
    let (name,): (String,) = jelly::from_value(&c.args).unwrap();
    assert_eq!(name, "bob");
    assert_eq!(send(broker::reply(&c, Ok(form::none())).unwrap()), t.c2s[3]);
    assert_eq!(message(&t.c2s[4]), Message::Decache(2));
    assert_eq!(message(&t.c2s[5]), Message::Decache(2));
    assert_eq!(message(&t.s2c[4]), Message::Uncache(2));
}

#[test]
fn cacheables_in_answers_encode_and_decode_as_twisted_sends_them() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UserList {
        users: Vec<String>,
    }
    let t = transcript("cacheable");
    // The first send: [tag, luid, state].
    let first: CacheIn<UserList> = jelly::from_value(&answer(&message(&t.s2c[0]), 10)).unwrap();
    let tag = CacheForm::Cache { tag: "aurora.UserList".into(), luid: 2 };
    assert_eq!((&first.form, first.first), (&tag, true));
    let state = first.state.unwrap();
    assert_eq!(state.users, ["alice"]);
    let out = CacheOut { form: tag, state: Some(&state) };
    let value = jelly::to_value(&out).unwrap();
    assert_eq!(send(Message::Answer { req: 10, value }), t.s2c[0]);
    // A later send of the same cacheable: ["cached", luid].
    let again: CacheIn<UserList> = jelly::from_value(&answer(&message(&t.s2c[1]), 11)).unwrap();
    assert_eq!((again.form.clone(), again.state), (CacheForm::Cached(2), None));
    let value = jelly::to_value(&CacheOut::<UserList> { form: again.form, state: None }).unwrap();
    assert_eq!(send(Message::Answer { req: 11, value }), t.s2c[1]);
    // A state of another shape does not decode.
    assert!(jelly::from_value::<CacheIn<u32>>(&answer(&message(&t.s2c[0]), 10)).is_err());
}

#[test]
fn no_answer_when_none_is_required_and_kwargs_fold() {
    let mut c = call(1, Target::root(), "f", &(1,));
    c.answer_required = false;
    assert_eq!(broker::reply(&c, Ok(form::none())), None);
    let round = message(&send(Message::Call(c.clone())));
    assert_eq!(round, Message::Call(c));
    // echo's kw folded into a method declared as (a, kw).
    let t = transcript("call_echo");
    let echo = incoming_call(message(&t.c2s[0]));
    let params = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "kw"];
    let folded = broker::fold_kwargs(echo.args, &echo.kw, &params).unwrap();
    type Folded = (i32, String, Blob, f64, Option<()>, bool, Vec<i32>, (i32,), BTreeMap<String, String>, String);
    let (.., kw): Folded = jelly::from_value(&folded).unwrap();
    assert_eq!(kw, "x");
}

#[test]
fn malformed_messages_are_errors() {
    let bad = [
        Value::Int(1),
        Value::List(vec![]),
        Value::List(vec![Value::bytes(b"didNotUnderstand"), Value::Int(1)]),
        Value::List(vec![Value::bytes(b"answer"), Value::Int(1)]),
        Value::List(vec![Value::bytes(b"answer"), Value::Int(-1), Value::Int(1)]),
        Value::List(vec![Value::bytes(b"decref"), Value::bytes(b"x")]),
        Value::List(vec![Value::bytes(b"version")]),
        Value::List(vec![Value::bytes(b"message"), Value::Int(1), Value::bytes(b"root")]),
    ];
    for v in bad {
        assert!(Message::from_value(v.clone()).is_err(), "{v:?}");
    }
    assert!(Call::new(1, Target::root(), "f", &5, &EncodeOptions::default()).is_err(), "arguments must be a tuple");
}
