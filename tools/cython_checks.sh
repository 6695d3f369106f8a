#!/usr/bin/env bash
# Build the Cython modules with boundscheck, wraparound and initializedcheck on
# (GAINPROP_CYTHON_CHECKS=ON) into a separate virtual environment that sees the
# current environment's packages (tools/_variant_env.sh), and run the test suite
# against that build.  Extra arguments go to pytest.  See docs/RELIABILITY.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${GAINPROP_CHECKS_DIR:-$(mktemp -d)}"
# shellcheck source=tools/_variant_env.sh
. "$repo/tools/_variant_env.sh"
variant_env "$work" -Ccmake.define.GAINPROP_CYTHON_CHECKS=ON
grep -q "GAINPROP_CYTHON_CHECKS:BOOL=ON" "$work/build/CMakeCache.txt" || {
  echo "cython_checks: the build did not turn the checks on" >&2; exit 1; }
cd "$work"
python -m pytest "$repo/tests" -q -p no:cacheprovider "$@"
