#!/usr/bin/env bash
# Robust aggregation and client-level DP at the paper's K = 4096 and tau = 200 local steps, on
# the CPU with the tiny model: 14 runs of about 2 CPU-minutes each (25 in all), two at a time:
#
#   scripts/experiments/robustness_privacy_tiny.sh [WORK_DIR] [extra train flags...]
#                                                   (default runs/robustness_privacy_tiny)
#
# 1. base    the quickstart's tiny LLaMA, its generated Dolly data and its `fedkseed pretrain`
#            (scripts/quickstart.sh): a base that knows the language of the tasks.
# 2. robust  every --aggregator (mean, median, trimmed_mean with --trim 0.3, norm_bound), without
#            and with 20 % Byzantine clients sending 10 times their uplink negated (scale:-10).
# 3. privacy --aggregator mean with --dp_clip DP_CLIP: without noise, then for each target epsilon
#            of EPSILONS at delta 1e-5 over the run's rounds.
# 4. report  report.md, and figures/attack.png (robust runs) and figures/privacy.png (privacy
#            runs, and the clean mean, `unclipped`, as a second epsilon = infinity line).
# Every run: 50 clients (Dirichlet 0.5), 10 per round, ROUNDS rounds, the quickstart's lr 2e-5,
# eps 1e-3, batch 4, max length 128, seed 0, the test loss on all 255 test records every round.
# Extra flags replace these (e.g. --rounds 2). A run whose folder has final_eval.json is kept.
# Environment: FEDKSEED, PYTHON (.venv/bin/python), PARALLEL (2), ROUNDS (8), DP_CLIP (300),
#   EPSILONS ("4096 128 8 2 0.5"), STAGES ("base robust privacy report"), ONLY (a regular expression:
#   run only the runs whose names match).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mkdir -p "${1:-runs/robustness_privacy_tiny}" && cd "${1:-runs/robustness_privacy_tiny}" && pwd)
[ $# -eq 0 ] || shift
parallel=${PARALLEL:-2}
rounds=${ROUNDS:-8}
dp_clip=${DP_CLIP:-300}
epsilons=${EPSILONS:-4096 128 8 2 0.5}
stages=${STAGES:-base robust privacy report}
python=${PYTHON:-$here/../../.venv/bin/python}
model_dir=$work/model data_dir=$work/data extra=("$@")
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$here/common.sh"
export NPROC=1
log() { echo "[robustness_privacy_tiny $(date +%T)] $*"; }

# The quickstart's learned base (model/ and data/ under the work folder), so that it learns as there.
stage_base() {
  FEDKSEED=$FEDKSEED THREADS=1 "$here/../tiny_base.sh" "$work"
}

# One run: NAME then flags; its folder is $work/runs/NAME.
one_run() {
  local name=$1
  shift
  [ -f "$work/runs/$name/final_eval.json" ] && return
  rm -rf "$work/runs/$name"
  log_root=$work/runs
  if train --model "$model_dir" --data_dir "$data_dir" --dataset dolly --zerotask 2 \
    --num_clients 50 --iid dir0.5 -m 0.2 --rounds "$rounds" --local_step 200 -K 4096 --batch_size 4 \
    --lr 2e-5 --zo_eps 0.001 --dtype fp32 --device cpu --threads 1 --max_length 128 --seed 0 \
    --eval_metric loss --eval_max_samples 0 --log --log_root "$log_root" --run_name "$name" "$@" \
    >"$work/logs/$name.log" 2>&1; then
    log "$name:$(grep -E '^  (eval loss|wall time)' "$work/logs/$name.log" | tr -s ' ' | paste -sd';')"
  else
    log "$name: FAILED (see $work/logs/$name.log)"
  fi
}

aggregators="mean median trimmed_mean norm_bound"

stage_robust() {
  local rule
  for rule in $aggregators; do
    echo "${rule} --aggregator $rule --trim 0.3"
    echo "${rule}_attacked --aggregator $rule --trim 0.3 --byzantine_fraction 0.2 --attack scale:-10"
  done | run_all
}

stage_privacy() {
  local epsilon
  {
    echo "clip${dp_clip} --dp_clip $dp_clip"
    for epsilon in $epsilons; do echo "clip${dp_clip}_eps${epsilon} --dp_clip $dp_clip --dp_epsilon $epsilon --dp_delta 1e-5"; done
  } | run_all
}

stage_report() {
  # Relative folder names: plot_runs.py names the epsilon = infinity lines by them.
  cd "$work/runs"
  ln -sfn mean unclipped
  local robust=() privacy=(unclipped "clip$dp_clip") rule epsilon
  for rule in $aggregators; do robust+=("$rule" "${rule}_attacked"); done
  for epsilon in $epsilons; do privacy+=("clip${dp_clip}_eps${epsilon}"); done
  "$FEDKSEED" report "${robust[@]}" "${privacy[@]:1}" --markdown "$work/report.md" >/dev/null
  "$python" "$here/../plot_runs.py" "${robust[@]}" --out "$work/figures/robust" >/dev/null
  "$python" "$here/../plot_runs.py" "${privacy[@]}" --out "$work/figures/privacy" >/dev/null
  cp "$work/figures/robust/attack.png" "$work/figures/privacy/privacy.png" "$work/figures/"
  cat "$work/report.md"
  log "figures: $work/figures/attack.png $work/figures/privacy.png"
}

# shellcheck disable=SC2086  # one stage name per word
run_stages $stages
