"""Stage `mine`: turn the SFT student's wrong solutions into cross-model DPO pairs (paper Eq. 8).

1. Rollouts: the SFT student samples `mine.samples_per_problem` solutions per mining problem
   (batched, on `student.engine`: our decode loop, or vLLM on a GPU), each graded against the
   gold answer (rollouts.jsonl).
2. The selected wrong ones go to the teacher, which gets the correction-trace prompt grounded
   in the reference solution and names the first wrong step k with a cause and a correction
   (corrections.jsonl).
3. A seeded `mine.heldout_fraction` of the mining problems never reaches DPO: their localized
   errors go to heldout.jsonl, on which `evaluate` measures whether a checkpoint finds and fixes
   errors it never trained on (paper Table 6).
4. For the others the student answers the same correction prompt itself, blind: no reference,
   not told k, its turn opened with its own correct steps 1..k-1 (`mine.rejected: told_k` is the
   ablation that tells it k). Chosen = the teacher's trace from step k, rejected = the student's
   (supercorrect.pairs.cross_model), in the correction-trace context (`mine.context`).

A pair is dropped, with the reason counted in metrics/mine.json, when the student's own side
is empty or reaches the right answer, when both sides are the same, when it duplicates another pair, when
the problem already has `mine.max_pairs_per_problem` pairs, when TRL would split it elsewhere
than after the prompt, or when re-tokenizing the student's side changes the ids it was
generated after (a BPE merge across the point where generation began; any mode and context). metrics/mine.json also says what the blind student did at step k (`student_at_k`).
`mine.export` adds a LLaMA-Factory/ShareGPT copy of the pairs (supercorrect.formats.export).

    supercorrect mine [--params params.yaml] [--set mine.samples_per_problem=4] [--set mine.rejected=told_k]
    supercorrect mine --dry-run    # samples the rollouts, then prints the teacher requests and cost
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from supercorrect import validate
from supercorrect.config import Params
from supercorrect.formats.export import write_sharegpt
from supercorrect.formats.prompts import correction_messages, load_prompts, solve_messages
from supercorrect.formats.templates import parse_correction
from supercorrect.grading.extract import extract_answer
from supercorrect.grading.judge import grade
from supercorrect.io import metrics_path, write_json, write_jsonl
from supercorrect.pairs.cross_model import (boundary_ok, build_pair, false_alarm_pair, flagged_step, generation_matches,
                                            student_request, student_side, verdict_at_step)
from supercorrect.teacher.backends import make_teacher


def select_for_teacher(rollouts: list[dict], cfg) -> tuple[list[dict], Counter]:
    """The wrong rollouts to localize, in order, and how many were left out and why."""
    by_problem = defaultdict(list)
    for r in rollouts:
        by_problem[r["problem_id"]].append(r)
    selected, drops = [], Counter()
    for group in by_problem.values():
        wrong = [r for r in group if not r["correct"]]
        if cfg.only_sometimes_solved and len(wrong) == len(group):
            drops["problem never solved (only_sometimes_solved)"] += len(wrong)
            continue
        cap = cfg.max_wrong_per_problem or len(wrong)
        drops["over max_wrong_per_problem"] += max(0, len(wrong) - cap)
        selected += wrong[:cap]
    return selected, +drops


def is_heldout(problem_id: str, fraction: float, seed: int) -> bool:
    """A stable, seeded split of the mining problems: the same id is always on the same side."""
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def rollouts(generate, prompts, problems: list[dict], p: Params) -> list[dict]:
    """`mine.samples_per_problem` graded solutions per problem."""
    samples = generate([solve_messages(prompts, q["problem"]) for q in problems], temperature=p.mine.temperature,
                       num_samples=p.mine.samples_per_problem, desc="mine: rollouts",
                       max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size, seed=p.mine.seed)
    return [{"id": f"{q['id']}-s{i}", "problem_id": q["id"], "sample": i, "model": p.sft.out_dir,
             "response": text, "extracted": extract_answer(text), "correct": grade(text, q["answer"])}
            for q, texts in zip(problems, samples) for i, text in enumerate(texts)]


def localize(teacher, by_id: dict, wrong: list[dict]) -> tuple[list[dict], Counter]:
    """The teacher's first wrong step, cause and correction for each wrong rollout it could locate."""
    located = teacher.localize_all([(by_id[r["problem_id"]], r["response"]) for r in wrong])
    teacher.check_budget()  # stop (non-zero exit) rather than build pairs from part of the errors
    corrections, drops = [], Counter()
    for rollout, result in zip(wrong, located):
        if result["text"] is None:
            drops[f"teacher: {result['kind']}"] += 1
            continue
        c = parse_correction(result["text"])
        corrections.append({"rollout_id": rollout["id"], "problem_id": rollout["problem_id"], "k": c.k,
                            "teacher_cause": c.cause, "teacher_correction": c.correction, "teacher_text": c.text})
    return corrections, drops


def make_pairs(corrections: list[dict], own: list[str], requests: list[list[dict]], by_id: dict, rollout_by_id: dict,
               tokenizer, prompts, p: Params, lineage: dict) -> tuple[list[dict], Counter, Counter]:
    """Eq. 8 pairs from the teacher's and the student's sides; drops and the student's verdicts at k."""
    pairs, drops, verdicts, seen, per_problem = [], Counter(), Counter(), set(), defaultdict(int)
    for c, generated, request in zip(corrections, own, requests):
        problem, rollout = by_id[c["problem_id"]], rollout_by_id[c["rollout_id"]]
        rejected = student_side(request, generated, c["k"], rollout["response"])
        c["student_text"], c["student_verdict"] = rejected, verdict_at_step(rejected, c["k"])
        verdicts[c["student_verdict"]] += 1
        pair = build_pair(prompts, problem, rollout, c["k"], c["teacher_text"], rejected, lineage, p.mine.context)
        key = (pair["prompt"][-1]["content"], pair["chosen"][0]["content"], pair["rejected"][0]["content"])
        if not rejected:
            reason = "student's side is empty"
        elif grade(rejected, problem["answer"]):
            reason = "student's own correction is right"
        elif rejected == c["teacher_text"].strip():
            reason = "chosen and rejected are the same"
        elif not boundary_ok(tokenizer, pair):
            reason = "prompt is not a token prefix of chosen and rejected"
        elif not generation_matches(tokenizer, request, pair):
            reason = "re-tokenized student side differs from what it generated"
        elif key in seen:
            reason = "duplicate pair"
        elif per_problem[problem["id"]] >= p.mine.max_pairs_per_problem:
            reason = "over max_pairs_per_problem"
        else:
            seen.add(key)
            per_problem[problem["id"]] += 1
            pairs.append(pair)
            continue
        drops[reason] += 1
    return pairs, drops, verdicts


def false_alarms(generate, rollouts: list[dict], by_id: dict, tokenizer, prompts, p: Params,
                 lineage: dict) -> tuple[list[dict], Counter]:
    """Pairs from right rollouts whose blind check flags a step (`mine.false_alarm_pairs`)."""
    checks = generate([correction_messages(prompts, by_id[r["problem_id"]]["problem"], r["response"]) for r in rollouts],
                      temperature=0.0, desc="mine: checks of right solutions", max_new_tokens=p.student.max_new_tokens,
                      batch_size=p.student.batch_size, seed=p.mine.seed)
    pairs, counts = [], Counter()
    for rollout, (check,) in zip(rollouts, checks):
        if flagged_step(check) is None:
            counts["right solution kept"] += 1
            continue
        pair = false_alarm_pair(prompts, by_id[rollout["problem_id"]], rollout, check, lineage)
        ok = boundary_ok(tokenizer, pair) and pair["chosen"] != pair["rejected"]
        counts["false alarm paired" if ok else "false alarm dropped at the token boundary"] += 1
        pairs += [pair] if ok else []
    return pairs, counts


def run(p: Params, dry_run: bool = False) -> dict:
    from supercorrect.student.engine import load_generator

    prompts = load_prompts(p.prompts.file)
    teacher = None if dry_run else make_teacher(p.teacher, prompts)
    problems = validate.load(Path(p.prepare.out_dir) / "mine.jsonl", "problems")
    by_id = {q["id"]: q for q in problems}
    generate, tokenizer = load_generator(p.sft.out_dir, p.student, seed=p.mine.seed)

    all_rollouts = rollouts(generate, prompts, problems, p)
    rollout_by_id = {r["id"]: r for r in all_rollouts}
    to_localize, selection_drops = select_for_teacher(all_rollouts, p.mine)
    if dry_run:  # after the (free, seeded) rollouts, before any teacher request; nothing is written
        from supercorrect.teacher.estimate import estimate_mine

        return estimate_mine(p, prompts, [(by_id[r["problem_id"]], r["response"]) for r in to_localize]) | {
            "rollouts": len(all_rollouts), "wrong": sum(not r["correct"] for r in all_rollouts)}
    corrections, drops = localize(teacher, by_id, to_localize)
    split = [is_heldout(c["problem_id"], p.mine.heldout_fraction, p.mine.seed) for c in corrections]
    heldout = [c for c, out in zip(corrections, split) if out]
    training = [c for c, out in zip(corrections, split) if not out]

    # The student's own side, from the same correction prompt without the reference.
    requests = [student_request(prompts, by_id[c["problem_id"]]["problem"], rollout_by_id[c["rollout_id"]]["response"],
                                c["k"], p.mine.rejected) for c in training]
    own = [texts[0] for texts in generate(requests, temperature=0.0, desc="mine: student corrections",
                                          max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size,
                                          seed=p.mine.seed)]
    lineage = {"teacher_model": teacher.model, "prompt_version": prompts.version, "student_checkpoint": p.sft.out_dir,
               "rejected_mode": p.mine.rejected}
    pairs, pair_drops, verdicts = make_pairs(training, own, requests, by_id, rollout_by_id, tokenizer, prompts, p,
                                             lineage)
    checks = Counter()
    if p.mine.false_alarm_pairs:
        right = [r for r in all_rollouts if r["correct"] and not is_heldout(r["problem_id"], p.mine.heldout_fraction,
                                                                            p.mine.seed)]
        extra, checks = false_alarms(generate, right, by_id, tokenizer, prompts, p, lineage)
        pairs += extra

    out = Path(p.mine.out_dir)
    write_jsonl(out / "rollouts.jsonl", all_rollouts)
    write_jsonl(out / "corrections.jsonl", training)
    write_jsonl(out / "heldout.jsonl", [{**c, "problem": by_id[c["problem_id"]]["problem"],
                                         "answer": by_id[c["problem_id"]]["answer"],
                                         "response": rollout_by_id[c["rollout_id"]]["response"]} for c in heldout])
    write_jsonl(out / "pairs.jsonl", pairs)
    if "sharegpt" in p.mine.export:
        write_sharegpt(pairs, out)
    wrong = sum(not r["correct"] for r in all_rollouts)
    # The report: counts at every step, and every drop with its reason (MLflow logs it in `register`).
    metrics = {"problems": len(problems), "rollouts": len(all_rollouts), "wrong": wrong,
               "rollout_accuracy": 1 - wrong / max(1, len(all_rollouts)), "sent_to_teacher": len(to_localize),
               "localized": len(corrections), "heldout_errors": len(heldout), "pairs": len(pairs),
               "rejected": p.mine.rejected, "context": p.mine.context,
               "student_at_k": dict(verdicts), **({"false_alarms": dict(checks)} if checks else {}),
               "drops": {**selection_drops, **drops, **pair_drops}}
    if teacher.metrics() is not None:  # requests, cache hits, tokens and cost of the teacher
        metrics["teacher"] = teacher.metrics()
    write_json(metrics_path(p.mine, "mine"), metrics)
    return metrics
