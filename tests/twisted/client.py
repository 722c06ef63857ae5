"""A Twisted PB client of pb's own, for the live tests (tests/tests/twisted_clients.rs).

Usage:
  python client.py api ROOT_PORT [PORTAL_PORT]
                                    the root API of the reference server
                                    (pb-runtime/tests/twisted/server.py): runs against it,
                                    and against `cargo run -p pb-examples --example twisted_server`;
                                    with PORTAL_PORT, logs in to its portal too (alice/secret)
  python client.py shop ROOT_PORT   the pb server of tests/tests/twisted_clients.rs
  python client.py idle PORT        connects to a pb portal, gets its root and waits: the portal's
                                    login timeout must close the connection within 5 s
  python client.py portal PORT [CA_PEM]
                                    the pb portal of tests/tests/twisted_clients.rs (alice/secret,
                                    anonymous users allowed, 2 attempts per connection); with
                                    CA_PEM, over TLS to a server certified for localhost by it

Connects to 127.0.0.1 only. Prints "ok NAME" for each check passed and
"FAIL NAME: why" for each one failed; exits 0 only if every check passed,
within 30 s.
"""
import gc
import sys

from twisted.cred import credentials, error
from twisted.internet import defer, reactor
from twisted.spread import flavors, pb

RESULTS = []


def check(name, cond, detail=""):
    RESULTS.append(bool(cond))
    print(("ok " + name) if cond else ("FAIL %s: %s" % (name, detail)), flush=True)


class User(pb.Copyable, pb.RemoteCopy):
    """The copyable aurora.User, both ways."""

    def __init__(self, id=0, name=""):
        self.id, self.name = id, name

    def getTypeToCopy(self):
        return b"aurora.User"


pb.setUnjellyableForClass(b"aurora.User", User)


class Hello(pb.Referenceable):
    """A callback passed to the server."""

    def __init__(self):
        self.calls = 0

    def remote_hello(self, text):
        self.calls += 1
        return "hello " + text


class RemoteUserList(pb.RemoteCache):
    """The cacheable aurora.UserList, observed."""

    def setCopyableState(self, state):
        self.users = list(state["users"])

    def observe_added(self, name):
        self.users.append(name)


pb.setUnjellyableForClass(b"aurora.UserList", RemoteUserList)


def sleep(seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


@defer.inlineCallbacks
def observers_reach(root, want):
    """root.observers() once it is want, or its last value after 2 s."""
    n = yield root.callRemote("observers")
    for _ in range(200):
        if n == want:
            break
        gc.collect()
        yield sleep(0.01)
        n = yield root.callRemote("observers")
    return n


@defer.inlineCallbacks
def cacheable(root):
    """users: a RemoteCache that follows the server's list; decache stops it."""
    ul = yield root.callRemote("users")
    check("users: a RemoteCache with the state", isinstance(ul, RemoteUserList) and ul.users[:1] == ["alice"],
          repr(getattr(ul, "users", ul)))
    n = yield root.callRemote("observers")
    check("users: observed", n == 1, repr(n))
    before = list(ul.users)
    yield root.callRemote("add_user", "bob")
    check("users: observe_added ran before add_user answered", ul.users == before + ["bob"], repr(ul.users))
    ul2 = yield root.callRemote("users")
    check("users: sent again, the same cache", ul2.__dict__ is ul.__dict__ and ul2.users == ul.users,
          repr(ul2.users))
    del ul, ul2
    n = yield observers_reach(root, 0)
    check("users: decache stops observing", n == 0, repr(n))


class UserList(pb.Cacheable):
    """A cacheable aurora.UserList of our own, as server.py's."""

    def __init__(self, users):
        self.users, self.observers = list(users), []

    def getTypeToCopy(self):
        return b"aurora.UserList"

    def getStateToCacheAndObserveFor(self, perspective, observer):
        self.observers.append(observer)
        return {"users": list(self.users)}

    def stoppedObserving(self, perspective, observer):
        self.observers.remove(observer)

    def add(self, name):
        self.users.append(name)
        return defer.gatherResults([o.callRemote("added", name) for o in self.observers])


def outcome(d):
    """A Deferred of ("answer", result) or ("failure", Failure)."""
    return d.addCallbacks(lambda r: ("answer", r), lambda f: ("failure", f))


def held(root):
    """How many of our objects the server holds."""
    gc.collect()
    return len(root.broker.localObjects)


@defer.inlineCallbacks
def expect_failure(name, d, kind, value, parent=None):
    k, f = yield outcome(d)
    ok = k == "failure" and f.check(kind) and f.value == value and (parent is None or f.check(parent))
    check(name, ok, repr((k, getattr(f, "type", f), getattr(f, "value", None), getattr(f, "parents", None))))


@defer.inlineCallbacks
def api(root):
    """server.py's root API."""
    r = yield root.callRemote("echo", "héllo", 2**40, [1, 2, 3], {"a": 1, "b": -2})
    check("echo", list(r[0]) == ["héllo", 2**40, [1, 2, 3], {"a": 1, "b": -2}] and r[1] == {}, repr(r))
    u = yield root.callRemote("get_user", 7)
    check("get_user", isinstance(u, User) and (u.id, u.name) == (7, "alice"), repr(vars(u)))
    r = yield root.callRemote("put_user", User(9, "bob"))
    check("put_user", list(r) == [9, "bob"], repr(r))
    users = yield defer.gatherResults([root.callRemote("get_user", i) for i in range(50)])
    check("50 concurrent calls", [u.id for u in users] == list(range(50)), repr(users))
    n = yield root.callRemote("exported")
    check("exported: the root", n == 1, repr(n))
    thing = yield root.callRemote("thing")
    x = yield thing.callRemote("ping", 41)
    check("thing.ping", x == 42, repr(x))
    n = yield root.callRemote("exported")
    check("exported: root and thing", n == 2, repr(n))
    del thing
    gc.collect()
    n = yield root.callRemote("exported")
    check("exported: thing released", n == 1, repr(n))
    hello = Hello()
    r = yield root.callRemote("call_back", hello, "from Python")
    check("call_back", r == "hello from Python" and hello.calls == 1, repr(r))
    yield root.callRemote("exported")  # a round trip: the server's decref has arrived
    check("call_back: the server released the callback", held(root) == 0, repr(root.broker.localObjects))
    yield expect_failure("fail", root.callRemote("fail"), pb.Error, "nope")
    yield expect_failure("boom", root.callRemote("boom"), ValueError, "boom")
    yield expect_failure(
        "no such method", root.callRemote("no_such_method"), flavors.NoSuchMethod, "No such method: remote_no_such_method"
    )
    r = yield root.callRemote("add_user", "carol")
    check("add_user", r is None, repr(r))
    yield cacheable(root)
    n = yield root.callRemote("exported")
    check("exported: at the end", n == 1, repr(n))


@defer.inlineCallbacks
def shop(root):
    """The pb server of tests/tests/twisted_clients.rs."""
    # Calls, keyword arguments folded by name, a method renamed on the wire.
    r = yield root.callRemote("add", 2, 3)
    check("add", r == 5, repr(r))
    r = yield root.callRemote("add", a=2, b=3)
    check("add with keywords", r == 5, repr(r))
    r = yield root.callRemote("add", 2, b=40)
    check("add with a keyword after a positional", r == 42, repr(r))
    r = yield root.callRemote("greet", "bob", punct="!", greeting="hi")
    check("keywords in any order", r == "hi bob!", repr(r))
    r = yield root.callRemote("getName", 5)
    check("#[pb(name)] answers by its wire name", r == "user 5", repr(r))
    # Bad calls: failures that say what is wrong, and the connection survives.
    yield expect_failure("unknown keyword", root.callRemote("add", 1, c=2), pb.Error,
                         'protocol error: unexpected PB keyword argument "c"')
    k, f = yield outcome(root.callRemote("add", "two", 3))
    check("wrong argument type", k == "failure" and f.check(pb.Error) and "protocol error" in f.value,
          repr((k, getattr(f, "value", f))))
    k, f = yield outcome(root.callRemote("greet", "bob", "hi"))
    check("missing argument", k == "failure" and f.check(pb.Error), repr((k, getattr(f, "value", f))))
    yield expect_failure("no such method", root.callRemote("nope"), flavors.NoSuchMethod, "No such method: remote_nope",
                         AttributeError)
    r = yield root.callRemote("add", 1, 1)
    check("the connection survives bad calls", r == 2, repr(r))

    # Copyables and plain values both ways.
    u = yield root.callRemote("get_user", 1)
    check("copyable from pb", isinstance(u, User) and (u.id, u.name) == (1, "alice"), repr(vars(u)))
    r = yield root.callRemote("put_user", User(9, "eve"))
    check("copyable to pb", list(r) == [9, "eve"], repr(r))
    sent = {"flag": True, "ratio": 1.5, "data": b"\x00\xff", "nothing": None, "tags": {"a": 1}, "names": ["x", "é"],
            "big": 2**62}
    r = yield root.callRemote("mixed", sent)
    want = dict(sent, ratio=3.0, names=["x", "é", "!"])
    check("values both ways", r == want, repr(r))
    users = yield root.callRemote("users")
    check("a list of copyables", [(u.id, u.name) for u in users] == [(1, "alice"), (2, "bob")], repr(users))

    # Errors: an application error names its enum and variant.
    yield expect_failure("application error", root.callRemote("get_user", 7), "ShopError.NotFound", "no user 7", pb.Error)
    k, f = yield outcome(root.callRemote("get_user", 7))
    check("application error type", k == "failure" and f.type == b"ShopError.NotFound", repr(getattr(f, "type", f)))
    yield expect_failure("pb error", root.callRemote("fail"), pb.Error, "limit exceeded: shelf space (limit 3)")
    yield expect_failure("panic", root.callRemote("panics"), pb.Error,
                         "the remote implementation panicked: on purpose")

    # A pb object by reference: called, passed back as itself, released.
    thing = yield root.callRemote("thing")
    x = yield thing.callRemote("ping", 41)
    check("thing.ping", x == 42, repr(x))
    serial = yield thing.callRemote("serial")
    same = yield root.callRemote("same", thing)
    check("a reference passed back arrives as the original", same == serial and serial > 0, repr((same, serial)))
    twice = yield root.callRemote("same_twice", thing, thing)
    check("twice in one call", twice == [serial, serial], repr(twice))
    live = yield root.callRemote("live")
    check("pb holds the thing for us", live == 1, repr(live))
    del thing
    gc.collect()
    live = yield root.callRemote("live")
    check("released on decref", live == 0, repr(live))

    r = yield root.callRemote("is_root", root)
    check("the root passed back arrives as the root", r is True, repr(r))

    # Our objects by reference: pb calls them back, passes them back, releases them.
    hello = Hello()
    r = yield root.callRemote("call_back", hello, "you")
    check("pb calls our object back", r == "hello you" and hello.calls == 1, repr(r))
    check("pb released it", held(root) == 0, repr(root.broker.localObjects))
    yield root.callRemote("keep", hello)
    check("pb keeps a reference", held(root) == 1, repr(root.broker.localObjects))
    r = yield root.callRemote("call_kept", "again")
    check("and calls it later", r == "hello again" and hello.calls == 2, repr(r))
    back = yield root.callRemote("echo_hello", hello)
    check("our object passed back is itself", back is hello, repr(back))
    yield root.callRemote("drop_kept")
    check("every reference released", held(root) == 0, repr(root.broker.localObjects))

    # Our cacheable, observed by pb: each change reaches its mirror.
    ul = UserList(["dan"])
    r = yield root.callRemote("watch", ul)
    check("our cacheable arrives as a mirror", r == ["dan"], repr(r))
    check("pb observes it", len(ul.observers) == 1, repr(ul.observers))
    yield ul.add("eve")
    r = yield root.callRemote("watched")
    check("pb's mirror follows it", r == ["dan", "eve"], repr(r))
    k, f = yield outcome(ul.observers[0].callRemote("nope", 1))
    check("an observer call no event takes fails", k == "failure" and f.check(pb.Error) and "observe_nope" in f.value,
          repr((k, getattr(f, "value", f))))
    r = yield root.callRemote("watched")
    check("and changes nothing", r == ["dan", "eve"], repr(r))
    back = yield root.callRemote("watched_cache")
    check("our cacheable sent back is itself", back is ul, repr(back))
    yield root.callRemote("unwatch")
    for _ in range(200):
        if not ul.observers:
            break
        yield sleep(0.01)
    check("pb's decache stops observing", ul.observers == [], repr(ul.observers))

    # Oneway calls: run, and never answered.
    for _ in range(3):
        r = root.callRemote("poke", pbanswer=False)
        check("a oneway call returns nothing", r is None, repr(r))
    pokes = yield root.callRemote("pokes")
    check("oneway calls ran, in order", pokes == 3, repr(pokes))
    r = yield root.callRemote("add", 20, 22)
    check("no stray answer came", r == 42, repr(r))

    # An interface with rename_all = "camelCase": called by its camelCase names.
    camel = yield root.callRemote("camel")
    r = yield camel.callRemote("getUserName", 3)
    check("rename_all: camelCase wire names", r == "user 3", repr(r))
    yield expect_failure("rename_all: the Rust name is not served", camel.callRemote("get_user_name", 3),
                         flavors.NoSuchMethod, "No such method: remote_get_user_name")
    r = yield camel.callRemote("kept_as_is")
    check("rename_all: an explicit #[pb(name)] wins", r == "explicit", repr(r))
    r = camel.callRemote("addNote", 1, pbanswer=False)
    check("a #[pb(oneway)] method called oneway", r is None, repr(r))
    r = yield camel.callRemote("addNote", 2)
    check("a #[pb(oneway)] method called with an answer", r is None, repr(r))
    r = yield camel.callRemote("allNotes")
    check("both notes arrived", r == [1, 2], repr(r))
    del camel

    # AnyRef: pb methods taking and returning objects of any interface.
    thing = yield root.callRemote("any_thing")
    x = yield thing.callRemote("ping", 1)
    check("an AnyRef result is a RemoteReference", isinstance(thing, pb.RemoteReference) and x == 2, repr(thing))
    del thing
    gc.collect()
    live = yield root.callRemote("live")
    check("the AnyRef's object released on decref", live == 0, repr(live))
    hello = Hello()
    r = yield root.callRemote("any_hello", hello, "any")
    check("our object as an AnyRef, called as the trait pb declares", r == "hello any" and hello.calls == 1, repr(r))
    r = yield root.callRemote("any_ping_is_unknown", hello)
    check("a method our object lacks is UnknownMethod", r is True, repr(r))
    back = yield root.callRemote("any_back", hello)
    check("our object passed back through an AnyRef is itself", back is hello, repr(back))
    yield root.callRemote("add", 0, 0)  # a round trip: the decrefs have arrived
    check("every AnyRef released", held(root) == 0, repr(root.broker.localObjects))


TLS = []  # the client's TLS options, when the portal mode runs over TLS


def connect(port):
    """A PBClientFactory connected to 127.0.0.1:port (over TLS if TLS is set)."""
    factory = pb.PBClientFactory()
    if TLS:
        reactor.connectSSL("127.0.0.1", port, factory, TLS[0])
    else:
        reactor.connectTCP("127.0.0.1", port, factory)
    return factory


@defer.inlineCallbacks
def portal_login(port):
    """A portal with alice/secret and an avatar with whoami: the reference server's."""
    factory = connect(port)
    avatar = yield factory.login(credentials.UsernamePassword(b"alice", b"secret"))
    me = yield avatar.callRemote("whoami")
    check("portal: whoami", me in (b"alice", "alice"), repr(me))
    factory.disconnect()
    factory = connect(port)
    k, f = yield outcome(factory.login(credentials.UsernamePassword(b"alice", b"guess")))
    check("portal: a wrong password is refused", k == "failure" and f.check(error.UnauthorizedLogin),
          repr((k, getattr(f, "type", f))))
    factory.disconnect()


@defer.inlineCallbacks
def closed(factory):
    """Whether the factory's connection closes within 2 s."""
    for _ in range(100):
        if factory._broker is None or factory._broker.disconnected:
            return True
        d = defer.Deferred()
        reactor.callLater(0.02, d.callback, None)
        yield d
    return False


@defer.inlineCallbacks
def portal(port):
    """The pb portal of tests/tests/twisted_clients.rs."""
    yield portal_login(port)
    # An anonymous login reaches the checker, which lets it in.
    factory = connect(port)
    avatar = yield factory.login(credentials.Anonymous())
    me = yield avatar.callRemote("whoami")
    check("anonymous login", me == "anonymous", repr(me))
    said = yield avatar.callRemote("call_mind", "x")
    check("no mind", said == "no mind", repr(said))
    factory.disconnect()
    # A mind passed with the login reaches the checker, and the avatar
    # keeps it to call back.
    factory = connect(port)
    mind = Hello()
    avatar = yield factory.login(credentials.UsernamePassword(b"alice", b"secret"), mind)
    me = yield avatar.callRemote("whoami")
    check("login with a mind", me == "alice", repr(me))
    said = yield avatar.callRemote("call_mind", "pb")
    check("the mind called back", said == "hello pb" and mind.calls == 1, repr((said, mind.calls)))
    check("pb holds the mind while the avatar lives", held(avatar) == 1, repr(avatar.broker.localObjects))
    factory.disconnect()
    # Unknown user, then a second wrong password: the connection closes.
    factory = connect(port)
    k, f = yield outcome(factory.login(credentials.UsernamePassword(b"mallory", b"secret")))
    check("an unknown user is refused", k == "failure" and f.check(error.UnauthorizedLogin),
          repr((k, getattr(f, "type", f))))
    k, f = yield outcome(factory.login(credentials.UsernamePassword(b"alice", b"guess")))
    check("the last attempt is refused", k == "failure" and f.check(error.UnauthorizedLogin),
          repr((k, getattr(f, "type", f))))
    gone = yield closed(factory)
    check("the attempt limit closes the connection", gone, "still open")


@defer.inlineCallbacks
def idle(port):
    """A client that never logs in."""
    factory = connect(port)
    root = yield factory.getRootObject()
    check("the portal's root", root is not None, repr(root))
    gone = False
    for _ in range(5):
        gone = yield closed(factory)
        if gone:
            break
    check("the login timeout closes the connection", gone, "still open after 10 s")


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    portal_port = int(sys.argv[3]) if len(sys.argv) > 3 and mode == "api" else 0
    if mode in ("portal", "idle"):
        run = None
        if len(sys.argv) > 3:
            from twisted.internet import ssl

            with open(sys.argv[3]) as ca:
                TLS.append(ssl.optionsForClientTLS("localhost", ssl.Certificate.loadPEM(ca.read())))
    else:
        run = {"api": api, "shop": shop}[mode]
        factory = connect(port)

    @defer.inlineCallbacks
    def go():
        try:
            if mode == "idle":
                yield idle(port)
            elif run is None:
                yield portal(port)
            else:
                root = yield factory.getRootObject()
                yield run(root)
                if portal_port:
                    yield portal_login(portal_port)
        except Exception as e:
            check("no unexpected error", False, repr(e))
        if reactor.running:
            reactor.stop()

    def too_slow():
        check("finished within 30 s", False, "timed out")
        reactor.stop()

    reactor.callWhenRunning(go)
    reactor.callLater(30, too_slow)
    reactor.run()
    sys.exit(0 if RESULTS and all(RESULTS) else 1)


if __name__ == "__main__":
    main()
