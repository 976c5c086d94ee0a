# Shared by the command-line tests in tests/cli/: a scratch directory,
# ok/bad reporting (one line each, counted by tests/run.sh), and the
# server stopper. Sourced with `. tests/lib.sh` from the repository root.
GATE=${1:-bin/gate}
tmp=$(mktemp -d)
failures=0
ok() { echo "ok $1"; }
bad() { echo "not ok $1"; failures=$((failures + 1)); }
# servers started by a test; killed when it ends, however it ends
servers=""
trap 'kill $servers 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
# sanitizer_clean LOG...: a bad line for each log holding a sanitizer report
sanitizer_clean() {
    for l in "$@"; do
        if grep -q "Sanitizer\|runtime error" "$l"; then bad "sanitizer report in $(basename "$l")"; cat "$l"
        else ok "no sanitizer report in $(basename "$l")"; fi
    done
}
