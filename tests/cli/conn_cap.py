#!/usr/bin/env python3
"""An identity's open connections and watches are capped by its profile:
beyond "connections" a request is refused 429 and its connection closed,
beyond "watches" a watch is refused 429; both free up when a client goes.

    conn_cap.py PORT CA_FILE TOKEN CONNECTIONS WATCHES
"""
import sys
import time

from gateclient import Checks, Gate

port, ca, token, conns, watches = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
checks, gate = Checks(), Gate(port, ca, token)
READ = "/api/v1/namespaces/shop/configmaps"


def closed(s):
    """True when the server closed s (after what it sent)."""
    s.settimeout(5)
    try:
        while s.recv(65536):
            pass
        return True
    except OSError:
        return False


def open_many(n, path, what):
    """n connections, each having made one call of path answered 200."""
    held = []
    for i in range(n):
        s = gate.connect()
        st, _ = gate.get(s, path, whole=path == READ)
        if st != 200:
            checks.report(False, "%d %s of one identity open" % (n, what), "%s %d answered %s" % (what, i + 1, st))
            return held
        held.append(s)
    checks.report(True, "%d %s of one identity open" % (n, what))
    return held


held = open_many(conns, READ, "connections")
s = gate.connect()
st, text = gate.get(s, READ)
checks.report(st == 429 and b"connections open, the most it may" in text and closed(s),
              "one more connection is refused 429 naming the limit, and closed", "%s %r" % (st, text[:300]))
held.pop().close()
again = False
for _ in range(50):   # the gate counts the closed connection out at once
    s = gate.connect()
    st, _ = gate.get(s, READ)
    if st == 200:
        held.append(s)
        again = True
        break
    s.close()
    time.sleep(0.1)
checks.report(again, "a connection is taken again once one closed")
for s in held:
    s.close()
time.sleep(0.5)

held = open_many(watches, READ + "?watch=true", "watches")
s = gate.connect()
st, text = gate.get(s, READ + "?watch=true")
checks.report(st == 429 and b"watches open, the most it may" in text, "one more watch is refused 429 naming the limit",
              "%s %r" % (st, text[:300]))
s.close()
for s in held:
    s.close()
checks.exit()
