#!/usr/bin/env bash
# K ablation on Dolly-15K alpha = 0.5 (the paper's K-ablation figure): every K in K_VALUES
# (default 256 1024 4096 16384), each with uniform seed sampling (FedKSeed) and with
# FedKSeed-Pro; the other flags are the paper setting of dolly_alpha0.5_fedkseed.sh.
# Usage: sweep_k.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_k "$@"

for k in ${K_VALUES:-256 1024 4096 16384}; do
  for pro in false true; do
    train \
      --model "$model_dir" --data_dir "$data_dir" --dtype fp16 --device 0 --init_on gpu \
      --dataset dolly --num_clients 200 --iid dir0.5 --zerotask 7 --dataset_subsample 1 \
      --batch_size 1 --max_length 1024 \
      --rounds 60 -m 0.05 --local_step 200 --batch_or_epoch batch \
      --lr 3e-7 --weight_decay 0 --grad_clip -100 --zo_eps 5e-4 -K "$k" --rng philox --sync from_init \
      --bias_sampling="$pro" --bias_loss_clip 1000 --grad_initial 0 \
      --seed 42 --eval_every 1 --eval_max_samples 0 --eval_metric rouge \
      --log --log_root "$log_root"
  done
done
