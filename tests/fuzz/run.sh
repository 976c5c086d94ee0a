#!/bin/sh
# make fuzz: builds every libFuzzer target in tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for a bounded time.
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   which targets (default "yaml import action patch protobuf selector agents journal aws_query aws_xml sigv4 aws_action")
#   FUZZ_TIMEOUT   seconds after which one input counts as a hang (default 25)
#   CLANG          the compiler (default clang)
#
# The project's sources (twin/*.c, gate/*.c but gate/cmd/main.c) are compiled
# with clang and coverage instrumentation into build/fuzz/obj/ and linked
# into each fuzzer, build/fuzz/fuzz_<target>.  Each run starts from
# build/fuzz/corpus-<target>/, seeded from tests/fuzz/corpus/<target>/;
# new inputs stay there, never in the repository, and later runs go on from
# them (rm -rf build/fuzz starts again from the seeds).  A crash, leak, hang,
# sanitizer report or violated invariant leaves its input in
# build/fuzz/artifacts-<target>/ and fails the run; to keep it as a seed,
# copy it into tests/fuzz/corpus/<target>/ (make test replays the seeds).
#
# tests/fuzz/<target>.dict, when there is one, is passed as -dict.
#
# Prints one line per target: executions, executions per second, coverage
# (libFuzzer's cov: edges and ft: features), corpus size and duration.
set -u
cd "$(dirname "$0")/../.." || exit 2

SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"yaml import action patch protobuf selector agents journal aws_query aws_xml sigv4 aws_action"}
HANG=${FUZZ_TIMEOUT:-25}
CLANG=${CLANG:-clang}
OUT=build/fuzz
PKGS="sqlite3 jansson lua5.4 yaml-0.1 libgit2 gnutls"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found (make deps installs clang)" >&2
    exit 2
fi
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || exit 2
PKG_LIBS=$(pkg-config --libs $PKGS) || exit 2
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter
        -g -O1 -fno-omit-frame-pointer $SAN -I. -Itwin $PKG_CFLAGS"

mkdir -p "$OUT/obj"
probe="$OUT/probe"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe.c" -o "$probe" 2>"$probe.log"; then
    cat "$probe.log" >&2
    echo "fuzz: $CLANG cannot link libFuzzer (-fsanitize=fuzzer): install libclang-rt-14-dev" >&2
    exit 2
fi

# The project's layers the targets reach (the twin, the engine, the
# Kubernetes adapter, operator state, the base, the report), once for all targets, in
# parallel, into an archive: each target links only what it uses.
SRCS=$(ls twin/*.c gate/engine/*.c gate/kube/*.c gate/ops/*.c gate/base/*.c gate/aws/*.c gate/cmd/report.c)
echo "fuzz: compiling $(echo "$SRCS" | wc -l) sources with $CLANG"
for s in $SRCS; do echo "$s"; done |
    xargs -P "$(nproc 2>/dev/null || echo 4)" -I{} sh -c \
        'o="$1/obj/$(echo "$2" | tr / _).o"; '"$CLANG"' $3 -fsanitize=fuzzer-no-link -c "$2" -o "$o"' \
        sh "$OUT" {} "$CFLAGS" || exit 1
OBJS=$(for s in $SRCS; do echo "$OUT/obj/$(echo "$s" | tr / _).o"; done)
rm -f "$OUT/libproject.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libproject.a" $OBJS || exit 1

# libFuzzer runs a leak check after every input whose mallocs and frees do
# not balance (the Lua state of the policies collects garbage lazily, so
# most actions), and that check walks ASan's quarantine too: a smaller
# quarantine makes fuzz_action several times faster.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=8}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=""
summary=""
for t in $TARGETS; do
    src=tests/fuzz/fuzz_$t.c
    if [ ! -f "$src" ] || [ ! -d "tests/fuzz/corpus/$t" ]; then
        echo "fuzz: no target $t ($src and tests/fuzz/corpus/$t/)" >&2
        failed="$failed $t"
        continue
    fi
    bin="$OUT/fuzz_$t"
    # shellcheck disable=SC2086
    if ! "$CLANG" $CFLAGS -fsanitize=fuzzer -DFUZZ_LIBFUZZER "$src" "$OUT/libproject.a" -o "$bin" $PKG_LIBS -lm \
            -lpthread; then
        failed="$failed $t"
        continue
    fi
    corpus="$OUT/corpus-$t"
    artifacts="$OUT/artifacts-$t"
    mkdir -p "$corpus" "$artifacts"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/
    # tests/fuzz/<target>.dict holds tokens the mutator splices in (import
    # reads manifests: it shares the YAML one)
    dict=tests/fuzz/$t.dict
    [ "$t" = import ] && dict=tests/fuzz/yaml.dict
    dictopt=""
    [ -f "$dict" ] && dictopt="-dict=$dict"
    log="$OUT/fuzz_$t.log"
    echo "fuzz: $t for ${SECONDS_EACH}s (log $log)"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" "$corpus" $dictopt -max_total_time="$SECONDS_EACH" -timeout="$HANG" -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1)
    line="$t: ${execs:-?} execs, ${rate:-?}/s, ${cov:-no coverage line}, ${secs}s"
    if [ "$rc" -ne 0 ]; then
        line="$line: FAILED (exit $rc)"
        failed="$failed $t"
        grep -E 'ERROR|invariant violated|runtime error|Test unit written' "$log" | head -5
    fi
    echo "  $line"
    summary="$summary
  $line"
done

echo
echo "fuzz summary:$summary"
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (inputs in $OUT/artifacts-<target>/)"
    exit 1
fi
