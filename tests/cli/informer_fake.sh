#!/bin/sh
# The informer against a scripted production (tests/cli/fake_apiserver.py):
# the gate in enforce mode lists each kind production serves, then keeps its
# twin current with one WATCH per kind -- events, bookmarks, a 410 (relist),
# a dropped stream (watch again from the last version), a slow upstream
# (refused 503, never forwarded) -- and tells drift from its own changes.
# The fake counts every request it gets, so each check is about what the
# gate actually asked of production.
. tests/lib.sh
command -v python3 >/dev/null || { echo "not ok python3 is not installed"; exit 1; }
fport=$((20000 + $$ % 6666 * 3))       # the fake's API (HTTPS); three ports of its own per process
cport=$((fport + 1))                   # the fake's control port (HTTP)
gport=$((fport + 2))                   # the gate
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$tmp/fake.key" -out "$tmp/fake.crt" >/dev/null 2>&1 || { echo "not ok openssl req"; exit 1; }
ptoken=prod-$$-token
printf '%s\n' "$ptoken" >"$tmp/prod-token"
python3 tests/cli/fake_apiserver.py $fport $cport "$tmp/fake.crt" "$tmp/fake.key" "$ptoken" >"$tmp/fake.log" 2>&1 &
fpid=$!
servers="$fpid"
i=0
until grep -q "^ready" "$tmp/fake.log" && curl -s -m 2 "http://127.0.0.1:$cport/ctl/state" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 50 ] || ! kill -0 $fpid 2>/dev/null; then echo "not ok the fake API server did not come up"; cat "$tmp/fake.log"; exit 1; fi
    sleep 0.1
done
"$GATE" serve --listen 127.0.0.1:$gport --data-dir "$tmp/data" --upstream https://127.0.0.1:$fport \
    --upstream-token-file "$tmp/prod-token" --upstream-ca "$tmp/fake.crt" --fresh-wait 3 >"$tmp/serve.log" 2>&1 &
pid=$!
servers="$servers $pid"
i=0
until [ -s "$tmp/data/approver.token" ] && [ -s "$tmp/data/kubeconfig" ] \
        && curl -s -m 2 --cacert "$tmp/data/tls.crt" -o /dev/null "https://127.0.0.1:$gport/version" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then echo "not ok the gate did not come up"; cat "$tmp/serve.log"; exit 1; fi
    sleep 0.2
done
atok=$(cat "$tmp/data/approver.token")
otok=$(sed -n 's/^ *token: //p' "$tmp/data/kubeconfig")

ctl() {  # ctl PATH [BODY]: a control request to the fake
    if [ $# -gt 1 ]; then curl -s -m 5 -X POST -d "$2" "http://127.0.0.1:$cport/ctl/$1" >/dev/null
    else curl -s -m 5 -X POST "http://127.0.0.1:$cport/ctl/$1" >/dev/null; fi
}
cm() {  # cm NAME [VALUE]: a ConfigMap in shop
    printf '{"kind": "ConfigMap", "metadata": {"name": "%s", "namespace": "shop"}, "data": {"v": "%s"}}' "$1" "${2:-1}"
}
patch() {  # patch NAME VALUE: a merge patch of ConfigMap shop/NAME through the gate; prints the HTTP code, body in $tmp/out
    curl -s -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $otok" -X PATCH \
        -H 'Content-Type: application/merge-patch+json' -d "{\"data\": {\"v\": \"$2\"}}" -o "$tmp/out" -w '%{http_code}' \
        "https://127.0.0.1:$gport/api/v1/namespaces/shop/configmaps/$1"
}
# holds CODE: fetches the fake's state (s) and the gate's /airlock/v1/drift
# (g), then runs the Python CODE, which sets ok; C = s["counts"], W = the
# gate's watches by kind, K = the kinds the fake serves, s0/g0 = what
# `snap` saved. True when ok.
holds() {
    curl -s -m 5 "http://127.0.0.1:$cport/ctl/state" >"$tmp/s.json"
    curl -s -m 5 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $atok" \
        "https://127.0.0.1:$gport/airlock/v1/drift" >"$tmp/g.json"
    python3 - "$tmp" "$1" <<'EOF'
import json, os, sys
d = sys.argv[1]
def load(n):
    p = os.path.join(d, n)
    return json.load(open(p)) if os.path.exists(p) else None
try:
    s, g, s0, g0 = load("s.json"), load("g.json"), load("s0.json"), load("g0.json")
    C = s["counts"]
    W = {w["kind"]: w for w in g["watches"]}
    K = ["Namespace", "Pod", "ConfigMap", "Deployment", "CustomResourceDefinition"]
    env = dict(s=s, g=g, s0=s0, g0=g0, C=C, W=W, K=K, ok=False)
    exec(sys.argv[2], env)
    sys.exit(0 if env["ok"] else 1)
except Exception as e:
    print("  (check error: %r)" % e)
    sys.exit(1)
EOF
}
snap() { holds 'ok = True'; cp "$tmp/s.json" "$tmp/s0.json"; cp "$tmp/g.json" "$tmp/g0.json"; }
# wait_for N CODE: holds CODE, tried up to N times 0.1 s apart
wait_for() {
    _n=$1 _i=0
    until holds "$2" >/dev/null; do
        _i=$((_i + 1))
        [ $_i -ge "$_n" ] && return 1
        sleep 0.1
    done
}
show() {  # what the gate's watches and the fake's counters say, after a failure
    python3 -c 'import json,sys; print("  gate:", json.dumps(json.load(open(sys.argv[1])).get("watches"))); s=json.load(open(sys.argv[2])); print("  fake: rv", s["rv"], "counts", json.dumps({k: v for k, v in s["counts"].items() if "/" not in k}), "open", s["open"])' \
        "$tmp/g.json" "$tmp/s.json" 2>&1 | cut -c1-1500
    tail -5 "$tmp/serve.log" | sed 's/^/  /'
}

# --- start-up: a LIST per kind, then a WATCH per served kind, none of the rest
wait_for 50 'ok = all(W.get(k, {}).get("watching") for k in K)'
if holds '
lists = [x for x in s["lists"]]
watches = [x for x in s["watches"]]
unserved = [k for k in C if "/" in k]
ok = (all(C[k]["list"] == 1 and C[k]["watch"] == 1 and C[k]["probe"] == 0 for k in K)
      and sorted(x["kind"] for x in lists) == sorted(K) and sorted(x["kind"] for x in watches) == sorted(K)
      and max(x["seq"] for x in lists) < min(x["seq"] for x in watches)
      and all(w["resourceVersion"] == [l["rv"] for l in lists if l["kind"] == w["kind"]][0] and w["bookmarks"] for w in watches)
      and len(unserved) >= 20 and all(C[k]["list"] == 1 and C[k]["watch"] == 0 for k in unserved))'; then
    ok "start-up: one LIST per kind, then one WATCH (with bookmarks, from its list's version) per served kind only"
else
    bad "start-up lists and watches"; show
fi
holds 'ok = sorted(W) == sorted(K) and all(w["watching"] and w["errors"] == 0 for w in W.values())' \
    && ok "the gate watches exactly the kinds production serves (the 404s are not watched)" || { bad "watched kinds"; show; }

# --- a watch event is applied: the fake adds a ConfigMap whose event comes
# half a second later; the very next PATCH of it waits for the event
# (freshness), so it reaches production instead of the twin's 404
ctl 'put?lag=0.5' "$(cm fresh)"
code=$(patch fresh 2)
if [ "$code" = 200 ] && grep -q '"v": "2"' "$tmp/out" && holds 'ok = C["ConfigMap"]["patch"] == 1'; then
    ok "an object production added is in the twin for the next mutation (it waited for the event, no sleep)"
else
    bad "watch event applied before the next mutation (got $code)"; cat "$tmp/out"; echo; show
fi

# --- bookmarks: changes of ConfigMaps only (no bookmark from the fake): the
# other kinds stay behind; one BOOKMARK on each watch brings them to the
# current version, and the next mutation passes at once
snap
ctl 'put?bookmark=0' "$(cm b1)"
ctl 'put?bookmark=0' "$(cm b2)"
wait_for 50 'ok = W["ConfigMap"]["resourceVersion"] == str(s["rv"])'
if holds 'ok = all(int(W[k]["resourceVersion"]) < s["rv"] for k in K if k != "ConfigMap")'; then
    behind=1
else
    behind=0; show
fi
ctl bookmark
code=$(patch app-config 3)
if [ $behind = 1 ] && [ "$code" = 200 ] && wait_for 30 '
ok = all(W[k]["bookmarks"] > {w["kind"]: w for w in g0["watches"]}[k]["bookmarks"] and int(W[k]["resourceVersion"]) >= s0["rv"] + 2
         for k in K if k != "ConfigMap")'; then
    ok "bookmarks: kinds without changes reach production's version by BOOKMARK, the mutation is not refused"
else
    bad "bookmarks (behind before: $behind, PATCH $code)"; cat "$tmp/out"; echo; show
fi

# --- 410: Pods get an ERROR 410 event on their open watch, Deployments an
# HTTP 410 on their next watch: each is listed again and watched from that
# list's version; nothing changed, so the relist is no drift
snap
ctl 'gone?kind=Pod&mode=event'
ctl 'gone?kind=Deployment&mode=http'
if wait_for 100 '
ok = all(C[k]["list"] == 2 and W[k]["relists"] == 1 and W[k]["watching"] for k in ("Pod", "Deployment"))
for k in ("Pod", "Deployment"):
    relist = [l for l in s["lists"] if l["kind"] == k][-1]
    ok = ok and [w for w in s["watches"] if w["kind"] == k][-1]["resourceVersion"] == relist["rv"]
ok = ok and all(C[k]["list"] == 1 and W[k]["relists"] == 0 for k in ("Namespace", "ConfigMap"))'; then
    ok "410 (as an ERROR event, and as an HTTP answer): the kind is listed again and watched from the list's version"
else
    bad "410 relist"; show
fi
code=$(patch app-config 4)
[ "$code" = 200 ] && holds 'ok = g["total"] == g0["total"]' \
    && ok "after the relists: mutations pass, and the unchanged objects listed again are not drift" \
    || { bad "after the relists (PATCH $code)"; cat "$tmp/out"; echo; show; python3 -m json.tool "$tmp/g.json" | head -40; }

# --- a dropped stream: every watch cut mid-stream; each kind is watched again
# from the last version the fake sent on it, without a LIST
wait_for 50 'ok = sorted(w["kind"] for w in s["open"]) == sorted(K) and all(W[k]["watching"] for k in K)'
snap
ctl drop
if wait_for 100 '
drops = s["drops"]
dseq = min(x["seq"] for x in drops)
ok = sorted(x["kind"] for x in drops) == sorted(K)
for x in drops:
    after = [w for w in s["watches"] if w["kind"] == x["kind"] and w["seq"] > dseq]
    ok = ok and len(after) >= 1 and after[0]["resourceVersion"] == x["sent"] and x["sent"] not in ("", "0")
ok = ok and all(C[k]["list"] == s0["counts"][k]["list"] for k in K) and not [l for l in s["lists"] if l["seq"] > dseq]
ok = ok and all(W[k]["watching"] for k in K)'; then
    ok "a dropped stream: watched again from the last version sent, no LIST"
else
    bad "dropped stream"; show; python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("  drops", s["drops"]); print("  watches", s["watches"][-8:])' "$tmp/s.json"
fi
code=$(patch app-config 5)
[ "$code" = 200 ] && ok "after the drop the next mutation passes" || { bad "mutation after the drop ($code)"; cat "$tmp/out"; echo; show; }

# --- a slow upstream: ConfigMap events held back longer than --fresh-wait:
# refused 503, never forwarded; once they come, the mutation passes
ctl 'hold?kind=ConfigMap'
ctl put "$(cm slow)"
holds 'ok = True'
before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["ConfigMap"]["patch"])' "$tmp/s.json")
code=$(patch app-config 6)
if [ "$code" = 503 ] && grep -q '"message": *"airlock: refused: the twin has not caught up with production within' "$tmp/out" \
        && holds "ok = C['ConfigMap']['patch'] == $before"; then
    ok "a slow upstream: the mutation is refused 503 (has not caught up) and not forwarded"
else
    bad "slow upstream (got $code)"; cat "$tmp/out"; echo; show
fi
ctl 'release?kind=ConfigMap'
code=$(patch app-config 7)
[ "$code" = 200 ] && holds "ok = C['ConfigMap']['patch'] == $before + 1" \
    && ok "the held events released: the next mutation passes" || { bad "after the release ($code)"; cat "$tmp/out"; echo; show; }

# --- drift: a deletion made in production is drift; the gate's own changes
# are not, whether production's event comes after its answer (app-config,
# above) or before it (quiet, changed by nobody before: no earlier change
# through the gate explains it)
ctl 'order?event_first=1&lag=0.3'
code=$(patch quiet 8)
ctl 'order?event_first=0&lag=0.2'
ctl 'delete?kind=ConfigMap&ns=shop&name=doomed'
if wait_for 50 'ok = any(x["event"] == "DELETED" and x["kind"] == "ConfigMap" and x.get("namespace") == "shop" and x["name"] == "doomed" for x in g["items"])'; then
    ok "drift: a deletion made in production (not through the gate) is listed as DELETED"
else
    bad "drift of a deletion"; python3 -c 'import json,sys; [print("  ", json.dumps(x)) for x in json.load(open(sys.argv[1]))["items"]]' "$tmp/g.json"
fi
if [ "$code" = 200 ] && holds '
ok = (not [x for x in g["items"] if x["name"] in ("app-config", "quiet")]
      and not [x for x in g["items"] if x["name"] == "fresh" and x["event"] != "ADDED"]
      and W["ConfigMap"]["resourceVersion"] == str(s["rv"]))'; then
    ok "drift: objects changed through the gate are not drift (event after the answer, and before it)"
else
    bad "the gate's own changes listed as drift (last PATCH $code)"
    python3 -c 'import json,sys; [print("  ", json.dumps(x)) for x in json.load(open(sys.argv[1]))["items"] if x["name"] in ("app-config", "quiet", "fresh")]' "$tmp/g.json"
fi

# --- a CRD production establishes after start: its kind is learnt, listed
# and watched, its objects judged; once deleted, its watch ends and nothing
# waits for it
crd() {  # crd ESTABLISHED: the CRD of example.com/v1 Widgets
    printf '{"kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"}, "versions": [{"name": "v1", "served": true, "storage": true}]}, "status": {"conditions": [{"type": "Established", "status": "%s"}]}}' "$1"
}
gate_api() {  # gate_api METHOD PATH [BODY]: through the gate as the agent; prints the code, body in $tmp/out
    curl -s -m 20 --cacert "$tmp/data/tls.crt" -H "Authorization: Bearer $otok" -X "$1" \
        -H 'Content-Type: application/merge-patch+json' ${3:+-d "$3"} -o "$tmp/out" -w '%{http_code}' \
        "https://127.0.0.1:$gport$2"
}
ctl put "$(crd False)"
sleep 1
holds 'ok = "Widget" not in W' && ok "a CRD not yet established: its kind is not learnt" || { bad "an unestablished CRD was followed"; show; }
ctl put "$(crd True)"
ctl put '{"kind": "Widget", "metadata": {"name": "w1", "namespace": "shop"}, "spec": {"size": 1}}'
if wait_for 80 'ok = W.get("Widget", {}).get("watching") and C.get("Widget", {}).get("list") == 1'; then
    ok "a CRD established after start: its kind is listed, then watched"
else
    bad "the new CRD's kind is not watched"; show
fi
code=$(gate_api PATCH /apis/example.com/v1/namespaces/shop/widgets/w1 '{"spec": {"size": 2}}')
[ "$code" = 200 ] && holds 'ok = C["Widget"]["patch"] == 1' \
    && ok "an object of the new kind is judged and forwarded" || { bad "a patch of the new kind: $code"; cat "$tmp/out"; echo; }
grep -q "production serves Widget (widgets.example.com) now (its CRD was established)" "$tmp/serve.log" \
    && ok "the new kind is logged" || bad "the new kind is not logged"
ctl 'delete?kind=CustomResourceDefinition&ns=&name=widgets.example.com'
if wait_for 50 'ok = "Widget" not in W'; then
    ok "the CRD deleted: the kind's watch ends"
else
    bad "the deleted CRD's kind is still watched"; show
fi
code=$(patch app-config 9)
[ "$code" = 200 ] && ok "mutations pass after the CRD went (nothing waits for its kind)" || { bad "after the CRD went: $code"; cat "$tmp/out"; echo; }

# --- an aggregated API that cannot be watched: learnt read-only, never
# listed at start nor watched; reads judged and passed through, writes refused
# by the gate without reaching production
holds 'ok = "Usage" not in W and C.get("Usage", {}).get("list", 0) == 0 and C.get("Usage", {}).get("watch", 0) == 0' \
    && ok "a kind production cannot watch is neither listed at start nor watched" || { bad "the unwatchable kind"; show; }
code=$(gate_api GET /apis/stats.example.com/v1/namespaces/shop/usages/web-1)
[ "$code" = 200 ] && grep -q '"cpu": *"250m"' "$tmp/out" && ok "a read of it is judged and answered by production" \
    || { bad "a read of the unwatchable kind: $code"; cat "$tmp/out"; echo; }
code=$(gate_api PATCH /apis/stats.example.com/v1/namespaces/shop/usages/web-1 '{"cpu": "1"}')
if [ "$code" = 403 ] && grep -q "aggregated API the gate cannot watch" "$tmp/out" && holds 'ok = C["Usage"].get("patch", 0) == 0'; then
    ok "a write of it is refused 403 by the gate (it cannot be simulated), and never reaches production"
else
    bad "a write of the unwatchable kind: $code"; cat "$tmp/out"; echo
fi

# --- SIGTERM: the gate stops, its log clean
stop_twin "SIGTERM stops the gate within 5 s (open watches and all)"
[ "$failures" -eq 0 ]
