#!/usr/bin/env python3
"""Pass-through watches in enforce mode hold no thread each, end with their
client, and give back what they took.

    watch_pass.py PORT CA_FILE TOKEN GATE_PID PRODUCTION_PID

Opens N watches of one agent through the gate (each a stream from
production), checks that the gate's thread count stays flat while they are
open, that an event reaches them, that production's side of each stream is
released within a few seconds once the clients vanish without a word, and
prints the gate's threads, fds and RSS at each step.
"""
import json
import os
import signal
import sys
import time
import urllib.request

from gateclient import Checks, Gate, vanish

port, ca, token, gpid, ppid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
N = 90
checks, gate = Checks(), Gate(port, ca, token)
report = checks.report


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def figures(what):
    print("# %s: gate %d threads, %d fds, %.0f MiB; production %d fds"
          % (what, threads(gpid), fds(gpid), rss_mib(gpid), fds(ppid)))


def settle(pid, count, want, limit):
    """Waits (bounded) until count(pid) <= want; returns the last count."""
    end = time.time() + limit
    n = count(pid)
    while n > want and time.time() < end:
        time.sleep(0.1)
        n = count(pid)
    return n


time.sleep(1)
figures("before")
t0, f0, p0 = threads(gpid), fds(gpid), fds(ppid)
socks = []
for i in range(N):
    s, st, _ = gate.watch("/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=0")
    if st != 200:
        report(False, "%d pass-through watches open" % N, "watch %d answered %s" % (i + 1, st))
        break
    socks.append(s)
else:
    report(True, "%d pass-through watches open" % N)
time.sleep(0.5)
figures("%d watches open" % len(socks))
t1 = threads(gpid)
report(t1 - t0 <= 4, "the gate holds no thread per watch (%d threads before, %d with %d watches)" % (t0, t1, N),
       "%d more threads" % (t1 - t0))
report(fds(ppid) - p0 >= N, "production serves each watch (%d more fds there)" % (fds(ppid) - p0))

# an event reaches a watch: a ConfigMap created through the gate
s, st, rest = gate.watch("/api/v1/namespaces/shop/configmaps?watch=true")
body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watch-pass-%d" % os.getpid()},
                   "data": {"a": "b"}}).encode()
rq = urllib.request.Request("https://127.0.0.1:%d/api/v1/namespaces/shop/configmaps" % port, data=body,
                            method="POST", headers={"Authorization": "Bearer " + token,
                                                    "Content-Type": "application/json"})
created = urllib.request.urlopen(rq, context=gate.ctx, timeout=20).status
seen = rest
s.settimeout(10)
end = time.time() + 10
while b"watch-pass-%d" % os.getpid() not in seen and time.time() < end:
    try:
        chunk = s.recv(65536)
    except TimeoutError:
        break
    if not chunk:
        break
    seen += chunk
report(created == 201 and b"watch-pass-%d" % os.getpid() in seen and b'"ADDED"' in seen,
       "production's event for a created ConfigMap reaches a pass-through watch",
       "create %s, stream %r" % (created, seen[-300:]))
s.close()

# the clients vanish without a word (RST, not a clean close)
for s in socks:
    vanish(s)
began = time.time()
gf = settle(gpid, fds, f0 + 2, 10)
pf = settle(ppid, fds, p0 + 2, 10)
took = time.time() - began
figures("after the clients vanished (%.1f s)" % took)
report(gf <= f0 + 2 and pf <= p0 + 2,
       "the gate's and production's streams end within %.1f s of their clients vanishing" % took,
       "gate fds %d (before %d), production fds %d (before %d)" % (gf, f0, pf, p0))
report(threads(gpid) <= t0 + 1, "no thread is left behind (%d)" % threads(gpid))
time.sleep(1.5)   # the main loop gives freed memory back once a second
figures("1.5 s later")

# a production that does not answer: the watches wait for its status line
# with their connections suspended, so the gate's workers (8) stay free
os.kill(ppid, signal.SIGSTOP)
try:
    waiting = []
    for i in range(20):
        s = gate.connect()
        gate.send(s, "/api/v1/namespaces/shop/pods?watch=true")
        waiting.append(s)
    time.sleep(1)
    began = time.time()
    rq = urllib.request.Request("https://127.0.0.1:%d/apis" % port, headers={"Authorization": "Bearer " + token})
    st = urllib.request.urlopen(rq, context=gate.ctx, timeout=5).status
    took = time.time() - began
    report(st == 200 and took < 2, "20 watches waiting for a stalled production hold none of the gate's workers "
           "(discovery answered in %.2f s, %d threads)" % (took, threads(gpid)), "status %s in %.2f s" % (st, took))
    for s in waiting[:10]:   # half of them give up without a word
        vanish(s)
    answers = []
    for s in waiting[10:]:
        s.settimeout(20)
        try:
            head = s.recv(4096)
        except OSError:
            head = b""
        answers.append(head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.") else head[:40])
        s.close()
    report(answers == [b"502"] * 10, "each waiting watch is answered 502 once production's connect times out",
           repr(answers))
finally:
    os.kill(ppid, signal.SIGCONT)
gf = settle(gpid, fds, f0 + 2, 10)
report(gf <= f0 + 2, "nothing of the waiting watches is left (gate fds %d, before %d)" % (gf, f0))
report(threads(gpid) <= t0 + 1, "no thread is left behind (%d)" % threads(gpid))
checks.exit()
