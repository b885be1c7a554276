#!/usr/bin/env bash
# Paper setting: FedKSeed on Dolly-15K, 200 clients, Dirichlet alpha = 0.5, 60 rounds.
# The paper's flags are in common.sh (paper_train); DRY_RUN=1 prints the full command.
# Usage: dolly_alpha0.5_fedkseed.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args dolly_alpha0.5_fedkseed "$@"

dolly_paper_train
