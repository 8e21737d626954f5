"""Stage `annotate`: the teacher writes a hierarchical thought template for each training problem.

Every template is parsed (supercorrect.formats.templates) and its `<Answer>` checked against the gold
answer; the openai teacher re-asks failures with the reason and, if `teacher.inspector` is
set, has an inspector model check each accepted template (supercorrect.teacher.checks).
Verified templates go to `hsft.jsonl` for SFT; the others go to `rejected.jsonl` with the
reason, so nothing is dropped silently. The input is validated first (supercorrect.validate,
`annotate.on_error`), so a bad record costs no teacher request.

A share of the verified templates (`annotate.correction_share`) also becomes a correction-trace
example, so the student meets the correction format before DPO (a departure from the paper,
whose HSFT data holds templates only; set the share to 0 for the paper's recipe). Of those, a
share (`annotate.correction_error_share`) gets a wrong step injected (supercorrect.formats.errors) and the
teacher writes its trace, grounded in the reference as in `mine`; the rest are correct solutions
whose trace copies every step. These records have `kind: correction` and the solution shown in
`shown`; templates have `kind: template`. Teacher requests, cache hits and cost go into the
`teacher` block of metrics/annotate.json (supercorrect.io.metrics_path: beside the outputs in a
side run whose `--set annotate.out_dir` moves them).

`annotate.targets: cot` is the CoT SFT ablation (docs/ablations.md): each target is the reference
solution itself as plain `<StepN>` steps and `<Answer>`, with no `<Key>` and no `<Generalized>`
(`cot_target`), checked against the gold answer like a template and written without any teacher
request. The correction-trace examples stay, built on those plain steps (the teacher's traces
with their `<Key>` notes removed), so the HSFT and CoT students differ in the target format only;
their injected-error traces are the variant's only teacher requests. With the offline teacher,
`teacher_estimate` in metrics/annotate.json prices the requests sent at `teacher.prices`.

    supercorrect annotate [--params params.yaml] [--set annotate.limit=100]
    supercorrect annotate --dry-run    # cost (expected, worst case), requests, tokens, cached; sends nothing
                                       # and writes only metrics/annotate.dry_run.json
    OPENAI_API_KEY=... supercorrect annotate --set teacher.backend=openai \
        --set annotate.input=my_problems.jsonl --set annotate.out_dir=out/
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

from supercorrect import validate
from supercorrect.config import Params
from supercorrect.formats.errors import inject_error
from supercorrect.formats.prompts import load_prompts
from supercorrect.formats.templates import (TemplateError, copy_trace, correct_prefix, parse_correction, parse_template,
                                            render_answer, render_step)
from supercorrect.grading.equivalence import is_equivalent
from supercorrect.grading.extract import extract_answer
from supercorrect.io import metrics_path, write_json, write_jsonl
from supercorrect.teacher.backends import annotate_chat, localize_chat, make_teacher, reference_steps
from supercorrect.teacher.checks import result
from supercorrect.teacher.estimate import priced

_KEY = re.compile(r"<Key>.*?</Key>", re.S)


def _answer(text: str | None) -> str | None:
    try:
        return parse_template(text).answer if text else None
    except TemplateError:
        return None


def cot_target(problem: dict) -> str:
    """The plain chain-of-thought target: the reference solution's steps, then its answer."""
    answer = extract_answer(problem["solution"]) or problem["answer"]
    return "\n".join([render_step(s.index, s.body) for s in reference_steps(problem)] + [render_answer(answer)])


def cot_result(problem: dict) -> dict:
    """`cot_target` as a teacher result (supercorrect.teacher.checks.result), its answer checked."""
    text = cot_target(problem)
    answer = extract_answer(text)
    reason = None if is_equivalent(answer, problem["answer"]) else f"answer {answer!r} != gold {problem['answer']!r}"
    return result(text if reason is None else None, reason, 0, text)


def pick_corrections(accepted: list[dict], cfg) -> tuple[list[tuple[dict, str, int]], list[tuple[dict, str]]]:
    """The seeded share of the verified templates that become correction-trace examples, as
    (record, solution shown): those with an injected wrong step (one teacher request each; with
    that step's number as a third item), and those kept right (no request)."""
    rng = random.Random(cfg.seed)
    wrong, right = [], []
    for record in accepted:
        if rng.random() >= cfg.correction_share:
            continue
        made = inject_error(record["template"], rng) if rng.random() < cfg.correction_error_share else None
        if made:
            wrong.append((record, *made))
        else:
            right.append((record, record["template"]))
    return wrong, right


def correction_examples(teacher, problems: list[dict], accepted: list[dict], cfg,
                        sent: list | None = None) -> tuple[list[dict], Counter]:
    """Correction-trace examples from a seeded share of the verified templates, and drops by reason.

    `sent`, if given, receives (problem, solution shown, output) for each localization request."""
    by_id = {q["id"]: q for q in problems}
    wrong, right = pick_corrections(accepted, cfg)
    items = [(by_id[r["problem_id"]], shown) for r, shown, _ in wrong]
    located = teacher.localize_all(items)
    if sent is not None:
        sent += [(q, shown, out["raw"]) for (q, shown), out in zip(items, located)]
    examples, drops = [], Counter()
    for (record, shown, _), outcome in zip(wrong, located):
        if outcome["text"] is None:
            drops[f"teacher: {outcome['kind']}"] += 1
            continue
        c = parse_correction(outcome["text"])
        trace = c.text if cfg.targets == "hsft" else _KEY.sub("", c.text)  # CoT targets carry no <Key>
        examples.append(_example(record, shown, correct_prefix(shown, c.k) + trace, c.k))
    examples += [_example(record, shown, copy_trace(shown), None) for record, shown in right]
    return examples, drops


def expected_template(p: Params, prompts, problem: dict) -> str | None:
    """The template `--dry-run` expects the teacher to return for `problem`: its cached answer
    when there is one that passes the checks, else the reference solution as a template (the
    offline reference teacher's, which is what the teacher is asked to write); None when
    neither passes (the problem would likely be rejected)."""
    from supercorrect.teacher.backends import ReferenceTeacher
    from supercorrect.teacher.checks import check_annotation
    from supercorrect.teacher.estimate import cached_text

    candidates = [cached_text(p.teacher, prompts.version, annotate_chat(prompts, problem))]
    for text in candidates + [ReferenceTeacher().annotate(problem)]:
        if text is not None and check_annotation(text, problem) is None:
            return text
    return None


def _example(record: dict, shown: str, trace: str, k: int | None) -> dict:
    return {**record, "id": f"{record['problem_id']}-correction", "kind": "correction", "shown": shown,
            "template": trace, "answer": record["gold"], "error_step": k}


def run(p: Params, dry_run: bool = False) -> dict:
    prompts = load_prompts(p.prompts.file)
    skipped: list[dict] = []  # annotate.on_error=skip: defective input records, with the reason
    problems = validate.load(p.annotate.input, "problems", p.annotate.on_error, skipped)[: p.annotate.limit]
    if dry_run:  # what the teacher would be sent and cost; nothing is sent, only the estimate written
        from supercorrect.teacher.estimate import estimate_annotate

        # The correction requests depend on templates not written yet: the seeded pick runs on
        # the templates the run is expected to accept (`expected_template`; CoT's need no teacher).
        hsft = p.annotate.targets == "hsft"
        expected = [{"problem_id": q["id"], "template": t} for q in problems
                    for t in [expected_template(p, prompts, q) if hsft else cot_result(q)["text"]] if t is not None]
        by_id = {q["id"]: q for q in problems}
        wrong, _ = pick_corrections(expected, p.annotate)
        estimate = estimate_annotate(p, prompts, problems if hsft else [],
                                     [(by_id[r["problem_id"]], shown, k) for r, shown, k in wrong])
        write_json(metrics_path(p, "annotate", dry_run=True), estimate)
        return estimate
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
    write_json(metrics_path(p, "annotate"), metrics)
    return metrics
