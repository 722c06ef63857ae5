"""A Python Twisted PB client served by pb, against the same client served
by Twisted: `add` one at a time, 64 concurrent `add`s, 64 KiB echoes.

Run: bench/twisted/run.sh (it builds pb-bench and finds the venv), or
    PYTHON run.py PB_BENCH_EXE [--quick]
Prints a table and one JSON line per server; exits 1 if a call fails.
"""

import json
import subprocess
import sys
import time

from twisted.internet import defer, reactor
from twisted.spread import pb

QUICK = "--quick" in sys.argv
SEQ = 300 if QUICK else 3000
TPUT = 2000 if QUICK else 20000
CALLERS = 64
ECHOES = 50 if QUICK else 500
SIZE = 64 << 10


class Root(pb.Root):
    """The Twisted server's root: what pb's bench root answers."""

    def remote_add(self, a, b):
        return a + b

    def remote_echo(self, data):
        return data


def serve():
    """Run as the Twisted server: print the port, stop when stdin closes."""
    port = reactor.listenTCP(0, pb.PBServerFactory(Root()), interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.callInThread(lambda: (sys.stdin.read(), reactor.callFromThread(reactor.stop)))
    reactor.run()


@defer.inlineCallbacks
def measure(port):
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    root = yield factory.getRootObject()
    for i in range(100):  # warm up
        yield root.callRemote("add", i, 1)
    times = []
    for i in range(SEQ):
        t = time.perf_counter()
        got = yield root.callRemote("add", i, 1_000_003)
        times.append(time.perf_counter() - t)
        assert got == i + 1_000_003, got
    times.sort()
    add_seq_us = times[len(times) // 2] * 1e6

    @defer.inlineCallbacks
    def caller(n, base):
        for i in range(n):
            got = yield root.callRemote("add", base + i, 1)
            assert got == base + i + 1, got

    t = time.perf_counter()
    yield defer.gatherResults([caller(TPUT // CALLERS, k * TPUT) for k in range(CALLERS)], consumeErrors=True)
    add_tput = (TPUT // CALLERS * CALLERS) / (time.perf_counter() - t)

    data = bytes(range(256)) * (SIZE // 256)
    t = time.perf_counter()
    for _ in range(ECHOES):
        got = yield root.callRemote("echo", data)
        assert got == data
    echo_mb_s = ECHOES * SIZE / (time.perf_counter() - t) / 1e6
    factory.disconnect()
    return {"add_seq_p50_us": add_seq_us, "add_tput_calls_per_s": add_tput, "echo_64k_mb_per_s": echo_mb_s}


def start(cmd):
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


def main():
    exe = sys.argv[1]
    servers = [
        ("pb", [exe, "server", "--target", "pb-twisted"]),
        ("twisted", [sys.executable, __file__, "--serve"]),
    ]
    results = {}

    @defer.inlineCallbacks
    def run_all():
        try:
            for name, cmd in servers:
                proc, port = start(cmd)
                try:
                    results[name] = yield measure(port)
                finally:
                    proc.stdin.close()
                    proc.wait(timeout=10)
        finally:
            reactor.stop()

    reactor.callWhenRunning(run_all)
    reactor.run()
    if len(results) != 2:
        sys.exit(1)
    for name, r in results.items():
        print(json.dumps({"server": name, **r}))
    pb_, tw = results["pb"], results["twisted"]
    rows = [
        ("add one at a time, p50 (lower is better)", "add_seq_p50_us", "µs", tw["add_seq_p50_us"] / pb_["add_seq_p50_us"]),
        ("64 concurrent adds", "add_tput_calls_per_s", "calls/s", pb_["add_tput_calls_per_s"] / tw["add_tput_calls_per_s"]),
        ("64 KiB echo", "echo_64k_mb_per_s", "MB/s", pb_["echo_64k_mb_per_s"] / tw["echo_64k_mb_per_s"]),
    ]
    print("| workload (a Python Twisted client) | served by pb | served by Twisted | pb's advantage |")
    print("| --- | ---: | ---: | ---: |")
    for label, key, unit, ratio in rows:
        print(f"| {label} | {pb_[key]:.1f} {unit} | {tw[key]:.1f} {unit} | {ratio:.2f}x |")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        main()
