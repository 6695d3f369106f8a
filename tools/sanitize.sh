#!/usr/bin/env bash
# Build gainprop with AddressSanitizer + UndefinedBehaviorSanitizer (gcc's
# libasan/libubsan) into a separate virtual environment and run the whole test
# suite under it.  Any report fails the run.  See docs/RELIABILITY.md.
#
# The run uses the Python environment it is started from (`python`, or
# $PYTHON): the sanitized venv sees that environment's packages (the test
# dependencies, installed there as the README says) through a .pth file, and
# holds only the instrumented gainprop and the two build tools it needs.
# Extra arguments go to pytest.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${GAINPROP_SANITIZE_DIR:-$(mktemp -d)}"
# shellcheck source=tools/_variant_env.sh
. "$repo/tools/_variant_env.sh"
variant_env "$work" -Ccmake.define.GAINPROP_SANITIZE=ON -Ccmake.define.CMAKE_BUILD_TYPE=RelWithDebInfo
# (found by path: importing it would load the instrumented library without
# the sanitizer runtime preloaded)
so="$(find "$own_site/gainprop" -name '_core*.so' -print -quit)"
[ -n "$so" ] || { echo "sanitize: no gainprop/_core*.so in $own_site" >&2; exit 1; }
# Whole outputs are captured before grep -q: under pipefail, a writer cut off
# by grep's early exit (SIGPIPE) would fail the check at random.
symbols="$(nm -D "$so")"
grep -q __asan <<<"$symbols" || {
  echo "sanitize: the extension is not instrumented" >&2; exit 1; }
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
cd "$work"
# Python and numpy allocate and never free some memory on purpose: leaks are
# not what this run looks for; any other report aborts the process.
# GAINPROP_SANITIZED tells the tests that need a real address-space limit
# (ASan reserves terabytes of shadow memory) to skip.
export GAINPROP_SANITIZED=1
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONMALLOC=malloc
# Left out: the resident-memory tests (ASan's quarantine and shadow memory keep
# and add memory by design) and the benchmark smoke test (it times subprocesses).
set +e
LD_PRELOAD="$asan:$ubsan" python -m pytest "$repo/tests" -q -p no:cacheprovider -x \
  -k "not thousand_fit_predict_cycles and not peak_memory" \
  --ignore "$repo/tests/test_bench_quick.py" "$@" >"$work/sanitize.log" 2>&1
status=$?
set -e
tail -n 15 "$work/sanitize.log"
reports="$(grep -cE "ERROR: AddressSanitizer|runtime error:" "$work/sanitize.log" || true)"
echo "sanitize: pytest exit status $status, $reports sanitizer reports (log: $work/sanitize.log)"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
