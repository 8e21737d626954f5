"""Stage `mine`: turn the SFT student's wrong solutions into cross-model DPO pairs (paper Eq. 8).

1. Rollouts: the SFT student samples `mine.samples_per_problem` solutions per mining problem
   (batched, on `student.engine`: our decode loop, or vLLM on a GPU), each graded against the
   gold answer (rollouts.jsonl). `mine.students` names more checkpoints whose rollouts are
   pooled with its own, as the paper pools the errors of three SFT students (§4.2).
2. The selected wrong ones go to the teacher, which gets the correction-trace prompt grounded
   in the reference solution and names the first wrong step k with a cause and a correction.
3. A seeded `mine.heldout_fraction` of the mining problems never reaches DPO: their localized
   errors go to heldout.jsonl, on which `evaluate` measures whether a checkpoint finds and fixes
   errors it never trained on (paper Table 6).
4. For the others the SFT student answers the same correction prompt itself, blind: no
   reference, not told k, its turn opened with the correct steps 1..k-1 (`mine.rejected: told_k`
   is the ablation that tells it k). Chosen = the teacher's trace from step k, rejected = the
   student's (supercorrect.pairs.cross_model), in the correction-trace context (`mine.context`).
   The SFT student writes the rejected side of a pooled student's error too: DPO trains the SFT
   student, and the side it lowers is best the one that student would write (docs/method.md).
   `mine.pairs: step_dpo` builds Step-DPO's pairs instead (supercorrect.pairs.step_dpo).
5. `mine.keep_share` (beyond the paper, 0 by default) adds keep pairs: right rollouts whose
   blind check flags a step anyway, kept as written against the false flag
   (supercorrect.pairs.keep), up to that share of all pairs.
`mine.pairs: none` stops after step 3, and sends the teacher only the held-out problems' errors:
what `evaluate` needs to check the SFT student before anyone pays for pairs (docs/method.md).

Every pair, whatever its kind, passes one admission (supercorrect.pairs.admission: the token
boundary, the generation point, duplicates with their prompt, the per-problem cap), and every
drop is counted with its reason in metrics/mine.json, beside the builders' own reasons (the
student's side is empty, reaches the right answer or equals the teacher's; no right
continuation; ...). metrics/mine.json also says what the blind student did at step k
(`student_at_k`) and, per student, its rollouts, wrong ones, localized errors and pairs
(`students`). corrections.jsonl holds the errors that feed DPO, each with what its builder
noted (the student's side and verdict, or the continuations). `mine.export` adds a
LLaMA-Factory/ShareGPT copy of the pairs (supercorrect.formats.export).

    supercorrect mine [--params params.yaml] [--set mine.samples_per_problem=4] [--set mine.rejected=told_k]
    supercorrect mine --set 'mine.students=[models/sft_seed1, models/sft_seed2]'   # pooled errors
    supercorrect mine --dry-run    # samples the rollouts, then prints the teacher's cost, requests and tokens
                                   # and writes metrics/mine.dry_run.json
"""

from __future__ import annotations

import hashlib
import math
import random
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
from supercorrect.pairs.admission import Admission, Located, PairSpec
from supercorrect.pairs.cross_model import cross_model_pairs, student_request
from supercorrect.pairs.keep import keep_pairs
from supercorrect.pairs.step_dpo import step_dpo_pairs, step_dpo_request
from supercorrect.teacher.backends import localize_chat, make_teacher
from supercorrect.teacher.estimate import priced


def in_turns(rollouts: list[dict]) -> list[dict]:
    """One problem's rollouts taking turns between the students that wrote them: each student's
    first, then each one's second, ... (students in the order given). Every cap that follows
    (`max_wrong_per_problem`, `max_pairs_per_problem`) keeps the first ones, so this is what
    keeps a pooled student's errors from being crowded out by the first student's."""
    seen, ranked = Counter(), []
    for i, r in enumerate(rollouts):
        ranked.append((seen[r.get("model")], i))
        seen[r.get("model")] += 1
    return [rollouts[i] for _, i in sorted(ranked)]


def select_for_teacher(rollouts: list[dict], cfg, held=lambda problem_id: False) -> tuple[list[dict], Counter]:
    """The wrong rollouts to localize, problem by problem, the students' in turns, and how many
    were left out and why (per problem, over the pooled students' rollouts together). With
    `mine.pairs: none` only the problems `held` holds out: the check before paying for pairs."""
    by_problem = defaultdict(list)
    for r in rollouts:
        by_problem[r["problem_id"]].append(r)
    selected, drops = [], Counter()
    for group in by_problem.values():
        wrong = in_turns([r for r in group if not r["correct"]])
        if cfg.only_sometimes_solved and len(wrong) == len(group):
            drops["problem never solved (only_sometimes_solved)"] += len(wrong)
            continue
        if cfg.pairs == "none" and not held(group[0]["problem_id"]):
            drops["not held out (mine.pairs: none)"] += len(wrong)
            continue
        cap = cfg.max_wrong_per_problem or len(wrong)
        drops["over max_wrong_per_problem"] += max(0, len(wrong) - cap)
        selected += wrong[:cap]
    return selected, +drops


def is_heldout(problem_id: str, fraction: float, seed: int) -> bool:
    """A stable, seeded split of the mining problems: the same id is always on the same side."""
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def rollouts(generate, prompts, problems: list[dict], p: Params, student: str, tag: str = "") -> list[dict]:
    """`mine.samples_per_problem` graded solutions per problem from checkpoint `student`; ids
    `<problem>-s<i>`, with `tag` before `-s` for a pooled student so ids stay unique."""
    samples = generate([solve_messages(prompts, q["problem"]) for q in problems], temperature=p.mine.temperature,
                       num_samples=p.mine.samples_per_problem, desc=f"mine: rollouts {student}",
                       max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size, seed=p.mine.seed)
    return [{"id": f"{q['id']}{tag}-s{i}", "problem_id": q["id"], "sample": i, "model": student,
             "response": text, "extracted": extract_answer(text), "correct": grade(text, q["answer"])}
            for q, texts in zip(problems, samples) for i, text in enumerate(texts)]


def pooled_rollouts(load, prompts, problems: list[dict], p: Params):
    """Every student's rollouts (the SFT student's first, then `mine.students` in order) and the
    SFT student's engine, loaded last so it stays in memory for the blind sides."""
    pooled = []
    for j, path in enumerate(p.mine.students, 1):
        engine = load(path)
        pooled += rollouts(engine.generate, prompts, problems, p, path, f"-p{j}")
        del engine  # one student in memory at a time
    engine = load(p.sft.out_dir)
    return rollouts(engine.generate, prompts, problems, p, p.sft.out_dir) + pooled, engine


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


def _generation(p: Params, desc: str, **kw) -> dict:
    return dict(temperature=0.0, desc=desc, max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size,
                seed=p.mine.seed) | kw


def correction_pairs(generate, errors: list[Located], p: Params, spec: PairSpec):
    """The Eq. 8 pairs (the student's blind side first) or, for `mine.pairs: step_dpo`, Step-DPO's."""
    problem_text = [(e.problem["problem"], e.rollout["response"], e.k) for e in errors]
    if p.mine.pairs == "step_dpo":
        requests = [step_dpo_request(spec.prompts, *x) for x in problem_text]
        sampled = generate(requests, **_generation(p, "mine: step-DPO continuations", num_samples=p.mine.continuations,
                                                   temperature=p.mine.continuation_temperature))
        return step_dpo_pairs(errors, sampled, requests, spec)
    requests = [student_request(spec.prompts, *x, p.mine.rejected) for x in problem_text]
    own = [texts[0] for texts in generate(requests, **_generation(p, "mine: student corrections"))]
    return cross_model_pairs(errors, own, requests, spec)


def keep_limit(share: float, others: int) -> int:
    """How many keep pairs make them `share` of all pairs, beside `others` (the correction pairs)."""
    return math.floor(share * others / (1 - share) + 1e-9) if share else 0


def keep_side(generate, right: list[tuple[dict, dict]], p: Params, spec: PairSpec, limit: int):
    """Keep pairs from the right rollouts `(problem, rollout)`, checked blind by the SFT student."""
    if not limit or not right:
        return [], Counter()
    right = sorted(right, key=lambda x: x[1]["id"])
    random.Random(p.mine.seed).shuffle(right)  # spread the pairs over problems, the same way every run
    chats = [correction_messages(spec.prompts, q["problem"], r["response"]) for q, r in right]
    checks = [texts[0] for texts in generate(chats, **_generation(p, "mine: checks of right solutions"))]
    return keep_pairs(right, checks, chats, spec, limit)


def per_student(rollouts: list[dict], corrections: list[dict], pairs: list[dict]) -> dict:
    """{checkpoint: {rollouts, wrong, localized, pairs}}: each student's share of the pool
    (localized counts held-out errors too; a pair counts for the student whose rollout it came from)."""
    model = {r["id"]: r["model"] for r in rollouts}
    out = {}
    for r in rollouts:
        s = out.setdefault(r["model"], {"rollouts": 0, "wrong": 0, "localized": 0, "pairs": 0})
        s["rollouts"] += 1
        s["wrong"] += not r["correct"]
    for c in corrections:
        out[model[c["rollout_id"]]]["localized"] += 1
    for pair in pairs:
        out[model[pair["rollout_id"]]]["pairs"] += 1
    return out


def write_outputs(cfg, all_rollouts: list[dict], training: list[dict], heldout: list[dict], pairs: list[dict]) -> None:
    """rollouts, corrections (DPO's, with their builder's notes), the held-out errors with their
    problem and response, the pairs."""
    out = Path(cfg.out_dir)
    write_jsonl(out / "rollouts.jsonl", all_rollouts)
    write_jsonl(out / "corrections.jsonl", training)
    write_jsonl(out / "heldout.jsonl", heldout)
    write_jsonl(out / "pairs.jsonl", pairs)
    if "sharegpt" in cfg.export:
        write_sharegpt(pairs, out)


def run(p: Params, dry_run: bool = False) -> dict:
    from supercorrect.student.engine import load_engine

    prompts = load_prompts(p.prompts.file)
    teacher = None if dry_run else make_teacher(p.teacher, prompts)
    problems = validate.load(Path(p.prepare.out_dir) / "mine.jsonl", "problems")
    by_id = {q["id"]: q for q in problems}
    all_rollouts, engine = pooled_rollouts(lambda path: load_engine(path, p.student, seed=p.mine.seed), prompts,
                                           problems, p)
    rollout_by_id = {r["id"]: r for r in all_rollouts}

    def held(problem_id: str) -> bool:
        return is_heldout(problem_id, p.mine.heldout_fraction, p.mine.seed)

    to_localize, selection_drops = select_for_teacher(all_rollouts, p.mine, held)
    if dry_run:  # after the (free, seeded) rollouts, before any teacher request; only the estimate is written
        from supercorrect.teacher.estimate import estimate_mine

        estimate = estimate_mine(p, prompts, [(by_id[r["problem_id"]], r["response"]) for r in to_localize]) | {
            "rollouts": len(all_rollouts), "wrong": sum(not r["correct"] for r in all_rollouts)}
        write_json(metrics_path(p, "mine", dry_run=True), estimate)
        return estimate
    corrections, teacher_drops = localize(teacher, by_id, to_localize)
    heldout = [c for c in corrections if held(c["problem_id"])]
    training = [c for c in corrections if not held(c["problem_id"])]

    lineage = {"teacher_model": teacher.model, "prompt_version": prompts.version, "student_checkpoint": p.sft.out_dir,
               "rejected_mode": p.mine.rejected, "pairs_strategy": p.mine.pairs}
    context = "solve" if p.mine.pairs == "step_dpo" else p.mine.context
    spec = PairSpec(prompts, context, Admission(engine.tokenizer, p.mine.max_pairs_per_problem), lineage)
    errors = [Located(c, by_id[c["problem_id"]], rollout_by_id[c["rollout_id"]]) for c in training]
    pairs, notes, at_k = correction_pairs(engine.generate, errors, p, spec) if p.mine.pairs != "none" else ([], [], {})
    right = [(by_id[r["problem_id"]], r) for r in all_rollouts if r["correct"] and not held(r["problem_id"])]
    kept, keep_counts = keep_side(engine.generate, right, p, spec, keep_limit(p.mine.keep_share, len(pairs)))

    write_outputs(p.mine, all_rollouts, [c | note for c, note in zip(training, notes)],
                  [{**c, "problem": by_id[c["problem_id"]]["problem"], "answer": by_id[c["problem_id"]]["answer"],
                    "response": rollout_by_id[c["rollout_id"]]["response"]} for c in heldout], pairs + kept)
    wrong = sum(not r["correct"] for r in all_rollouts)
    # The report: counts at every step, and every drop with its reason (MLflow logs it in `register`).
    metrics = {"problems": len(problems), "rollouts": len(all_rollouts), "wrong": wrong,
               "rollout_accuracy": 1 - wrong / max(1, len(all_rollouts)), "sent_to_teacher": len(to_localize),
               "localized": len(corrections), "heldout_errors": len(heldout), "training_errors": len(training),
               "pairs": len(pairs) + len(kept), "correction_pairs": len(pairs), "keep_pairs": len(kept),
               "pairs_strategy": p.mine.pairs, "rejected": p.mine.rejected, "context": context,
               ("step_dpo" if p.mine.pairs == "step_dpo" else "student_at_k"): dict(at_k),
               **({"keep": dict(keep_counts)} if keep_counts else {}),
               "students": per_student(all_rollouts, corrections, pairs + kept),
               "drops": {**selection_drops, **teacher_drops, **spec.admission.drops}}
    if teacher.metrics() is not None:  # requests, cache hits, tokens and cost of the teacher
        metrics["teacher"] = teacher.metrics()
    else:  # the offline teacher: what the same requests would cost at teacher.prices
        metrics["teacher_estimate"] = priced(p.teacher, [localize_chat(prompts, by_id[r["problem_id"]], r["response"])
                                                         for r in to_localize],
                                             [c["teacher_text"] for c in corrections])
    write_json(metrics_path(p, "mine"), metrics)
    return metrics
