"""Stage `annotate`: the teacher writes a hierarchical thought template for each training problem.

Every template is parsed (supercorrect.templates) and its `<Answer>` checked against the gold
answer; the openai teacher re-asks failures with the reason and, if `teacher.inspector` is
set, has an inspector model check each accepted template (supercorrect.teacher_checks).
Verified templates go to `hsft.jsonl` for SFT; the others go to `rejected.jsonl` with the
reason, so nothing is dropped silently. Teacher requests, cache hits and cost go into the
`teacher` block of metrics/annotate.json.

    supercorrect annotate [--params params.yaml] [--set annotate.limit=100]
    supercorrect annotate --dry-run    # requests (cached/new), tokens and cost; sends nothing
    OPENAI_API_KEY=... supercorrect annotate --set teacher.backend=openai \
        --set annotate.input=my_problems.jsonl --set annotate.out_dir=out/
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from supercorrect.config import Params
from supercorrect.io import read_jsonl, write_json, write_jsonl
from supercorrect.prompts import load_prompts
from supercorrect.teacher import make_teacher
from supercorrect.teacher_checks import check_template  # noqa: F401  (public here since v1)
from supercorrect.templates import TemplateError, parse_template


def _answer(text: str | None) -> str | None:
    try:
        return parse_template(text).answer if text else None
    except TemplateError:
        return None


def run(p: Params, dry_run: bool = False) -> dict:
    prompts = load_prompts(p.prompts.file)
    problems = read_jsonl(p.annotate.input)[: p.annotate.limit]
    if dry_run:  # what the teacher would be sent and cost; nothing is sent or written
        from supercorrect.teacher_estimate import estimate_annotate

        return estimate_annotate(p, prompts, problems)
    teacher = make_teacher(p.teacher, prompts)
    results = teacher.annotate_all(problems)
    teacher.check_budget()  # stop (non-zero exit) before writing a partial dataset
    accepted, rejected, reasons = [], [], Counter()
    for problem, result in zip(problems, results):
        template = result["text"] if result["text"] is not None else result["raw"]
        record = {
            "id": f"{problem['id']}-hsft", "problem_id": problem["id"], "problem": problem["problem"],
            "gold": problem["answer"], "template": template, "answer": _answer(template),
            "teacher_model": teacher.model, "prompt_version": prompts.version,
            "verified": result["reason"] is None, "teacher_rounds": result["rounds"],
        }
        if result["reason"] is None:
            accepted.append(record)
        else:
            rejected.append({**record, "reason": result["reason"]})
            reasons[result["kind"]] += 1
    out = Path(p.annotate.out_dir)
    write_jsonl(out / "hsft.jsonl", accepted)
    write_jsonl(out / "rejected.jsonl", rejected)
    metrics = {"problems": len(problems), "verified": len(accepted), "rejected": len(rejected),
               "rejected_by_reason": dict(reasons), "teacher_model": teacher.model,
               "prompt_version": prompts.version}
    teacher_metrics = teacher.metrics()
    if teacher_metrics is not None:
        metrics["teacher"] = teacher_metrics
    write_json("metrics/annotate.json", metrics)
    return metrics
