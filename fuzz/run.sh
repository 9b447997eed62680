#!/bin/sh
# Fuzzes one target for a set time with libFuzzer (clang 14).
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
#   fuzz/run.sh list
#
# Builds the whole tree with clang, ASan+UBSan and coverage instrumentation
# (-fsanitize=fuzzer-no-link) in $MLC_FUZZ_BUILD (default /tmp/mlc-fuzz-build),
# then runs fuzz_TARGET on a scratch copy of fuzz/corpus/TARGET so that the
# seed corpus in the tree stays small. New inputs that reach new code are
# left in $MLC_FUZZ_BUILD/corpus/TARGET (merge by hand the ones worth
# keeping); a crash input is written to $MLC_FUZZ_BUILD/crash-* and the
# command exits non-zero. The last line of the log (stderr) states the
# executions: "Done N runs in S second(s)".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${MLC_FUZZ_BUILD:-/tmp/mlc-fuzz-build}

if [ "${1:-}" = list ] || [ $# -lt 2 ]; then
	echo "usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags]; targets:"
	for d in "$here"/corpus/*/; do echo "  $(basename "$d")"; done
	[ "${1:-}" = list ]; exit $?
fi
target=$1 secs=$2
shift 2
[ -f "$here/fuzz_$target.c" ] || { echo "fuzz/run.sh: no target '$target'" >&2; exit 2; }

if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S "$src" -B "$build" -DMLC_SANITIZE=ON -DMLC_WERROR=OFF \
	    -DMLC_FUZZ=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
fi
cmake --build "$build" -j"${MLC_FUZZ_JOBS:-2}" --target "fuzz_$target" >/dev/null

mkdir -p "$build/corpus/$target" "$build/artifacts"
cp -n "$here/corpus/$target"/* "$build/corpus/$target/" 2>/dev/null || true
cd "$build/artifacts"
# detect_leaks: every parser frees what it allocates; a leak is a finding.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
exec "$build/fuzz/fuzz_$target" -max_total_time="$secs" -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 "$@" "$build/corpus/$target"
