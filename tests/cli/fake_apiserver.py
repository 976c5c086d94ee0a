#!/usr/bin/env python3
"""A scripted fake Kubernetes API server for the informer tests
(tests/cli/informer_fake.sh): HTTPS on 127.0.0.1, standard library only.

usage: fake_apiserver.py PORT CTL_PORT CERT KEY TOKEN

Production (PORT, HTTPS, bearer TOKEN required):
  - serves five kinds: Namespaces, Pods, ConfigMaps, apps/v1 Deployments and
    CustomResourceDefinitions; stats.example.com/v1 Usages as an aggregated
    API serves them (get and list only: 405 otherwise); and the kind of every CRD put once it is
    Established (its first served version; no more once deleted), with
    discovery (/apis, /api/v1, /apis/G/V) of what is served
    (LIST, cluster-wide and by namespace, with limit=N; GET of one object;
    WATCH from a resourceVersion, with BOOKMARK events when
    allowWatchBookmarks=true, ended after timeoutSeconds; POST, PATCH (merge
    and strategic merge, taken as a JSON merge patch) and DELETE).  Every
    other path answers 404 with a Status, so the gate does not watch it.
  - one global resourceVersion, bumped by every change; each change is an
    event in its kind's history, delivered in order to every open watch of
    the kind.  A list's metadata.resourceVersion is the current version.
  - a mutation made through the API is answered first and its event follows
    `lag` seconds later (see /ctl/order); every change made (through the API
    or the control port) is followed by a BOOKMARK at the new version on
    every open watch, unless asked otherwise (bookmark=0).

Control (CTL_PORT, plain HTTP on 127.0.0.1; POST unless said):
  /ctl/put[?bookmark=0&lag=S]   body: an object (with kind): added or replaced
  /ctl/delete?kind=K&ns=NS&name=N[&bookmark=0]
  /ctl/bookmark[?kind=K]        a BOOKMARK at the current version on every
                                open watch (of K; on a held kind, once released)
  /ctl/hold?kind=K              the kind's watches deliver nothing (events
                                and bookmarks wait) ...
  /ctl/release?kind=K           ... until released
  /ctl/drop[?kind=K]            every open watch (of K) is cut mid-stream
                                (the connection closed without the chunked
                                body's end)
  /ctl/gone?kind=K&mode=event   every open watch of K gets an ERROR event
                                with code 410, then ends
  /ctl/gone?kind=K&mode=http    the next watch of K is answered HTTP 410; the
                                open ones are cut so that there is a next
  /ctl/order?event_first=0|1&lag=S  a mutation through the API: its event
                                lag seconds after its answer (default 0.2),
                                or (event_first=1) its event first and its
                                answer lag seconds later
  GET /ctl/state                {rv, counts: {KIND: {list, probe, watch, get,
                                create, patch, delete}}, watches: [{seq, kind,
                                resourceVersion, bookmarks}], drops: [{seq, kind,
                                sent}], lists: [{seq, kind, rv}], open: [...],
                                unknown: N}; unserved kinds are counted under
                                their resource path ("apis/G/V/R" or "api/v1/R")
It prints "ready: ..." once both ports are bound.  Every loop is bounded;
the server ends itself after 300 s, or on SIGTERM.
"""
import copy
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

port, ctl_port, cert, key, token = sys.argv[1:6]

# (group, version, resource) -> (kind, namespaced)
SERVED = {
    ("", "v1", "namespaces"): ("Namespace", False),
    ("", "v1", "pods"): ("Pod", True),
    ("", "v1", "configmaps"): ("ConfigMap", True),
    ("apps", "v1", "deployments"): ("Deployment", True),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): ("CustomResourceDefinition", False),
    ("stats.example.com", "v1", "usages"): ("Usage", True),   # as an aggregated API: get and list only
}
NOT_WATCHABLE = {"Usage"}
API_VERSION = {"Namespace": "v1", "Pod": "v1", "ConfigMap": "v1", "Deployment": "apps/v1",
               "CustomResourceDefinition": "apiextensions.k8s.io/v1", "Usage": "stats.example.com/v1"}
KINDS = list(API_VERSION)

cond = threading.Condition()
st = {
    "rv": 100,
    "seq": 0,            # orders the records below
    "objects": {k: {} for k in KINDS},     # kind -> {(ns, name): obj}
    "events": {k: [] for k in KINDS},      # kind -> [{rv, type, object, at}] (at: not before, monotonic)
    "held": set(),
    "watchers": [],
    "gone_next": {},     # kind -> "http"
    "counts": {},
    "watches": [],
    "drops": [],
    "lists": [],
    "unknown": 0,
    "event_first": False,
    "lag": 0.2,
}


def count(kind, what):  # under cond
    c = st["counts"].setdefault(kind, {"list": 0, "probe": 0, "watch": 0, "get": 0, "create": 0, "patch": 0,
                                       "delete": 0})
    c[what] = c.get(what, 0) + 1


def next_seq():  # under cond
    st["seq"] += 1
    return st["seq"]


def meta(o):
    return o.setdefault("metadata", {})


def follow_crd(typ, crd):
    """Under cond: an Established CRD's kind is served from now on (its
    first served version), a deleted one's no more."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    versions = [v["name"] for v in spec.get("versions", []) if v.get("served")]
    if not versions or not names.get("kind") or not names.get("plural"):
        return
    key = (spec.get("group", ""), versions[0], names["plural"])
    kind = names["kind"]
    established = any(c.get("type") == "Established" and c.get("status") == "True"
                      for c in crd.get("status", {}).get("conditions", []))
    if typ == "DELETED" or not established:
        SERVED.pop(key, None)
        return
    SERVED[key] = (kind, spec.get("scope") == "Namespaced")
    API_VERSION[kind] = "%s/%s" % (key[0], key[1])
    if kind not in KINDS:
        KINDS.append(kind)
        st["objects"][kind] = {}
        st["events"][kind] = []


def discovery(path):
    """Under cond: the APIGroupList (/apis) or a group version's
    APIResourceList (/api/v1, /apis/G/V) of what is served now, or None."""
    if path == "/apis":
        groups = {}
        for (g, v, _) in SERVED:
            if g and g not in groups:
                gv = {"groupVersion": "%s/%s" % (g, v), "version": v}
                groups[g] = {"name": g, "versions": [gv], "preferredVersion": gv}
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": list(groups.values())}
    seg = [s for s in path.split("/") if s]
    if seg == ["api", "v1"]:
        g, v = "", "v1"
    elif len(seg) == 3 and seg[0] == "apis":
        g, v = seg[1], seg[2]
    else:
        return None
    res = [{"name": r, "singularName": "", "namespaced": nsd, "kind": k,
            "verbs": ["get", "list"] if k in NOT_WATCHABLE else
            ["create", "delete", "get", "list", "patch", "update", "watch"]}
           for (gg, vv, r), (k, nsd) in SERVED.items() if gg == g and vv == v]
    if not res:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "%s/%s" % (g, v) if g else v,
            "resources": res}


def change(kind, typ, obj, lag=0.0, bookmark=True):
    """Under cond: one change at a new version; returns the object as stored."""
    st["rv"] += 1
    obj = copy.deepcopy(obj)
    obj["kind"] = kind
    obj["apiVersion"] = API_VERSION[kind]
    m = meta(obj)
    m["resourceVersion"] = str(st["rv"])
    k = (m.get("namespace") or "", m["name"])
    if typ == "DELETED":
        st["objects"][kind].pop(k, None)
    else:
        m.setdefault("uid", "uid-%s-%s-%s" % (kind.lower(), k[0], k[1]))
        m.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        st["objects"][kind][k] = obj
    st["events"][kind].append({"rv": st["rv"], "type": typ, "object": obj, "at": time.monotonic() + lag})
    if kind == "CustomResourceDefinition":
        follow_crd(typ, obj)
    if bookmark:
        ask_bookmark()
    cond.notify_all()
    return obj


def ask_bookmark(kind=None):
    """Under cond: a BOOKMARK at the current version on every open watch (of
    kind), sent once every event of its kind up to that version is."""
    for w in st["watchers"]:
        if not kind or w["kind"] == kind:
            w["bookmark"] = max(w["bookmark"], st["rv"])


def seed():
    ns = lambda n: {"metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}, "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"}}
    for n in ("default", "kube-system", "shop"):
        change("Namespace", "ADDED", ns(n))
    labels = {"app": "web"}
    change("Deployment", "ADDED", {
        "metadata": {"name": "web", "namespace": "shop", "labels": labels, "generation": 1},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}})
    change("Pod", "ADDED", {
        "metadata": {"name": "web-1", "namespace": "shop", "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    for name in ("app-config", "doomed", "quiet"):
        change("ConfigMap", "ADDED", {"metadata": {"name": name, "namespace": "shop"}, "data": {"a": "1"}})
    change("Usage", "ADDED", {"metadata": {"name": "web-1", "namespace": "shop"}, "cpu": "250m"})
    for k in KINDS:   # the history starts here: a watch from before is too old
        st["events"][k] = []


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def status_doc(code, reason, msg):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
            "reason": reason, "code": code}


class JsonHandler(BaseHTTPRequestHandler):
    """What both ports share: HTTP/1.1, no log, JSON answers."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, doc):
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Api(JsonHandler):
    def route(self):
        """(kind or None, unserved-path, namespace, name, query)"""
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        seg = [s for s in u.path.split("/") if s]
        if seg[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", seg[2:]
        elif len(seg) >= 3 and seg[0] == "apis":
            group, version, rest = seg[1], seg[2], seg[3:]
        else:
            return None, u.path, None, None, q
        ns = name = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, resource, name = rest[1], rest[2], (rest[3] if len(rest) > 3 else None)
        elif rest:
            resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
        else:
            return None, u.path, None, None, q
        served = SERVED.get((group, version, resource))
        where = ("apis/%s/%s/%s" % (group, version, resource)) if group else "api/%s/%s" % (version, resource)
        if not served or (ns is not None and not served[1]):
            return None, where, ns, name, q
        return served[0], where, ns, name, q

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.answer(401, status_doc(401, "Unauthorized", "Unauthorized"))
        if self.command == "GET":
            with cond:
                doc = discovery(urlsplit(self.path).path)
            if doc:
                return self.answer(200, doc)
        kind, where, ns, name, q = self.route()
        if not kind:
            with cond:
                count(where, "watch" if q.get("watch") in ("true", "1") else "list" if self.command == "GET" else
                      self.command.lower())
                st["unknown"] += 1
            return self.answer(404, status_doc(404, "NotFound", "the server could not find the requested resource"))
        if kind in NOT_WATCHABLE and (self.command != "GET" or q.get("watch") in ("true", "1")):
            with cond:
                count(kind, "watch" if self.command == "GET" else self.command.lower())
            return self.answer(405, status_doc(405, "MethodNotAllowed", "the server does not allow this method on "
                                                                      "the requested resource"))
        if self.command == "GET" and q.get("watch") in ("true", "1"):
            return self.watch(kind, ns, q)
        if self.command == "GET" and name:
            with cond:
                count(kind, "get")
                obj = st["objects"][kind].get((ns or "", name))
            if not obj:
                return self.answer(404, status_doc(404, "NotFound", '%s "%s" not found' % (kind.lower(), name)))
            return self.answer(200, obj)
        if self.command == "GET":
            return self.list(kind, ns, q)
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return self.answer(400, status_doc(400, "BadRequest", "the body is not JSON"))
        return self.mutate(kind, ns, name, doc)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def list(self, kind, ns, q):
        """A list, paged by limit and continue ("fake-OFFSET"); a limit=1
        list without continue is the gate's freshness probe, counted apart;
        the first page of any other list counts as one LIST."""
        limit = int(q.get("limit") or 0)
        cont = q.get("continue") or ""
        if cont and not cont.startswith("fake-"):
            return self.answer(410, status_doc(410, "Expired", "the continue token is not one this server gave out"))
        start = int(cont[5:]) if cont else 0
        probe = limit == 1 and not cont
        with cond:
            if not cont:
                count(kind, "probe" if probe else "list")
            items = [copy.deepcopy(o) for (ons, _), o in sorted(st["objects"][kind].items())
                     if ns is None or ons == ns]
            rv = st["rv"]
            if not probe and not cont:
                st["lists"].append({"seq": next_seq(), "kind": kind, "rv": str(rv)})
        for o in items:   # as the API server lists them: items without kind
            o.pop("kind", None)
            o.pop("apiVersion", None)
        lm = {"resourceVersion": str(rv)}
        items = items[start:]
        if limit and len(items) > limit:
            items = items[:limit]
            lm["continue"] = "fake-%d" % (start + limit)
        self.answer(200, {"kind": kind + "List", "apiVersion": API_VERSION[kind], "metadata": lm, "items": items})

    def mutate(self, kind, ns, name, doc):
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[self.command]
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        with cond:
            count(kind, verb)
            key = (ns or "", name or (doc or {}).get("metadata", {}).get("name") or "")
            old = st["objects"][kind].get(key)
            if verb == "create":
                if not isinstance(doc, dict) or not key[1]:
                    return self.answer(400, status_doc(400, "BadRequest", "no object"))
                if old:
                    return self.answer(409, status_doc(409, "AlreadyExists", '%s "%s" already exists'
                                                       % (kind.lower(), key[1])))
                if ns:
                    meta(doc)["namespace"] = ns
                typ, new = "ADDED", doc
            elif not old:
                return self.answer(404, status_doc(404, "NotFound", '%s "%s" not found' % (kind.lower(), key[1])))
            elif verb == "patch":
                if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    return self.answer(415, status_doc(415, "UnsupportedMediaType", "patch type " + ctype))
                typ, new = "MODIFIED", merge_patch(old, doc)
            elif verb == "update":
                typ, new = "MODIFIED", doc
            else:
                typ, new = "DELETED", old
            first, lag = st["event_first"], st["lag"]
            obj = change(kind, typ, new, lag=0 if first else lag)
        if first:
            time.sleep(lag)
        self.answer(201 if verb == "create" else 200, obj)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def watch(self, kind, ns, q):
        try:
            seconds = max(1, min(int(q.get("timeoutSeconds") or 60), 600))
        except ValueError:
            seconds = 60
        rv = q.get("resourceVersion")
        w = {"kind": kind, "ns": ns, "sent": 0, "bookmark": 0, "drop": False, "gone": False,
             "bookmarks": q.get("allowWatchBookmarks") == "true"}
        with cond:
            count(kind, "watch")
            st["watches"].append({"seq": next_seq(), "kind": kind, "resourceVersion": rv,
                                  "bookmarks": w["bookmarks"], "timeoutSeconds": q.get("timeoutSeconds")})
            gone = st["gone_next"].pop(kind, None)
            if not gone:
                st["watchers"].append(w)
                initial = []
                if rv in (None, "", "0"):   # from "any": the current objects as ADDED
                    initial = [{"type": "ADDED", "object": o} for (ons, _), o in sorted(st["objects"][kind].items())
                               if ns is None or ons == ns]
                    w["sent"] = st["rv"]
                else:
                    try:
                        w["sent"] = int(rv)
                    except ValueError:
                        w["sent"] = st["rv"]
        if gone:
            return self.answer(410, status_doc(410, "Expired", "too old resource version: %s" % rv))
        self.close_connection = True
        deadline = time.monotonic() + seconds
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for ev in initial:
                self.chunk(json.dumps(ev).encode() + b"\n")
            while True:
                out, end = [], None
                with cond:
                    while True:
                        now = time.monotonic()
                        if w["drop"]:
                            end = "drop"
                        elif w["gone"]:
                            end = "gone"
                        elif now >= deadline:
                            end = "timeout"
                        if end:
                            break
                        if kind not in st["held"]:
                            pending = [e for e in st["events"][kind] if e["rv"] > w["sent"]]
                            ready = []
                            for e in pending:   # in order: a later event waits for an earlier one
                                if e["at"] > now:
                                    break
                                ready.append(e)
                            for e in ready:
                                if ns is None or meta(e["object"]).get("namespace") == ns:
                                    out.append({"type": e["type"], "object": e["object"]})
                                w["sent"] = e["rv"]
                            if len(ready) == len(pending) and w["bookmark"]:
                                mark, w["bookmark"] = w["bookmark"], 0
                                if w["bookmarks"]:   # every event of the kind up to mark is sent
                                    w["sent"] = max(w["sent"], mark)
                                    out.append({"type": "BOOKMARK", "object": {
                                        "kind": kind, "apiVersion": API_VERSION[kind],
                                        "metadata": {"resourceVersion": str(w["sent"])}}})
                            if ready or out:
                                break
                            wait = min(0.25, deadline - now)
                            if pending:
                                wait = min(wait, max(0.01, pending[0]["at"] - now))
                        else:
                            wait = min(0.25, deadline - now)
                        cond.wait(max(0.01, wait))
                for ev in out:
                    self.chunk(json.dumps(ev).encode() + b"\n")
                if end == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if end == "gone":
                    self.chunk(json.dumps({"type": "ERROR", "object": status_doc(
                        410, "Expired", "too old resource version: %d" % w["sent"])}).encode() + b"\n")
                if end:
                    self.wfile.write(b"0\r\n\r\n")
                    return
        except OSError:
            return
        finally:
            with cond:   # by identity: two watches may look alike
                st["watchers"] = [x for x in st["watchers"] if x is not w]


class Ctl(JsonHandler):
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        bookmark = q.get("bookmark", "1") != "0"
        kind = q.get("kind")
        if kind is not None and kind not in KINDS:
            return self.answer(400, {"error": "unknown kind " + kind})
        with cond:
            if u.path == "/ctl/state":
                return self.answer(200, {
                    "rv": st["rv"], "counts": st["counts"], "watches": st["watches"], "drops": st["drops"],
                    "lists": st["lists"], "unknown": st["unknown"], "held": sorted(st["held"]),
                    "open": [{"kind": w["kind"], "sent": w["sent"]} for w in st["watchers"]]})
            if u.path == "/ctl/put":
                try:
                    doc = json.loads(body)
                    k = doc["kind"]
                    key = (doc["metadata"].get("namespace") or "", doc["metadata"]["name"])
                except (ValueError, KeyError, TypeError):
                    return self.answer(400, {"error": "an object with kind and metadata.name, please"})
                if k not in KINDS:
                    return self.answer(400, {"error": "unknown kind " + k})
                obj = change(k, "MODIFIED" if key in st["objects"][k] else "ADDED", doc,
                             lag=float(q.get("lag", 0)), bookmark=bookmark)
                return self.answer(200, obj)
            if u.path == "/ctl/delete":
                key = (q.get("ns") or "", q.get("name") or "")
                old = st["objects"].get(kind or "", {}).get(key)
                if not old:
                    return self.answer(404, {"error": "no such object"})
                return self.answer(200, change(kind, "DELETED", old, bookmark=bookmark))
            if u.path == "/ctl/bookmark":
                ask_bookmark(kind)
            elif u.path == "/ctl/hold" and kind:
                st["held"].add(kind)
            elif u.path == "/ctl/release" and kind:
                st["held"].discard(kind)
            elif u.path == "/ctl/drop":
                for w in st["watchers"]:
                    if not kind or w["kind"] == kind:
                        w["drop"] = True
                        st["drops"].append({"seq": next_seq(), "kind": w["kind"], "sent": str(w["sent"])})
            elif u.path == "/ctl/gone" and kind and q.get("mode") in ("event", "http"):
                for w in st["watchers"]:
                    if w["kind"] == kind:
                        w["gone" if q["mode"] == "event" else "drop"] = True
                if q["mode"] == "http":
                    st["gone_next"][kind] = "http"
            elif u.path == "/ctl/order":
                st["event_first"] = q.get("event_first") == "1"
                st["lag"] = float(q.get("lag", st["lag"]))
            else:
                return self.answer(404, {"error": "unknown control " + u.path})
            cond.notify_all()
            return self.answer(200, {"rv": st["rv"]})

    do_GET = do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    tls = None

    def finish_request(self, request, client_address):
        """In the connection's own thread: its TLS handshake (so that a slow
        client does not hold back the others' accept), then its requests."""
        if not self.tls:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(15)
            conn = self.tls.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except OSError:
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()


with cond:
    seed()
api = Server(("127.0.0.1", int(port)), Api)
api.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
api.tls.load_cert_chain(cert, key)
ctl = Server(("127.0.0.1", int(ctl_port)), Ctl)
threading.Thread(target=ctl.serve_forever, daemon=True).start()
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
threading.Timer(300, lambda: os._exit(0)).start()
print("ready: API on %s, control on %s" % (port, ctl_port), flush=True)
api.serve_forever()
