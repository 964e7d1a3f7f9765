#!/usr/bin/env bash
# Point METEOR's resource overrides at METEOR 1.5's own files, in one step:
#   eval "$(bash scripts/meteor_resources.sh PATH_TO_METEOR)"
# PATH_TO_METEOR is a cmu-mtlab/meteor checkout (work tree), or its bare git directory, whose
# resources/function/english.words and resources/synonym/english.{exceptions,synsets} are
# used. Nothing is copied into this repository: a work tree is used in place; from a bare git
# directory the three files are extracted to ${FT_METEOR_CACHE:-~/.cache/forgerytalker/meteor}.
# Prints the two `export` lines (FT_METEOR_FUNCTION_WORDS, FT_METEOR_SYNONYM_DIR) on stdout.
# Then `.tools/deno run --allow-read --allow-env src/eval/meteor/resource_diff.ts` compares
# them with our substitutes (docs/eval.md).
set -euo pipefail
src=${1:?usage: eval "\$(bash scripts/meteor_resources.sh PATH_TO_METEOR_CHECKOUT)"}
files=(function/english.words synonym/english.exceptions synonym/english.synsets)

if [ -f "$src/resources/function/english.words" ]; then
  res=$(cd "$src/resources" && pwd)
elif git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  res=${FT_METEOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/forgerytalker/meteor}
  mkdir -p "$res/function" "$res/synonym"
  for f in "${files[@]}"; do
    git -C "$src" show "HEAD:resources/$f" >"$res/$f.tmp"
    mv "$res/$f.tmp" "$res/$f"
  done
else
  echo "meteor_resources.sh: $src is neither a METEOR work tree (no resources/function/english.words) nor a git directory" >&2
  exit 1
fi
for f in "${files[@]}"; do
  if [ ! -s "$res/$f" ]; then
    echo "meteor_resources.sh: missing or empty $res/$f (expected METEOR 1.5's resources/$f)" >&2
    exit 1
  fi
done
printf "export FT_METEOR_FUNCTION_WORDS='%s'\n" "$res/function/english.words"
printf "export FT_METEOR_SYNONYM_DIR='%s'\n" "$res/synonym"
