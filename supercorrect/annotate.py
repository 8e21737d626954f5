"""Stage `annotate`: the teacher writes a hierarchical thought template for each training problem.

Every template is parsed (supercorrect.templates) and its `<Answer>` checked against the gold
answer. Verified templates go to `hsft.jsonl` for SFT; the others go to `rejected.jsonl` with
the reason, so nothing is dropped silently.

    supercorrect annotate [--params params.yaml] [--set annotate.limit=100]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tqdm import tqdm

from supercorrect.config import Params
from supercorrect.grading import is_equivalent
from supercorrect.io import read_jsonl, write_json, write_jsonl
from supercorrect.prompts import load_prompts
from supercorrect.teacher import make_teacher
from supercorrect.templates import TemplateError, parse_template


def check_template(text: str, gold: str) -> tuple[str | None, str | None]:
    """(parsed answer, reason it fails or None) for one teacher template."""
    try:
        template = parse_template(text)
    except TemplateError as exc:
        return None, f"malformed: {exc}"
    if not is_equivalent(template.answer, gold):
        return template.answer, f"answer {template.answer!r} != gold {gold!r}"
    return template.answer, None


def run(p: Params) -> dict:
    prompts = load_prompts(p.prompts.file)
    teacher = make_teacher(p.teacher, prompts)
    problems = read_jsonl(p.annotate.input)[: p.annotate.limit]
    accepted, rejected, reasons = [], [], Counter()
    for problem in tqdm(problems, desc="annotate", unit="problem"):
        text = teacher.annotate(problem)
        answer, reason = check_template(text, problem["answer"])
        record = {
            "id": f"{problem['id']}-hsft", "problem_id": problem["id"], "problem": problem["problem"],
            "gold": problem["answer"], "template": text, "answer": answer,
            "teacher_model": teacher.model, "prompt_version": prompts.version, "verified": reason is None,
        }
        if reason is None:
            accepted.append(record)
        else:
            rejected.append({**record, "reason": reason})
            reasons[reason.split(":")[0]] += 1
    out = Path(p.annotate.out_dir)
    write_jsonl(out / "hsft.jsonl", accepted)
    write_jsonl(out / "rejected.jsonl", rejected)
    metrics = {"problems": len(problems), "verified": len(accepted), "rejected": len(rejected),
               "rejected_by_reason": dict(reasons), "teacher_model": teacher.model,
               "prompt_version": prompts.version}
    cache = getattr(teacher, "cache", None)
    if cache is not None:
        metrics |= {"cache_hits": cache.hits, "cache_misses": cache.misses}
    write_json("metrics/annotate.json", metrics)
    return metrics
