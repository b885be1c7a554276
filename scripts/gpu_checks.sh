#!/usr/bin/env bash
# The checks that need a GPU host, in stages (each writes its log under OUT_DIR):
#   build      offline build against the host's torch (scripts/setup.sh --offline DEB_DIR)
#   prebuilt   instead of build: binaries built on another machine against the same torch 2.11
#              (PREBUILT=DIR holding fedkseed, fedkseed_tests and libfedkseed_sentencepiece.so), libraries from DEB_DIR
#   tests      the whole ctest suite, CUDA tests included (needs the build stage)
#   cuda-tests the CUDA and parity tests straight from fedkseed_tests (works after prebuilt too)
#   distributed  a tiny CUDA run alone, through torchrun with nccl (1 rank) and gloo (2 ranks
#              sharing the GPU); scripts/compare_run_dirs.py checks the state files are identical
#   resume     a tiny CUDA run stopped after round 2 and resumed equals the uninterrupted one
#              (--sync from_init and incremental)
#   reference  the reference README's Dolly (alpha 0.5) and NI commands, shortened with
#              --rounds 2 --local_step 20 --eval_max_samples 20, on a random dj-1.3b
#   compare    FedKSeed vs FedKSeed-Pro on Dolly-format data (paper flags, ROUNDS rounds),
#              then `fedkseed report` and scripts/plot_runs.py
# Usage: scripts/gpu_checks.sh DEB_DIR SHARED_DATA_TARBALL OUT_DIR STAGE...
# Logs, tables and plots are packed into OUT_DIR/gpu_checks.tgz (one file: the device tool
# returns only a few files), also when a stage fails or times out.
# The tarball holds natural-instructions/ and tokenizers/llama/tokenizer.model (a copy of
# ../shared/data); Dolly is generated (make-tiny-data, 15,011 records) when the real
# databricks-dolly-15k.jsonl is not in it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 4 ] || { grep -m1 '^# Usage: ' "$0" | sed 's/^# //' >&2; exit 2; }
debs=$1 tarball=$2 packed=$3
shift 3
cd "$root"
mkdir -p "$packed"
out=$(mktemp -d)
trap 'tar czf "$packed/gpu_checks.tgz" -C "$out" .' EXIT
trap 'exit 143' TERM INT
build=${BUILD_DIR:-build-gpu}
fedkseed=$root/$build/fedkseed
work=${WORK_DIR:-/tmp/fedkseed-gpu}
model=$work/dj-1.3b
data=$work/data

prepare_data() {
  [ -d "$data/natural-instructions" ] && return
  mkdir -p "$data"
  tar xzf "$tarball" -C "$work"
  mv "$work/natural-instructions" "$data/"
  if [ -f "$work/dolly/databricks-dolly-15k.jsonl" ]; then
    mv "$work/dolly/databricks-dolly-15k.jsonl" "$data/"
  else
    "$fedkseed" make-tiny-data --out "$data" --records 15011 --seed 0
  fi
}

prepare_model() {
  [ -f "$model/config.json" ] && return
  "$fedkseed" init-model --preset dj-1.3b --dtype fp16 --seed 0 --out "$model" \
    --tokenizer "$work/tokenizers/llama/tokenizer.model"
}

# Prebuilt binaries carry the venv python path of the machine that built them
# (/work/main/.venv/bin/python): point it at this host's python3.
use_prebuilt() {
  local python_dir=$root/.venv/bin
  mkdir -p "$build/tests" "$python_dir" /work /tmp/fedkseed-prefix
  cp "${PREBUILT:?prebuilt needs PREBUILT=DIR}/fedkseed" "$build/"
  cp "$PREBUILT/fedkseed_tests" "$build/tests/"
  cp "$PREBUILT/libfedkseed_sentencepiece.so" "$build/"  # the tokenizer's plugin, beside the binary
  [ -e /work/main ] || ln -s "$root" /work/main
  printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v "${PYTHON:-python3}")" >"$python_dir/python"
  chmod +x "$python_dir/python"
  for deb in "$debs"/*.deb; do dpkg -x "$deb" /tmp/fedkseed-prefix; done
  torch_lib=$("${PYTHON:-python3}" -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
  export LD_LIBRARY_PATH="$torch_lib:/tmp/fedkseed-prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# A tiny CUDA run's model, data and flags (DEVICE=cpu to try the stages without a GPU).
tiny=$work/tiny
tiny_args=(train --model "$tiny/model" --data_dir "$tiny/data" --dataset dolly --num_clients 20 --iid dir0.5
           -m 0.2 --rounds 3 --local_step 15 -K 64 --lr 2e-4 --zo_eps 1e-3 --dtype fp32 --device "${DEVICE:-0}"
           --max_length 96 --eval_metric loss --eval_max_samples 30 --log --quiet)
prepare_tiny() {
  [ -f "$tiny/model/config.json" ] && return
  mkdir -p "$tiny"
  "$fedkseed" init-model --preset tiny --seed 0 --out "$tiny/model" >/dev/null
  "$fedkseed" make-tiny-data --records 600 --seed 0 --out "$tiny/data" >/dev/null
}

distributed() {
  prepare_tiny
  local torchrun=("${PYTHON:-python3}" -m torch.distributed.run --no-python)
  "$fedkseed" "${tiny_args[@]}" --log_root "$tiny/single" >/dev/null 2>"$out/dist_single.err"
  [ "${DEVICE:-0}" = cpu ] || "${torchrun[@]}" --nproc-per-node=1 --master-port=29511 -- "$fedkseed" "${tiny_args[@]}" \
    --backend nccl --log_root "$tiny/nccl1" >/dev/null 2>"$out/dist_nccl1.err"
  "${torchrun[@]}" --nproc-per-node=2 --master-port=29512 -- "$fedkseed" "${tiny_args[@]}" --backend gloo \
    --log_root "$tiny/gloo2" >/dev/null 2>"$out/dist_gloo2.err"
  local runs=("$tiny"/single/* "$tiny"/gloo2/*)
  [ ! -d "$tiny/nccl1" ] || runs+=("$tiny"/nccl1/*)
  "${PYTHON:-python3}" scripts/compare_run_dirs.py "${runs[@]}" | tee "$out/dist_compare.txt"
}

# Stop after round 2 and resume, against the uninterrupted run, for both --sync modes.
resume() {
  prepare_tiny
  for sync in from_init incremental; do
    local flags=("${tiny_args[@]}" --rounds 4 --sync "$sync")
    "$fedkseed" "${flags[@]}" --log_root "$tiny/resume_$sync/whole" >/dev/null 2>"$out/resume_$sync.err"
    "$fedkseed" "${flags[@]}" --log_root "$tiny/resume_$sync/stopped" --stop_after 2 >/dev/null 2>>"$out/resume_$sync.err"
    local stopped=("$tiny/resume_$sync/stopped"/*)
    "$fedkseed" train --resume "${stopped[0]}" --quiet >/dev/null 2>>"$out/resume_$sync.err"
    echo "--sync $sync:"
    "${PYTHON:-python3}" scripts/compare_run_dirs.py "$tiny/resume_$sync/whole"/* "${stopped[0]}" |
      tee -a "$out/resume_compare.txt"
  done
}

for stage in "$@"; do
  echo "=== $stage ($(date +%T))"
  case "$stage" in
    build)
      BUILD_DIR=$build PYTHON=${PYTHON:-python3} JOBS=${JOBS:-$(nproc)} scripts/setup.sh --offline "$debs" \
        >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
      tail -2 "$out/build.log" ;;
    prebuilt) use_prebuilt ;;
    cuda-tests)
      "$build/tests/fedkseed_tests" --gtest_filter='*Cuda*:ZoTorch*:ModelGraph*:ZoFlat*:ZoDeviceLoop*:ModelParity*' \
        >"$out/cuda_tests.log" 2>&1 || true
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED|SKIPPED \]|tests ran" "$out/cuda_tests.log" | head -20 ;;
    distributed) distributed ;;
    resume) resume ;;
    tests)
      export LD_LIBRARY_PATH="$root/$debs/prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      ctest --test-dir "$build" -j 8 --output-on-failure >"$out/ctest.log" 2>&1 || true
      grep -E "tests passed|tests failed|Failed|\(Skipped\)" "$out/ctest.log" | head -40 ;;
    reference)
      mkdir -p "$work"; prepare_data; prepare_model
      common=(--model "$model" --data_dir "$data" --lr 0.0000003 -K 1024 -m 0.05 --log --log_root "$work/reference"
              --rounds 2 --local_step 20 --eval_max_samples 20 --device 0)
      /usr/bin/time -f "dolly: %e s wall, %M KB max RSS" "$fedkseed" train "${common[@]}" --dataset dolly --iid dir0.5 \
        --num_clients 200 >"$out/reference_dolly.log" 2>&1
      tail -4 "$out/reference_dolly.log"
      /usr/bin/time -f "instruct: %e s wall, %M KB max RSS" "$fedkseed" train "${common[@]}" --dataset instruct \
        --use_prompts >"$out/reference_ni.log" 2>&1
      tail -4 "$out/reference_ni.log" ;;
    compare)
      mkdir -p "$work"; prepare_data; prepare_model
      for method in fedkseed fedkseed_pro; do
        FEDKSEED=$fedkseed scripts/experiments/dolly_alpha0.5_${method}.sh "$model" "$data" "$work/compare" \
          --rounds "${ROUNDS:-2}" --eval_max_samples "${EVAL_SAMPLES:-50}" --quiet >"$out/compare_$method.log" 2>&1
        tail -2 "$out/compare_$method.log"
      done
      "$fedkseed" report "$work"/compare/* --csv "$out/compare.csv" --markdown "$out/compare.md"
      python3 scripts/plot_runs.py "$work"/compare/* --out "$out" >/dev/null 2>&1 || echo "plot_runs.py failed (matplotlib?)"
      cat "$out/compare.md" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
