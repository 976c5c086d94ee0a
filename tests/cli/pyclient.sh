#!/bin/sh
# The official Kubernetes Python client (Debian's python3-kubernetes, which
# many agent frameworks call Kubernetes with) against the gate in twin mode,
# as the agent ops-bot: tests/cli/pyclient.py lists every kind the twin
# serves through the typed API into the client's models (which refuse an
# object missing a required field), reads, watches, mutates (create, patch,
# replace, delete, scale, dry run), evicts, reads a log, meets refusals as
# ApiException with Airlock's reason, and asks the self reviews; it prints
# one ok / not ok line per check. Then the gate must still answer, stop on
# SIGTERM and have no sanitizer report in its log.  With PY_MODE=enforce
# (pyclient_enforce.sh) the same through the gate in enforce mode, in front
# of a production that is a second gate in twin mode (tests/lib.sh
# serve_enforce).
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed"; exit 1; }
command -v curl >/dev/null || { echo "not ok curl is not installed"; exit 1; }
# Debian's python3 and its python3-kubernetes, whatever python is first on PATH
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null \
    || { echo "not ok python3-kubernetes is not installed (tests/deps.sh test installs it)"; exit 1; }

port=$((20000 + ($$ + 19) % 20000))
if [ "${PY_MODE:-twin}" = enforce ]; then serve_enforce $port; else serve_twin $port; fi

# bounded: a hung call or watch fails the test rather than holding it
timeout 120 /usr/bin/python3 tests/cli/pyclient.py "$KUBECONFIG" >"$tmp/py.out" 2>&1
rc=$?
cat "$tmp/py.out"
n=$(grep -c '^not ok' "$tmp/py.out")
failures=$((failures + n))
# the timeout, or a crash after the lines it printed: one failure more
if [ "$rc" -eq 124 ]; then bad "pyclient.py did not finish within 120 s"
elif [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then bad "pyclient.py ended with status $rc and no failed check"
fi
[ "$(grep -c '^ok ' "$tmp/py.out")" -ge 1 ] || bad "pyclient.py made no check"

token=$(sed -n 's/^ *token: //p' "$KUBECONFIG")
code=$(curl -s --cacert "$tmp/data/tls.crt" -m 10 -o "$tmp/body" -w '%{http_code}' \
    -H "Authorization: Bearer $token" "https://127.0.0.1:$port/version")
[ "$code" = 200 ] && grep -q '"gitVersion":"v1.32' "$tmp/body" \
    && ok "the gate still answers /version after all of it" || { bad "/version after the client ($code)"; cat "$tmp/body"; }
stop_twin "SIGTERM stops the server"
stop_production
[ "$failures" -eq 0 ]
