#!/usr/bin/env bash
# Unbounded seeds (-K 0: a fresh seed per step, FedZO-style with one perturbation per step)
# beside FedKSeed's K = 4096, on Dolly-15K alpha = 0.5 with the paper's other flags.
# K = 0 uses --sync incremental: from_init would replay every seed of every past round
# (up to 60*10*200 = 120,000 passes over the model) after each round.
# Usage: sweep_unbounded.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_unbounded "$@"

dolly_paper_train -K 0 --sync incremental
dolly_paper_train
