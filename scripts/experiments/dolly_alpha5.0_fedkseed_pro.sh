#!/usr/bin/env bash
# Paper setting: FedKSeed-Pro on Dolly-15K, 200 clients, Dirichlet alpha = 5.0, 60 rounds.
# The paper's flags are in common.sh (paper_train); DRY_RUN=1 prints the full command.
# Usage: dolly_alpha5.0_fedkseed_pro.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args dolly_alpha5.0_fedkseed_pro "$@"

dolly_paper_train --iid dir5.0 "${pro_flags[@]}"
