#!/usr/bin/env python3
"""Figures of fedkseed run directories (<log_root>/<timestamp>/ written by `train --log`).

  plot_runs.py RUN_DIR... --out DIR

writes DIR/eval_loss.png (test loss per round), DIR/communication.png (cumulative bytes
up+down per round on a log axis, with full-model FedAvg for the same model) and, when the
runs cover two or more K, DIR/k_ablation.png (final Rouge-L and eval loss vs K); when runs use
client-level DP, DIR/privacy.png (final test loss vs the ε spent, runs without DP as ε = ∞); when
runs have Byzantine clients, DIR/attack.png (test loss per round of each aggregator, with and
without the attack). Runs that differ only in --seed are one line: their mean, with a band (or
error bar) of one sample std.
The table of the same runs is `fedkseed report`.
"""
import argparse
import itertools
import json
import math
import os
import sys
import textwrap
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Options that do not make runs different experiments (as `fedkseed report`).
NOT_AN_EXPERIMENT = {"seed", "log_root", "device", "resume", "stop_after", "log"}
# Options named in a line's label when they vary between the given runs: these first, then
# any other in alphabetical order (K and bias_sampling are in the method's name).
LABEL_KEYS = ["dataset", "iid", "lr", "zo_eps", "local_step", "m", "num_clients", "rounds", "model", "dtype"]
# Shorter names of options in labels.
ABBREVIATIONS = {"num_clients": "N", "local_step": "steps", "zo_eps": "eps", "batch_size": "bs",
                 "max_length": "len", "dataset_subsample": "subsample", "eval_max_samples": "eval_n",
                 "bias_loss_clip": "clip", "grad_initial": "g0", "weight_decay": "wd", "batch_or_epoch": "per"}
# Options holding paths: labels show the last component.
PATH_KEYS = {"model", "data_dir", "partition_file", "seeds_file"}
# Legend labels and titles wrap at these widths (characters), so neither squeezes the axes.
LABEL_WIDTH = 34
TITLE_WIDTH = 60
# Line styles and markers cycle with periods 4 and 6 (colours with 10), so that two lines of
# the same colour, as from 11 or more runs, still differ.
LINE_STYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P"]
# The privacy and robustness flags: config.yaml lists them only when set away from these.
LISTED_WHEN_SET = {"dp_clip": None, "dp_noise": 0.0, "dp_epsilon": None, "dp_delta": 1e-5, "dp_noise_at": "server",
                   "aggregator": "mean", "trim": 0.1, "byzantine_fraction": 0.0, "attack": "sign_flip"}


class RunError(Exception):
    pass


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as error:
        raise RunError(f"{path}: {error.strerror}")
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: malformed JSON: {error}")


def read_config(path):
    """config.yaml as the trainer writes it: one `key: <JSON scalar>` per line."""
    config = {}
    try:
        lines = open(path).read().splitlines()
    except OSError as error:
        raise RunError(f"{path}: {error.strerror} (is this a run directory written with --log?)")
    for number, line in enumerate(lines, 1):
        key, sep, value = line.partition(": ")
        if not line:
            continue
        try:
            if not sep:
                raise ValueError("expected 'key: value'")
            config[key] = json.loads(value)
        except ValueError as error:
            raise RunError(f"{path}: line {number} {line!r}: {error}")
    return config


def method_of(config):
    if config["K"] == 0:
        return "FedZO-style (K=0)"
    return "FedKSeed-Pro" if config["bias_sampling"] else "FedKSeed"


def read_run(run_dir):
    try:
        return parse_run(run_dir)
    except (KeyError, IndexError, TypeError) as error:
        raise RunError(f"{run_dir}: unexpected run file contents ({type(error).__name__}: {error})")


def parse_run(run_dir):
    config = {**LISTED_WHEN_SET, **read_config(os.path.join(run_dir, "config.yaml"))}
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    try:
        rounds = [json.loads(line) for line in open(metrics_path) if line.strip()]
    except OSError as error:
        raise RunError(f"{metrics_path}: {error.strerror}")
    except json.JSONDecodeError as error:
        raise RunError(f"{metrics_path}: malformed JSON line: {error}")
    initial = read_json(os.path.join(run_dir, "results.json"))["eval_avg_acc"][0]
    eval_points = [(0, initial)] + [(r["round"], r["eval_loss"]) for r in rounds if r["eval_loss"] is not None]
    final_path = os.path.join(run_dir, "final_eval.json")
    final = read_json(final_path) if os.path.exists(final_path) else {}
    rouge = final.get("final_eval_rouge")
    spent = [r["dp_epsilon"] for r in rounds if r.get("dp_epsilon") is not None]
    cumulative, fedavg, total, total_fedavg = [], [], 0, 0
    for r in rounds:
        total += r["bytes_up"] + r["bytes_down"]
        total_fedavg += r["bytes_fedavg"]
        cumulative.append((r["round"], total))
        fedavg.append((r["round"], total_fedavg))
    return {
        "dir": run_dir,
        "config": config,
        "method": method_of(config),
        "eval": eval_points,
        "cumulative_bytes": cumulative,
        "fedavg_bytes": fedavg,
        "rouge_l": None if rouge is None else 100.0 * rouge,
        "final_loss": final.get("final_eval_loss", eval_points[-1][1]),
        "dp_epsilon": final.get("dp_epsilon", spent[-1] if spent else None),
    }


def group_runs(runs):
    """Runs equal in every option but NOT_AN_EXPERIMENT, in order of first appearance."""
    groups = OrderedDict()
    for run in runs:
        key = json.dumps({k: v for k, v in run["config"].items() if k not in NOT_AN_EXPERIMENT}, sort_keys=True)
        groups.setdefault(key, []).append(run)
    keys = {k for g in groups.values() for k in g[0]["config"]} - NOT_AN_EXPERIMENT - {"K", "bias_sampling"}
    ordered = [k for k in LABEL_KEYS if k in keys] + sorted(keys - set(LABEL_KEYS))
    varying = [k for k in ordered if len({json.dumps(g[0]["config"].get(k)) for g in groups.values()}) > 1]
    labelled = []
    for members in groups.values():
        config = members[0]["config"]
        parts = ([f"K={config['K']}"] if config["K"] else []) + [short_option(k, config.get(k)) for k in varying]
        label = members[0]["method"] + (f" ({', '.join(parts)})" if parts else "")
        if len(members) > 1:
            label += f", {len(members)} seeds"
        labelled.append((label, members))
    return labelled, varying


def short_option(key, value):
    """`key=value` for a label: abbreviated key, a path's last component, long text cut."""
    if key in PATH_KEYS and isinstance(value, str) and value:
        value = os.path.basename(os.path.normpath(value))
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if len(text) > 20:
        text = text[:19] + "…"
    return f"{ABBREVIATIONS.get(key, key)}={text}"


def styles():
    """Distinct (colour, line style, marker) for successive lines."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in itertools.count():
        yield {"color": colours[i % len(colours)], "linestyle": LINE_STYLES[i % len(LINE_STYLES)],
               "marker": MARKERS[i % len(MARKERS)]}


def mean_std(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def series_mean(members, field):
    """x -> (mean, std) over the members' (x, y) series `field`, x sorted."""
    by_x = OrderedDict()
    for run in members:
        for x, y in run[field]:
            by_x.setdefault(x, []).append(y)
    xs = sorted(by_x)
    stats = [mean_std(by_x[x]) for x in xs]
    return xs, [m for m, _ in stats], [s for _, s in stats]


def plot_series(ax, xs, means, stds, label, **style):
    (line,) = ax.plot(xs, means, markersize=4, label=label, **style)
    if any(s is not None for s in stds):
        low = [m - (s or 0.0) for m, s in zip(means, stds)]
        high = [m + (s or 0.0) for m, s in zip(means, stds)]
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2)


def plot_eval_loss(groups, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (label, members), style in zip(groups, styles()):
        plot_series(ax, *series_mean(members, "eval"), label, **style)
    finish(ax, "Test loss per round (mean ± 1 std over seeds)", "communication round", "test loss")
    return save(fig, out, "eval_loss.png")


def plot_communication(groups, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (label, members), style in zip(groups, styles()):
        plot_series(ax, *series_mean(members, "cumulative_bytes"), label, **style)
    fedavg = OrderedDict()  # one line per model and dtype: full-model bytes depend on nothing else here
    for _, members in groups:
        config = members[0]["config"]
        fedavg.setdefault((config["model"], config["dtype"]), members[0]["fedavg_bytes"])
    fedavg_styles = itertools.cycle(["--", ":", "-.", (0, (5, 1, 1, 1))])  # references of several models differ
    for ((model, dtype), points), linestyle in zip(fedavg.items(), fedavg_styles):
        name = os.path.basename(os.path.normpath(model)) if len(fedavg) > 1 else "same model"
        ax.plot([x for x, _ in points], [y for _, y in points], color="black", linestyle=linestyle,
                label=f"FedAvg, full model up+down ({name}, {dtype})")
    ax.set_yscale("log")
    finish(ax, "Cumulative communication, all clients", "communication round", "bytes sent, up + down (log)")
    return save(fig, out, "communication.png")


def plot_k_ablation(runs, varying, out):
    """Final metrics vs K for every method and setting with two or more K; None if there is none."""
    lines = OrderedDict()
    for run in runs:
        config = run["config"]
        name = run["method"] + "".join(f", {short_option(k, config.get(k))}" for k in varying)
        lines.setdefault(name, []).append(run)
    metrics = [("rouge_l", "final Rouge-L (%)"), ("final_loss", "final test loss")]
    metrics = [(f, y) for f, y in metrics if any(run[f] is not None for run in runs)]
    bounded = {n: rs for n, rs in lines.items() if len({r["config"]["K"] for r in rs if r["config"]["K"]}) > 1}
    if not bounded:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.5), squeeze=False)
    for ax, (field, ylabel) in zip(axes[0], metrics):
        for (name, members), style in zip(bounded.items(), styles()):
            ks = sorted({r["config"]["K"] for r in members if r["config"]["K"]})
            stats = [mean_std([r[field] for r in members if r["config"]["K"] == k]) for k in ks]
            ax.errorbar(ks, [m for m, _ in stats], yerr=[s or 0.0 for _, s in stats], capsize=3, label=name, **style)
        for name, members in lines.items():
            if members[0]["config"]["K"] == 0:
                mean, _ = mean_std([r[field] for r in members])
                if mean is not None:
                    ax.axhline(mean, color="gray", linestyle=":", label=f"{name} (unbounded seeds)")
        ax.set_xscale("log", base=2)
        finish(ax, f"K ablation: {ylabel}", "K (number of candidate seeds, log)", ylabel,
               integer_x=False, legend_outside=False)
    return save(fig, out, "k_ablation.png")


def plot_privacy(groups, out):
    """Final test loss vs the ε spent; None when no run used DP noise."""
    private = [(label, members) for label, members in groups if members[0]["dp_epsilon"] is not None]
    if not private:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    points = sorted((mean_std([r["dp_epsilon"] for r in members])[0], mean_std([r["final_loss"] for r in members]),
                     label) for label, members in private)
    ax.errorbar([e for e, _, _ in points], [m for _, (m, _), _ in points], yerr=[s or 0.0 for _, (_, s), _ in points],
                marker="o", capsize=3, label="client-level DP")
    for index, (_, members) in enumerate(g for g in groups if g[1][0]["dp_epsilon"] is None):
        mean, _ = mean_std([r["final_loss"] for r in members])
        if mean is not None:
            ax.axhline(mean, color=f"C{index + 1}", linestyle=":", label=f"no DP (ε = ∞), {members[0]['dir']}")
    epsilons = [e for e, _, _ in points]
    if max(epsilons) > 10 * min(epsilons):
        ax.set_xscale("log")
    finish(ax, "Final test loss vs privacy spent", "ε at the run's δ", "final test loss",
           integer_x=False, legend_outside=False)
    return save(fig, out, "privacy.png")


def plot_attack(groups, out):
    """Test loss per round, per aggregator, with (solid) and without (dashed) Byzantine clients;
    None when no run had any."""
    if not any(members[0]["config"]["byzantine_fraction"] > 0 for _, members in groups):
        return None
    fig, ax = plt.subplots(figsize=(10, 4.5))
    colors = OrderedDict()
    for _, members in groups:
        config = members[0]["config"]
        color = colors.setdefault(config["aggregator"], f"C{len(colors)}")
        attacked = config["byzantine_fraction"] > 0
        label = config["aggregator"] + (f", {config['byzantine_fraction']:.0%} Byzantine ({config['attack']})"
                                        if attacked else ", no attack")
        plot_series(ax, *series_mean(members, "eval"), label, color=color, linestyle="-" if attacked else "--")
    finish(ax, "Test loss under attack, per aggregator", "communication round", "test loss")
    return save(fig, out, "attack.png")


def finish(ax, title, xlabel, ylabel, integer_x=True, legend_outside=True):
    ax.set_title(textwrap.fill(title, TITLE_WIDTH), fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    labels = [textwrap.fill(label, LABEL_WIDTH, break_on_hyphens=False) for label in labels]
    if legend_outside:
        ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        ax.legend(handles, labels, fontsize=8)


def save(fig, out, name):
    """The PNG grown to hold the legend beside the axes and every title, rather than the axes shrunk."""
    path = os.path.join(out, name)
    fig.savefig(path, dpi=130, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", help="run directories <log_root>/<timestamp> (e.g. LOG_ROOT/*)")
    parser.add_argument("--out", required=True, help="folder for the PNG files (created if missing)")
    args = parser.parse_args()
    try:
        runs = [read_run(d) for d in args.run_dirs]
    except RunError as error:
        print(f"plot_runs.py: error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    groups, varying = group_runs(runs)
    written = [plot_eval_loss(groups, args.out), plot_communication(groups, args.out),
               plot_k_ablation(runs, varying, args.out), plot_privacy(groups, args.out), plot_attack(groups, args.out)]
    for path in written:
        if path:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
