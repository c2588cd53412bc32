#!/usr/bin/env bash
# Installs the Debian packages voxgate needs, once: `deps.sh run` for the
# service, `deps.sh test` for the test suite as well. Packages already present
# are left alone; apt-get update runs at most once.
set -euo pipefail

run_pkgs=(ffmpeg libpocketsphinx-dev pocketsphinx-en-us gcc pkg-config)
test_pkgs=(sox libsox-fmt-all espeak-ng chromium)

want=("${run_pkgs[@]}")
if [ "${1:-run}" = test ]; then
  want+=("${test_pkgs[@]}")
  # Node.js runs the third-party JavaScript verifiers the tests check
  # voxgate against (internal/nodetest); a node already on the PATH (for
  # instance from NodeSource, which bundles npm) is used as it is.
  command -v node >/dev/null || want+=(nodejs)
  command -v npm >/dev/null || want+=(npm)
  # The PostgreSQL tests need a server to start a throwaway cluster with
  # (scripts/with-postgres.sh); Debian's package unless one is on the PATH.
  command -v initdb >/dev/null || want+=(postgresql)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "voxgate: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "voxgate: run as root or install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages of internal/nodetest (standardwebhooks, jose), exactly
# as package-lock.json pins them, reinstalled only when the lock changed.
if [ "${1:-run}" = test ]; then
  dir="$(dirname "$0")/../internal/nodetest"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "voxgate: installing the npm packages of internal/nodetest" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
