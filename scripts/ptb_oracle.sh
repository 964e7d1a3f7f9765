#!/usr/bin/env bash
# Build the reference PTB tokenizer (Stanford CoreNLP v3.4.1, the one pycocoevalcap runs) from
# a CoreNLP checkout, outside this repository, for differential testing of src/eval/ptb/:
#   eval "$(bash scripts/ptb_oracle.sh PATH_TO_CORENLP)"
#   .tools/deno run --allow-read --allow-write --allow-run --allow-env src/eval/ptb/oracle_diff.ts
# PATH_TO_CORENLP: a stanfordnlp/CoreNLP git work tree or bare git directory holding tag v3.4.1.
# Needs a JDK (javac; e.g. apt openjdk-17-jdk-headless). Sources are exported from the tag into
# ${FT_PTB_ORACLE_DIR:-~/.cache/forgerytalker/corenlp-3.4.1} and compiled unmodified on the
# tokenizer path; two compile-only adjustments off that path (as for the shared fixture): a
# stand-in for the generated Morpha lemmatizer (absent from the repository at that tag) and a
# generic type witness in util/Comparators for newer javac. Prints `export FT_PTB_ORACLE_CLASSES=...`.
set -euo pipefail
src=${1:?usage: eval "\$(bash scripts/ptb_oracle.sh PATH_TO_CORENLP)"}
out=${FT_PTB_ORACLE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/forgerytalker/corenlp-3.4.1}
command -v javac >/dev/null || { echo "ptb_oracle.sh: javac not found (install a JDK)" >&2; exit 1; }
git -C "$src" rev-parse --verify -q "v3.4.1^{commit}" >/dev/null ||
  { echo "ptb_oracle.sh: $src is not a CoreNLP git directory with tag v3.4.1" >&2; exit 1; }
mkdir -p "$out"
if [ ! -f "$out/classes/edu/stanford/nlp/process/PTBTokenizer.class" ]; then
  rm -rf "$out/src" "$out/classes"
  # Export file by file: some blobs outside src/ (and the generated Morpha.java) are missing
  # from partial mirrors, which makes `git archive` fail.
  git -C "$src" ls-tree -r --name-only v3.4.1 src | while read -r f; do
    mkdir -p "$out/$(dirname "$f")"
    git -C "$src" show "v3.4.1:$f" >"$out/$f" 2>/dev/null || rm -f "$out/$f"
  done
  morpha="$out/src/edu/stanford/nlp/process/Morpha.java"
  if [ ! -s "$morpha" ]; then
    cat >"$morpha" <<'JAVA'
package edu.stanford.nlp.process;
// Compile-only stand-in for the generated lemmatizer; PTBTokenizer never calls it.
class Morpha {
  static final int any = 0, scan = 1;
  Morpha(java.io.Reader r) {}
  Morpha(java.io.InputStream r) {}
  void setOptions(int f) {}
  void setOption(int i, boolean b) {}
  boolean option(int i) { return false; }
  void yyreset(java.io.Reader r) {}
  void yybegin(int s) {}
  String next() throws java.io.IOException { throw new UnsupportedOperationException("Morpha stand-in"); }
}
JAVA
  fi
  sed -i 's/    return chain(Arrays.asList(c));/    return Comparators.<T>chain(Arrays.asList(c));/' \
    "$out/src/edu/stanford/nlp/util/Comparators.java"
  mkdir -p "$out/classes"
  javac -nowarn -encoding utf-8 --release 8 -d "$out/classes" -sourcepath "$out/src" \
    "$out/src/edu/stanford/nlp/process/PTBTokenizer.java" >&2
fi
printf "export FT_PTB_ORACLE_CLASSES='%s'\n" "$out/classes"
