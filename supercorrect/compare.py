"""`supercorrect compare`: SuperCorrect against Step-DPO and plain CoT SFT, on the same data, as DVC experiments.

Each variant (VARIANTS) at each seed of a profile (params/ablations.yaml) is queued as a normal
DVC experiment, `dvc exp run --queue evaluate -S key=value ... --name <variant>-s<seed>`, and the
queue is run with one worker (`dvc exp run --run-all --jobs 1`), so every run is cached and
reproducible, and runs that share their SFT inputs reuse one SFT run through the run cache.
The "X only" rows are the sft checkpoint of the matching DPO experiment (evaluate scores both),
not runs of their own (ONLY). The figures are read from each experiment's commit
(metrics/evaluate.json, mine.json, annotate.json) and aggregated across seeds: mean with a 95 %
Student-t interval, per variant, into metrics/ablations.json and plots/ablations.png. Ctrl-C,
SIGTERM or SIGHUP stops this run's experiments in DVC's queue too; finished experiments stay.

    supercorrect compare                  # profile `default` (docs/ablations.md)
    supercorrect compare --quick          # profile `quick`: 1 seed, 2 variants, a few minutes
    supercorrect compare --no-run         # aggregate the experiments already there
    make ablations

Not a pipeline stage: it imports no stage module and drives them through `dvc`.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from supercorrect.config import ConfigError
from supercorrect.io import InputError, atomic_path, metrics_path, write_json
from supercorrect.params_file import load_params

# The experiments: name -> (what it is, params overrides on top of the profile's).
VARIANTS = {
    "hsft_dpo": ("HSFT + SuperCorrect DPO", []),  # the teacher's trace against the blind student's correction
    "hsft_dpo_told_k": ("HSFT + SuperCorrect DPO, student told k", ["mine.rejected=told_k"]),
    # Both sides of the flag decision: keep pairs (a right solution kept vs a false flag) beside Eq. 8's.
    "hsft_dpo_keep": ("HSFT + SuperCorrect DPO + keep pairs", ["mine.keep_share=0.3"]),
    "hsft_step_dpo": ("HSFT + Step-DPO", ["mine.pairs=step_dpo"]),  # own right step k against wrong step k
    "cot_dpo": ("CoT SFT + SuperCorrect DPO", ["annotate.targets=cot"]),
}
# Rows read from the sft checkpoint of an experiment above: name -> (what it is, experiment).
ONLY = {"hsft_only": ("HSFT only", "hsft_dpo"), "cot_only": ("CoT SFT only", "cot_dpo")}
ROW_ORDER = ["hsft_only", "hsft_dpo", "hsft_dpo_told_k", "hsft_dpo_keep", "hsft_step_dpo", "cot_only", "cot_dpo"]
FIGURES = ("accuracy", "net_gain", "locate_rate", "fix_rate", "false_flag_rate", "step_auc", "pairs",
           "teacher_requests", "teacher_cost_usd")
# Two-sided 95 % Student-t quantiles for few seeds; beyond the table, a Cornish-Fisher expansion.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t975(df: int) -> float:
    if df in T975:
        return T975[df]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def summarize(values: list[float | None]) -> dict:
    """Mean and 95 % t-interval across seeds of the values present (one value: no interval)."""
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "ci95_low": None, "ci95_high": None, "n": 0, "per_seed": values}
    mean = statistics.fmean(present)
    if len(present) == 1:
        return {"mean": mean, "ci95_low": None, "ci95_high": None, "n": 1, "per_seed": values}
    half = t975(len(present) - 1) * statistics.stdev(present) / math.sqrt(len(present))
    return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half, "n": len(present), "per_seed": values}


def teacher_block(stage_metrics: dict | None) -> dict:
    """A stage's teacher usage: the real `teacher` block, else the offline teacher's estimate."""
    stage_metrics = stage_metrics or {}
    return stage_metrics.get("teacher") or stage_metrics.get("teacher_estimate") or {}


def figures(run: dict, checkpoint: str, benchmark: str) -> dict:
    """One experiment's figures for one checkpoint: `run` holds its evaluate, mine, annotate metrics."""
    bench = run["evaluate"][benchmark]
    corrected = bench.get("self_correction", {}).get(checkpoint, {})
    held = corrected.get("heldout_errors", {})
    verified = corrected.get("verification", {})
    teachers = [teacher_block(run.get("annotate"))] + ([teacher_block(run.get("mine"))] if checkpoint == "dpo" else [])
    return {"accuracy": bench["checkpoints"][checkpoint]["accuracy"], "net_gain": corrected.get("net_gain"),
            "locate_rate": held.get("locate_rate"), "fix_rate": held.get("fix_rate"),
            "false_flag_rate": verified.get("false_flag_rate"), "step_auc": verified.get("step_auc"),
            "pairs": run["mine"]["pairs"] if checkpoint == "dpo" else 0,
            "teacher_requests": sum(t.get("requests", 0) for t in teachers),
            "teacher_cost_usd": sum(t.get("cost_usd", 0.0) for t in teachers)}


def aggregate(runs: dict[tuple[str, int], dict], seeds: list[int], benchmark: str | None = None) -> dict:
    """metrics/ablations.json from the runs found, keyed (experiment variant, seed)."""
    variants = sorted({v for v, _ in runs}, key=lambda v: list(VARIANTS).index(v))
    if benchmark is None:
        benchmark = next(iter(next(iter(runs.values()))["evaluate"]))
    rows = {}
    for name in ROW_ORDER:
        source, checkpoint = (ONLY[name][1], "sft") if name in ONLY else (name, "dpo")
        if source not in variants:
            continue
        per_seed = [figures(runs[(source, s)], checkpoint, benchmark) if (source, s) in runs else None for s in seeds]
        rows[name] = {"description": ONLY[name][0] if name in ONLY else VARIANTS[name][0],
                      "experiments": [f"{source}-s{s}" for s in seeds], "checkpoint": checkpoint,
                      **{f: summarize([r[f] if r else None for r in per_seed]) for f in FIGURES}}
    return {"benchmark": benchmark, "seeds": seeds, "interval": "95 % Student-t across seeds", "variants": rows}


def table(result: dict) -> str:
    """The Markdown table of metrics/ablations.json (README "Ablations")."""
    def cell(s: dict, digits: int = 3) -> str:
        if s["mean"] is None:
            return "n/a"
        if s["ci95_low"] is not None and s["ci95_high"] != s["ci95_low"]:
            return f"{s['mean']:.{digits}f} ± {(s['ci95_high'] - s['ci95_low']) / 2:.{digits}f}"
        return f"{s['mean']:.{digits}f}"

    lines = ["| variant | accuracy | self-correction net gain | held-out locate / fix | false-flag rate | step AUC | "
             "pairs | teacher requests | est. teacher cost (USD) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["variants"].items():
        lines.append(f"| {r['description']} | {cell(r['accuracy'])} | {cell(r['net_gain'])} | "
                     f"{cell(r['locate_rate'], 2)} / {cell(r['fix_rate'], 2)} | {cell(r['false_flag_rate'], 2)} | "
                     f"{cell(r['step_auc'], 2)} | {cell(r['pairs'], 0)} | "
                     f"{cell(r['teacher_requests'], 0)} | {cell(r['teacher_cost_usd'], 4)} |")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """Accuracy, net gain, held-out locate/fix rates, the false-flag rate and the step AUC per
    variant, with their 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["variants"])
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, metric_names, title in ((axes[0], ["accuracy"], "test accuracy"),
                                    (axes[1], ["net_gain"], "self-correction net gain"),
                                    (axes[2], ["locate_rate", "fix_rate"], "held-out errors: locate / fix"),
                                    (axes[3], ["false_flag_rate", "step_auc"], "false-flag rate / step AUC")):
        width = 0.8 / len(metric_names)
        for j, metric in enumerate(metric_names):
            stats = [result["variants"][n][metric] for n in names]
            means = [s["mean"] if s["mean"] is not None else 0.0 for s in stats]
            errors = [[m - s["ci95_low"] if s["ci95_low"] is not None else 0.0 for m, s in zip(means, stats)],
                      [s["ci95_high"] - m if s["ci95_high"] is not None else 0.0 for m, s in zip(means, stats)]]
            ax.bar([i + (j - (len(metric_names) - 1) / 2) * width for i in range(len(names))], means, width,
                   yerr=errors, capsize=3, label=metric.replace("_", " "))
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="black", linewidth=0.6)
        if len(metric_names) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(f"{result['benchmark']}: mean over seeds {result['seeds']}, 95 % t-interval", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- running the experiments

def load_profile(file: str, name: str) -> dict:
    """A profile of params/ablations.yaml, checked: known variants, seeds, valid params overrides."""
    try:
        profiles = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{file}: cannot read the ablation profiles ({type(exc).__name__})") from None
    if name not in profiles:
        raise ConfigError(f"{file}: no profile {name!r}; profiles: {', '.join(profiles)}")
    profile = profiles[name]
    unknown = [v for v in profile.get("variants", []) if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"{file}: {name}.variants: unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    if not profile.get("seeds") or not all(isinstance(s, int) for s in profile["seeds"]):
        raise ConfigError(f"{file}: {name}.seeds: expected a list of integers")
    return profile


def _value(v) -> str:
    """A value as `dvc exp run -S` (Hydra's override grammar) and `load_params` both read it."""
    if isinstance(v, list):
        return "[" + ",".join(map(_value, v)) + "]"
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def overrides(profile: dict, variant: str, seed: int) -> list[str]:
    """The `key=value` params overrides of one experiment."""
    common = [f"{k}={_value(v)}" for k, v in (profile.get("set") or {}).items()]
    return common + VARIANTS[variant][1] + [f"{stage}.seed={seed}" for stage in ("sft", "mine", "dpo")]


def _dvc(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], text=True, **kw)


def experiment_refs() -> dict[str, str]:
    """Experiment name -> its git ref, for the experiments based on the current commit
    (DVC keeps them as refs/exps/<2 hex>/<38 hex of the baseline commit>/<name>)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    base = f"refs/exps/{head[:2]}/{head[2:]}/"
    out = subprocess.run(["git", "for-each-ref", "--format=%(refname)", base], capture_output=True,
                         text=True, check=True).stdout.split()
    return {ref[len(base):]: ref for ref in out}


def read_run(ref: str, p) -> dict:
    """An experiment's evaluate, mine and annotate metrics, read from its commit where params `p`
    have the stages write them."""
    run = {}
    for stage in ("evaluate", "mine", "annotate"):
        path = metrics_path(p, stage).as_posix()
        shown = subprocess.run(["git", "show", f"{ref}:{path}"], capture_output=True, text=True)
        if shown.returncode != 0:
            raise InputError(f"experiment {ref.rsplit('/', 1)[-1]}: {path} is not in its commit")
        run[stage] = json.loads(shown.stdout)
    return run


class Stopped(Exception):
    """A stop signal ended `compare`; the message says what became of DVC's queue."""


# Besides Ctrl-C: a kill, a scheduler's stop, and a dropped ssh session (the terminal's hang-up).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def queue_status() -> dict[str, str]:
    """`dvc queue status` as {experiment name: Queued | Running | Success | Failed}."""
    out = _dvc(["queue", "status"], capture_output=True).stdout
    rows = (line.split() for line in out.splitlines()[1:])
    return {row[1]: row[-1] for row in rows if len(row) >= 4}


def stop_queue(names: list[str]) -> str:
    """Stop this run's experiments in DVC's queue; return what became of them, for the user.

    DVC runs the queue in a detached worker, which a stop of `dvc exp run` does not reach: it
    would go on training the current experiment and then every queued one. So the queued ones
    are removed, and the running one gets `dvc queue kill`: SIGINT to its whole process group,
    so the stage's own process (an `sft` that would train for hours) stops too, not only DVC's
    executor. Then the worker is stopped. Experiments queued under other names stay.
    """
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A second Ctrl-C (or the SIGTERM after it) must not cut this short and leave a worker.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        queued = [n for n, state in queue_status().items() if n in names and state == "Queued"]
        if queued:
            _dvc(["queue", "remove", *queued], **quiet)
        # Read again: the worker may have started one of the queued ones meanwhile.
        running = [n for n, state in queue_status().items() if n in names and state == "Running"]
        if running:
            _dvc(["queue", "kill", *running], **quiet)
        deadline = time.monotonic() + 120
        while running and time.monotonic() < deadline and "Running" in {queue_status().get(n) for n in running}:
            time.sleep(1)
        stopped = _dvc(["queue", "stop", "--kill"], **quiet).returncode == 0
        left = [n for n, state in queue_status().items() if n in names and state in ("Queued", "Running")]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if left or not stopped:
        return (f"DVC's queue may still run {', '.join(left) or 'its worker'}: check `dvc queue status`, "
                "stop it with `dvc queue stop --kill`")
    return "the DVC queue is stopped too"


def run_queue(params_file: str, profile: dict) -> list[str]:
    """Queue every experiment of the profile (replacing same-named ones), then run the queue
    (`dvc exp run --run-all --jobs 1`). Ctrl-C, SIGTERM or SIGHUP stops the queue too (stop_queue)."""
    names = [f"{v}-s{s}" for s in profile["seeds"] for v in profile["variants"]]
    for name in names:  # fail before queueing anything on an override the params cannot take
        variant, seed = name.rsplit("-s", 1)
        load_params(params_file, overrides(profile, variant, int(seed)))
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        existing = [n for n in names if n in experiment_refs()]
        if existing:  # a rerun replaces them; the run cache restores any unchanged stage at once
            _dvc(["exp", "remove", *existing], check=True, stdout=subprocess.DEVNULL)
        for name in names:
            variant, seed = name.rsplit("-s", 1)
            sets = [a for o in overrides(profile, variant, int(seed)) for a in ("-S", o)]
            _dvc(["exp", "run", "--queue", "evaluate", *sets, "--name", name], check=True,
                 stdout=subprocess.DEVNULL)
        done = _dvc(["exp", "run", "--run-all", "--jobs", "1"])
    except KeyboardInterrupt:
        raise Stopped(stop_queue(names)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    missing = [n for n in names if n not in experiment_refs()]
    if done.returncode != 0 or missing:
        raise InputError(f"dvc exp run --run-all: {len(missing)} of {len(names)} experiments failed "
                         f"({', '.join(missing[:4])}); see `dvc queue logs <name>`")
    return names


def main(args) -> int:
    started = time.time()
    try:
        profile = load_profile(args.profiles, "quick" if args.quick else args.profile)
        if not args.no_run:
            run_queue(args.params, profile)
        refs = experiment_refs()
        p = load_params(args.params)
        runs = {(v, s): read_run(refs[f"{v}-s{s}"], p) for s in profile["seeds"] for v in profile["variants"]
                if f"{v}-s{s}" in refs}
        if not runs:
            raise InputError("no experiments of this profile found; run without --no-run first")
    except (ConfigError, InputError, subprocess.CalledProcessError) as exc:
        print(f"supercorrect compare: error: {exc}", file=sys.stderr)
        return 2
    except Stopped as exc:
        print(f"supercorrect compare: stopped; {exc} (finished experiments are kept: "
              "`supercorrect compare --no-run` aggregates them)", file=sys.stderr)
        return 130
    result = aggregate(runs, profile["seeds"], args.benchmark)
    result |= {"profile": "quick" if args.quick else args.profile, "wall_time_s": round(time.time() - started, 1),
               "ran": not args.no_run}
    write_json(args.out, result)
    plot(result, Path(args.plot))
    print(table(result))
    print(f"compare: {len(runs)} experiments in {result['wall_time_s']:.0f} s; {args.out}, {args.plot}")
    return 0


def add_arguments(cmd) -> None:
    cmd.add_argument("--params", default="params.yaml", metavar="FILE", help="params file (default: %(default)s)")
    cmd.add_argument("--profiles", default=os.path.join("params", "ablations.yaml"), metavar="FILE",
                     help="ablation profiles (default: %(default)s)")
    cmd.add_argument("--profile", default="default", help="profile to run (default: %(default)s)")
    cmd.add_argument("--quick", action="store_true", help="the `quick` profile: 1 seed, 2 variants, tiny (CI)")
    cmd.add_argument("--no-run", action="store_true", help="only aggregate the experiments already there")
    cmd.add_argument("--benchmark", default=None, help="benchmark to compare on (default: the first)")
    cmd.add_argument("--out", default="metrics/ablations.json", help="default: %(default)s")
    cmd.add_argument("--plot", default="plots/ablations.png", help="default: %(default)s")
