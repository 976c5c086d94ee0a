#!/usr/bin/env python3
"""A recording upstream for the forwarding tests: an HTTPS server on
127.0.0.1 that stores the exact request production would receive (method,
request target as sent, headers, body) as one JSON line each, then passes it
on to the real upstream (a gate in twin mode) and returns its answer.

usage: recorder.py PORT CERT KEY UPSTREAM_URL UPSTREAM_CA RECORD_FILE
Stops by itself after 600 s (tests are bounded) or on SIGTERM.
"""
import base64
import http.client
import json
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

port, cert, key, upstream, upstream_ca, record = sys.argv[1:7]
up = urlparse(upstream)
lock = threading.Lock()


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        entry = {
            "method": self.command,
            "target": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": base64.b64encode(body).decode(),
        }
        with lock, open(record, "a") as f:
            f.write(json.dumps(entry) + "\n")
        ctx = ssl.create_default_context(cafile=upstream_ca)
        conn = http.client.HTTPSConnection(up.hostname, up.port, context=ctx, timeout=700)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        try:
            conn.request(self.command, self.path, body=body if n else None, headers=headers)
            r = conn.getresponse()
            length = r.getheader("Content-Length")
            data = r.read() if length is not None else None
        except Exception as e:  # production unreachable: the gate sees a 502
            data = json.dumps({"kind": "Status", "message": str(e), "code": 502}).encode()
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-type",):
                self.send_header(k, v)
        if data is not None:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            # a watch streams: chunk by chunk as production sends them (the
            # gate's informer waits for each event), until production or the
            # gate ends it
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    chunk = r.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except Exception:
                self.close_connection = True
        conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Recorder)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
srv.socket = tls.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
stopper = threading.Timer(600, srv.shutdown)
stopper.daemon = True   # SIGTERM ends the process without waiting for it
stopper.start()
srv.serve_forever()
