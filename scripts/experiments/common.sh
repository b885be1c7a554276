# shellcheck shell=bash
# Shared by the experiment scripts (sourced, not run): argument handling, the fedkseed
# binary, the paper's `fedkseed train` flags (one place for all scripts), the single- or
# multi-GPU launch, and flag overrides. DRY_RUN=1 prints each script's full command.
#
# Usage of every script:  SCRIPT MODEL_DIR DATA_DIR [LOG_ROOT] [extra train flags...]
#   LOG_ROOT   where run directories <LOG_ROOT>/<unix time>/ go; when omitted: $LOG_ROOT,
#              else runs/<script name> (relative to the current directory).
#   extra      appended to every train call and replacing the script's value of the same
#              flag, e.g. `--rounds 2 --device cpu` (a bare flag such as --bias_sampling can
#              be switched off with --bias_sampling=false).
# Environment: FEDKSEED (binary; default <repo>/build/fedkseed), NPROC (processes, torchrun
#   when > 1; default: the GPUs visible), DRY_RUN=1 (print the commands, run nothing).

set -euo pipefail

experiments_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FEDKSEED=${FEDKSEED:-$experiments_root/build/fedkseed}

# Flags of `fedkseed train` (and the global --quiet) that take no value; every other flag takes one
# (--use_prompts takes one optionally).
readonly boolean_flags=" --equal_weight --log --bias_sampling --save --save_weights --quiet "

usage() {
  sed -n '6,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# Reads MODEL_DIR DATA_DIR [LOG_ROOT] [extra...] into model_dir, data_dir, log_root, extra
# (globals for the calling script).
# shellcheck disable=SC2034
parse_experiment_args() {
  local script=$1
  shift
  [ $# -ge 2 ] || usage
  model_dir=$1 data_dir=$2
  shift 2
  log_root=${LOG_ROOT:-runs/$script}
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    log_root=$1
    shift
  fi
  extra=("$@")
  [ -d "$model_dir" ] || { echo "$script: model folder $model_dir not found" >&2; exit 2; }
  [ -d "$data_dir" ] || { echo "$script: data dir $data_dir not found" >&2; exit 2; }
  if [ "${DRY_RUN:-0}" != 1 ] && [ ! -x "$FEDKSEED" ]; then
    echo "$script: no fedkseed binary at $FEDKSEED (build it, or set FEDKSEED)" >&2
    exit 2
  fi
}

# Splits "$@" into one line per flag with its value ("--rounds 40", "--log"), so that
# flags can be compared by name. Tokens are separated by a tab within a line.
flag_units() {
  while [ $# -gt 0 ]; do
    local flag=$1 name=${1%%=*}
    shift
    if [ "$name" != "$flag" ] || [ "${flag#-}" = "$flag" ] || [[ $boolean_flags == *" $name "* ]]; then
      printf '%s\n' "$flag"
    elif [ "$name" = --use_prompts ] && ! [[ ${1:-} =~ ^(true|false|1|0)$ ]]; then
      printf '%s\n' "$flag"
    else
      printf '%s\t%s\n' "$flag" "${1:-}"
      [ $# -eq 0 ] || shift
    fi
  done
}

# GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists.
visible_gpus() {
  if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c . || true
  else
    (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true
  fi
}

# Runs `fedkseed train` with "$@" then the user's extras, a later flag replacing an earlier one
# of the same name, under torchrun when more than one GPU is visible.
train() {
  local units=() unit name seen=" " i
  while IFS= read -r unit; do
    units+=("$unit")
  done < <(flag_units "$@" "${extra[@]+"${extra[@]}"}")

  local kept=()
  for ((i = ${#units[@]} - 1; i >= 0; i--)); do
    unit=${units[i]}
    name=${unit%%$'\t'*}
    [[ $seen == *" ${name%%=*} "* ]] && continue
    seen+="${name%%=*} "
    kept=("$unit" "${kept[@]+"${kept[@]}"}")
  done

  local args=()
  for unit in "${kept[@]}"; do
    name=${unit%%$'\t'*}
    if [ "$name" = "$unit" ]; then
      args+=("$unit")
    else
      args+=("$name" "${unit#*$'\t'}")
    fi
  done

  local nproc=${NPROC:-$(visible_gpus)}
  local command=("$FEDKSEED" train "${args[@]}")
  if [ "${nproc:-0}" -gt 1 ]; then
    # "--" ends torchrun's own flags: without it Python's argparse reads train's --log as an
    # abbreviation of torchrun's --log-dir/--log_dir/--logs-specs and stops ("ambiguous option").
    command=(torchrun --nproc-per-node="$nproc" --no-python -- "${command[@]}")
  fi
  { printf '+'; printf ' %q' "${command[@]}"; printf '\n'; } >&2
  [ "${DRY_RUN:-0}" = 1 ] || "${command[@]}"
}

# The paper's FedKSeed run: lr 3e-7, eps 5e-4, tau = 200 local steps of
# batch 1, 5% of clients per round, fp16, Rouge-L after the last round. K = 4096: the FedKSeed
# setting of the paper as re-reported by Ferret (§5, App. C.1.2) and the reference's default -K.
# "$@" adds or replaces flags.
paper_train() {
  train \
    --model "$model_dir" --data_dir "$data_dir" --dtype fp16 --device 0 --init_on gpu \
    --batch_size 1 --max_length 1024 \
    -m 0.05 --local_step 200 --batch_or_epoch batch \
    --lr 3e-7 --weight_decay 0 --grad_clip -100 --zo_eps 5e-4 -K 4096 --rng philox-icdf --sync from_init \
    --seed 42 --eval_every 1 --eval_max_samples 0 --eval_metric rouge \
    --log --log_root "$log_root" "$@"
}

# Dolly-15K: 200 clients, Dirichlet alpha = 0.5 over the categories, 60 rounds.
# shellcheck disable=SC2120  # arguments are optional
dolly_paper_train() {
  paper_train --dataset dolly --num_clients 200 --iid dir0.5 --zerotask 7 --dataset_subsample 1 \
    --rounds 60 "$@"
}

# Natural Instructions: one client per training task (the reference ignores --num_clients), 40 rounds.
# shellcheck disable=SC2120  # arguments are optional
ni_paper_train() {
  paper_train --dataset instruct --use_prompts true --rounds 40 "$@"
}

# FedKSeed-Pro: K = 1024, as the reference README runs every setting (its Pro commands add
# --bias_sampling); the paper's Pro figure of 9,796 B per round is 2*1024*4 + 1,604 (spec §6-7).
# shellcheck disable=SC2034
readonly pro_flags=(-K 1024 --bias_sampling --bias_loss_clip 1000 --grad_initial 0)

# Runs stage_NAME for each NAME of "$@" in order, with the calling script's log(), then the total
# wall time.
run_stages() {
  local start stage
  start=$(date +%s)
  for stage in "$@"; do
    log "stage $stage"
    "stage_$stage"
  done
  log "done in $(($(date +%s) - start)) s"
}

# Reads "NAME flags..." lines and runs the calling script's one_run on each, PARALLEL at a time,
# skipping names that do not match the regular expression ONLY; logs go to $work/logs.
# shellcheck disable=SC2154  # work and parallel are the calling script's
run_all() {
  mkdir -p "$work/logs" "$work/runs"
  local line
  while IFS= read -r line; do
    [[ ${line%% *} =~ ${ONLY:-.} ]] || continue
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    # shellcheck disable=SC2086
    one_run $line &
  done
  wait
}
