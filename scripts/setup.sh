#!/usr/bin/env bash
# One-time (and idempotent) machine set-up for a fresh Debian box with Node + npm, as root:
# apt packages (compiler, cmake, OpenBLAS, WordNet data, Chromium for the serve page test), Deno from the npm package `deno`
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
# Deno from the npm package `deno`, pinned here, installed into .tools/ (git-ignored). It must
# stay out of the project's node_modules/.bin: `deno task` runs bins found there as scripts.
DENO_VERSION=2.9.6
if [ "$(.tools/deno --version 2>/dev/null | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  echo "setup: installing Deno $DENO_VERSION from npm into .tools/"
  mkdir -p .tools
  npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >/dev/null
  # the package's postinstall puts the native binary at node_modules/deno/deno; the bin shim
  # (node + bin.cjs) is the fallback where install scripts did not run
  for bin in "$PWD/.tools/node_modules/deno/deno" "$PWD/.tools/node_modules/.bin/deno"; do
    if "$bin" --version >/dev/null 2>&1; then ln -sf "$bin" .tools/deno; break; fi
  done
  .tools/deno --version >/dev/null || { echo "setup: Deno did not install" >&2; exit 1; }
fi
# the project's npm packages (codecs, Node types): reinstall when package.json changed
if [ ! -f node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
bash scripts/build.sh
