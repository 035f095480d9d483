#!/bin/bash
# The README's benchmark table in one sitting: every script in turn, with the date and the
# 1-minute load before and after each, into OUT/NAME.log and OUT/sitting.log.
#
#   bash benchmarks/sitting.sh OUT          # from the repository root, with the venv's python
#
# One llama.cpp thread (two threads on two shared cores stall each other); run it with
# raised priority (`nice -n -10`) when other work shares the machine, and say the load.
set -u
OUT=${1:?usage: benchmarks/sitting.sh OUT}
PY=${PYTHON:-.venv/bin/python}
export BIMO_THREADS=${BIMO_THREADS:-1}
mkdir -p "$OUT"
step() {  # name, command...
  local name=$1; shift
  echo "== $name start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/sitting.log"
  local t0; t0=$(date +%s)
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name end $(date -u +%FT%TZ) rc $rc wall $(( $(date +%s) - t0 ))s load $(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee -a "$OUT/sitting.log"
}
step backend_default "$PY" benchmarks/backend_overhead.py --model default --rounds 5
step backend_tiny "$PY" benchmarks/backend_overhead.py --model tiny --rounds 5
step curate100 "$PY" benchmarks/curate.py --mb 100
step curate500 "$PY" benchmarks/curate.py --mb 500
step curate_literature "$PY" benchmarks/curate_literature.py
step synth "$PY" benchmarks/synth.py --skip-quality
step eval "$PY" benchmarks/eval.py
step serve "$PY" benchmarks/serve.py
step eval_offline "$PY" benchmarks/eval.py --offline "$OUT/eval-offline"
step pipeline "$PY" -m bimo.cli pipeline run recipes/tiny.yaml -o "$OUT/pipeline"
step train "$PY" benchmarks/train.py --real
echo "== sitting done $(date -u +%FT%TZ)" | tee -a "$OUT/sitting.log"
