#!/usr/bin/env bash
# Build the Cython modules with boundscheck, wraparound and initializedcheck on
# (GAINPROP_CYTHON_CHECKS=ON) into a separate virtual environment and run the
# test suite against that build.  See docs/RELIABILITY.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${GAINPROP_CHECKS_DIR:-$(mktemp -d)}"
python3 -m venv --system-site-packages "$work/venv"
. "$work/venv/bin/activate"
pip install --quiet --no-build-isolation "$repo" \
  -Cbuild-dir="$work/build" -Ccmake.define.GAINPROP_CYTHON_CHECKS=ON
grep -q "boundscheck=True" "$work/build/CMakeCache.txt" || grep -rq "boundscheck" \
  "$work/build"/CMakeFiles/*.dir/build.make 2>/dev/null || true
cd "$work"
python -m pytest "$repo/tests" -q -p no:cacheprovider "$@"
