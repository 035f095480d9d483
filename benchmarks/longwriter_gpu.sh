#!/usr/bin/env bash
# LongWriter's effect on one GPU in one call: the base model answers the prompts in one process
# while a second process trains the LoRA and answers with it (on a GPU both are bound by
# per-token latency, not by the chip, so running them at once halves the wall time).
#   bash benchmarks/longwriter_gpu.sh MODEL.gguf SFT.jsonl MESSAGES.jsonl OUT [extra longwriter_gpu.py options]
# MESSAGES.jsonl comes from `benchmarks/longwriter_effect.py --prepare`; score OUT's files with
# `benchmarks/longwriter_effect.py --score OUT/pred_base.jsonl OUT/pred_trained.jsonl --human SFT.jsonl`.
set -uo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash benchmarks/longwriter_gpu.sh MODEL.gguf SFT.jsonl MESSAGES.jsonl OUT [options]" >&2
  exit 2
fi
gguf=$1 sft=$2 msgs=$3 out=$4
shift 4
here=$(dirname "$0")
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 "$here/longwriter_gpu.py" --gguf "$gguf" --prompts "$msgs" --out "$out" --phase base "$@" \
  > "$out/base.log" 2>&1 &
base=$!
python3 "$here/longwriter_gpu.py" --gguf "$gguf" --sft "$sft" --prompts "$msgs" --out "$out" --phase train "$@" \
  2>&1 | tee "$out/train.log"
train_rc=${PIPESTATUS[0]}
wait $base
base_rc=$?
tail -3 "$out/base.log"
echo "train exit $train_rc, base exit $base_rc"
[ "$train_rc" = 0 ] && [ "$base_rc" = 0 ]
