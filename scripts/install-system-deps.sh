#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo run, only those that are missing.
# Used by .ci/run and scripts/test.sh. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(clickhouse-server clickhouse-client zookeeper prometheus prometheus-alertmanager chromium)

say() { echo "install-system-deps: $*"; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  say "not a Debian system; make sure these are installed: ${packages[*]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$package")
  fi
done
# Debian's own python3 needs python3-venv for `python3 -m venv`.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  say "all present (${packages[*]})"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    say "missing ${missing[*]}; run as root: apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

say "installing ${missing[*]}"
started=$SECONDS
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
say "installed ${missing[*]} in $((SECONDS - started))s"
