#!/usr/bin/env python3
"""A TCP relay that a test can cut: production's end of the network.

    cutter.py LISTEN_PORT TARGET_PORT

Relays every connection to 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT
byte for byte (TLS passes through). SIGUSR1 closes every connection open now
(production's watches drop mid-stream); SIGUSR2 toggles refusing new
connections (production unreachable for a while). Each signal is
acknowledged by a line on stdout once done. Runs until killed.
"""
import os
import selectors
import signal
import socket
import sys

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(256)
srv.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
peer = {}          # socket -> the socket it relays to
pending = []       # signals to act on, from the handler
refusing = False
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
sel.register(wake_r, selectors.EVENT_READ)


def on_signal(sig, frame):
    pending.append(sig)
    try:
        os.write(wake_w, b"x")
    except BlockingIOError:
        pass


signal.signal(signal.SIGUSR1, on_signal)
signal.signal(signal.SIGUSR2, on_signal)


def close_pair(s):
    o = peer.pop(s, None)
    for x in (s, o):
        if x is None:
            continue
        peer.pop(x, None)
        try:
            sel.unregister(x)
        except (KeyError, ValueError):
            pass
        x.close()


print("ready", flush=True)
while True:
    for key, _ in sel.select(1.0):
        f = key.fileobj
        if f == wake_r:
            os.read(wake_r, 64)
            while pending:
                sig = pending.pop(0)
                if sig == signal.SIGUSR1:
                    n = len(peer) // 2
                    for s in list(peer):
                        if s in peer:
                            close_pair(s)
                    print("cut %d" % n, flush=True)
                else:
                    refusing = not refusing
                    print("refusing" if refusing else "accepting", flush=True)
        elif f is srv:
            try:
                c, _ = srv.accept()
            except BlockingIOError:
                continue
            if refusing:
                c.close()
                continue
            t = socket.socket()
            try:
                t.connect(("127.0.0.1", target_port))
            except OSError:
                c.close()
                t.close()
                continue
            for x in (c, t):
                x.setblocking(False)
                sel.register(x, selectors.EVENT_READ)
            peer[c], peer[t] = t, c
        elif f in peer:
            try:
                data = f.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                close_pair(f)
                continue
            o = peer[f]
            o.setblocking(True)   # simple back-pressure: tests move little data
            try:
                o.sendall(data)
            except OSError:
                close_pair(f)
                continue
            o.setblocking(False)
