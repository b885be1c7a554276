#!/usr/bin/env bash
# The paper's comparisons at small scale, end to end on one GPU: a learned base, then the
# base alone, FedKSeed, FedKSeed-Pro and FedZO (unbounded seeds, -K 0) on Natural Instructions
# with 3 seeds each, and a K sweep for uniform and Pro sampling; then `fedkseed report` tables
# and scripts/plot_runs.py figures.
#
#   scripts/experiments/reproduce_small.sh [WORK_DIR]        (default runs/reproduce_small)
#
# 1. data   the NI task files of SHARED_DATA split three ways: every third training task (in
#           name order) is reserved for pretraining and never a client; the other training
#           tasks are the clients; the test tasks present are the test set.
# 2. base   init-model (LLaMA, 8 layers x 512, the real LLaMA tokenizer), then `fedkseed
#           pretrain` on the reserved tasks, as plain text and in the training template: the base
#           knows the format but not the clients' tasks. Regenerated from its seed, never stored.
# 3. sweep  FedKSeed (K 4096) for each learning rate x epsilon of LRS x EPSS, SWEEP_ROUNDS rounds;
#           the lowest final test loss picks both for every later run (written to chosen.env).
# 4. runs   the paper's NI flags (common.sh: 40 rounds) with the chosen lr and epsilon, PARALLEL
#           at once: the base alone (evaluated on each seed's test sample), FedKSeed, FedKSeed-Pro and FedZO for each seed of SEEDS.
# 5. ksweep K = 256 / 1024 / 16384 for uniform and Pro sampling, seed 0 (K 4096 comes from runs).
# 6. report report.md / report.csv and figures/ from the runs, sweep.md from the sweep.
# The sweep runs 20 rounds (half the paper's 40) so that the pretraining, the sweep and all 22 runs
# take about 25 minutes of one H200. A later stage needs only the earlier stages' files, so stages
# (and, with ONLY, groups of runs) can run in separate sessions on the same WORK_DIR.
# Environment: SHARED_DATA (../shared/data), FEDKSEED, DEVICE (0), PARALLEL (10), SEEDS ("0 1 2"),
#   ROUNDS (40), SWEEP_ROUNDS (20), PRE_STEPS (1000), STAGES ("data base sweep runs ksweep report"), ONLY (a regular
#   expression: run only the runs whose names match, e.g. ONLY='^base_'), and for a quick try
#   on a CPU: SMOKE=1 (a 2-layer model, a few steps and rounds, DEVICE=cpu).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mkdir -p "${1:-runs/reproduce_small}" && cd "${1:-runs/reproduce_small}" && pwd)
shared=$(cd "${SHARED_DATA:-$here/../../../shared/data}" && pwd)
device=${DEVICE:-0}
parallel=${PARALLEL:-10}
seeds=${SEEDS:-0 1 2}
stages=${STAGES:-data base sweep runs ksweep report}
lrs=${LRS:-1e-6 3e-6 1e-5}
epss=${EPSS:-5e-4 1e-3}
rounds=${ROUNDS:-40} sweep_rounds=${SWEEP_ROUNDS:-20}
if [ "${SMOKE:-0}" = 1 ]; then
  layers=2 hidden=64 heads=4 inter=172 pre_steps=${PRE_STEPS:-20} pre_batch=4 smoke=(--local_step 5 --eval_max_samples 8)
  pre_tasks=3 pre_smoke=(--heldout 0.01)
  lrs=${LRS:-1e-5} epss=${EPSS:-1e-3} rounds=${ROUNDS:-2} sweep_rounds=${SWEEP_ROUNDS:-2} device=${DEVICE:-cpu}
else
  layers=8 hidden=512 heads=8 inter=1376 pre_steps=${PRE_STEPS:-1000} pre_batch=32 smoke=()
  pre_tasks=0 pre_smoke=()
fi
# Runs share the machine's cores: each gets its share of them.
threads=$(( $(nproc) / parallel > 0 ? $(nproc) / parallel : 1 ))
data=$work/data
model_dir=$work/base data_dir=$data extra=()
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$here/common.sh"
export NPROC=1
log() { echo "[reproduce_small $(date +%T)] $*"; }

stage_data() {
  local ni=$shared/natural-instructions out=$data/natural-instructions
  rm -rf "$out" && mkdir -p "$out/splits/default" "$out/tasks"
  local present=()
  mapfile -t present < <(ls "$ni/tasks" | sed 's/\.json$//' | sort)
  local index=0 task
  : >"$work/pretrain_tasks.txt"; : >"$out/splits/default/train_tasks.txt"
  for task in $(grep -Fxf <(printf '%s\n' "${present[@]}") "$ni/splits/default/train_tasks.txt" | sort); do
    if [ $((index % 3)) -eq 0 ]; then echo "$task" >>"$work/pretrain_tasks.txt"; else echo "$task" >>"$out/splits/default/train_tasks.txt"; fi
    index=$((index + 1))
  done
  grep -Fxf <(printf '%s\n' "${present[@]}") "$ni/splits/default/test_tasks.txt" >"$out/splits/default/test_tasks.txt"
  for task in "${present[@]}"; do ln -s "$ni/tasks/$task.json" "$out/tasks/$task.json"; done
  log "data: $(wc -l <"$work/pretrain_tasks.txt") pretraining tasks, $(wc -l <"$out/splits/default/train_tasks.txt") client tasks," \
      "$(wc -l <"$out/splits/default/test_tasks.txt") test tasks"
}

stage_base() {
  cat >"$work/base_config.json" <<JSON
{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32000, "hidden_size": $hidden,
 "intermediate_size": $inter, "num_hidden_layers": $layers, "num_attention_heads": $heads, "num_key_value_heads": $heads,
 "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
 "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu"}
JSON
  "$FEDKSEED" init-model --config "$work/base_config.json" --tokenizer "$shared/tokenizers/llama/tokenizer.model" \
    --seed 0 --out "$work/random" --force
  # A smoke run pretrains on the first few reserved tasks only, and holds out 1 % of them.
  local tasks=$work/pretrain_tasks.txt
  if [ "$pre_tasks" -gt 0 ]; then head -n "$pre_tasks" "$tasks" >"$work/pretrain_tasks_smoke.txt"; tasks=$work/pretrain_tasks_smoke.txt; fi
  "$FEDKSEED" pretrain --model "$work/random" --out "$model_dir" --force --data_dir "$data" \
    --ni_tasks "$tasks" --ni_tasks_text "$tasks" --steps "$pre_steps" "${pre_smoke[@]+"${pre_smoke[@]}"}" \
    --batch_size "$pre_batch" --lr 1e-3 --max_length 256 --seed 0 --device "$device" --log_every 250
}

# One run: NAME then flags; its folder is $work/runs/NAME/<timestamp>.
one_run() {
  local name=$1
  shift
  log_root=$work/runs/$name
  rm -rf "$log_root"
  if ni_paper_train --device "$device" --rounds "$rounds" --eval_every 10 --threads "$threads" \
      "${smoke[@]+"${smoke[@]}"}" "$@" >"$work/logs/$name.log" 2>&1; then
    log "$name:$(grep -E '^  (eval loss|final Rouge-L|wall time)' "$work/logs/$name.log" | tr -s ' ' | paste -sd';')"
  else
    log "$name: FAILED (see $work/logs/$name.log)"
  fi
}

stage_sweep() {
  local lr eps
  for lr in $lrs; do for eps in $epss; do
    echo "sweep_lr${lr}_eps${eps} --lr $lr --zo_eps $eps --rounds $sweep_rounds --eval_metric loss --seed 0"
  done; done | run_all
  local best
  best=$(for f in "$work"/runs/sweep_*/*/final_eval.json; do
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["final_eval_loss"], sys.argv[1])' "$f"; done | sort -g | head -1)
  [ -n "$best" ] || { log "sweep: no run finished"; exit 1; }
  local name
  name=$(basename "$(dirname "$(dirname "${best#* }")")")
  lr=${name#sweep_lr}; lr=${lr%%_eps*}; eps=${name##*_eps}
  printf 'lr=%s\neps=%s\n' "$lr" "$eps" >"$work/chosen.env"
  log "sweep: lowest test loss ${best%% *} with --lr $lr --zo_eps $eps"
}

# The learning rate and epsilon the sweep chose.
chosen_flags() {
  # shellcheck disable=SC1091
  source "$work/chosen.env"
  echo "--lr $lr --zo_eps $eps"
}

stage_runs() {
  local common seed
  common=$(chosen_flags)
  {
    for seed in $seeds; do
      echo "base_s$seed $common --rounds 0 --seed $seed"
      echo "fedkseed_s$seed $common -K 4096 --seed $seed"
      echo "fedkseed_pro_s$seed $common -K 4096 --bias_sampling --seed $seed"
      echo "fedzo_s$seed $common -K 0 --seed $seed"
    done
  } | run_all
}

stage_ksweep() {
  local common k
  common=$(chosen_flags)
  for k in 256 1024 16384; do
    echo "sweep_k${k}_uniform $common -K $k --seed 0"
    echo "sweep_k${k}_pro $common -K $k --bias_sampling --seed 0"
  done | run_all
}

stage_report() {
  local runs=("$work"/runs/{base_s*,fedkseed_s*,fedkseed_pro_s*,fedzo_s*,sweep_k*}/*)
  "$FEDKSEED" report "${runs[@]}" --markdown "$work/report.md" --csv "$work/report.csv"
  local sweep=("$work"/runs/sweep_lr*/*)
  [ -e "${sweep[0]}" ] && "$FEDKSEED" report "${sweep[@]}" --markdown "$work/sweep.md"
  # The base has no rounds to plot.
  local tuned=() run
  for run in "${runs[@]}"; do [[ $run == */runs/base_s*/* ]] || tuned+=("$run"); done
  "${PYTHON:-python3}" "$here/../plot_runs.py" "${tuned[@]}" --out "$work/figures" >/dev/null || log "plot_runs.py failed (matplotlib?)"
  cat "$work/report.md"
}

# shellcheck disable=SC2086  # one stage name per word
run_stages $stages
