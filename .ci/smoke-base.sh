#!/usr/bin/env bash
# The base install on its own: `pip install .` (no extras, no torch) into a fresh venv, then
# the commands a new user runs first. A module that only an extra brings, imported where the
# base install needs it, fails here. Extra-only commands must say in one line (exit 2) which
# extra to install. Run locally: .ci/smoke-base.sh   (PYTHON=python3.12 .ci/smoke-base.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Build from a clean copy of the tree (tracked and new files), so a stale build/ cannot hide anything.
mkdir "$WORK/tree"
git ls-files -co --exclude-standard -z | xargs -0 ls -d 2>/dev/null | tar -cf - -T - | tar -xf - -C "$WORK/tree"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "$WORK/tree"
BIMO="$WORK/venv/bin/bimo"
cd "$WORK"

step() { printf 'smoke: [%4ss] %s\n' "$SECONDS" "$*"; }
die() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

step "bimo --help, --version and every command's --help"
"$BIMO" --help >/dev/null
[ "$("$BIMO" --version)" = "$("$WORK/venv/bin/python" -c 'import bimo; print(bimo.__version__)')" ] || die "--version"
for cmd in write models curate synth train eval bench serve pipeline; do
  "$BIMO" "$cmd" --help >/dev/null || die "bimo $cmd --help"
done

step "bimo models pull tiny"
"$BIMO" models pull tiny

step "bimo write -m local:tiny (English prompt)"
"$BIMO" write -m local:tiny --max-tokens 32 --seed 1 "Write two sentences about the sea." >write.txt
[ -s write.txt ] || die "bimo write printed nothing"

step "bimo curate dedup on a small file"
for i in 1 2 3; do
  printf '{"id": "d%s", "text": "The lighthouse keeper climbed the stairs every evening to light the lamp. Ships passed safely along the rocky coast all winter long."}\n' "$i"
done >docs.jsonl
printf '{"id": "d4", "text": "Tea grows on misty hills; the leaves are picked by hand in spring and dried slowly over charcoal fires."}\n' >>docs.jsonl
"$BIMO" curate dedup docs.jsonl -o curated >/dev/null 2>curate.log || { cat curate.log >&2; die "bimo curate dedup"; }
kept=$(cat curated/shard-*.jsonl | wc -l)
[ "$kept" -eq 2 ] || die "bimo curate dedup kept $kept documents, expected 2"

step "extra-only commands say which extra, in one line, exit 2"
expect_extra() {
  local extra=$1 rc=0 err
  shift
  err=$("$BIMO" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 2 ] || die "bimo $*: exit $rc, expected 2: $err"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || die "bimo $*: more than one line: $err"
  case "$err" in *"pip install 'bimo[$extra]'"*) ;; *) die "bimo $*: does not name the '$extra' extra: $err" ;; esac
}
printf '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' >sft.jsonl
mkdir -p run && printf '{"id": "a", "prompt": "p", "response": "r", "length": 10}\n' >run/m.jsonl
expect_extra serve serve -m local:tiny
expect_extra train train sft sft.jsonl --base tiny -o trained
expect_extra train train dpo sft.jsonl -o trained
expect_extra train train pretrain docs.jsonl -o trained
expect_extra train train export trained -n x
expect_extra train train launch multi-gpu -- sft sft.jsonl
expect_extra synth synth rag sft.jsonl -o rag.jsonl --refs docs.jsonl
expect_extra synth synth tools sft.jsonl -o tools.jsonl --refs docs.jsonl
expect_extra plots eval report run
step "ok"
