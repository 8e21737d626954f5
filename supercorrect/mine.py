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
   (supercorrect.pairs), in the correction-trace context (`mine.context`).
   `mine.pairs: step_dpo` builds Step-DPO's pairs instead (docs/ablations.md): the student samples
   `mine.continuations` continuations of its steps 1..k-1 in the solve chat at
   `mine.continuation_temperature`; the first that reaches the right answer gives the chosen
   step k, the rollout's own step k is the rejected one, both cut to that one step.

A Step-DPO pair is dropped when the rollout has no step k (a solution that stopped after step k-1
gives its premature `<Answer>` as the wrong step instead), when no continuation is right, when the
right ones repeat step k or open with no step k, at the token checks below, as a duplicate or over
the cap. A pair is dropped, with the reason counted in metrics/mine.json, when the student's own side
is empty or reaches the right answer, when both sides are the same, when it duplicates another pair, when
the problem already has `mine.max_pairs_per_problem` pairs, when TRL would split it elsewhere
than after the prompt, or when re-tokenizing the student's side changes the ids it was
generated after (a BPE merge across the point where generation began; any mode and context).
metrics/mine.json also says what the blind student did at step k (`student_at_k`).
`mine.export` adds a LLaMA-Factory/ShareGPT copy of the pairs (supercorrect.formats.export).

    supercorrect mine [--params params.yaml] [--set mine.samples_per_problem=4] [--set mine.rejected=told_k]
    supercorrect mine --dry-run    # samples the rollouts, then prints the teacher's cost, requests and tokens
                                   # and writes metrics/mine.dry_run.json
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path

from supercorrect import validate
from supercorrect.config import Params
from supercorrect.formats.export import write_sharegpt
from supercorrect.formats.prompts import correction_messages, load_prompts, solve_messages
from supercorrect.formats.templates import leading_steps, parse_correction
from supercorrect.grading.extract import extract_answer
from supercorrect.grading.judge import grade
from supercorrect.io import metrics_path, write_json, write_jsonl
from supercorrect.pairs.cross_model import (boundary_ok, build_pair, false_alarm_pair, flagged_step, generation_matches,
                                            step_dpo_request, step_k, student_request, student_side, verdict_at_step)
from supercorrect.teacher.backends import localize_chat, make_teacher
from supercorrect.teacher.estimate import priced


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
        else:
            reason = admit(pair, key, tokenizer, request, "rejected", seen, per_problem,
                           p.mine.max_pairs_per_problem)
        if reason:
            drops[reason] += 1
        else:
            pairs.append(pair)
    return pairs, drops, verdicts


def admit(pair: dict, key: tuple, tokenizer, request: list[dict], side: str, seen: set, per_problem: dict,
          cap: int) -> str | None:
    """Why a pair that passed its own checks is dropped (token boundary, generated `side` re-tokenized
    differently from `request`, duplicate, over the per-problem cap), or None: then it is counted."""
    if not boundary_ok(tokenizer, pair):
        return "prompt is not a token prefix of chosen and rejected"
    if not generation_matches(tokenizer, request, pair, side):
        return "re-tokenized student side differs from what it generated"
    if key in seen:
        return "duplicate pair"
    if per_problem[pair["problem_id"]] >= cap:
        return "over max_pairs_per_problem"
    seen.add(key)
    per_problem[pair["problem_id"]] += 1
    return None


def wrong_step(response: str, k: int) -> str | None:
    """The rollout's wrong step k; for a solution that stopped after step k-1 (the teacher's k is
    one past its steps), the premature `<Answer>` it wrote instead; else None."""
    steps = leading_steps(response)
    if k <= len(steps):
        return steps[k - 1]
    after = response.split(steps[-1], 1)[1] if steps else response
    answer = re.match(r"\s*(<Answer>.*?</Answer>)", after, re.S)
    return answer.group(1) if answer and k == len(steps) + 1 else None


def step_dpo_pairs(generate, corrections: list[dict], by_id: dict, rollout_by_id: dict, tokenizer, prompts,
                   p: Params, lineage: dict) -> tuple[list[dict], Counter, Counter]:
    """Step-DPO pairs: the student's own right step k against its wrong step k; drops and counts."""
    requests = [step_dpo_request(prompts, by_id[c["problem_id"]]["problem"], rollout_by_id[c["rollout_id"]]["response"],
                                 c["k"]) for c in corrections]
    sampled = generate(requests, temperature=p.mine.continuation_temperature, num_samples=p.mine.continuations,
                       desc="mine: step-DPO continuations", max_new_tokens=p.student.max_new_tokens,
                       batch_size=p.student.batch_size, seed=p.mine.seed)
    return step_dpo_from_samples(corrections, sampled, requests, by_id, rollout_by_id, tokenizer, prompts, p, lineage)


def step_dpo_from_samples(corrections: list[dict], sampled: list[list[str]], requests: list[list[dict]], by_id: dict,
                          rollout_by_id: dict, tokenizer, prompts, p: Params,
                          lineage: dict) -> tuple[list[dict], Counter, Counter]:
    """Step-DPO pairs from the continuations sampled for each located error (`sampled`, in the
    order of `corrections`, each continuing its `requests` chat); drops and counts."""
    pairs, drops, counts, seen, per_problem = [], Counter(), Counter(), set(), defaultdict(int)
    for c, texts, request in zip(corrections, sampled, requests):
        problem, rollout, k = by_id[c["problem_id"]], rollout_by_id[c["rollout_id"]], c["k"]
        rejected = wrong_step(rollout["response"], k)
        right = [t for t in texts if grade(t, problem["answer"])]
        counts["continuations"] += len(texts)
        counts["right continuations"] += len(right)
        chosen = next((s for s in map(step_k, right, [k] * len(right)) if s and s != rejected), None)
        pair = build_pair(prompts, problem, rollout, k, chosen or "", rejected or "", lineage, "solve")
        key = (pair["chosen"][0]["content"], pair["rejected"][0]["content"])
        if rejected is None:
            reason = "rollout has no step k"
        elif not right:
            reason = "no correct continuation"
        elif chosen is None:
            reason = "right continuations repeat step k or open without it"
        else:
            reason = admit(pair, key, tokenizer, request, "chosen", seen, per_problem, p.mine.max_pairs_per_problem)
        if reason:
            drops[reason] += 1
        else:
            pairs.append(pair)
    return pairs, drops, counts


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


def cross_model_pairs(generate, training: list[dict], by_id: dict, rollout_by_id: dict, tokenizer, prompts,
                      p: Params, lineage: dict) -> tuple[list[dict], Counter, Counter]:
    """The student's own side, from the same correction prompt without the reference; then the Eq. 8 pairs."""
    requests = [student_request(prompts, by_id[c["problem_id"]]["problem"],
                                rollout_by_id[c["rollout_id"]]["response"], c["k"], p.mine.rejected)
                for c in training]
    own = [texts[0] for texts in generate(requests, temperature=0.0, desc="mine: student corrections",
                                          max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size,
                                          seed=p.mine.seed)]
    return make_pairs(training, own, requests, by_id, rollout_by_id, tokenizer, prompts, p, lineage)


def write_outputs(cfg, all_rollouts: list[dict], training: list[dict], heldout: list[dict], pairs: list[dict],
                  by_id: dict, rollout_by_id: dict) -> None:
    """rollouts, corrections (DPO's), the held-out errors with their problem and response, the pairs."""
    out = Path(cfg.out_dir)
    write_jsonl(out / "rollouts.jsonl", all_rollouts)
    write_jsonl(out / "corrections.jsonl", training)
    write_jsonl(out / "heldout.jsonl", [{**c, "problem": by_id[c["problem_id"]]["problem"],
                                         "answer": by_id[c["problem_id"]]["answer"],
                                         "response": rollout_by_id[c["rollout_id"]]["response"]} for c in heldout])
    write_jsonl(out / "pairs.jsonl", pairs)
    if "sharegpt" in cfg.export:
        write_sharegpt(pairs, out)


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
    if dry_run:  # after the (free, seeded) rollouts, before any teacher request; only the estimate is written
        from supercorrect.teacher.estimate import estimate_mine

        estimate = estimate_mine(p, prompts, [(by_id[r["problem_id"]], r["response"]) for r in to_localize]) | {
            "rollouts": len(all_rollouts), "wrong": sum(not r["correct"] for r in all_rollouts)}
        write_json(metrics_path(p, "mine", dry_run=True), estimate)
        return estimate
    corrections, drops = localize(teacher, by_id, to_localize)
    split = [is_heldout(c["problem_id"], p.mine.heldout_fraction, p.mine.seed) for c in corrections]
    heldout = [c for c, out in zip(corrections, split) if out]
    training = [c for c, out in zip(corrections, split) if not out]

    lineage = {"teacher_model": teacher.model, "prompt_version": prompts.version, "student_checkpoint": p.sft.out_dir,
               "rejected_mode": p.mine.rejected, "pairs_strategy": p.mine.pairs}
    build = step_dpo_pairs if p.mine.pairs == "step_dpo" else cross_model_pairs
    pairs, pair_drops, verdicts = build(generate, training, by_id, rollout_by_id, tokenizer, prompts, p, lineage)
    checks = Counter()
    if p.mine.false_alarm_pairs:
        right = [r for r in all_rollouts if r["correct"] and not is_heldout(r["problem_id"], p.mine.heldout_fraction,
                                                                            p.mine.seed)]
        extra, checks = false_alarms(generate, right, by_id, tokenizer, prompts, p, lineage)
        pairs += extra

    write_outputs(p.mine, all_rollouts, training, heldout, pairs, by_id, rollout_by_id)
    wrong = sum(not r["correct"] for r in all_rollouts)
    # The report: counts at every step, and every drop with its reason (MLflow logs it in `register`).
    metrics = {"problems": len(problems), "rollouts": len(all_rollouts), "wrong": wrong,
               "rollout_accuracy": 1 - wrong / max(1, len(all_rollouts)), "sent_to_teacher": len(to_localize),
               "localized": len(corrections), "heldout_errors": len(heldout), "pairs": len(pairs),
               "pairs_strategy": p.mine.pairs, "rejected": p.mine.rejected,
               "context": "solve" if p.mine.pairs == "step_dpo" else p.mine.context,
               ("step_dpo" if p.mine.pairs == "step_dpo" else "student_at_k"): dict(verdicts),
               **({"false_alarms": dict(checks)} if checks else {}),
               "drops": {**selection_drops, **drops, **pair_drops}}
    if teacher.metrics() is not None:  # requests, cache hits, tokens and cost of the teacher
        metrics["teacher"] = teacher.metrics()
    else:  # the offline teacher: what the same requests would cost at teacher.prices
        metrics["teacher_estimate"] = priced(p.teacher, [localize_chat(prompts, by_id[r["problem_id"]], r["response"])
                                                         for r in to_localize],
                                         [c["teacher_text"] for c in corrections])
    write_json(metrics_path(p, "mine"), metrics)
    return metrics
