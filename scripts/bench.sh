#!/usr/bin/env bash
# On the GPU machine, in one go: build fedkseed (scripts/setup.sh --offline .debs), run
# `fedkseed bench`, the reference-style step (scripts/bench_reference.py) and the strong
# PyTorch + Triton baseline (.bench/strong_baseline.py, a copy of ../shared/bench), then print one
# side-by-side table with ratios. Numbers are compared only within one run.
#
#   scripts/bench.sh                  everything, logs in $OUT (or logs/bench)
#   scripts/bench.sh --table DIR      only the table, from the logs in DIR
# Environment: PRESETS (default "dj-1.3b open-llama-3b llama-7b"), BIG_PRESETS (step, forward
# and passes only; default "llama-13b llama-33b"), BASELINE_PRESETS (default "dj-1.3b
# open-llama-3b"), REFERENCE_PRESETS (default PRESETS), FEDKSEED_BIN (a built fedkseed; built
# into build-gpu when unset or not runnable), TESTS (gtest filter run first on the GPU),
# BASELINE_TIMEOUT (seconds per baseline preset, default 240), COMPILE_CAP_S (the baseline's
# torch.compile budget, default 120), JOBS (default 16), PYTHON (default python3).
# The baseline column is its best ZO step: CUDA-graph forwards or torch.compile forwards.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}

print_table() {
  "$python" - "$1" <<'EOF'
import glob, json, os, sys
d = sys.argv[1]
def lines(path):
    out = []
    for line in open(path, errors='replace'):
        line = line.strip()
        if line.startswith('{'):
            try: out.append(json.loads(line))
            except ValueError: pass
    return out
ours, ref, base = {}, {}, {}
for f in glob.glob(os.path.join(d, 'ours_*.json')):
    j = json.load(open(f)); ours[j['preset']] = {k: v['value'] for k, v in j['figures'].items()}
    ours[j['preset']]['_x'] = {k for k, v in j['figures'].items() if v['extrapolated']}
for f in glob.glob(os.path.join(d, 'reference_*.log')):
    for r in lines(f): ref[r['preset']] = r
copy_bw = None
for f in glob.glob(os.path.join(d, 'baseline_*.log')):
    for r in lines(f):
        if r.get('phase') == 'copy_bw': copy_bw = r.get('copy_4GiB_TBps')
        if r.get('phase') in ('model', 'model_step_partial') and 'model' in r:
            base.setdefault(r['model'], {}).update(
                zo_step_ms=r.get('zo_step_ms'), forward_ms=r.get('fwd_graph_event_ms'),
                pass_ms=r.get('perturb_pass_ms'), pass_GBps=r.get('perturb_pass_GBps'),
                replay_k1024_s=r.get('replay_K1024_s', r.get('replay_K1024_s_extrapolated')),
                replay_k4096_s=r.get('replay_K4096_s', r.get('replay_K4096_s_extrapolated')),
                peak_memory_GB=r.get('peak_mem_GB'))
        if r.get('phase') == 'compile' and r.get('zo_step_compiled_ms'):
            base.setdefault(r['model'], {}).update(zo_step_compiled_ms=r['zo_step_compiled_ms'],
                                                   forward_compiled_ms=r.get('fwd_compiled_event_ms'))
for b in base.values():  # the baseline's best variant
    steps = [v for v in (b.get('zo_step_ms'), b.get('zo_step_compiled_ms')) if v]
    if steps: b['zo_step_best_ms'] = min(steps)
    forwards = [v for v in (b.get('forward_ms'), b.get('forward_compiled_ms')) if v]
    if forwards: b['forward_best_ms'] = min(forwards)
# (label, our key, the baseline's key, higher is better)
rows = [('ZO step (ms)', 'zo_step_ms', 'zo_step_best_ms', False),
        ('  baseline, graphed fwd', 'zo_step_ms', 'zo_step_ms', False),
        ('  baseline, compiled fwd', 'zo_step_ms', 'zo_step_compiled_ms', False),
        ('forward (ms)', 'forward_ms', 'forward_best_ms', False),
        ('weight GEMMs alone (ms)', 'weight_gemms_ms', None, False), ('one pass (ms)', 'pass_ms', 'pass_ms', False),
        ('pass (GB/s)', 'pass_GBps', 'pass_GBps', True), ('two-normal pass (ms)', 'pass_two_normals_ms', None, False),
        ('normals/s (1e9)', 'normals_per_s', None, True),
        ('replay K=1024 (s)', 'replay_k1024_s', 'replay_k1024_s', False),
        ('replay K=4096 (s)', 'replay_k4096_s', 'replay_k4096_s', False),
        ('peak memory (GB)', 'peak_memory_GB', 'peak_memory_GB', False),
        ('decode b64 (tok/s)', 'decode_tokens_per_s', None, True),
        ('decode b1 (tok/s)', 'decode_b1_tokens_per_s', None, True),
        ('Dolly round (s)', 'round_s', None, False), ('first Dolly round (s)', 'round_first_s', None, False),
        ('60 rounds (min)', 'rounds60_min', None, False)]
floors = {}
for f in glob.glob(os.path.join(d, 'ours_*.json')):
    j = json.load(open(f)); floors[j['preset']] = {k: v['floor'] for k, v in j['figures'].items()}
def fmt(v, key=None, extra=()):
    if v is None: return '—'
    if key == 'normals_per_s': v = v / 1e9
    s = f'{v:.4g}'
    return s + ('*' if key in extra else '')
print(f'copy bandwidth (baseline, 4 GiB D2D): {copy_bw} TB/s;  * = extrapolated')
for preset in sorted(set(ours) | set(ref) | set(base)):
    o, b, r = ours.get(preset, {}), base.get(preset, {}), ref.get(preset, {})
    print(f'\n== {preset}')
    print(f"{'figure':26s} {'fedkseed':>10s} {'floor':>10s} {'baseline':>10s} {'reference':>10s} {'base/ours':>10s} {'ref/ours':>10s}")
    for label, key, base_key, rate in rows:
        ov, bv = o.get(key), b.get(base_key) if base_key else None
        rv = r.get(key) if not label.startswith('  ') else None
        fv = floors.get(preset, {}).get(key) if not label.startswith('  ') else None
        def ratio(x):
            if x is None or not ov: return '—'
            return f'{(ov / x if rate else x / ov):.2f}x'
        shown = fmt(ov, key, o.get('_x', ())) if not label.startswith('  ') else ''
        print(f"{label:26s} {shown:>10s} {fmt(fv, key):>10s} {fmt(bv, key):>10s} {fmt(rv, key):>10s} {ratio(bv):>10s} {ratio(rv):>10s}")
EOF
}

if [ "${1:-}" = "--table" ]; then print_table "${2:?--table needs a folder}"; exit; fi

out=${OUT:-$root/logs/bench}
mkdir -p "$out"
presets=${PRESETS:-"dj-1.3b open-llama-3b llama-7b"}
baseline_presets=${BASELINE_PRESETS:-"dj-1.3b open-llama-3b"}
reference_presets=${REFERENCE_PRESETS:-$presets}
say() { echo "[bench $(date +%T)] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

# Build unless a runnable binary was handed in.
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
if [ -d .debs ]; then
  [ -f .debs/prefix/.unpacked ] || { for deb in .debs/*.deb; do dpkg -x "$deb" .debs/prefix; done; touch .debs/prefix/.unpacked; }
  export LD_LIBRARY_PATH="$root/.debs/prefix/usr/lib/x86_64-linux-gnu:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
bin=${FEDKSEED_BIN:-}
if [ -z "$bin" ] || ! "$bin" --help >/dev/null 2>&1; then
  say "building (scripts/setup.sh --offline .debs)"
  BUILD_DIR=build-gpu JOBS=${JOBS:-16} PYTHON=$python scripts/setup.sh --offline .debs >"$out/build.log" 2>&1 \
    || { tail -40 "$out/build.log"; exit 1; }
  bin=$root/build-gpu/fedkseed
fi
if [ -n "${TESTS:-}" ]; then
  say "tests on the GPU: $TESTS"
  "$(dirname "$bin")/tests/fedkseed_tests" --gtest_filter="$TESTS" 2>&1 | tail -25 | tee "$out/tests.log"
fi

for preset in $presets ${BIG_PRESETS-llama-13b llama-33b}; do
  extra=(--round_clients 0 --decode_batch 0 --replay_cap_s 20)
  [ "$preset" = dj-1.3b ] && extra=()
  case " ${BIG_PRESETS-llama-13b llama-33b} " in *" $preset "*) extra+=(--replay_k 16 --repetitions 5) ;; esac
  say "fedkseed bench --preset $preset"
  "$bin" bench --preset "$preset" --seq 256 --dtype fp16 --device cuda --json "$out/ours_$preset.json" \
    "${extra[@]}" 2>&1 | tee "$out/ours_$preset.txt"
done
for preset in $reference_presets; do
  say "reference-style step --preset $preset"
  "$python" scripts/bench_reference.py --preset "$preset" --seq 256 >"$out/reference_$preset.log" 2>&1 \
    || tail -5 "$out/reference_$preset.log"
done
if [ -f .bench/strong_baseline.py ]; then
  say "strong baseline: copy bandwidth"
  OPT_FAST=1 "$python" .bench/strong_baseline.py --phase copy >"$out/baseline_copy.log" 2>&1
  for preset in $baseline_presets; do
    say "strong baseline --model $preset"
    OPT_FAST=1 timeout "${BASELINE_TIMEOUT:-240}" "$python" .bench/strong_baseline.py --phase model --model "$preset" --steps 20 --K 1024 4096 \
      >"$out/baseline_$preset.log" 2>&1 || tail -5 "$out/baseline_$preset.log"
    say "strong baseline --phase compile --model $preset"
    OPT_FAST=1 timeout "${BASELINE_TIMEOUT:-240}" "$python" .bench/strong_baseline.py --phase compile --model "$preset" \
      --compile_cap_s "${COMPILE_CAP_S:-120}" >"$out/baseline_compile_$preset.log" 2>&1 \
      || tail -5 "$out/baseline_compile_$preset.log"
  done
else
  say "no .bench/strong_baseline.py: copy ../shared/bench into .bench and carry it"
fi
print_table "$out" | tee "$out/table.txt"
