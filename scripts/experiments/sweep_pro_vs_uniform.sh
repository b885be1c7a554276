#!/usr/bin/env bash
# FedKSeed-Pro vs uniform seed sampling at the same K (default 1024, env K), on Dolly-15K
# with alpha = 0.5 and 5.0, so that only the sampling differs; the other flags are the paper
# setting of dolly_alpha*_fedkseed.sh.
# Usage: sweep_pro_vs_uniform.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args sweep_pro_vs_uniform "$@"

for alpha in 0.5 5.0; do
  for pro in false true; do
    dolly_paper_train --iid "dir$alpha" -K "${K:-1024}" --bias_sampling="$pro" --bias_loss_clip 1000 --grad_initial 0
  done
done
