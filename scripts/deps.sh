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
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "voxgate: installing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "voxgate: run as root or install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
