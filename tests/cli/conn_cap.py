#!/usr/bin/env python3
"""An identity's open connections and watches are capped by its profile:
beyond "connections" a request is refused 429 and its connection closed,
beyond "watches" a watch is refused 429; both free up when a client goes.

    conn_cap.py PORT CA_FILE TOKEN CONNECTIONS WATCHES
"""
import socket
import ssl
import sys
import time

port, ca, token, conns, watches = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
failures = 0


def report(good, name, detail=""):
    global failures
    print(("ok " if good else "not ok ") + name + ("" if good else ": " + detail))
    failures += 0 if good else 1


def connect():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="127.0.0.1")


def get(s, path):
    """One request on s; returns (status, the head and what came with it)."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (path, token)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None
    head, _, body = data.partition(b"\r\n\r\n")
    length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    while length and len(body) < length[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, head + b"\r\n\r\n" + body


def closed(s):
    """True when the server closed s (after what it sent)."""
    s.settimeout(5)
    try:
        while s.recv(65536):
            pass
        return True
    except OSError:
        return False


# connections: each one a keep-alive connection that made a call
held = []
for i in range(conns):
    s = connect()
    st, _ = get(s, "/api/v1/namespaces/shop/configmaps")
    if st != 200:
        report(False, "%d connections of one identity answered" % conns, "connection %d: %s" % (i + 1, st))
        break
    held.append(s)
else:
    report(True, "%d connections of one identity answered" % conns)
s = connect()
st, head = get(s, "/api/v1/namespaces/shop/configmaps")
report(st == 429 and b"connections open, the most it may" in head and closed(s),
       "one more is refused 429 naming the limit, and closed", "%s %r" % (st, head[:300]))
held.pop().close()
ok = False
for _ in range(50):   # the gate counts the closed connection out at once
    s = connect()
    st, _ = get(s, "/api/v1/namespaces/shop/configmaps")
    if st == 200:
        held.append(s)
        ok = True
        break
    s.close()
    time.sleep(0.1)
report(ok, "a connection is taken again once one closed")
for s in held:
    s.close()
time.sleep(0.5)

# watches (each on a connection of its own, within the connection cap)
open_ = []
for i in range(watches):
    s = connect()
    st, _ = get(s, "/api/v1/namespaces/shop/configmaps?watch=true")
    if st != 200:
        report(False, "%d watches open" % watches, "watch %d: %s" % (i + 1, st))
        break
    open_.append(s)
report(len(open_) == watches, "%d watches open" % watches)
s = connect()
st, head = get(s, "/api/v1/namespaces/shop/configmaps?watch=true")
report(st == 429 and b"watches open, the most it may" in head, "one more watch is refused 429 naming the limit",
       "%s %r" % (st, head[:300]))
s.close()
for s in open_:
    s.close()
sys.exit(1 if failures else 0)
