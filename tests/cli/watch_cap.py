#!/usr/bin/env python3
"""One agent's watches are capped: the 101st concurrent watch is refused 429,
and a watch can be opened again once some are closed.

    watch_cap.py PORT CA_FILE TOKEN
"""
import sys
import time

from gateclient import Checks, Gate

checks, gate = Checks(), Gate(int(sys.argv[1]), sys.argv[2], sys.argv[3])
PATH = "/api/v1/namespaces/shop/configmaps?watch=true&timeoutSeconds=60"

open_ = []
for i in range(100):
    s, st, _ = gate.watch(PATH)
    open_.append(s)
    if st != 200:
        checks.report(False, "100 watches of one agent open", "watch %d answered %s" % (i + 1, st))
        break
else:
    checks.report(True, "100 watches of one agent open")
s, st, _ = gate.watch(PATH)
checks.report(st == 429, "the 101st watch of the same agent is refused 429", "it answered %s" % st)
s.close()
for s in open_[:10]:
    s.close()
again = False
for _ in range(50):   # the gate sees the closed streams within a few seconds
    s, st, _ = gate.watch(PATH)
    s.close()
    if st == 200:
        again = True
        break
    time.sleep(0.2)
checks.report(again, "a watch opens again once some are closed")
for s in open_[10:]:
    s.close()
checks.exit()
