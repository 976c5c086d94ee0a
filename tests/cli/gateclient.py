"""Shared by the Python checks in tests/cli/: "ok"/"not ok" lines counted
for the exit status, and a raw TLS client of a gate (one connection, bytes
as given, the answer as it comes), for what urllib and kubectl will not send.

    from gateclient import Checks, Gate
    checks = Checks()
    gate = Gate(port, ca_file, token)
    s = gate.connect()
    status, text = gate.get(s, "/api/v1/namespaces/shop/pods")
    checks.report(status == 200, "a read answers")
    checks.exit()
"""
import socket
import ssl
import sys


class Checks:
    """One "ok NAME" or "not ok NAME: DETAIL" line a check; exit() ends the
    script with 1 when any failed."""

    def __init__(self):
        self.failures = 0

    def report(self, good, name, detail=""):
        if not good:
            self.failures += 1
        print(("ok " if good else "not ok ") + name + ("" if good or not detail else ": " + detail))
        return good

    def exit(self):
        sys.exit(1 if self.failures else 0)


class Gate:
    """A gate at 127.0.0.1:port, its certificate in ca, an agent's token."""

    def __init__(self, port, ca, token):
        self.port, self.token = port, token
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.check_hostname = False

    def connect(self, timeout=20):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.ctx.wrap_socket(s, server_hostname="127.0.0.1")

    def send(self, s, path, method="GET"):
        """Sends one request with the token, without reading anything."""
        s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (method, path, self.token)).encode())

    def get(self, s, path, whole=True):
        """One request on s; returns (status or None, the bytes read). With
        whole, reads the body its Content-Length announces; without (a
        watch), only what came with the head."""
        self.send(s, path)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
        while whole and length and len(body) < length[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None
        return status, data if not whole else head + b"\r\n\r\n" + body

    def watch(self, path):
        """Opens a watch on a connection of its own; returns (socket, status,
        the bytes after the head)."""
        s = self.connect()
        status, data = self.get(s, path, whole=False)
        return s, status, data.partition(b"\r\n\r\n")[2]


def vanish(s):
    """Closes s with a reset, as a client that dies does (no clean close)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
