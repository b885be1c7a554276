#!/usr/bin/env bash
# Unbounded seeds (-K 0: a fresh seed per step, FedZO-style with one perturbation per step)
# beside FedKSeed's K = 4096, on Dolly-15K alpha = 0.5 with the paper's other flags.
# K = 0 uses --sync incremental: from_init would replay every seed of every past round
# (up to 60*10*200 = 120,000 passes over the model) after each round.
# Usage: sweep_unbounded.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_unbounded "$@"

for k in 0 4096; do
  sync=from_init
  [ "$k" != 0 ] || sync=incremental
  train \
    --model "$model_dir" --data_dir "$data_dir" --dtype fp16 --device 0 --init_on gpu \
    --dataset dolly --num_clients 200 --iid dir0.5 --zerotask 7 --dataset_subsample 1 \
    --batch_size 1 --max_length 1024 \
    --rounds 60 -m 0.05 --local_step 200 --batch_or_epoch batch \
    --lr 3e-7 --weight_decay 0 --grad_clip -100 --zo_eps 5e-4 -K "$k" --rng philox --sync "$sync" \
    --seed 42 --eval_every 1 --eval_max_samples 0 --eval_metric rouge \
    --log --log_root "$log_root"
done
