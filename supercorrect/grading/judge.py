"""Verdicts: one response against its gold (`grade`, `judge`) or many in parallel (`grade_batch`),
and math-verify's own verdict beside ours (`math_verify_batch`, `compare_graders`).

Every stage that needs right or wrong calls this: annotate (is the teacher's template right?),
mine (which student solutions are wrong?) and evaluate (accuracy, and accuracy under math-verify
so users can compare with published numbers).

    .venv/bin/python -c "from supercorrect.grading.judge import grade; print(grade('#### 1,000', '1000'))"

    verdicts = grade_batch(responses, golds, time_limit_s=5, workers=4)   # list[bool]
    verdicts.timeouts, verdicts.no_answer
    compare_graders(rows, time_limit_s=5)   # rows gain `math_verify`; accuracy and disagreements
"""

from __future__ import annotations

import os
from typing import NamedTuple

from supercorrect.grading.equivalence import equivalent_or_raise
from supercorrect.grading.extract import choice_letter, extract_choice, extract_safely, gold_answer
from supercorrect.grading.symbolic import math_verify_verdict, SymbolicTimeout



class Judgement(NamedTuple):
    correct: bool
    extracted: str | None
    timed_out: bool  # the symbolic comparison hit the time limit (and counts as wrong)


def judge(response: str, gold: str, time_limit_s: float | None = None) -> Judgement:
    """Verdict on one response with the extracted answer and whether it timed out. Never raises."""
    letter = choice_letter(gold)
    if letter is not None:  # multiple choice: the response's choice against the gold's letter
        choice = extract_choice(response, letter) if isinstance(response, str) else None
        return Judgement(choice == letter, choice, False)
    pred = extract_safely(response)
    if pred is None:
        return Judgement(False, None, False)
    try:
        return Judgement(equivalent_or_raise(pred, gold_answer(gold), time_limit_s), pred, False)
    except SymbolicTimeout:
        return Judgement(False, pred, True)
    except Exception:
        return Judgement(False, pred, False)


def grade(response: str, gold: str, time_limit_s: float | None = None) -> bool:
    """True if the final answer extracted from response is equivalent to gold."""
    return judge(response, gold, time_limit_s).correct


class BatchGrades(list):
    """list[bool] of verdicts, plus `judgements` and the `timeouts` / `no_answer` counts."""

    def __init__(self, judgements: list[Judgement]) -> None:
        super().__init__(j.correct for j in judgements)
        self.judgements = judgements
        self.timeouts = sum(j.timed_out for j in judgements)
        self.no_answer = sum(j.extracted is None for j in judgements)


def grade_batch(responses: list[str], golds: list[str], time_limit_s: float | None = None,
                workers: int | None = None, progress: bool = False, desc: str = "grade") -> BatchGrades:
    """Grade many responses in parallel threads; symbolic comparisons run in parallel workers.

    Plain numbers are decided in-process (GIL-bound, so threads only overlap the symbolic
    waits); each symbolic comparison is limited to time_limit_s and a timeout counts as wrong.
    """
    return _in_threads(lambda r, g: judge(r, g, time_limit_s), responses, golds, workers, progress, desc)


def math_verify_judge(response: str, gold: str, time_limit_s: float | None = None) -> Judgement:
    """math-verify's verdict alone, called as its README shows, under our hard per-item limit
    (a timeout counts as wrong). Never raises; `extracted` is empty: math-verify picks its own."""
    try:
        return Judgement(math_verify_verdict(response, gold, time_limit_s), "", False)
    except SymbolicTimeout:
        return Judgement(False, "", True)
    except Exception:
        return Judgement(False, "", False)


def math_verify_batch(responses: list[str], golds: list[str], time_limit_s: float | None = None,
                      workers: int | None = None, progress: bool = False, desc: str = "math-verify") -> BatchGrades:
    """math_verify_judge on many responses in parallel threads (its worker processes do the work)."""
    return _in_threads(lambda r, g: math_verify_judge(r, g, time_limit_s), responses, golds, workers, progress, desc)


def compare_graders(rows: list[dict], time_limit_s: float | None = None, workers: int | None = None,
                    progress: bool = False, desc: str = "math-verify") -> dict:
    """Grade graded rows (`response`, `gold`, `correct`) again with math-verify alone.

    Each row gets `math_verify` (its verdict) in place, so the answers where the graders part
    can be found; returns `math_verify_accuracy`, `grader_disagreements` (rows where the two
    verdicts differ) and `math_verify_timeouts`.
    """
    theirs = math_verify_batch([r["response"] for r in rows], [r["gold"] for r in rows], time_limit_s,
                               workers, progress, desc)
    for row, verdict in zip(rows, theirs):
        row["math_verify"] = verdict
    return {"math_verify_accuracy": sum(theirs) / len(rows) if rows else 0.0,
            "grader_disagreements": sum(r["math_verify"] != r["correct"] for r in rows),
            "math_verify_timeouts": theirs.timeouts}


def _in_threads(judge_one, responses: list[str], golds: list[str], workers: int | None, progress: bool,
                desc: str) -> BatchGrades:
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} golds")
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(lambda pair: judge_one(*pair), zip(responses, golds))
        if progress:
            from tqdm import tqdm

            jobs = tqdm(jobs, total=len(responses), desc=desc, unit="answer")
        return BatchGrades(list(jobs))
