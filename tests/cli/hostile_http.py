#!/usr/bin/env python3
"""Hostile HTTP requests against a gate: prints one "ok"/"not ok" line each.

    hostile_http.py PORT CA_FILE TOKEN

Each case opens its own TLS connection, sends bytes no well-behaved client
would, and checks the gate answers (or closes) promptly and clearly, never
holds the connection until the client gives up, and never takes what could
be read two ways.
"""
import socket
import ssl
import sys
import threading
import time

from gateclient import Checks, Gate

port, ca, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
checks, gate = Checks(), Gate(port, ca, token)
report = checks.report


def connect():
    return gate.connect(timeout=30)


def answer(s, limit=30):
    """Reads until the connection closes or a whole response is in; returns
    (status or None, body text, seconds taken)."""
    t0 = time.monotonic()
    s.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if length is not None and len(body) >= length:
                    break
    except (socket.timeout, ConnectionResetError, ssl.SSLError):
        pass
    took = time.monotonic() - t0
    status = None
    if data.startswith(b"HTTP/1."):
        try:
            status = int(data.split(b" ", 2)[1])
        except ValueError:
            pass
    return status, data.partition(b"\r\n\r\n")[2].decode("utf-8", "replace"), took


def request(raw, limit=30):
    s = connect()
    try:
        s.sendall(raw)
        return answer(s, limit)
    finally:
        s.close()


auth = ("Authorization: Bearer %s\r\n" % token).encode()
host = b"Host: 127.0.0.1\r\n"

# a Content-Length far above the cap: refused from the headers, the body never read
s = connect()
s.sendall(b"POST /api/v1/namespaces/shop/configmaps HTTP/1.1\r\n" + host + auth +
          b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n" + b"{" * 1000)
st, body, took = answer(s, 20)
s.close()
report(st == 413 and took < 5, "a 100 MB Content-Length is refused 413 before its body is read (%.2f s)" % took,
       "status %s after %.2f s: %s" % (st, took, body[:200]))

# the two trickles run side by side (each takes the read deadline)
def trickle(name, head, piece, statuses):
    """Sends head, then piece every half second for 25 s: the gate must cut
    the connection (or answer one of statuses) long before."""
    s = connect()
    s.sendall(head)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 25:
            s.sendall(piece)
            time.sleep(0.5)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
        pass
    st, body, took = answer(s, 5)
    took = time.monotonic() - t0
    s.close()
    report(took < 15 and st in statuses, "%s is cut by the read deadline (%.1f s, %s)" % (name, took, st),
           "status %s after %.1f s" % (st, took))


def trickle_body():
    trickle("a chunked body trickled forever", b"POST /api/v1/namespaces/shop/configmaps HTTP/1.1\r\n" + host + auth +
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n \r\n", (408, None))


def trickle_head():
    trickle("headers trickled forever", b"GET /api/v1/namespaces HTTP/1.1\r\n" + host, b"X-Slow: y\r\n", (400, 408, None))


threads = [threading.Thread(target=trickle_body), threading.Thread(target=trickle_head)]
for t in threads:
    t.start()
for t in threads:
    t.join()

# a garbage request line
st, body, took = request(b"\x16\x03garbage garbage\r\n\r\n", 20)
report(took < 12, "a garbage request line is not held until the client gives up (%.1f s, %s)" % (took, st),
       "status %s after %.1f s" % (st, took))

# invalid UTF-8 in the path, the query, a header
for what, raw in (("the path", b"GET /api/v1/namespaces/sh%ffop/pods HTTP/1.1\r\n" + host + auth + b"\r\n"),
                  ("the raw path", b"GET /api/v1/namespaces/sh\xffop/pods HTTP/1.1\r\n" + host + auth + b"\r\n"),
                  ("the query", b"GET /api/v1/namespaces/shop/pods?labelSelector=a%3D%c3 HTTP/1.1\r\n" + host + auth + b"\r\n"),
                  ("a header", b"GET /api/v1/namespaces/shop/pods HTTP/1.1\r\n" + host + auth + b"User-Agent: k\xc3(\r\n\r\n")):
    st, body, took = request(raw, 10)
    report(st == 400 and "UTF-8" in body, "invalid UTF-8 in %s is a 400 naming it" % what,
           "status %s: %s" % (st, body[:200]))

# a NUL byte in a header: the token with junk after a NUL is not the token
st, body, took = request(b"GET /api/v1/namespaces/shop/pods HTTP/1.1\r\n" + host +
                         b"Authorization: Bearer " + token.encode() + b"\x00junk\r\n\r\n", 10)
report(st in (400, 401), "a bearer token followed by a NUL byte and junk is refused", "status %s: %s" % (st, body[:200]))
st, body, took = request(b"GET /api/v1/namespaces/shop/pods HTTP/1.1\r\n" + host + auth +
                         b"X-Extra: a\x00b\r\n\r\n", 10)
report(st == 400, "a header with a NUL byte is refused 400", "status %s: %s" % (st, body[:200]))

# and the gate still answers an ordinary request
st, body, took = request(b"GET /api/v1/namespaces/shop/pods HTTP/1.1\r\n" + host + auth + b"\r\n", 10)
report(st == 200, "an ordinary request is answered after all that", "status %s" % st)
checks.exit()
