#!/usr/bin/env bash
# One command from a fresh clone to a finished federated run on the embedded default:
# setup + build, then a random tiny LLaMA (init-model --preset tiny) and a generated
# Dolly-format dataset (make-tiny-data), then FedKSeed on CPU. Extra arguments go to
# `fedkseed train` (e.g. --bias_sampling, --rounds 10).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
fedkseed=$root/${BUILD_DIR:-build}/fedkseed
work=${QUICKSTART_DIR:-$root/runs/quickstart}

[ -f "$work/model/config.json" ] || "$fedkseed" init-model --preset tiny --out "$work/model" --seed 0
[ -f "$work/data/databricks-dolly-15k.jsonl" ] || "$fedkseed" make-tiny-data --out "$work/data" --seed 0

"$fedkseed" train --model "$work/model" --data_dir "$work/data" --dataset dolly \
  --num_clients 20 --iid dir0.5 -m 0.2 --rounds 6 --local_step 40 -K 256 \
  --lr 2e-4 --zo_eps 0.001 --dtype fp32 --device cpu --max_length 128 \
  --eval_metric rouge --eval_max_samples 40 --log --log_root "$work/logs" "$@"
