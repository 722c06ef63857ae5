"""A Twisted PB portal for pb's live tests (tests/tests/twisted_live.rs).

Usage: python portal.py [--port N] [--tls CERT_PEM KEY_PEM]
  -> prints "PORT <port>" and serves until stdin is closed.

Users: alice/secret, and anonymous logins (AllowAnonymousAccess). The avatar
has perspective_whoami (the avatar id, "anonymous" for an anonymous login),
perspective_logins (how many logins this process has served) and
perspective_call_mind(text) (the login's mind's `hello(text)`, or "no mind"
when the client passed none). It binds
127.0.0.1 only; --port reuses a port (to restart on it); --tls serves over
TLS (listenSSL with DefaultOpenSSLContextFactory: needs pyOpenSSL).
"""
import sys

from twisted.cred import checkers, portal
from twisted.internet import protocol, reactor, stdio
from twisted.spread import pb
from zope.interface import implementer

LOGINS = [0]


class Avatar(pb.Avatar):
    def __init__(self, name, mind):
        self.name = name
        self.mind = mind

    def perspective_call_mind(self, text):
        if self.mind is None:
            return "no mind"
        return self.mind.callRemote("hello", text)

    def perspective_whoami(self):
        return self.name

    def perspective_logins(self):
        return LOGINS[0]


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        LOGINS[0] += 1
        name = "anonymous" if avatar_id is checkers.ANONYMOUS else avatar_id.decode()
        return pb.IPerspective, Avatar(name, mind), lambda: None


class StopOnEOF(protocol.Protocol):
    def connectionLost(self, reason):
        reactor.stop()


def main():
    args = sys.argv[1:]
    port, tls = 0, None
    while args:
        if args[0] == "--port":
            port, args = int(args[1]), args[2:]
        elif args[0] == "--tls":
            tls, args = (args[1], args[2]), args[3:]
        else:
            sys.exit("usage: portal.py [--port N] [--tls CERT KEY]")
    db = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"secret")
    factory = pb.PBServerFactory(portal.Portal(Realm(), [db, checkers.AllowAnonymousAccess()]))
    if tls:
        from twisted.internet import ssl

        context = ssl.DefaultOpenSSLContextFactory(tls[1], tls[0])
        listening = reactor.listenSSL(port, factory, context, interface="127.0.0.1")
    else:
        listening = reactor.listenTCP(port, factory, interface="127.0.0.1")
    print("PORT", listening.getHost().port, flush=True)
    stdio.StandardIO(StopOnEOF())
    reactor.run()


if __name__ == "__main__":
    main()
