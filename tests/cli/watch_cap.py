#!/usr/bin/env python3
"""One agent's watches are capped: the 101st concurrent watch is refused 429,
and a watch can be opened again once some are closed.

    watch_cap.py PORT CA_FILE TOKEN
"""
import socket
import ssl
import sys
import time

port, ca, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
failures = 0


def report(good, name, detail=""):
    global failures
    print(("ok " if good else "not ok ") + name + ("" if good else ": " + detail))
    failures += 0 if good else 1


def watch():
    """Opens a watch; returns (socket, status)."""
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="127.0.0.1")
    s.sendall(("GET /api/v1/namespaces/shop/configmaps?watch=true&timeoutSeconds=60 HTTP/1.1\r\n"
               "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None
    return s, status


open_ = []
for i in range(100):
    s, st = watch()
    open_.append(s)
    if st != 200:
        report(False, "100 watches of one agent open", "watch %d answered %s" % (i + 1, st))
        break
else:
    report(True, "100 watches of one agent open")
s, st = watch()
report(st == 429, "the 101st watch of the same agent is refused 429", "it answered %s" % st)
s.close()
for s in open_[:10]:
    s.close()
ok = False
for _ in range(50):   # the gate sees the closed streams within a few seconds
    s, st = watch()
    s.close()
    if st == 200:
        ok = True
        break
    time.sleep(0.2)
report(ok, "a watch opens again once some are closed")
for s in open_[10:]:
    s.close()
sys.exit(1 if failures else 0)
