#!/usr/bin/env bash
# Seed repeats (the paper reports mean +- std over 4 seeds): FedKSeed (K = 4096) and
# FedKSeed-Pro (K = 1024) on Dolly-15K alpha = 0.5 for every seed in SEEDS (default
# 42 43 44 45); `fedkseed report` aggregates runs that differ only in --seed.
# Usage: sweep_seeds.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_seeds "$@"

for seed in ${SEEDS:-42 43 44 45}; do
  for pro in false true; do
    k=4096
    [ "$pro" = false ] || k=1024
    train \
      --model "$model_dir" --data_dir "$data_dir" --dtype fp16 --device 0 --init_on gpu \
      --dataset dolly --num_clients 200 --iid dir0.5 --zerotask 7 --dataset_subsample 1 \
      --batch_size 1 --max_length 1024 \
      --rounds 60 -m 0.05 --local_step 200 --batch_or_epoch batch \
      --lr 3e-7 --weight_decay 0 --grad_clip -100 --zo_eps 5e-4 -K "$k" --rng philox --sync from_init \
      --bias_sampling="$pro" --bias_loss_clip 1000 --grad_initial 0 \
      --seed "$seed" --eval_every 1 --eval_max_samples 0 --eval_metric rouge \
      --log --log_root "$log_root"
  done
done
