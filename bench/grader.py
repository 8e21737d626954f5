"""Benchmark: our grader against math-verify called directly, for speed and for accuracy.

Speed: each of the 500 MATH500 reference solutions is graded against its own gold answer,
once with `supercorrect.grading.judge.grade` (hard per-item time limit in force) and once with
math-verify the way its README shows (`verify(parse("$" + gold + "$"), parse(solution))`),
in the same run and the same thread. Both sides are warmed up first (imports, our worker
process), so the figures are per-item grading cost, not start-up. Also times `grade_batch`.

Accuracy: both graders judge the labelled cases of tests/grading_cases.py (responses and
golds with the verdict a careful human gives, see docs/grading.md); agreement with the
labels, false accepts and false rejects are printed side by side, with the classes where
each grader errs.

    .venv/bin/python -m bench.grader [--data ../shared/data/math500_test.jsonl] [--time-limit 5]

The last line is JSON: speed_ratio_vs_math_verify (their time / ours), p99_ms, timeouts,
suite_agreement and suite_math_verify_agreement, false accepts and rejects of each, ...
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import time
from pathlib import Path

from tests.grading_cases import CASES

DEFAULT_DATA = Path(os.environ.get("SUPERCORRECT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _time_each(fn, pairs) -> tuple[list, list[float]]:
    results, times = [], []
    for solution, answer in pairs:
        start = time.perf_counter()
        results.append(fn(solution, answer))
        times.append(time.perf_counter() - start)
    return results, times


def _score_suite(ours, theirs) -> dict:
    """Agreement with the labels, false accepts and false rejects of both graders on CASES."""
    out = {"suite_n": len(CASES), "suite_right_answers": sum(c.correct for c in CASES)}
    for key, fn in (("suite", ours), ("suite_math_verify", theirs)):
        start = time.perf_counter()
        verdicts = [fn(case.response, case.gold) for case in CASES]
        out[key + "_s"] = round(time.perf_counter() - start, 3)
        wrong = [case for case, v in zip(CASES, verdicts) if v != case.correct]
        out[key + "_agreement"] = round(1 - len(wrong) / len(CASES), 4)
        out[key + "_false_accepts"] = sum(not case.correct for case in wrong)
        out[key + "_false_rejects"] = sum(case.correct for case in wrong)
        out[key + "_errors_by_class"] = dict(collections.Counter(case.cls for case in wrong).most_common())
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "math500_test.jsonl")
    parser.add_argument("--time-limit", type=float, default=5.0, help="per-item limit for our grader, seconds")
    parser.add_argument("--workers", type=int, default=None, help="grade_batch threads (default: CPU count)")
    args = parser.parse_args(argv)

    import math_verify

    from supercorrect.grading.judge import grade, grade_batch, judge

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(r["solution"], r["answer"]) for r in rows]

    def theirs(solution: str, answer: str) -> bool:
        # math-verify's documented usage (gold in $...$ as its README writes it), with its
        # default signal-based timeouts on the main thread.
        try:
            return bool(math_verify.verify(math_verify.parse(f"${answer}$"), math_verify.parse(solution)))
        except Exception:
            return False

    # Warm-up: imports, sympy caches and our worker process, on a symbolic pair.
    grade("\\boxed{2\\sqrt{5}}", "\\sqrt{20}")
    theirs("\\boxed{2\\sqrt{5}}", "\\sqrt{20}")

    our_judgements, our_times = _time_each(lambda s, a: judge(s, a, args.time_limit), pairs)
    their_verdicts, their_times = _time_each(theirs, pairs)
    start = time.perf_counter()
    batch = grade_batch([s for s, _ in pairs], [a for _, a in pairs], time_limit_s=args.time_limit,
                        workers=args.workers)
    batch_s = time.perf_counter() - start

    suite = _score_suite(lambda r, g: grade(r, g, args.time_limit), theirs)

    ours_s, theirs_s = sum(our_times), sum(their_times)
    ours_ok = sum(j.correct for j in our_judgements)
    figures = {
        "n": len(pairs),
        "ours_s": round(ours_s, 3),
        "math_verify_s": round(theirs_s, 3),
        "speed_ratio_vs_math_verify": round(theirs_s / ours_s, 2),
        "batch_s": round(batch_s, 3),
        "batch_speed_ratio_vs_math_verify": round(theirs_s / batch_s, 2),
        "p50_ms": round(1000 * statistics.median(our_times), 3),
        "p99_ms": round(1000 * _percentile(our_times, 0.99), 2),
        "max_ms": round(1000 * max(our_times), 2),
        "math_verify_p99_ms": round(1000 * _percentile(their_times, 0.99), 2),
        "timeouts": sum(j.timed_out for j in our_judgements) + batch.timeouts,
        "time_limit_s": args.time_limit,
        "ours_correct": ours_ok,
        "math_verify_correct": sum(their_verdicts),
        "batch_agrees": list(batch) == [j.correct for j in our_judgements],
        **{k: v for k, v in suite.items() if not k.endswith("_by_class")},
        "suite_speed_ratio_vs_math_verify": round(suite["suite_math_verify_s"] / suite["suite_s"], 2),
    }
    print(f"MATH500 self-grading, {len(pairs)} solutions, limit {args.time_limit} s per item")
    print(f"  ours        {ours_s:7.2f} s  correct {ours_ok}/{len(pairs)}  "
          f"p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms  max {figures['max_ms']} ms")
    print(f"  math-verify {theirs_s:7.2f} s  correct {figures['math_verify_correct']}/{len(pairs)}  "
          f"p99 {figures['math_verify_p99_ms']} ms")
    print(f"  grade_batch {batch_s:7.2f} s  timeouts {batch.timeouts}")
    print(f"Labelled suite, {suite['suite_n']} cases ({suite['suite_right_answers']} right answers)")
    for who, key in (("ours", "suite"), ("math-verify", "suite_math_verify")):
        print(f"  {who:<11} agreement {suite[key + '_agreement']:.3f}  false accepts "
              f"{suite[key + '_false_accepts']:3d}  false rejects {suite[key + '_false_rejects']:3d}  "
              f"{suite[key + '_s']:6.2f} s  errors by class {suite[key + '_errors_by_class']}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
