"""Stage `evaluate`: accuracy of the base, SFT and DPO checkpoints on each benchmark.

Writes `metrics/evaluate.json` (contract: one object per benchmark, each with `accuracy`,
the final checkpoint's, plus `n`), with for the final checkpoint:
- a seeded 95 % bootstrap interval (`ci95_low`, `ci95_high`), accuracy `by_subject` and `by_level`;
- `no_answer` and grading `timeouts` counts;
- `pass_at_k` / `maj_at_k` when `evaluate.samples > 1` (then `accuracy` is the mean over samples);
and `<ckpt>_accuracy` plus a `checkpoints` block for every checkpoint. For every checkpoint in
`evaluate.self_correct`, `self_correction.<ckpt>` (contract) holds a second pass in which the
model checks its own first answer under the correction-trace prompt it was trained in
(paper Fig. 3): `accuracy_before`, `accuracy_after`, `wrong_to_right`, `right_to_wrong`,
`net_gain` (after - before) with a seeded 95 % bootstrap `net_gain_ci`, and `heldout_errors`:
on the erroneous solutions `mine` held out of DPO (`{mine.out_dir}/heldout.jsonl`), how often
the model names the teacher's first wrong step (`locate_rate`) and reaches the right answer
(`fix_rate`), paper Table 6. Also writes the
per-sample predictions and, for `dvc plots show`, `plots/evaluate_accuracy.csv`,
`plots/evaluate_by_subject.csv` and `plots/evaluate_by_level.csv`.

    supercorrect evaluate [--params params.yaml] [--set evaluate.samples=8] [--set 'evaluate.self_correct=[]']
"""

from __future__ import annotations

from pathlib import Path

from supercorrect import validate
from supercorrect.config import Params
from supercorrect.data.loaders import load_problems
from supercorrect.formats.prompts import correction_messages, load_prompts, solve_messages
from supercorrect.grading.judge import grade_batch
from supercorrect.grading.stats import accuracy_by, bootstrap_ci, ks_for, majority_correct, pass_at_k
from supercorrect.io import metrics_path, write_json, write_jsonl, write_text
from supercorrect.pairs.cross_model import flagged_step


def checkpoint_paths(p: Params) -> dict[str, str]:
    return {"base": p.sft.base_dir, "sft": p.sft.out_dir, "dpo": p.dpo.out_dir}


def score(problems: list[dict], responses: list[str] | list[list[str]], *, time_limit_s: float | None = None,
          workers: int | None = None, progress: bool = False, desc: str = "grade") -> tuple[dict, list[dict]]:
    """Summary and per-sample records for responses: one string, or a list of samples, per problem.

    `accuracy` is the mean correctness over all samples (with one sample: plain accuracy;
    with several: the unbiased pass@1), `n` the number of problems.
    """
    samples = [r if isinstance(r, list) else [r] for r in responses]
    if len(samples) != len(problems):
        raise ValueError(f"{len(problems)} problems but {len(samples)} responses")
    flat = [(q, i, text) for q, group in zip(problems, samples) for i, text in enumerate(group)]
    verdicts = grade_batch([text for _, _, text in flat], [q["answer"] for q, _, _ in flat],
                           time_limit_s=time_limit_s, workers=workers, progress=progress, desc=desc)
    rows = [{"problem_id": q["id"], "sample": i, "gold": q["answer"], "subject": q.get("subject"),
             "level": q.get("level"), "response": text, "extracted": j.extracted, "correct": j.correct,
             "timed_out": j.timed_out}
            for (q, i, text), j in zip(flat, verdicts.judgements)]
    correct = sum(r["correct"] for r in rows)
    summary = {"accuracy": correct / len(rows) if rows else 0.0, "n": len(problems), "correct": correct,
               "no_answer": verdicts.no_answer, "timeouts": verdicts.timeouts}
    n_samples = min((len(g) for g in samples), default=1)
    if n_samples > 1:
        by_problem = _per_problem(rows)
        for k in ks_for(n_samples):
            summary[f"pass_at_{k}"] = _mean([pass_at_k(len(g), sum(r["correct"] for r in g), k) for g in by_problem])
            summary[f"maj_at_{k}"] = _mean([majority_correct([r["extracted"] for r in g], [r["correct"] for r in g], k)
                                            for g in by_problem])
    return summary, rows


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _per_problem(rows: list[dict]) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["problem_id"], []).append(row)
    return list(groups.values())


def breakdown(rows: list[dict], resamples: int = 1000, seed: int = 0) -> dict:
    """Confidence interval and subject/level accuracy; the problem is the unit, not the sample."""
    per_problem = [{"subject": g[0]["subject"], "level": g[0]["level"], "correct": _mean(r["correct"] for r in g)}
                   for g in _per_problem(rows)]
    low, high = bootstrap_ci([r["correct"] for r in per_problem], resamples=resamples, seed=seed)
    return {"ci95_low": low, "ci95_high": high, "by_subject": accuracy_by(per_problem, "subject"),
            "by_level": accuracy_by(per_problem, "level")}


def after_check(first: list[dict], second: list[dict]) -> list[bool]:
    """Each answer's correctness after the check. When the check yields no answer, the first
    answer stands (a model that says nothing has not changed its mind)."""
    return [s["correct"] if s["extracted"] is not None else f["correct"] for f, s in zip(first, second, strict=True)]


def compare_passes(first: list[dict], second: list[dict]) -> dict:
    """Before/after accuracy and flips between the first answer and the checked answer."""
    after = after_check(first, second)
    n = len(first)
    return {"accuracy_before": _mean(f["correct"] for f in first), "accuracy_after": _mean(after),
            "wrong_to_right": sum(not f["correct"] and a for f, a in zip(first, after)),
            "right_to_wrong": sum(f["correct"] and not a for f, a in zip(first, after)),
            "no_answer_after": sum(s["extracted"] is None for s in second), "n": n}


def self_correction(first: list[dict], second: list[dict], resamples: int, seed: int) -> dict:
    """The self-correction figures of one checkpoint: before/after, flips, net gain and its CI."""
    out = compare_passes(first, second)
    after = after_check(first, second)
    gains = [float(a) - float(f["correct"]) for f, a in zip(first, after)]
    out["net_gain"] = out["accuracy_after"] - out["accuracy_before"]
    out["net_gain_ci"] = list(bootstrap_ci(gains, resamples=resamples, seed=seed))
    return out


def heldout_errors(cases: list[dict], traces: list[str], verdicts: list[bool]) -> dict:
    """Locate and fix rates on held-out erroneous solutions whose first wrong step is known."""
    n = len(cases)
    located = [flagged_step(t) == c["k"] for c, t in zip(cases, traces)]
    return {"n": n, "locate_rate": _mean(located), "fix_rate": _mean(verdicts),
            "named_a_step": sum(flagged_step(t) is not None for t in traces)}


def run(p: Params) -> dict:
    from supercorrect.student.engine import load_generator

    cfg = p.evaluate
    prompts = load_prompts(p.prompts.file)
    # The pipeline's own test.jsonl, or a raw GSM8K, MATH, MATH500 or bare {problem, answer}
    # file (no reference solution needed to grade), validated as it loads.
    benchmarks = {name: load_problems(path, split="test", on_error=cfg.on_error, solution_required=False)
                  for name, path in cfg.benchmarks.items()}
    heldout_file = Path(p.mine.out_dir) / "heldout.jsonl"
    heldout = validate.load(heldout_file, "heldout") if heldout_file.exists() else []
    paths = checkpoint_paths(p)
    final = cfg.checkpoints[-1]
    grading = dict(time_limit_s=cfg.grade_time_limit_s, workers=cfg.grade_workers, progress=True)
    sampling = dict(temperature=cfg.temperature, num_samples=cfg.samples) if cfg.samples > 1 else dict(temperature=0.0)
    gen = dict(max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size, seed=cfg.seed)
    results: dict[str, dict] = {name: {} for name in benchmarks}
    corrected: dict[str, dict] = {name: {} for name in benchmarks}
    predictions = []
    for ckpt in cfg.checkpoints:
        generate, _ = load_generator(paths[ckpt], p.student, seed=cfg.seed)
        held = None
        if ckpt in cfg.self_correct and heldout:
            traces = [t[0] for t in generate([correction_messages(prompts, h["problem"], h["response"]) for h in heldout],
                                             temperature=0.0, desc=f"evaluate: held-out errors {ckpt}", **gen)]
            cases = [{"id": h["rollout_id"], "answer": h["answer"]} for h in heldout]
            _, rows = score(cases, traces, desc=f"evaluate: grade held-out {ckpt}", **grading)
            held = heldout_errors(heldout, traces, [r["correct"] for r in rows])
        for name, problems in benchmarks.items():
            chats = [solve_messages(prompts, q["problem"]) for q in problems]
            responses = generate(chats, desc=f"evaluate: generate {ckpt}/{name}", **sampling, **gen)
            summary, rows = score(problems, responses, desc=f"evaluate: grade {ckpt}/{name}", **grading)
            summary |= breakdown(rows, cfg.bootstrap, cfg.seed)
            results[name][ckpt] = summary
            predictions += [{"benchmark": name, "checkpoint": ckpt, "pass": "solve", **r} for r in rows]
            if ckpt in cfg.self_correct:
                first = [r for r in rows if r["sample"] == 0]
                checks = [correction_messages(prompts, q["problem"], r["response"]) for q, r in zip(problems, first)]
                second = generate(checks, temperature=0.0, desc=f"evaluate: self-correct {ckpt}/{name}", **gen)
                _, second_rows = score(problems, [s[0] for s in second], desc=f"evaluate: grade self-correct {ckpt}/{name}",
                                       **grading)
                corrected[name][ckpt] = self_correction(first, second_rows, cfg.bootstrap, cfg.seed)
                if held is not None:  # model-level: the same held-out errors for every benchmark
                    corrected[name][ckpt]["heldout_errors"] = held
                predictions += [{"benchmark": name, "checkpoint": ckpt, "pass": "self_correct", **r}
                                for r in second_rows]
        del generate  # frees the model (or the vLLM engine's GPU memory) before the next one

    metrics = {}
    for name, by_ckpt in results.items():
        last = by_ckpt[final]
        metrics[name] = {"accuracy": last["accuracy"], "n": last["n"], "checkpoint": final,
                         **{f"{ckpt}_accuracy": s["accuracy"] for ckpt, s in by_ckpt.items()},
                         **{k: v for k, v in last.items() if k not in ("accuracy", "n", "correct")},
                         "checkpoints": {ckpt: {k: s[k] for k in ("accuracy", "ci95_low", "ci95_high", "no_answer",
                                                                  "timeouts")} for ckpt, s in by_ckpt.items()}}
        if corrected[name]:
            metrics[name]["self_correction"] = corrected[name]
    write_json(metrics_path(p, "evaluate"), metrics)
    write_jsonl(cfg.predictions, predictions)
    write_plots(Path(cfg.plots_dir), results, final)
    return metrics


def write_plots(plots: Path, results: dict[str, dict], final: str) -> None:
    """CSV files for `dvc plots`: accuracy per checkpoint, and the final one's by subject and level."""
    rows = ["benchmark,checkpoint,accuracy"] + [f"{name},{ckpt},{s['accuracy']:.4f}"
                                                for name, by_ckpt in results.items() for ckpt, s in by_ckpt.items()]
    write_text(str(plots / "evaluate_accuracy.csv"), "\n".join(rows) + "\n")
    for key, column in (("by_subject", "subject"), ("by_level", "level")):
        rows = [f"benchmark,{column},accuracy,n"] + [
            f"{name},{group},{g['accuracy']:.4f},{g['n']}"
            for name, by_ckpt in results.items() for group, g in by_ckpt[final][key].items()]
        write_text(str(plots / f"evaluate_{key}.csv"), "\n".join(rows) + "\n")
