//! The generated Python, run by Python with Twisted against the generated
//! Rust of the same schemas (`golden/gen/kitchen.pbidl`, `interop.pbidl`):
//!
//! - values go both ways as banana bytes: what pb's jelly writes for the
//!   Rust types, Python's jelly reads into the generated classes, and what
//!   Python writes from them, Rust reads back;
//! - a Python server built on the generated `pb.Referenceable` classes
//!   serves a Rust client calling through the generated Rust trait;
//! - a Rust `pb::Model` of a generated model is observed by the generated
//!   `pb.RemoteCache` class: its state, each event through
//!   `observe_<Event>`, `apply_<Event>` and `changed` in order, and the
//!   observer released when the cache goes;
//! - the golden modules import, and what they escape (keywords, Twisted's
//!   names, quotes, backslashes, invisible characters) reads back as the
//!   schema wrote it.
//!
//! Python is `PB_PYTHON`, else `python3`; without Twisted each test prints
//! that it skipped and passes, unless `PB_REQUIRE_TWISTED=1` makes that a
//! failure (as for `tests/tests/twisted_live.rs`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use pb_runtime::wire::twisted::banana::Dialect;
use pb_runtime::wire::twisted::jelly;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Generated from `golden/gen/kitchen.pbidl` (the golden file).
#[allow(dead_code)]
mod kitchen_sink {
    include!("golden/gen/expected/kitchen.sink.rs");
}

/// Generated from `golden/gen/interop.pbidl` (the golden file).
#[allow(dead_code)]
mod interop {
    include!("golden/gen/expected/interop.rs");
}

impl kitchen_sink::PantryApply for kitchen_sink::Pantry {
    fn apply_event(&mut self, _: &kitchen_sink::PantryEvent) {}
}

/// The Python to run, or `None` (after saying so) when it cannot import
/// Twisted and `PB_REQUIRE_TWISTED` is not set.
fn python() -> Option<String> {
    let python = std::env::var("PB_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var("PB_REQUIRE_TWISTED").is_ok_and(|v| v == "1");
    let has_twisted = Command::new(&python)
        .args(["-c", "import twisted.spread.pb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_twisted {
        assert!(!required, "PB_REQUIRE_TWISTED=1 but `{python}` cannot import Twisted (set PB_PYTHON)");
        eprintln!("skipped: `{python}` cannot import Twisted (set PB_PYTHON to a Python with Twisted)");
        return None;
    }
    Some(python)
}

/// A fresh directory holding the Python modules of the golden schemas.
fn modules(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pb-idl-python-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let schemas = ["tests/golden/gen/kitchen.pbidl", "tests/golden/gen/interop.pbidl"];
    let written = pb_idl::Config::new()
        .out_dir(&dir)
        .emit_rerun_if_changed(false)
        .compile_python(&schemas, &["tests/golden/gen"])
        .unwrap();
    assert_eq!(written, vec![dir.join("kitchen_sink.py"), dir.join("interop.py")]);
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The banana bytes of `value`'s jelly, as a Twisted peer receives them.
fn to_banana<T: Serialize>(value: &T) -> String {
    hex(&jelly::to_bytes(value, Dialect::None, &Default::default()).unwrap())
}

/// A `T` from the banana bytes of its jelly.
fn from_banana<T: DeserializeOwned>(text: &str) -> Result<T, jelly::Error> {
    let bytes = bytes::Bytes::from(unhex(text));
    jelly::from_bytes(&bytes, Dialect::None, 64, &Default::default())
}

/// Run `script` (after a prelude defining `sent`, the values pb sent by
/// name, and helpers) in `dir`; returns what it printed, `name hex` lines.
fn run(python: &str, dir: &Path, sent: &[(&str, String)], script: &str) -> BTreeMap<String, String> {
    let mut prelude = String::from(PRELUDE);
    for (name, hex) in sent {
        prelude.push_str(&format!("raw[{name:?}] = banana.decode(bytes.fromhex({hex:?}))\n"));
        prelude.push_str(&format!("sent[{name:?}] = unjelly(raw[{name:?}])\n"));
    }
    let path = dir.join("check.py");
    std::fs::write(&path, format!("{prelude}\n{script}")).unwrap();
    let out = Command::new(python).arg(&path).current_dir(dir).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "check.py failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().filter_map(|l| l.split_once(' ')).map(|(name, hex)| (name.to_string(), hex.to_string())).collect()
}

const PRELUDE: &str = r#"
import sys
from twisted.spread import banana, jelly

import interop, kitchen_sink


class Broker:
    """What jelly needs of an invoker (a broker) for copies and caches."""
    serializingPerspective = None
    cached = {}

    def cacheLocally(self, luid, cache):
        self.cached[luid] = cache


def unjelly(sexp):
    return jelly.unjelly(sexp, invoker=Broker())


def send(name, value):
    print(name, banana.encode(jelly.jelly(value, invoker=Broker())).hex())


raw, sent = {}, {}
"#;

#[test]
fn values_cross_between_rust_and_python_as_both_generate_them() {
    use interop::Greeting;
    use kitchen_sink::{Oops, PantryEvent, Scalars, Shape, Tree};
    let Some(python) = python() else { return };
    let dir = modules("values");
    let greeting = Greeting {
        to: "ann".into(),
        times: 3,
        payload: vec![0, 255].into(),
        note: Some("hé ☃".into()),
        tags: [("a".to_string(), -1)].into(),
    };
    let leaf = |value| Tree { value, left: None, children: vec![] };
    let tree = Tree { value: 1, left: Some(Box::new(leaf(2))), children: vec![leaf(3), leaf(4)] };
    let scalars = Scalars {
        a: true,
        b: 255,
        c: 65535,
        d: u32::MAX,
        e: u64::MAX,
        f: -128,
        g: i16::MIN,
        h: i32::MIN,
        i: i64::MIN,
        j: 0.5,
        k: -1e300,
        l: "é".into(),
        m: vec![1, 2, 3].into(),
        n: vec![vec![1], vec![]],
        // A `bytes` key is a Python `bytes`, which a dict takes.
        o: [(vec![0, 1].into(), Some("x".into())), (vec![].into(), None)].into(),
    };
    let pantry = kitchen_sink::Pantry { stock: [("flour".to_string(), 2)].into(), shape: Some(Shape::Circle(1.0)) };
    let sent = [
        ("greeting", to_banana(&greeting)),
        ("tree", to_banana(&tree)),
        ("scalars", to_banana(&scalars)),
        ("empty", to_banana(&Shape::Empty)),
        ("circle", to_banana(&Shape::Circle(1.5))),
        ("rect", to_banana(&Shape::Rect { w: 2.0, h: 3.0 })),
        ("positional", to_banana(&Oops::Positional("bake".into(), 3))),
        ("named", to_banana(&Oops::Named { what: "fry".into() })),
        ("stocked", to_banana(&PantryEvent::Stocked { item: "sugar".into(), count: 5 })),
        ("pantry_state", to_banana(&pantry)),
    ];
    let back = run(&python, &dir, &sent, CHECK_VALUES);
    // What Python wrote from the generated classes, read as the generated Rust.
    assert_eq!(from_banana::<Greeting>(&back["greeting_back"]).unwrap(), greeting, "a received copy sent back");
    // A list of ints is taken for `bytes` too.
    let bob =
        Greeting { to: "bob".into(), times: 2, payload: vec![7].into(), note: None, tags: [("k".into(), 5)].into() };
    assert_eq!(from_banana::<Greeting>(&back["bob"]).unwrap(), bob);
    assert_eq!(from_banana::<Tree>(&back["tree"]).unwrap(), tree);
    assert_eq!(from_banana::<Scalars>(&back["scalars"]).unwrap(), scalars);
    assert_eq!(from_banana::<Shape>(&back["rect"]).unwrap(), Shape::Rect { w: 2.0, h: 3.0 });
    assert_eq!(from_banana::<Shape>(&back["empty"]).unwrap(), Shape::Empty);
    assert_eq!(from_banana::<Oops>(&back["positional"]).unwrap(), Oops::Positional("bake".into(), 3));
    assert_eq!(from_banana::<Oops>(&back["named"]).unwrap(), Oops::Named { what: "fry".into() });
    let event = from_banana::<PantryEvent>(&back["cleared"]).unwrap();
    assert!(matches!(event, PantryEvent::Cleared), "{event:?}");
    let event = from_banana::<PantryEvent>(&back["emptied"]).unwrap();
    assert!(matches!(&event, PantryEvent::Emptied(item) if item == "salt"), "{event:?}");
    // A Python `bytes` is the Rust side's `pb::Blob`.
    let x = Greeting { to: "x".into(), times: 1, payload: vec![7].into(), note: None, tags: [].into() };
    assert_eq!(from_banana::<Greeting>(&back["python_bytes"]).unwrap(), x);
}

const CHECK_VALUES: &str = r#"
from kitchen_sink import Oops, Pantry, PantryEvent, Shape, Tree, split_variant

def check(what, got, expected):
    if got != expected:
        sys.exit("%s: got %r, expected %r" % (what, got, expected))

# Copies arrive as the registered RemoteCopy classes, with every field.
g = sent["greeting"]
check("greeting class", type(g), interop.RemoteGreeting)
check("greeting", g, interop.Greeting("ann", 3, b"\x00\xff", "h\u00e9 \u2603", {"a": -1}))
leaf = lambda v: Tree(v, None, [])
t = sent["tree"]
check("tree", t, Tree(1, leaf(2), [leaf(3), leaf(4)]))
check("nested copies", [type(t), type(t.left), type(t.children[1])], [kitchen_sink.RemoteTree] * 3)
s = sent["scalars"]
check("scalars class", type(s), kitchen_sink.RemoteScalars)
check("scalars", s.getStateToCopy(), dict(
    a=True, b=255, c=65535, d=2**32 - 1, e=2**64 - 1, f=-128, g=-2**15, h=-2**31, i=-2**63,
    j=0.5, k=-1e300, l="\u00e9", m=b"\x01\x02\x03", n=[[1], []], o={b"\x00\x01": "x", b"": None}))

# Enums: serde's form, as the builders make it.
check("unit variant", sent["empty"], Shape.Empty)
check("newtype variant", sent["circle"], Shape.Circle(1.5))
check("struct variant", sent["rect"], Shape.Rect(2.0, 3.0))
check("tuple variant", sent["positional"], Oops.Positional("bake", 3))
check("error struct variant", sent["named"], Oops.Named("fry"))
check("split unit", split_variant(sent["empty"]), ("Empty", None))
check("split", split_variant(sent["circle"]), ("Circle", 1.5))
check("event", sent["stocked"], PantryEvent.Stocked("sugar", 5))

# A cache as pb sends it, [tag, luid, state]: the registered RemoteCache.
cache = unjelly([b"kitchen.Larder", 7, raw["pantry_state"]])
check("cache class", type(cache), Pantry)
check("cache state", (cache.stock, cache.shape), ({"flour": 2}, {"Circle": 1.0}))
check("observe methods", sorted(m for m in dir(Pantry) if m.startswith("observe_")),
      ["observe_Cleared", "observe_Emptied", "observe_Stocked"])
try:
    cache.observe_Cleared()
    sys.exit("apply_Cleared of the generated class must be written by the user")
except NotImplementedError:
    pass

class Larder(Pantry):
    def apply_Stocked(self, item, count):
        self.stock[item] = self.stock.get(item, 0) + count
    def apply_Emptied(self, item):
        self.stock.pop(item, None)
    def apply_Cleared(self):
        self.stock.clear()
    def changed(self, event):
        self.events.append(event)

larder = Larder()
larder.setCopyableState({"stock": {"salt": 1}, "shape": None})
larder.events = []
larder.observe_Stocked("sugar", 5)
larder.observe_Stocked(item="sugar", count=1)
larder.observe_Emptied("salt")
check("applied", larder.stock, {"sugar": 6})
check("hooked", larder.events, [PantryEvent.Stocked("sugar", 5), PantryEvent.Stocked("sugar", 1), PantryEvent.Emptied("salt")])

# Back to pb.
send("greeting_back", g)
send("bob", interop.Greeting("bob", 2, [7], None, {"k": 5}))
send("tree", Tree(1, leaf(2), [leaf(3), leaf(4)]))
send("scalars", s)
send("rect", Shape.Rect(2.0, 3.0))
send("empty", Shape.Empty)
send("positional", Oops.Positional("bake", 3))
send("named", Oops.Named("fry"))
send("cleared", PantryEvent.Cleared)
send("emptied", PantryEvent.Emptied("salt"))
send("python_bytes", interop.Greeting("x", 1, b"\x07", None, {}))
"#;

#[test]
fn golden_modules_import_and_escape_what_python_cannot_take_as_is() {
    let Some(python) = python() else { return };
    let dir = Path::new("tests/golden/python/expected");
    let modules: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_string_lossy().strip_suffix(".py").map(str::to_string))
        .collect();
    assert!(modules.len() >= 7 && modules.iter().any(|m| m == "lambda_"), "{modules:?}");
    assert!(modules.iter().any(|m| m == "streams"), "{modules:?}");
    assert!(modules.iter().any(|m| m == "senders"), "{modules:?}");
    let script = format!("{PRELUDE}\nimport {}\n{CHECK_EDGE}", modules.join(", "));
    let path = std::env::temp_dir().join(format!("pb-idl-python-{}-edge.py", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    let out = Command::new(&python).arg(&path).env("PYTHONPATH", &dir).output().expect("run python");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
}

const CHECK_EDGE: &str = r#"
def check(what, got, expected):
    if got != expected:
        sys.exit("%s: got %r, expected %r" % (what, got, expected))

# Keywords and Twisted's names are escaped in Python, never on the wire.
a = edge.Awkward(lambda_.Point(1, 2), 3, common.Money(5, "EUR"), None)
check("python names", (a.from_, a.from__, a.jellyFor_), (lambda_.Point(1, 2), 3, common.Money(5, "EUR")))
check("wire names", list(a.getStateToCopy()), ["from", "from_", "jellyFor", "note"])
check("jellyFor kept", a.jellyFor.__func__ is edge.pb.Copyable.jellyFor, True)
back = unjelly(jelly.jelly(a, invoker=Broker()))
check("round trip", (type(back), back), (edge.RemoteAwkward, a))
check("enum names", (edge.Literal.None_, edge.Literal.True_(False), edge.Literal.Class("x", 1)),
      ("None", {"True": False}, {"Class": {"def": "x", "pass": 1}}))
check("a type named None", edge.None_().getTypeToCopy(), b"edge.None")
check("registered", jelly.unjellyableRegistry['edge.\u00dcn\u00efcode "model"'.encode()], edge.Odd)
odd = unjelly(['edge.\u00dcn\u00efcode "model"'.encode(), 1, jelly.jelly({"broker": "b", "luid": 2, "changed": True})])
check("cache fields", (odd.broker_, odd.luid_, odd.changed_), ("b", 2, True))
check("cache internals", odd.luid, 1)

# Strings and docs hold exactly the schema's text.
check("quote", edge.KeywordsClient(None).quote(), 'say "hi"\\')
check("local numbers", (edge.KeywordsClient(None).pi(), edge.KeywordsClient(None).big()), (3.14159, 2**64 - 1))
check("docs", "invisible U+200B: [\u200b]" in edge.__doc__ and "a \\backslash" in edge.__doc__, True)
check("doc ending with a quote", edge.Awkward.__doc__.count('Ends with a quote: "'), 1)

class Calls:
    def callRemote(self, name, *args):
        return (name,) + args

k = edge.KeywordsClient(Calls())
check("client", (k.import_("f", 1), k.reference_(), k.renamed([])), (("import", "f", 1), ("reference",), ("renamed_on_wire", [])))
check("stubs", [m for m in dir(edge.Keywords) if m.startswith("remote_")],
      ["remote_import", "remote_reference", "remote_renamed_on_wire"])
try:
    edge.Keywords().remote_import("f", 1)
    sys.exit("a stub must raise")
except NotImplementedError as e:
    check("stub message", str(e), "edge.Keywords.import")

# Streams do not cross to Twisted: no stub to implement, a client method that says why.
check("no stream stubs", [m for m in dir(streams.Feed) if m.startswith("remote_")], [])
check("other stubs", [m for m in dir(streams.Counter) if m.startswith("remote_")], ["remote_add"])
try:
    streams.FeedClient(Calls()).tail(0)
    sys.exit("a streaming client method must raise")
except NotImplementedError as e:
    check("streaming client message", str(e), "streams.Feed.tail: pb streams do not cross to Twisted")
check("holder docs", "does not cross to Twisted" in streams.Upload.__doc__, True)
check("plain docs", "does not cross to Twisted" in streams.Line.__doc__, False)

# Neither do senders.
check("no sender stubs", [m for m in dir(senders.Hub) if m.startswith("remote_")], ["remote_received"])
try:
    senders.HubClient(Calls()).events(1, None)
    sys.exit("a client method passing a sender must raise")
except NotImplementedError as e:
    check("sender client message", str(e), "senders.Hub.events: pb senders do not cross to Twisted")
check("sender holder docs", "It holds a pb sender" in senders.Subscription.__doc__, True)
check("both holder docs", "It holds pb streams and senders" in senders.Pipe.__doc__, True)
"#;

/// A Python server, killed on drop.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stdin.take(); // closing stdin stops the server; kill it anyway
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVER: &str = r#"
import sys
from twisted.internet import protocol, reactor, stdio
from twisted.spread import pb

import interop


class Counter(interop.Counter):
    n = 0

    def remote_incr(self):
        self.n += 1
        return self.n


class Greeter(interop.Greeter, pb.Root):
    counter = Counter()

    def remote_greet(self, to, times):
        return interop.Greeting(to, times, [1, 2], None, {"len": len(to)})

    def remote_echo(self, g):
        if not isinstance(g, interop.RemoteGreeting):
            raise TypeError("not a copy: %r" % (g,))
        return g

    def remote_counter(self):
        return self.counter

    # bag and count_with are left to the generated stubs.


class StopOnEOF(protocol.Protocol):
    def connectionLost(self, reason):
        reactor.stop()


port = reactor.listenTCP(0, pb.PBServerFactory(Greeter()), interface="127.0.0.1")
print("PORT", port.getHost().port, flush=True)
stdio.StandardIO(StopOnEOF())
reactor.run()
"#;

fn server(python: &str, dir: &Path) -> Server {
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    let mut child = Command::new(python)
        .arg("server.py")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("PB_TWISTED_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("start server.py");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("server.py's stdout");
    let mut server = Server { child, stdin, port: 0 };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read server.py's port");
    server.port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server.py printed {line:?}, not its port (PB_TWISTED_LOG=1 shows its errors)"));
    server
}

#[tokio::test]
async fn a_python_server_from_the_schema_serves_a_rust_client_from_it() {
    use interop::{GreetError, Greeter, Greeting};
    let Some(python) = python() else { return };
    let dir = modules("server");
    let server = server(&python, &dir);
    let calls = async {
        let conn = pb::twisted::connect(("127.0.0.1", server.port)).await.expect("PB handshake with Twisted");
        let root = conn.root::<dyn Greeter>();
        // A record made by Python's generated Copyable.
        let got = root.greet("ann".into(), 3).await.unwrap();
        let expected = Greeting {
            to: "ann".into(),
            times: 3,
            payload: vec![1, 2].into(),
            note: None,
            tags: [("len".into(), 3)].into(),
        };
        assert_eq!(got, expected);
        // A record sent by Rust arrives as the generated RemoteCopy and comes back.
        let mine =
            Greeting { to: "bob".into(), times: 1, payload: vec![9].into(), note: Some("n".into()), tags: [].into() };
        assert_eq!(root.echo(mine.clone()).await.unwrap(), mine);
        // A Referenceable from the generated base class, called through the generated trait.
        let counter = root.counter().await.unwrap();
        assert_eq!(counter.incr().await.unwrap(), 1);
        assert_eq!(counter.incr().await.unwrap(), 2);
        // A method left to its generated stub.
        match root.bag().await {
            Err(GreetError::Pb(pb::Error::Remote { kind, .. })) => assert_eq!(kind, "builtins.NotImplementedError"),
            Err(other) => panic!("expected NotImplementedError, got {other:?}"),
            Ok(_) => panic!("expected NotImplementedError, got a bag"),
        }
        // Local methods never cross the wire.
        assert_eq!(root.motto(), "hello, world");
        conn.close();
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), calls).await.expect("calls within 30 s");
}

const OBSERVER: &str = r#"
import gc, sys
from twisted.internet import defer, reactor, task
from twisted.spread import pb

import kitchen_sink

events = []


class Pantry(kitchen_sink.Pantry):
    def apply_Stocked(self, item, count):
        self.stock[item] = count

    def apply_Emptied(self, arg0):
        self.stock.pop(arg0)

    def apply_Cleared(self):
        self.stock.clear()

    def changed(self, event):
        events.append(event)


pb.setUnjellyableForClass(b"kitchen.Larder", Pantry)


def out(name, value):
    print(name, repr(value), flush=True)


@defer.inlineCallbacks
def main():
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", int(sys.argv[1]), factory)
    root = yield factory.getRootObject()
    p = yield root.callRemote("pantry")
    out("class", type(p).__name__)
    out("state", (sorted(p.stock.items()), p.shape))
    yield root.callRemote("change")
    out("stock", sorted(p.stock.items()))
    out("events", events)
    out("observers", (yield root.callRemote("observers")))
    del p
    for _ in range(200):
        gc.collect()
        n = yield root.callRemote("observers")
        if n == 0:
            break
        yield task.deferLater(reactor, 0.01, lambda: None)
    out("released", n)


def done(result):
    if isinstance(result, Exception) or hasattr(result, "printTraceback"):
        result.printTraceback()
    reactor.stop()


reactor.callWhenRunning(lambda: main().addBoth(done))
reactor.callLater(30, reactor.stop)
reactor.run()
"#;

/// A model served by pb, as the generated Python observes it.
#[pb::remote_interface]
trait Larder {
    async fn pantry(&self) -> Result<pb::Cache<kitchen_sink::Pantry>, pb::Error>;
    async fn change(&self) -> Result<(), pb::Error>;
    async fn observers(&self) -> Result<usize, pb::Error>;
}

struct LarderImpl(pb::Model<kitchen_sink::Pantry>);

#[pb::remote_impl]
impl Larder for LarderImpl {
    async fn pantry(&self) -> Result<pb::Cache<kitchen_sink::Pantry>, pb::Error> {
        Ok(self.0.cache())
    }
    async fn change(&self) -> Result<(), pb::Error> {
        use kitchen_sink::PantryEvent::*;
        for event in [Stocked { item: "tea".into(), count: 3 }, Emptied("jam".into()), Cleared] {
            self.0.apply(event);
        }
        self.0.apply(Stocked { item: "salt".into(), count: 1 });
        Ok(())
    }
    async fn observers(&self) -> Result<usize, pb::Error> {
        Ok(self.0.observers())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_remote_cache_follows_a_rust_model() {
    let Some(python) = python() else { return };
    let dir = modules("cache");
    std::fs::write(dir.join("observer.py"), OBSERVER).unwrap();
    let pantry = kitchen_sink::Pantry { stock: [("jam".to_string(), 2)].into(), shape: None };
    let larder: std::sync::Arc<dyn Larder> = std::sync::Arc::new(LarderImpl(pb::Model::new(pantry)));
    let server = pb::Server::bind_twisted("127.0.0.1:0", pb::root::<dyn Larder>(larder)).await.unwrap();
    let port = server.local_addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg("observer.py").arg(port).current_dir(dir).output().expect("run observer.py")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "observer.py failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
    let lines: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    let expected = [
        ("class", "'Pantry'"),
        ("state", "([('jam', 2)], None)"),
        ("stock", "[('salt', 1)]"),
        (
            "events",
            "[{'Stocked': {'item': 'tea', 'count': 3}}, {'Emptied': 'jam'}, 'Cleared', {'Stocked': {'item': 'salt', 'count': 1}}]",
        ),
        ("observers", "1"),
        ("released", "0"),
    ];
    assert_eq!(lines, BTreeMap::from(expected), "observer.py printed:\n{stdout}");
}
