#!/usr/bin/env bash
# One command from a fresh clone to a federated run that visibly learns, on the CPU:
#  1. setup + build of `fedkseed` alone (no tests);
#  2. a random tiny LLaMA (init-model --preset tiny) and two generated Dolly-format datasets
#     (make-tiny-data): one for the federation, one (another seed) for pretraining;
#  3. `fedkseed pretrain`: a few hundred AdamW steps on the second dataset as plain text, so
#     the base knows the language of the tasks but not the prompt template;
#  4. FedKSeed rounds on the first dataset; the test set is its held-out category 2
#     (closed QA: count objects named in a context), scored by loss and Rouge-L.
# Extra arguments go to `fedkseed train` (e.g. --bias_sampling, --rounds 12).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SETUP_TARGET=fedkseed "$root/scripts/setup.sh"
fedkseed=$root/${BUILD_DIR:-build}/fedkseed
work=${QUICKSTART_DIR:-$root/runs/quickstart}
# One thread per process is the fastest on a small model and gives the same numbers everywhere.
threads=${QUICKSTART_THREADS:-1}

FEDKSEED=$fedkseed THREADS=$threads "$root/scripts/tiny_base.sh" "$work"

"$fedkseed" train --model "$work/model" --data_dir "$work/data" --dataset dolly --zerotask 2 \
  --num_clients 20 --iid dir0.5 -m 0.2 --rounds 8 --local_step 40 -K 4096 --batch_size 4 \
  --lr 2e-5 --zo_eps 0.001 --dtype fp32 --device cpu --threads "$threads" --max_length 128 \
  --eval_metric rouge --eval_max_samples 100 --log --log_root "$work/logs" "$@"
