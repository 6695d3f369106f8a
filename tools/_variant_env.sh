# Sourced by tools/sanitize.sh and tools/cython_checks.sh: build a variant of
# gainprop into a virtual environment of its own that sees the packages of the
# Python environment the script is started from (`python`, or $PYTHON) through
# a .pth file, after its own.  Usage: variant_env WORK_DIR [pip -C options...];
# sets `own_site` (the variant venv's site-packages) and leaves it activated.
variant_env() {
  local work=$1 py="${PYTHON:-python}" parent_site
  shift
  command -v "$py" >/dev/null || py=python3
  parent_site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$py" -m venv "$work/venv"
  # shellcheck disable=SC1091
  . "$work/venv/bin/activate"
  own_site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$parent_site" >"$own_site/_gainprop_parent_env.pth"
  local build_tools=("scikit-build-core>=0.10" "cython>=3.0.10")
  command -v cmake >/dev/null || build_tools+=(cmake)
  command -v ninja >/dev/null || build_tools+=(ninja)
  pip install --quiet "${build_tools[@]}"
  pip install --quiet --no-deps --no-build-isolation "$repo" -Cbuild-dir="$work/build" "$@"
}
