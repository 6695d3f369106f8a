#!/usr/bin/env bash
# A representative subset of the tests under valgrind memcheck with Python's
# own allocator off (PYTHONMALLOC=malloc).  Reports invalid reads/writes and
# uses of uninitialised values; Python's, numpy's and OpenBLAS's own noise is
# not gainprop's, so the count that matters is errors with gainprop frames.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
log="${GAINPROP_VALGRIND_LOG:-$(mktemp)}"
py="$(python3 -c 'import sys; print(sys.executable)')"  # the binary, not a shim
cd "$(mktemp -d)"
PYTHONMALLOC=malloc OMP_NUM_THREADS=2 valgrind --tool=memcheck --error-limit=no \
  --num-callers=30 --log-file="$log" \
  "$py" -m pytest -q -p no:cacheprovider "$repo/tests/test_gradients.py" \
    "$repo/tests/test_batch_norm.py" -k "finite_differences or running" "$@" || true
echo "valgrind log: $log"
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
records = re.split(r"\n==\d+== \n", text)
bad = [r for r in records if re.search(r"Invalid (read|write)|uninitialised", r)]
ours = [r for r in bad if re.search(r"gp_|_core\.|gainprop", r)]
print(f"memcheck records with invalid reads/writes or uninitialised values: {len(bad)}, "
      f"with gainprop frames: {len(ours)}")
for r in ours[:5]:
    print(r[:2000])
sys.exit(1 if ours else 0)
PY
