#!/bin/sh
# The scenario corpus on the default policies: zero false allows, every
# explicit expectation met, false denies under 2%; and a bounded fuzz pass
# over the corpus (fixed seeds) with zero violations.
. tests/lib.sh

"$GATE" scenario run scenarios -j 2 --format json >"$tmp/corpus.json"; rc=$?
python3 - "$tmp/corpus.json" <<'PY' >"$tmp/why" 2>&1 && ok "corpus: $(cat "$tmp/why")" || { bad "corpus"; cat "$tmp/why"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["scenarios"] >= 80, "only %d scenarios" % d["scenarios"]
assert d["benign_steps"] >= d["harmful_steps"] * 0.5, "too few benign steps"
bad = [(r["file"], s["index"], s["verdict"], s.get("why_failed")) for r in d["results"] for s in r["steps"]
       if s["false_allow"] or s["expectation_failed"]]
assert d["false_allows"] == 0 and d["expectation_failures"] == 0 and d["errors"] == 0, bad[:10]
assert d["false_denies"] < 0.02 * d["benign_steps"], "false denies %d of %d" % (d["false_denies"], d["benign_steps"])
print("%d scenarios, %d harmful and %d benign steps, 0 false allows, %d false denies"
      % (d["scenarios"], d["harmful_steps"], d["benign_steps"], d["false_denies"]))
PY
[ $rc = 0 ] || bad "corpus run exit code $rc"
steps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"])' "$tmp/corpus.json")
"$GATE" scenario run scenarios --format junit >"$tmp/corpus.xml"
python3 tests/cli/junit_check.py "$tmp/corpus.xml" "$steps" 0 && ok "corpus junit: $steps cases, 0 failures" \
    || bad "corpus junit"

for seed in 1 2 3; do
    "$GATE" scenario fuzz --state fixtures/demo --seed $seed --count 400 scenarios >"$tmp/fuzz" 2>&1; rc=$?
    [ $rc = 0 ] && grep -q " 0 violations" "$tmp/fuzz" && ok "fuzz seed $seed: $(tail -1 "$tmp/fuzz")" \
        || { bad "fuzz seed $seed"; tail -40 "$tmp/fuzz"; }
done
[ "$failures" -eq 0 ]
