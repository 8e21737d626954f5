"""Stage `mine`: turn the SFT student's wrong solutions into cross-model DPO pairs (paper Eq. 8).

1. The SFT student samples `mine.samples_per_problem` solutions per mining problem (batched, on
   `student.engine`: our transformers decode loop, or vLLM on a GPU; supercorrect.engine); each
   is graded against the gold answer (rollouts.jsonl).
2. For every wrong one the teacher, grounded in the reference solution, names the first wrong
   step k and writes a cause and a correction (corrections.jsonl).
3. The student, shown the same wrong solution and told step k is wrong but given no reference,
   writes its own cause and correction.
4. pair: prompt = system + problem + the student's steps 1..k-1 (an assistant message to continue),
   chosen = teacher's correction, rejected = student's (pairs.jsonl, TRL conversational format).

Which wrong rollouts reach the teacher: all of them, or with `mine.only_sometimes_solved` only
those of problems the student solves in some samples, at most `mine.max_wrong_per_problem` per
problem. A pair is dropped, with the reason counted in metrics/mine.json, when its rejected side
reaches the right answer, when both sides are the same, when it duplicates another pair, when the
problem already has `mine.max_pairs_per_problem` pairs, or when the prompt is not, token for
token, the start of both `prompt + chosen` and `prompt + rejected` under the student's tokenizer
(DPO would then split prompt and completion somewhere else than Eq. 8 says).
`mine.export` adds a LLaMA-Factory/ShareGPT copy of the pairs (supercorrect.export).

    supercorrect mine [--params params.yaml] [--set mine.samples_per_problem=4]
    supercorrect mine --dry-run    # samples the rollouts, then prints the teacher requests and cost
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from supercorrect.config import Params
from supercorrect.dpo import to_text_pair, turn_end
from supercorrect.export import write_sharegpt
from supercorrect.grading import extract_answer, grade
from supercorrect.io import read_jsonl, write_json, write_jsonl
from supercorrect.prompts import Prompts, load_prompts, solve_messages
from supercorrect.teacher import make_teacher
from supercorrect.templates import leading_steps, parse_correction


def build_pair(prompts: Prompts, problem: dict, rollout: dict, k: int, chosen: str, rejected: str,
               lineage: dict) -> dict:
    """One DPO pair per Eq. 8: the prompt ends with the student's correct steps 1..k-1."""
    prefix = "\n".join(leading_steps(rollout["response"])[: k - 1])
    prompt = solve_messages(prompts, problem["problem"])
    if prefix:
        # The correct prefix is the start of the assistant turn; both sides continue it.
        prompt.append({"role": "assistant", "content": prefix + "\n"})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "id": f"{rollout['id']}-pair", "problem_id": problem["id"], "rollout_id": rollout["id"],
        "error_step": k, **lineage,
    }


def correction_request(prompts: Prompts, problem: dict, response: str, k: int) -> list[dict]:
    """The student's own-correction chat: no reference, the assistant turn starts at step k."""
    user = prompts.student_correct.format(problem=problem["problem"], student_solution=response, k=k)
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user},
            {"role": "assistant", "content": f"<Step{k}><Cause>"}]


def select_for_teacher(rollouts: list[dict], cfg) -> tuple[list[dict], Counter]:
    """The wrong rollouts to localise, in order, and how many were left out and why."""
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


def prompt_is_token_prefix(tokenizer, pair: dict, end: str) -> bool:
    """True when the rendered prompt's tokens open both `prompt + chosen` and `prompt + rejected`."""
    row = to_text_pair(tokenizer, pair, end)
    prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
    return all(tokenizer(row["prompt"] + row[side], add_special_tokens=False)["input_ids"][: len(prompt)] == prompt
               for side in ("chosen", "rejected"))


def run(p: Params, dry_run: bool = False) -> dict:
    from supercorrect.engine import load_generator

    prompts = load_prompts(p.prompts.file)
    teacher = None if dry_run else make_teacher(p.teacher, prompts)
    problems = read_jsonl(Path(p.prepare.out_dir) / "mine.jsonl")
    generate, tokenizer = load_generator(p.sft.out_dir, p.student, seed=p.sft.seed)
    gen = dict(max_new_tokens=p.student.max_new_tokens, batch_size=p.student.batch_size, seed=p.sft.seed)

    samples = generate([solve_messages(prompts, q["problem"]) for q in problems],
                       temperature=p.mine.temperature, num_samples=p.mine.samples_per_problem,
                       desc="mine: rollouts", **gen)
    all_rollouts = []
    for problem, responses in zip(problems, samples):
        for i, response in enumerate(responses):
            all_rollouts.append({
                "id": f"{problem['id']}-s{i}", "problem_id": problem["id"], "sample": i,
                "model": p.sft.out_dir, "response": response,
                "extracted": extract_answer(response), "correct": grade(response, problem["answer"]),
            })

    # Only the selected wrong rollouts go to the teacher.
    to_localise, selection_drops = select_for_teacher(all_rollouts, p.mine)
    by_id = {q["id"]: q for q in problems}
    if dry_run:  # after the (free, seeded) rollouts, before any teacher request; nothing is written
        from supercorrect.teacher_estimate import estimate_mine

        return estimate_mine(p, prompts, [(by_id[r["problem_id"]], r["response"]) for r in to_localise]) | {
            "rollouts": len(all_rollouts), "wrong": sum(not r["correct"] for r in all_rollouts)}
    drops, corrections = Counter(), []
    # The teacher validates (and the openai one re-asks and inspects) every correction itself.
    located = teacher.localize_all([(by_id[r["problem_id"]], r["response"]) for r in to_localise])
    teacher.check_budget()  # stop (non-zero exit) rather than build pairs from part of the errors
    for rollout, result in zip(to_localise, located):
        if result["text"] is None:
            drops[f"teacher: {result['kind']}"] += 1
            continue
        c = parse_correction(result["text"])
        corrections.append({"rollout_id": rollout["id"], "problem_id": rollout["problem_id"], "k": c.k,
                            "teacher_cause": c.cause, "teacher_correction": c.correction,
                            "teacher_text": c.text})

    rollout_by_id = {r["id"]: r for r in all_rollouts}
    requests = [correction_request(prompts, by_id[c["problem_id"]], rollout_by_id[c["rollout_id"]]["response"], c["k"])
                for c in corrections]
    own = generate(requests, temperature=0.0, desc="mine: student corrections", **gen)

    end = turn_end(tokenizer)
    lineage = {"teacher_model": teacher.model, "prompt_version": prompts.version,
               "student_checkpoint": p.sft.out_dir}
    pairs, seen, per_problem = [], set(), defaultdict(int)
    for c, (student_text,) in zip(corrections, own):
        rejected = f"<Step{c['k']}><Cause>" + student_text.strip()
        c["student_text"] = rejected
        problem = by_id[c["problem_id"]]
        if grade(rejected, problem["answer"]):
            drops["student's own correction is right"] += 1
            continue
        if rejected.strip() == c["teacher_text"].strip():
            drops["chosen and rejected are the same"] += 1
            continue
        pair = build_pair(prompts, problem, rollout_by_id[c["rollout_id"]], c["k"], c["teacher_text"],
                          rejected, lineage)
        if not prompt_is_token_prefix(tokenizer, pair, end):
            drops["prompt is not a token prefix of chosen and rejected"] += 1
            continue
        key = (str(pair["prompt"]), pair["chosen"][0]["content"], rejected)
        if key in seen:
            drops["duplicate pair"] += 1
            continue
        if per_problem[problem["id"]] >= p.mine.max_pairs_per_problem:
            drops["over max_pairs_per_problem"] += 1
            continue
        seen.add(key)
        per_problem[problem["id"]] += 1
        pairs.append(pair)

    out = Path(p.mine.out_dir)
    write_jsonl(out / "rollouts.jsonl", all_rollouts)
    write_jsonl(out / "corrections.jsonl", corrections)
    write_jsonl(out / "pairs.jsonl", pairs)
    if "sharegpt" in p.mine.export:
        write_sharegpt(pairs, out)
    wrong = sum(not r["correct"] for r in all_rollouts)
    # The report: counts at every step, and every drop with its reason (MLflow logs it in `register`).
    metrics = {"problems": len(problems), "rollouts": len(all_rollouts), "wrong": wrong,
               "rollout_accuracy": 1 - wrong / max(1, len(all_rollouts)), "sent_to_teacher": len(to_localise),
               "localised": len(corrections), "pairs": len(pairs), "drops": {**selection_drops, **drops}}
    if teacher.metrics() is not None:  # requests, cache hits, tokens and cost of the teacher
        metrics["teacher"] = teacher.metrics()
    write_json("metrics/mine.json", metrics)
    return metrics
