# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: `ensure_venv [EXTRA]` makes .venv (python3 >= 3.11)
# and pip-installs driftline into it in editable mode, with the optional EXTRA (e.g. "test").
# The install is skipped while a stamp in .venv matches pyproject.toml, the extra and the Python.

ensure_venv() {
  local extra="${1:-}"
  local root venv python stamp wanted
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.venv"
  python="${PYTHON:-python3}"

  if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    command -v "$python" >/dev/null 2>&1 || { echo "venv: $python not found (need Python >= 3.11)" >&2; return 1; }
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "venv: driftline needs Python >= 3.11, $python is $("$python" -V 2>&1); set PYTHON=..." >&2
      return 1
    fi
    echo "venv: creating $venv with $("$python" -V 2>&1)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi

  stamp="$venv/.driftline-install${extra:+-$extra}"
  wanted="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1) extra=${extra:-none} $("$venv/bin/python" -V 2>&1)"
  # A test install is a superset of the plain and the demo one (the test extra includes the demo extra).
  if [ "$extra" != "test" ] && [ "$(cat "$venv/.driftline-install-test" 2>/dev/null)" = "${wanted/extra=${extra:-none}/extra=test}" ]; then
    return 0
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  echo "venv: pip install -e '.${extra:+[$extra]}' (pyproject.toml changed or first run)"
  # The grep drops pip's notes about local index folders that this machine's pip.conf names.
  "$venv/bin/python" -m pip install -q -e "$root${extra:+[$extra]}" </dev/null 2>&1 |
    { grep -v "^WARNING: Location 'file:.*' is ignored" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  echo "$wanted" >"$stamp"
}
