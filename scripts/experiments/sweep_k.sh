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
    dolly_paper_train -K "$k" --bias_sampling="$pro" --bias_loss_clip 1000 --grad_initial 0
  done
done
