#!/usr/bin/env bash
# One-time (and idempotent) machine set-up for a fresh Debian box with Node + npm, as root:
# apt packages (compiler, cmake, OpenBLAS, WordNet data), Deno from the npm package `deno`
# (pinned in package.json), then the native build. Fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
for p in $(grep -v '^#' scripts/apt-packages.txt 2>/dev/null || true); do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || apt-get update
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# npm side (Deno itself, the image codecs, Node types): reinstall when package.json changed
if [ ! -x node_modules/.bin/deno ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package.json -nt node_modules/.package-lock.json ] || ! node_modules/.bin/deno --version >/dev/null 2>&1; then
  echo "setup: installing npm packages (Deno, codecs)"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
bash scripts/build.sh
