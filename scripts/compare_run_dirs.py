"""Compare fedkseed run directories with the first one: state.json (without the options, the
timings and the memory peaks), the final evaluation, and the bytes sent between ranks per round.

    python3 scripts/compare_run_dirs.py SINGLE_RUN_DIR OTHER_RUN_DIR...
Exit status 1 when any run's state differs from the first."""
import json
import sys


def load(run_dir):
    with open(f'{run_dir}/state.json') as f:
        state = json.load(f)
    for key in list(state):
        if key in ('options', 'seconds') or key.startswith('peak_memory'):
            state.pop(key)
    with open(f'{run_dir}/metrics.jsonl') as f:
        metrics = [json.loads(line) for line in f if line.strip()]
    with open(f'{run_dir}/final_eval.json') as f:
        final = f.read().strip()
    return state, final, metrics


def main(first, others):
    reference_state, reference_final, _ = load(first)
    print(f'{first}: final_eval {reference_final}')
    same = True
    for run_dir in others:
        state, final, metrics = load(run_dir)
        differing = sorted(k for k in reference_state.keys() | state.keys()
                           if reference_state.get(k) != state.get(k))
        same = same and not differing
        verdict = 'state identical' if not differing else f'state differs in {differing}'
        between_ranks = [m.get('bytes_between_ranks') for m in metrics]
        print(f'{run_dir}: {verdict} | final_eval {final} | bytes between ranks per round {between_ranks}')
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
