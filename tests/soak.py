#!/usr/bin/env python3
"""The soak's load: AGENTS threads, one agent each, for SECONDS of mixed
calls through the gate, and the gate's process watched meanwhile.

    soak.py PORT CA_FILE TOKENS_FILE GATE_PID SECONDS

TOKENS_FILE has one "NAME TOKEN" line per agent. Each agent loops: reads
(a list of pods, one ConfigMap), a mutation (a label on its own ConfigMap),
and every tenth round a watch that it reads for a moment and drops. Prints
throughput, p50/p99 per kind of call, the gate's RSS, open fds and threads
at the start and the end, and the calls the gate failed (5xx or a broken
connection); exits 1 if there was one.
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time

port, ca, tokens_file, pid, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
agents = [line.split() for line in open(tokens_file) if line.strip()]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
lock = threading.Lock()
lat = {"read": [], "mutation": [], "watch": []}
statuses = {}
errors = []


def proc():
    rss = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid)), threads


def agent(name, token, stop_at):
    headers = {"Authorization": "Bearer " + token}
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    rnd = 0
    while time.monotonic() < stop_at:
        rnd += 1
        calls = [("read", "GET", "/api/v1/namespaces/shop/pods", None),
                 ("read", "GET", "/api/v1/namespaces/shop/configmaps/soak-" + name, None),
                 ("mutation", "PATCH", "/api/v1/namespaces/shop/configmaps/soak-" + name,
                  json.dumps({"metadata": {"labels": {"round": str(rnd)}}}))]
        for kind, method, path, body in calls:
            h = dict(headers)
            if body:
                h["Content-Type"] = "application/merge-patch+json"
            t0 = time.monotonic()
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                r.read()
                st = r.status
            except Exception as e:   # a broken connection is the gate's failure
                st = "error: %s" % type(e).__name__
                conn.close()
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            took = time.monotonic() - t0
            with lock:
                lat[kind].append(took)
                statuses[st] = statuses.get(st, 0) + 1
                if not isinstance(st, int) or st >= 500:
                    errors.append("%s %s %s -> %s" % (name, method, path, st))
        if rnd % 10 == 0:   # a watch that comes and goes
            t0 = time.monotonic()
            w = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            try:
                w.request("GET", "/api/v1/namespaces/shop/configmaps?watch=true&timeoutSeconds=30", headers=headers)
                r = w.getresponse()
                st = r.status
                if st == 200:
                    r.fp.readline()   # the first event, then the client goes
            except Exception as e:
                st = "error: %s" % type(e).__name__
            w.close()
            with lock:
                lat["watch"].append(time.monotonic() - t0)
                statuses[st] = statuses.get(st, 0) + 1
                if not isinstance(st, int) or st >= 500:
                    errors.append("%s watch -> %s" % (name, st))
    conn.close()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] * 1000 if v else 0


start = proc()
t0 = time.monotonic()
threads = [threading.Thread(target=agent, args=(n, t, t0 + seconds)) for n, t in agents]
for t in threads:
    t.start()
samples = []
while any(t.is_alive() for t in threads):
    time.sleep(min(30, seconds / 10 + 1))
    samples.append(proc())
for t in threads:
    t.join()
took = time.monotonic() - t0
time.sleep(3)   # dropped watches and idle connections settle
end = proc()
total = sum(len(v) for v in lat.values())
print("soak: %d agents, %.0f s, %d calls, %.0f calls/s" % (len(agents), took, total, total / took))
for kind, v in lat.items():
    print("  %-8s %7d calls  p50 %7.1f ms  p99 %7.1f ms" % (kind, len(v), pct(v, 0.5), pct(v, 0.99)))
print("  statuses: %s" % ", ".join("%s: %d" % (k, v) for k, v in sorted(statuses.items(), key=str)))
print("  gate RSS %d -> %d MiB (peak of samples %d), fds %d -> %d, threads %d -> %d" %
      (start[0], end[0], max([s[0] for s in samples] + [end[0]]), start[1], end[1], start[2], end[2]))
print("  gate-side errors: %d" % len(errors))
for e in errors[:10]:
    print("    " + e)
sys.exit(1 if errors else 0)
