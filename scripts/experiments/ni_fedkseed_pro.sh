#!/usr/bin/env bash
# Paper setting: FedKSeed-Pro on Natural Instructions, 40 rounds; one client
# per training task (the reference ignores --num_clients for NI).
# The paper's flags are in common.sh (paper_train); DRY_RUN=1 prints the full command.
# Usage: ni_fedkseed_pro.sh MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]   (see common.sh)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parse_experiment_args ni_fedkseed_pro "$@"

ni_paper_train "${pro_flags[@]}"
