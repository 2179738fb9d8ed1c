#!/usr/bin/env bash
# The test command: system packages, .venv, then pytest. Arguments go to pytest.
# Exits non-zero when pytest fails, and when it ran no test (nothing collected, all skipped/deselected).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-system-deps.sh
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv test

output="$(mktemp)"
trap 'rm -f "$output"' EXIT
color=()
if [ -t 1 ]; then color=(--color=yes); fi

set +e
# Tests spend most of their time waiting on real servers and worker subprocesses, so three
# xdist workers finish well under half the serial time on 2 cores; each starts its own servers.
# DRIFTLINE_TEST_WORKERS=0 runs them in this process.
.venv/bin/python -m pytest -n "${DRIFTLINE_TEST_WORKERS:-3}" "${color[@]}" "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
set -e

if [ "$status" -eq 0 ]; then
  summary="$(sed 's/\x1b\[[0-9;]*m//g' "$output" | grep -E ' in [0-9.]+s( \([0-9:]+\))? ?=*$' | tail -n 1 || true)"
  if grep -qE 'no tests ran|skipped|deselected' <<<"$summary" && ! grep -qE '[0-9]+ (passed|xfailed|xpassed)' <<<"$summary"; then
    echo "test.sh: pytest ran no test ($summary)" >&2
    exit 5
  fi
fi
exit "$status"
