#!/bin/sh
# gate audit log|show|verify on the log gate serve writes: the decisions of
# a kubectl session read back, the repository read with plain git, and the
# chain checked after tampering done with plain git (a record edited, one
# removed, two swapped, the last one cut off).
. tests/lib.sh
command -v kubectl >/dev/null || { echo "not ok kubectl is not installed (tests/deps.sh installs kubernetes-client)"; exit 1; }
command -v git >/dev/null || { echo "not ok git is not installed"; exit 1; }

expect_rc() {  # name want-rc cmd...: stdout in $tmp/out, stderr in $tmp/err
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if grep -q "Sanitizer\|runtime error" "$tmp/err"; then bad "$name: sanitizer report"; cat "$tmp/err"
    elif [ "$rc" = "$want" ]; then ok "$name"
    else bad "$name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err"; fi
}

# ---- usage and unreadable logs -------------------------------------------
expect_rc "audit without a subcommand: usage, exit 3" 3 "$GATE" audit
grep -q "usage: gate audit log" "$tmp/err" && ok "usage printed" || bad "usage printed"
expect_rc "audit --help exits 0" 0 "$GATE" audit --help
expect_rc "unknown subcommand: exit 3" 3 "$GATE" audit frobnicate
grep -q "unknown subcommand frobnicate" "$tmp/err" && ok "unknown subcommand named" || bad "unknown subcommand named"
expect_rc "an option of another subcommand: exit 3" 3 "$GATE" audit verify --agent ops-bot
grep -q -- "--agent is not an option of .gate audit verify" "$tmp/err" && ok "misplaced option named" || bad "misplaced option named"
expect_rc "a missing log: exit 3" 3 "$GATE" audit log --data-dir "$tmp/none"
grep -q "$tmp/none/audit" "$tmp/err" && ok "the missing log's path is named" || { bad "missing log path"; cat "$tmp/err"; }
expect_rc "verify of a missing log: exit 3" 3 "$GATE" audit verify --audit-repo "$tmp/none"
expect_rc "--data-dir and --audit-repo together: exit 3" 3 "$GATE" audit log --data-dir "$tmp" --audit-repo "$tmp"

# ---- a session recorded by the server ------------------------------------
port=$((20000 + $$ % 20000))
serve_twin $port
k scale deployment cart -n shop --replicas=3 >"$tmp/k1" 2>&1 || { bad "scale"; cat "$tmp/k1"; }
k delete namespace payments >"$tmp/k2" 2>&1
k scale deployment checkout -n shop --replicas=200 >"$tmp/k3" 2>&1
approval=$(sed -n 's/.*approval id \([0-9a-f]*\).*/\1/p' "$tmp/k3")
[ -n "$approval" ] && ok "a review with an approval id" || { bad "review"; cat "$tmp/k3"; }
stop_twin "SIGTERM stops the server"

data=$tmp/data
repo=$data/audit
[ -s "$data/audit.key" ] && [ "$(stat -c %a "$data/audit.key")" = 600 ] && ok "key made 0600 beside the log" || bad "audit key"

expect_rc "audit log" 0 "$GATE" audit log --data-dir "$data"
head -1 "$tmp/out" | grep -q "^ *1  [0-9-]*T[0-9:]*Z  start " && ok "the log opens with the start record" || { bad "start record"; cat "$tmp/out"; }
grep -q "decision  allow .*ops-bot .*shop/cart" "$tmp/out" && ok "the allowed scale is listed" || { bad "allowed scale"; cat "$tmp/out"; }
grep -q "decision  deny .*ops-bot .*payments.*denied by blast-radius" "$tmp/out" && ok "the denial is listed with its message" || { bad "denial"; cat "$tmp/out"; }
grep -q "decision  review .*shop/checkout.*approval $approval" "$tmp/out" && ok "the review is listed with its approval id" || { bad "review listed"; cat "$tmp/out"; }
n=$(wc -l <"$tmp/out")

expect_rc "audit log --verdict deny --format json" 0 "$GATE" audit log --data-dir "$data" --verdict deny --format json
python3 - "$tmp/out" <<'PY' && ok "json: only denials, each with its commit" || { bad "json denials"; cat "$tmp/out"; }
import json, sys
recs = json.load(open(sys.argv[1]))
assert recs and all(r["verdict"] == "deny" and len(r["commit"]) == 40 for r in recs), recs
assert any(r["request"]["path"].startswith("/api/v1/namespaces/payments") for r in recs)
PY
expect_rc "audit log --agent nobody" 0 "$GATE" audit log --data-dir "$data" --agent nobody
[ ! -s "$tmp/out" ] && ok "no record of an unknown agent" || bad "agent filter"
expect_rc "audit log --type decision --since 1h" 0 "$GATE" audit log --data-dir "$data" --type decision --since 1h
[ -s "$tmp/out" ] && ! grep -q " start " "$tmp/out" && ok "type and since filters" || { bad "type/since filter"; cat "$tmp/out"; }
expect_rc "audit log --since the future" 0 "$GATE" audit log --data-dir "$data" --since 2100-01-01T00:00:00Z
[ ! -s "$tmp/out" ] && ok "nothing after 2100" || bad "since the future"
expect_rc "a bad --since: exit 3" 3 "$GATE" audit log --data-dir "$data" --since yesterday

expect_rc "audit show 1" 0 "$GATE" audit show 1 --data-dir "$data"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["type"]=="start" and r["seq"]==1 and r["prev"]=="" and "state.json" in r["attachments"]' "$tmp/out" \
    && ok "show by seq: the start record, its state attached" || { bad "show 1"; cat "$tmp/out"; }
"$GATE" audit log --data-dir "$data" --verdict deny --format json >"$tmp/deny.json"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$tmp/deny.json")
commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["commit"][:10])' "$tmp/deny.json")
expect_rc "audit show ID" 0 "$GATE" audit show "$id" --data-dir "$data"
grep -q "\"verdict\": \"deny\"" "$tmp/out" && ok "show by id" || bad "show by id"
expect_rc "audit show COMMIT-PREFIX" 0 "$GATE" audit show "$commit" --audit-repo "$repo"
grep -q "\"id\": \"$id\"" "$tmp/out" && ok "show by commit prefix" || bad "show by commit prefix"
expect_rc "audit show of no record: exit 1" 1 "$GATE" audit show 99999 --data-dir "$data"

# plain git reads the log
git -C "$repo" log --oneline >"$tmp/git.log" 2>&1 && [ "$(wc -l <"$tmp/git.log")" = "$n" ] \
    && ok "git log lists every record" || { bad "git log"; cat "$tmp/git.log"; }
grep -q "deny ops-bot DELETE /api/v1/namespaces/payments" "$tmp/git.log" && ok "git log's summary line" || { bad "git summary"; cat "$tmp/git.log"; }
git -C "$repo" log -1 --format=%B | grep -q "^record-sha256: [0-9a-f]\{64\}$" && git -C "$repo" log -1 --format=%B | grep -q "^record-hmac: " \
    && ok "the commit message carries the hash and the MAC" || bad "hash and MAC lines"
git -C "$repo" show main:record.json | python3 -c 'import json,sys; json.load(sys.stdin)' && ok "git show main:record.json is JSON" || bad "git show record.json"

expect_rc "audit verify" 0 "$GATE" audit verify --data-dir "$data"
grep -q "^audit: $n records, chain intact$" "$tmp/out" && grep -q "MACs checked" "$tmp/out" && ok "verify: chain intact, MACs checked" || { bad "verify intact"; cat "$tmp/out"; }
expect_rc "audit verify --audit-repo" 0 "$GATE" audit verify --audit-repo "$repo"
grep -q "MACs not checked (no key: give --data-dir or --key)" "$tmp/out" && ok "verify without the key says so" || { bad "no key"; cat "$tmp/out"; }
expect_rc "audit verify --audit-repo --key" 0 "$GATE" audit verify --audit-repo "$repo" --key "$data/audit.key"
expect_rc "audit verify --format json" 0 "$GATE" audit verify --data-dir "$data" --format json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["macs_checked"] and r["problems"]==[]' "$tmp/out" && ok "verify json report" || bad "verify json"

# ---- tampering with plain git --------------------------------------------
# rebuild REPO "SEQS" [EDIT]: main made again, with plain git, of the
# commits of those seqs (1-based, in that order), keeping trees, messages,
# authors and dates; the record of seq EDIT gets verdict allow instead of
# deny (its hash in the message left as it was)
rebuild() {
    _r=$1; _seqs=$2; _edit=${3:-0}; _parent=""
    git -C "$_r" rev-list --reverse --first-parent main >"$tmp/commits"
    for _s in $_seqs; do
        _c=$(sed -n "${_s}p" "$tmp/commits")
        _tree=$(git -C "$_r" rev-parse "$_c^{tree}")
        if [ "$_s" = "$_edit" ]; then
            _blob=$(git -C "$_r" cat-file blob "$_c:record.json" | sed 's/"verdict":"deny"/"verdict":"allow"/' | git -C "$_r" hash-object -w --stdin)
            _tree=$(git -C "$_r" ls-tree "$_c" | awk -v b="$_blob" 'BEGIN { FS = OFS = "\t" } $2 == "record.json" { split($1, m, " "); $1 = m[1] " " m[2] " " b } { print }' | git -C "$_r" mktree)
        fi
        git -C "$_r" log -1 --format=%B "$_c" >"$tmp/msg"
        _parent=$(GIT_AUTHOR_NAME=airlock GIT_AUTHOR_EMAIL=airlock@localhost GIT_COMMITTER_NAME=airlock \
            GIT_COMMITTER_EMAIL=airlock@localhost GIT_AUTHOR_DATE="$(git -C "$_r" log -1 --format=%ad --date=raw "$_c")" \
            GIT_COMMITTER_DATE="$(git -C "$_r" log -1 --format=%cd --date=raw "$_c")" \
            git -C "$_r" commit-tree "$_tree" ${_parent:+-p "$_parent"} -F "$tmp/msg")
    done
    git -C "$_r" update-ref refs/heads/main "$_parent"
}
# the seqs 1..N with `drop` left out and `a`, `b` swapped
seqs() {  # seqs N DROP A B
    _i=1; _out=""
    while [ $_i -le "$1" ]; do
        if [ $_i = "$2" ]; then :
        elif [ $_i = "$3" ]; then _out="$_out $4"
        elif [ $_i = "$4" ]; then _out="$_out $3"
        else _out="$_out $_i"; fi
        _i=$((_i + 1))
    done
    echo "$_out"
}
dseq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["seq"])' "$tmp/deny.json")
[ "$dseq" -gt 1 ] && [ "$dseq" -lt "$n" ] || { bad "the denial is not in the middle of the log (seq $dseq of $n)"; exit 1; }

cp -R "$data" "$tmp/edited"
rebuild "$tmp/edited/audit" "$(seqs "$n" 0 0 0)" "$dseq"
expect_rc "verify an edited record: exit 1" 1 "$GATE" audit verify --data-dir "$tmp/edited"
grep -q "record $dseq (commit [0-9a-f]*): record.json was edited" "$tmp/out" && ok "the edited record is named" || { bad "edited named"; cat "$tmp/out"; }
expect_rc "verify an edited record without the key: exit 1" 1 "$GATE" audit verify --audit-repo "$tmp/edited/audit"

cp -R "$data" "$tmp/removed"
rebuild "$tmp/removed/audit" "$(seqs "$n" "$dseq" 0 0)"
expect_rc "verify with a record removed: exit 1" 1 "$GATE" audit verify --data-dir "$tmp/removed"
grep -q "record $dseq is missing (removed)" "$tmp/out" && ok "the removed record is named" || { bad "removed named"; cat "$tmp/out"; }

cp -R "$data" "$tmp/swapped"
rebuild "$tmp/swapped/audit" "$(seqs "$n" 0 "$dseq" $((dseq + 1)))"
expect_rc "verify with two records swapped: exit 1" 1 "$GATE" audit verify --data-dir "$tmp/swapped"
grep -q "records out of order" "$tmp/out" && ok "the reordering is named" || { bad "reorder named"; cat "$tmp/out"; }

cp -R "$data" "$tmp/cut"
git -C "$tmp/cut/audit" update-ref refs/heads/main main~1
expect_rc "verify with the last record cut off: exit 1" 1 "$GATE" audit verify --data-dir "$tmp/cut"
grep -q "records were cut off the end" "$tmp/out" && ok "the cut is named (from the tip file)" || { bad "cut named"; cat "$tmp/out"; }
expect_rc "gate serve refuses to append to a cut log" 3 timeout 60 "$GATE" serve --listen 127.0.0.1:$((port + 1)) --data-dir "$tmp/cut"
grep -q "cut off the end" "$tmp/err" && ok "serve names the cut" || { bad "serve on a cut log"; cat "$tmp/err"; }

[ "$failures" -eq 0 ]
