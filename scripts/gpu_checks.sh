#!/usr/bin/env bash
# The checks that need a GPU host, in stages (each writes its log under OUT_DIR):
#   build      offline build against the host's torch (scripts/setup.sh --offline DEB_DIR)
#   tests      the whole ctest suite, CUDA tests included
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
  [ -f "$work/dolly/databricks-dolly-15k.jsonl" ] && mv "$work/dolly/databricks-dolly-15k.jsonl" "$data/" ||
    "$fedkseed" make-tiny-data --out "$data" --records 15011 --seed 0
}

prepare_model() {
  [ -f "$model/config.json" ] && return
  "$fedkseed" init-model --preset dj-1.3b --dtype fp16 --seed 0 --out "$model" \
    --tokenizer "$work/tokenizers/llama/tokenizer.model"
}

for stage in "$@"; do
  echo "=== $stage ($(date +%T))"
  case "$stage" in
    build)
      BUILD_DIR=$build PYTHON=${PYTHON:-python3} JOBS=${JOBS:-$(nproc)} scripts/setup.sh --offline "$debs" \
        >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
      tail -2 "$out/build.log" ;;
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
