"""Stage `annotate`: the teacher writes a hierarchical thought template for each training problem.

Every template is parsed (supercorrect.templates) and its `<Answer>` checked against the gold
answer; the openai teacher re-asks failures with the reason and, if `teacher.inspector` is
set, has an inspector model check each accepted template (supercorrect.teacher_checks).
Verified templates go to `hsft.jsonl` for SFT; the others go to `rejected.jsonl` with the
reason, so nothing is dropped silently. The input is validated first (supercorrect.validate,
`annotate.on_error`), so a bad record costs no teacher request.

A share of the verified templates (`annotate.correction_share`) also becomes a correction-trace
example, so the student meets the correction format before DPO (a departure from the paper,
whose HSFT data holds templates only; set the share to 0 for the paper's recipe). Of those, a
share (`annotate.correction_error_share`) gets a wrong step injected (supercorrect.errors) and the
teacher writes its trace, grounded in the reference as in `mine`; the rest are correct solutions
whose trace copies every step. These records have `kind: correction` and the solution shown in
`shown`; templates have `kind: template`. Teacher requests, cache hits and cost go into the
`teacher` block of metrics/annotate.json (supercorrect.io.metrics_path: beside the outputs when
`annotate.out_dir` is not the default).

`annotate.targets: cot` is the CoT SFT ablation (docs/ablations.md): each target is the reference
solution itself as plain `<StepN>` steps and `<Answer>`, with no `<Key>` and no `<Generalized>`
(`cot_target`), checked against the gold answer like a template and written without any teacher
request. The correction-trace examples stay, built on those plain steps (the teacher's traces
with their `<Key>` notes removed), so the HSFT and CoT students differ in the target format only;
their injected-error traces are the variant's only teacher requests. With the offline teacher,
`teacher_estimate` in metrics/annotate.json prices the requests sent at `teacher.prices`.

    supercorrect annotate [--params params.yaml] [--set annotate.limit=100]
    supercorrect annotate --dry-run    # requests (cached/new), tokens and cost; sends nothing
    OPENAI_API_KEY=... supercorrect annotate --set teacher.backend=openai \
        --set annotate.input=my_problems.jsonl --set annotate.out_dir=out/
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

from supercorrect.config import Params
from supercorrect import validate
from supercorrect.errors import copy_trace, inject_error
from supercorrect.grading import extract_answer, is_equivalent
from supercorrect.io import metrics_path, write_json, write_jsonl
from supercorrect.pairs import correct_prefix
from supercorrect.prompts import load_prompts
from supercorrect.teacher import annotate_chat, localize_chat, make_teacher, reference_steps
from supercorrect.teacher_checks import result
from supercorrect.teacher_estimate import priced
from supercorrect.templates import TemplateError, parse_correction, parse_template, render_step

_KEY = re.compile(r"<Key>.*?</Key>", re.S)


def _answer(text: str | None) -> str | None:
    try:
        return parse_template(text).answer if text else None
    except TemplateError:
        return None


def cot_target(problem: dict) -> str:
    """The plain chain-of-thought target: the reference solution's steps, then its answer."""
    answer = extract_answer(problem["solution"]) or problem["answer"]
    return "\n".join([render_step(s.index, s.body) for s in reference_steps(problem)] + [f"<Answer>{answer}</Answer>"])


def cot_result(problem: dict) -> dict:
    """`cot_target` as a teacher result (supercorrect.teacher_checks.result), its answer checked."""
    text = cot_target(problem)
    answer = extract_answer(text)
    reason = None if is_equivalent(answer, problem["answer"]) else f"answer {answer!r} != gold {problem['answer']!r}"
    return result(text if reason is None else None, reason, 0, text)


def correction_examples(teacher, problems: list[dict], accepted: list[dict], cfg,
                        sent: list | None = None) -> tuple[list[dict], Counter]:
    """Correction-trace examples from a seeded share of the verified templates, and drops by reason.

    `sent`, if given, receives (problem, solution shown, output) for each localisation request."""
    rng = random.Random(cfg.seed)
    by_id = {q["id"]: q for q in problems}
    wrong, right = [], []
    for record in accepted:
        if rng.random() >= cfg.correction_share:
            continue
        made = inject_error(record["template"], rng) if rng.random() < cfg.correction_error_share else None
        (wrong if made else right).append((record, made[0] if made else record["template"]))
    items = [(by_id[r["problem_id"]], shown) for r, shown in wrong]
    located = teacher.localize_all(items)
    if sent is not None:
        sent += [(q, shown, out["raw"]) for (q, shown), out in zip(items, located)]
    examples, drops = [], Counter()
    for (record, shown), outcome in zip(wrong, located):
        if outcome["text"] is None:
            drops[f"teacher: {outcome['kind']}"] += 1
            continue
        c = parse_correction(outcome["text"])
        trace = c.text if cfg.targets == "hsft" else _KEY.sub("", c.text)  # CoT targets carry no <Key>
        examples.append(_example(record, shown, correct_prefix(shown, c.k) + trace, c.k))
    examples += [_example(record, shown, copy_trace(shown), None) for record, shown in right]
    return examples, drops


def _example(record: dict, shown: str, trace: str, k: int | None) -> dict:
    return {**record, "id": f"{record['problem_id']}-correction", "kind": "correction", "shown": shown,
            "template": trace, "answer": record["gold"], "error_step": k}


def run(p: Params, dry_run: bool = False) -> dict:
    prompts = load_prompts(p.prompts.file)
    skipped: list[dict] = []  # annotate.on_error=skip: defective input records, with the reason
    problems = validate.load(p.annotate.input, "problems", p.annotate.on_error, skipped)[: p.annotate.limit]
    if dry_run:  # what the teacher would be sent and cost; nothing is sent or written
        from supercorrect.teacher_estimate import estimate_annotate

        return estimate_annotate(p, prompts, problems if p.annotate.targets == "hsft" else [])
    teacher = make_teacher(p.teacher, prompts)
    cot = p.annotate.targets == "cot"
    results = [cot_result(q) for q in problems] if cot else teacher.annotate_all(problems)
    teacher.check_budget()  # stop (non-zero exit) before writing a partial dataset
    accepted, rejected, reasons = [], [], Counter()
    for problem, outcome in zip(problems, results):
        template = outcome["text"] if outcome["text"] is not None else outcome["raw"]
        record = {
            "id": f"{problem['id']}-hsft", "kind": "cot" if cot else "template", "problem_id": problem["id"],
            "problem": problem["problem"], "gold": problem["answer"], "template": template,
            "answer": extract_answer(template) if cot else _answer(template),
            "teacher_model": "reference solution" if cot else teacher.model, "prompt_version": prompts.version,
            "verified": outcome["reason"] is None, "teacher_rounds": outcome["rounds"],
        }
        if outcome["reason"] is None:
            accepted.append(record)
        else:
            rejected.append({**record, "reason": outcome["reason"]})
            reasons[outcome["kind"]] += 1
    sent: list[tuple] = []
    examples, correction_drops = correction_examples(teacher, problems, accepted, p.annotate, sent)
    teacher.check_budget()
    out = Path(p.annotate.out_dir)
    write_jsonl(out / "hsft.jsonl", accepted + examples)
    write_jsonl(out / "rejected.jsonl", rejected)
    metrics = {"problems": len(problems), "verified": len(accepted), "rejected": len(rejected),
               "rejected_by_reason": dict(reasons), "skipped_input": len(skipped),
               "correction_examples": len(examples),
               "correction_examples_with_error": sum(e["error_step"] is not None for e in examples),
               "correction_drops": dict(correction_drops), "teacher_model": teacher.model,
               "prompt_version": prompts.version, "targets": p.annotate.targets}
    teacher_metrics = teacher.metrics()
    if teacher_metrics is not None:
        metrics["teacher"] = teacher_metrics
    else:  # the offline teacher: what the same requests would cost at teacher.prices
        chats = [] if cot else [annotate_chat(prompts, q) for q in problems]
        outputs = [] if cot else [r["raw"] for r in results]
        metrics["teacher_estimate"] = priced(p.teacher, chats + [localize_chat(prompts, q, shown) for q, shown, _ in sent],
                                             outputs + [raw for _, _, raw in sent])
    write_json(metrics_path(p.annotate, "annotate"), metrics)
    return metrics
