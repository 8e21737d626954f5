"""Stage `evaluate`: accuracy of the base, SFT and DPO checkpoints on each benchmark.

Writes `metrics/evaluate.json` (contract: one object per benchmark, each with `accuracy`,
the final checkpoint's, plus `n`), with for the final checkpoint:
- a seeded 95 % bootstrap interval (`ci95_low`, `ci95_high`), accuracy `by_subject` and `by_level`;
- `no_answer` and grading `timeouts` counts;
- `math_verify_accuracy`: accuracy under math-verify called directly (its README's usage), to
  compare with published numbers, and `grader_disagreements`, the answers where the two graders
  part (each final-checkpoint prediction carries math-verify's verdict as `math_verify`);
- `pass_at_k` / `maj_at_k` when `evaluate.samples > 1` (then `accuracy` is the mean over samples);
and `<ckpt>_accuracy` plus a `checkpoints` block for every checkpoint. For every checkpoint in
`evaluate.self_correct`, `self_correction.<ckpt>` (contract) holds a second pass in which the
model checks its own first answer under the correction-trace prompt it was trained in
(paper Fig. 3): `accuracy_before`, `accuracy_after`, `wrong_to_right`, `right_to_wrong`,
`net_gain` (after - before) with a seeded 95 % bootstrap `net_gain_ci`, and `heldout_errors`:
on the erroneous solutions `mine` held out of DPO (`{mine.out_dir}/heldout.jsonl`), how often
the model names the teacher's first wrong step (`locate_rate`) and reaches the right answer
(`fix_rate`), paper Table 6; and `verification` (contract), the other side of that decision,
since a check that flags every step scores best on errors alone:
- `false_flag_rate`: of the benchmark's right first answers, the share whose check flags a step;
- `missed_error_rate`: of the held-out errors, the share whose check flags no step;
- `step_auc`, `step_auc_ci`: how well the checkpoint's probability of flagging a step separates
  wrong steps (the teacher's step k of each held-out error) from right ones (the steps before k,
  and every step of the benchmark's right first answers), with a seeded 95 % bootstrap over
  solutions; the probability is read in one forward pass per step, under the correction prompt
  with the steps before it given as written (`step_check`, the trace grammar's `FLAG`);
- `n_right_steps`, `n_wrong_steps`, the mean flag probability on each, a histogram of both, and
  `diagnosis`, one line on whether the checkpoint can tell them apart.
Also writes the per-sample predictions (with every held-out check and step score) and, for
`dvc plots show`, `plots/evaluate_accuracy.csv`, `plots/evaluate_by_subject.csv` and
`plots/evaluate_by_level.csv`.

    supercorrect evaluate [--params params.yaml] [--set evaluate.samples=8] [--set 'evaluate.self_correct=[]']
"""

from __future__ import annotations

import math
from pathlib import Path

from supercorrect import validate
from supercorrect.config import Params
from supercorrect.data.loaders import load_problems
from supercorrect.formats.prompts import correction_messages, load_prompts, solve_messages
from supercorrect.formats.templates import FLAG, correct_prefix, flagged_step, leading_steps, step_open
from supercorrect.grading.judge import compare_graders, grade_batch
from supercorrect.grading.stats import accuracy_by, bootstrap_ci, grouped_auc, ks_for, majority_correct, pass_at_k
from supercorrect.io import metrics_path, write_json, write_jsonl, write_text


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


def step_check(prompts, problem: str, solution: str, j: int) -> tuple[list[dict], str]:
    """(the correction-trace chat with the check written up to its decision about step j, the
    text that flags step j there). The steps before j are copied as given, then step j's
    opening tag: what the model writes next, the flag or the step's text, is that decision. A
    step j the solution lacks (it stopped after step j-1, the teacher's k one past its steps)
    is decided after step j-1: flag a missing step j, or go on to the answer as written."""
    opened = correct_prefix(solution, j)
    flag = step_open(j) + FLAG
    if j <= len(leading_steps(solution)):
        opened, flag = opened + step_open(j), FLAG
    return correction_messages(prompts, problem, solution) + [{"role": "assistant", "content": opened}], flag


def step_scores(logprobs, prompts, solutions: list[tuple[str, str, int | None]], *, batch_size: int,
                desc: str) -> list[list[tuple[float, bool]]]:
    """Per solution `(problem, response, k)`, `(flag probability, wrong)` for each step it decides
    on: steps 1..k with only step k wrong for a known error, every step of a right answer (k None)."""
    steps = [(i, j, j == k) for i, (_, response, k) in enumerate(solutions)
             for j in range(1, (k or len(leading_steps(response))) + 1)]
    checks = [step_check(prompts, solutions[i][0], solutions[i][1], j) for i, j, _ in steps]
    scores = logprobs([c for c, _ in checks], [f for _, f in checks], batch_size=batch_size, desc=desc) if checks else []
    out: list[list[tuple[float, bool]]] = [[] for _ in solutions]
    for (i, _, wrong), score in zip(steps, scores):
        out[i].append((math.exp(score), wrong))
    return out


HISTOGRAM_EDGES = [i / 10 for i in range(11)]


def _histogram(values: list[float]) -> list[int]:
    last = len(HISTOGRAM_EDGES) - 2
    counts = [0] * (last + 1)
    for v in values:
        counts[min(last, int(v * (len(HISTOGRAM_EDGES) - 1)))] += 1
    return counts


def verification(right_checks: list[str], error_checks: list[str], solutions: list[list[tuple[float, bool]]],
                 resamples: int, seed: int) -> dict:
    """Both sides of the flag decision: how often the check flags a right answer (`right_checks`:
    the checks of right first answers) and misses a known error (`error_checks`), and the step
    AUC of the flag probabilities over `solutions` (each a list of (probability, wrong) steps)."""
    right = [s for g in solutions for s, wrong in g if not wrong]
    wrong = [s for g in solutions for s, w in g if w]
    step_auc, step_auc_ci = grouped_auc(solutions, resamples=resamples, seed=seed)
    return {"false_flag_rate": _mean(flagged_step(t) is not None for t in right_checks) if right_checks else None,
            "missed_error_rate": _mean(flagged_step(t) is None for t in error_checks) if error_checks else None,
            "step_auc": step_auc, "step_auc_ci": step_auc_ci, "n_right_steps": len(right), "n_wrong_steps": len(wrong),
            "n_right_answers": len(right_checks), "n_errors": len(error_checks),
            "mean_flag_prob_right": _mean(right) if right else None,
            "mean_flag_prob_wrong": _mean(wrong) if wrong else None,
            "flag_prob_histogram": {"edges": HISTOGRAM_EDGES, "right": _histogram(right), "wrong": _histogram(wrong)}}


def diagnosis(checkpoint: str, v: dict) -> str:
    """One line on whether `checkpoint` can tell right steps from wrong ones (its verification `v`)."""
    if not v["n_wrong_steps"]:
        return (f"{checkpoint}: no step AUC: no held-out errors to score (mine.heldout_fraction is 0, or the teacher "
                "localized none of them)")
    if not v["n_right_steps"]:
        return (f"{checkpoint}: no step AUC: no right steps to compare the errors with (no right first answers, and "
                "every held-out error is wrong at step 1)")
    figure = f"step AUC {v['step_auc']:.2f} [{v['step_auc_ci'][0]:.2f}, {v['step_auc_ci'][1]:.2f}]"
    low, high = (round(x, 2) for x in v["step_auc_ci"])  # decided on the bounds it prints
    if low <= 0.5 <= high:
        return f"{checkpoint} cannot tell right steps from wrong ones ({figure}): self-correction cannot gain until it can."
    if high < 0.5:
        return f"{checkpoint} flags right steps more readily than wrong ones ({figure}): its check points the wrong way."
    # Above chance: say how far, and what the check does with it on both sides (a student can lean
    # the right way and still flag nearly everything).
    text = f"{checkpoint} tells wrong steps from right ones{' only slightly' if v['step_auc'] < 0.6 else ''} ({figure})"
    sides = [f"{1 - v['missed_error_rate']:.0%} of known errors" if v["missed_error_rate"] is not None else None,
             f"{v['false_flag_rate']:.0%} of right answers" if v["false_flag_rate"] is not None else None]
    sides = [x for x in sides if x]
    return f"{text}: its check flags {' and '.join(sides)}." if sides else f"{text}."


def _gen(p: Params) -> dict:
    return dict(max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size, seed=p.evaluate.seed)


def _grading(p: Params) -> dict:
    return dict(time_limit_s=p.evaluate.grade_time_limit_s, workers=p.evaluate.grade_workers, progress=True)


def check_heldout(engine, prompts, heldout: list[dict], ckpt: str, p: Params) -> dict:
    """The checkpoint's checks of the held-out errors: locate and fix rates (`rates`), the checks
    themselves (`traces`), each error's step scores (`steps`) and their prediction rows."""
    chats = [correction_messages(prompts, h["problem"], h["response"]) for h in heldout]
    traces = [t[0] for t in engine.generate(chats, temperature=0.0, desc=f"evaluate: held-out errors {ckpt}", **_gen(p))]
    cases = [{"id": h["rollout_id"], "answer": h["answer"]} for h in heldout]
    _, rows = score(cases, traces, desc=f"evaluate: grade held-out {ckpt}", **_grading(p))
    steps = step_scores(engine.logprobs, prompts, [(h["problem"], h["response"], h["k"]) for h in heldout],
                        batch_size=p.student.batch_size, desc=f"evaluate: step scores, held-out {ckpt}")
    predictions = [{"benchmark": "heldout", "checkpoint": ckpt, "pass": "check", "problem_id": h["problem_id"],
                    "rollout_id": h["rollout_id"], "k": h["k"], "flagged_step": flagged_step(t), "response": t,
                    "correct": r["correct"]} for h, t, r in zip(heldout, traces, rows)]
    return {"rates": heldout_errors(heldout, traces, [r["correct"] for r in rows]), "traces": traces, "steps": steps,
            "predictions": predictions + step_rows("heldout", ckpt, [h["rollout_id"] for h in heldout], steps)}


def check_answers(engine, prompts, problems: list[dict], rows: list[dict], held: dict | None, name: str, ckpt: str,
                  p: Params) -> tuple[dict, list[dict]]:
    """The checkpoint checks its own first answers (`rows`) under the correction prompt: its
    `self_correction` block (with the held-out errors' rates and both sides of the flag
    decision) and the prediction rows of the checks and step scores."""
    cfg = p.evaluate
    first = [r for r in rows if r["sample"] == 0]
    chats = [correction_messages(prompts, q["problem"], r["response"]) for q, r in zip(problems, first)]
    second = [s[0] for s in engine.generate(chats, temperature=0.0, desc=f"evaluate: self-correct {ckpt}/{name}",
                                            **_gen(p))]
    _, second_rows = score(problems, second, desc=f"evaluate: grade self-correct {ckpt}/{name}", **_grading(p))
    block = self_correction(first, second_rows, cfg.bootstrap, cfg.seed)
    if held is not None:  # model-level: the same held-out errors for every benchmark
        block["heldout_errors"] = held["rates"]
    right = [(q, r, text) for q, r, text in zip(problems, first, second) if r["correct"]]
    right_steps = step_scores(engine.logprobs, prompts, [(q["problem"], r["response"], None) for q, r, _ in right],
                              batch_size=p.student.batch_size, desc=f"evaluate: step scores {ckpt}/{name}")
    v = verification([text for _, _, text in right], held["traces"] if held else [],
                     (held["steps"] if held else []) + right_steps, cfg.bootstrap, cfg.seed)
    block["verification"] = v | {"diagnosis": diagnosis(ckpt, v)}
    predictions = [{"benchmark": name, "checkpoint": ckpt, "pass": "self_correct", **r} for r in second_rows]
    return block, predictions + step_rows(name, ckpt, [q["id"] for q, _, _ in right], right_steps)


def run(p: Params) -> dict:
    from supercorrect.student.engine import load_engine

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
    sampling = dict(temperature=cfg.temperature, num_samples=cfg.samples) if cfg.samples > 1 else dict(temperature=0.0)
    results: dict[str, dict] = {name: {} for name in benchmarks}
    corrected: dict[str, dict] = {name: {} for name in benchmarks}
    predictions = []
    for ckpt in cfg.checkpoints:
        engine = load_engine(paths[ckpt], p.student, seed=cfg.seed)
        checking = ckpt in cfg.self_correct
        held = check_heldout(engine, prompts, heldout, ckpt, p) if checking and heldout else None
        predictions += held["predictions"] if held else []
        for name, problems in benchmarks.items():
            chats = [solve_messages(prompts, q["problem"]) for q in problems]
            responses = engine.generate(chats, desc=f"evaluate: generate {ckpt}/{name}", **sampling, **_gen(p))
            summary, rows = score(problems, responses, desc=f"evaluate: grade {ckpt}/{name}", **_grading(p))
            summary |= breakdown(rows, cfg.bootstrap, cfg.seed)
            if ckpt == final:  # math-verify alone beside ours; rows gain its `math_verify` verdict
                summary |= compare_graders(rows, desc=f"evaluate: math-verify {name}", **_grading(p))
            results[name][ckpt] = summary
            predictions += [{"benchmark": name, "checkpoint": ckpt, "pass": "solve", **r} for r in rows]
            if checking:
                corrected[name][ckpt], rows = check_answers(engine, prompts, problems, rows, held, name, ckpt, p)
                predictions += rows
        del engine  # frees the model (or the vLLM engine's GPU memory) before the next one

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


def step_rows(benchmark: str, checkpoint: str, ids: list[str], steps: list[list[tuple[float, bool]]]) -> list[dict]:
    """Prediction rows of the step scores: one per step decided on, with its flag probability."""
    return [{"benchmark": benchmark, "checkpoint": checkpoint, "pass": "step_check", "id": i, "step": j,
             "wrong": wrong, "flag_prob": prob} for i, group in zip(ids, steps) for j, (prob, wrong) in enumerate(group, 1)]


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
