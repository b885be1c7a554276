#!/usr/bin/env bash
# The learned tiny base of the quickstart, made once in WORK_DIR (steps already done are kept):
#   WORK_DIR/random-model   init-model --preset tiny (seed 0)
#   WORK_DIR/data           make-tiny-data (seed 0): the federation's data
#   WORK_DIR/pretrain-data  make-tiny-data (seed 1): plain text for pretraining
#   WORK_DIR/model          `fedkseed pretrain`, 300 AdamW steps on the CPU
#
#   scripts/tiny_base.sh WORK_DIR          (env FEDKSEED: the binary; THREADS: 1)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fedkseed=${FEDKSEED:-$root/build/fedkseed}
work=${1:?usage: scripts/tiny_base.sh WORK_DIR}
threads=${THREADS:-1}

[ -f "$work/random-model/config.json" ] || "$fedkseed" init-model --preset tiny --out "$work/random-model" --seed 0
[ -f "$work/data/databricks-dolly-15k.jsonl" ] || "$fedkseed" make-tiny-data --out "$work/data" --seed 0
[ -f "$work/pretrain-data/databricks-dolly-15k.jsonl" ] ||
  "$fedkseed" make-tiny-data --out "$work/pretrain-data" --seed 1
[ -f "$work/model/pretrain.json" ] ||
  "$fedkseed" pretrain --model "$work/random-model" --out "$work/model" \
    --dolly_text "$work/pretrain-data/databricks-dolly-15k.jsonl" \
    --steps 300 --batch_size 16 --lr 2e-3 --seed 0 --device cpu --threads "$threads" --log_every 100
