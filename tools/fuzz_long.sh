#!/usr/bin/env bash
# The hostile-input property tests with many more examples than CI runs
# (tests/test_hostile_input.py; 3,000 examples take about half a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
HYPOTHESIS_PROFILE=long python -m pytest tests/test_hostile_input.py -q -p no:cacheprovider "$@"
