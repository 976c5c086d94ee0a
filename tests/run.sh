#!/bin/sh
# Runs every test of the project against the binaries in BUILD (given by the
# Makefile): the cmocka unit and end-to-end tests, the CLI tests, and the
# fuzz targets' seed corpora.  Prints one closing line "N passed, N failed"
# and fails if anything failed, or if nothing ran.
BUILD=${1:-build/san}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {  # adds the cmocka summary of $log to the totals
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if timeout 900 "$t" >"$log" 2>&1; then
        count
        echo "ok   $name ($(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1) tests)"
    else
        count
        # a crash or a sanitizer report counts as a failure even if cmocka said nothing
        grep -q '^\[  FAILED  \]' "$log" || fail=$((fail + 1))
        echo "FAIL $name"
        cat "$log"
    fi
done

for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    # bounded: a test that hangs fails rather than holding CI
    if timeout 900 sh "$s" "$BUILD/bin/gate" >"$log" 2>&1; then
        n=$(grep -c '^ok ' "$log")
        pass=$((pass + n))
        echo "ok   $(basename "$s") ($n checks)"
    else
        n=$(grep -c '^ok ' "$log")
        pass=$((pass + n))
        fail=$((fail + 1))
        echo "FAIL $(basename "$s")"
        cat "$log"
    fi
done

if [ -x "$BUILD/tests/fuzz_replay" ]; then
    for dir in tests/fuzz/corpus/*; do
        [ -d "$dir" ] || continue
        target=$(basename "$dir")
        if "$BUILD/tests/fuzz_replay" "$target" "$dir"/* >"$log" 2>&1; then
            pass=$((pass + 1))
            echo "ok   fuzz seeds $target ($(ls "$dir" | wc -l) inputs)"
        else
            fail=$((fail + 1))
            echo "FAIL fuzz seeds $target"
            cat "$log"
        fi
    done
fi

echo
if [ $((pass + fail)) -eq 0 ]; then
    echo "no tests ran"
    exit 1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
