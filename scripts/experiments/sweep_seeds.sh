#!/usr/bin/env bash
# Seed repeats (the paper reports mean +- std over 4 seeds): FedKSeed (K = 4096) and
# FedKSeed-Pro (K = 1024) on Dolly-15K alpha = 0.5 for every seed in SEEDS (default
# 42 43 44 45); `fedkseed report` aggregates runs that differ only in --seed.
# Usage: sweep_seeds.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_seeds "$@"

for seed in ${SEEDS:-42 43 44 45}; do
  dolly_paper_train --seed "$seed"
  dolly_paper_train --seed "$seed" "${pro_flags[@]}"
done
