# shellcheck shell=bash
# Shared by the experiment scripts (sourced, not run): argument handling, the fedkseed
# binary, the single- or multi-GPU launch, and flag overrides. Each script keeps its own
# full list of `fedkseed train` flags; this file only decides how to launch them.
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

# Runs `fedkseed train` with the script's flags ("$@") overridden by the user's extras,
# under torchrun when more than one GPU is visible.
train() {
  local overridden=" " unit name
  while IFS= read -r unit; do
    name=${unit%%$'\t'*}
    overridden+="${name%%=*} "
  done < <(flag_units "${extra[@]+"${extra[@]}"}")

  local args=()
  while IFS= read -r unit; do
    name=${unit%%$'\t'*}
    [[ $overridden == *" ${name%%=*} "* ]] && continue
    if [ "$name" = "$unit" ]; then
      args+=("$unit")
    else
      args+=("$name" "${unit#*$'\t'}")
    fi
  done < <(flag_units "$@")
  args+=("${extra[@]+"${extra[@]}"}")

  local nproc=${NPROC:-$(visible_gpus)}
  local command=("$FEDKSEED" train "${args[@]}")
  if [ "${nproc:-0}" -gt 1 ]; then
    command=(torchrun --nproc-per-node="$nproc" --no-python "${command[@]}")
  fi
  { printf '+'; printf ' %q' "${command[@]}"; printf '\n'; } >&2
  [ "${DRY_RUN:-0}" = 1 ] || "${command[@]}"
}
