"""Tests for supercorrect.grading: answer extraction, equivalence and the full grade().

Two labelled tables of responses are graded and every false accept / false reject is listed
in the failure message: the regression table below and the classed suite of
tests/grading_cases.py (units, fractions, LaTeX, late cues, labels, equations, boxes, CJK,
and the documented decisions of docs/grading.md). False accepts must be zero because a
grader that accepts wrong answers silently poisons mining (wrong solutions look right) and
inflates evaluation.
When the real datasets exist in ../shared/data (or $SUPERCORRECT_DATA_DIR), every GSM8K test
solution and every MATH500 reference solution is also graded against its own gold answer.

    cd /work/main && .venv/bin/python -m pytest tests/test_grading.py -q
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from supercorrect.grading import equivalence
from supercorrect.grading import judge as grading
from supercorrect.grading.equivalence import is_equivalent
from supercorrect.grading.extract import extract_answer
from supercorrect.grading.judge import grade
from supercorrect.grading.normalize import last_boxed
from tests.grading_cases import CASES as SUITE

DATA_DIR = Path(
    os.environ.get("SUPERCORRECT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)

# (response, gold, expected verdict). Responses look like what the student / teacher produce.
CASES: list[tuple[str, str, bool]] = [
    # --- XML template: <Answer> wins over numbers in the steps ---
    ("<Step1>3 + 4 = 7 apples</Step1><Generalized>Add.</Generalized><Answer>12</Answer>", "12", True),
    ("<Step1>3 + 4 = 7 apples</Step1><Answer>12</Answer>", "7", False),
    ("<Step1>\\boxed{3}</Step1><Answer>4</Answer>", "4", True),
    ("<Step1>\\boxed{3}</Step1><Answer>4</Answer>", "3", False),
    ("<Step1>x</Step1><Answer>The answer is $\\frac{1}{2}$.</Answer>", "0.5", True),
    ("<Step1>x</Step1><Answer>Janet makes 18 dollars every day.</Answer>", "18", True),
    ("<Step1>x</Step1><Answer>Janet makes 18 dollars every day.</Answer>", "16", False),
    ("<Answer>1</Answer> then revised: <Answer>2</Answer>", "2", True),
    ("<Answer>1</Answer> then revised: <Answer>2</Answer>", "1", False),
    ("<Step1>16-3-4=9</Step1><Answer>14/3", "4\\frac{2}{3}", True),  # truncated closing tag
    ("<Answer></Answer> so \\boxed{9}", "9", True),
    ("<Answer>$x = 5$</Answer>", "5", True),
    ("<Answer>$x = 5$</Answer>", "-5", False),
    ("<Answer>18 marbles</Answer>", "18", True),
    # --- boxed, nested braces, fbox ---
    ("so $x=\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt3}{2}", True),
    ("so $x=\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt2}{2}", False),
    ("First \\boxed{3}, finally \\boxed{\\frac{14}{3}}.", "\\frac{14}{3}", True),
    ("First \\boxed{3}, finally \\boxed{\\frac{14}{3}}.", "3", False),
    ("\\fbox{7}", "7", True),
    ("\\boxed{\\{1\\pm\\sqrt{5},-2\\}}", "\\{1\\pm\\sqrt{5},-2\\}", True),
    ("\\boxed{-2, 1+\\sqrt5, 1-\\sqrt5}", "\\{1\\pm\\sqrt{5},-2\\}", True),
    ("\\boxed{-2, 1+\\sqrt5}", "\\{1\\pm\\sqrt{5},-2\\}", False),
    # --- GSM8K #### and thousands separators ---
    ("She pays 80,000 in total.\n#### 80,000", "80000", True),
    ("She pays 80,000 in total.\n#### 80,000", "8000", False),
    ("so 10 - 3 = 7\n#### 7", "7", True),
    ("so 10 - 3 = 7\n#### 7", "-7", False),
    ("\\boxed{10{,}000}", "10000", True),
    ("\\boxed{11,\\! 111,\\! 111,\\! 100}", "11111111100", True),
    ("The house is worth $1,234,567.", "1234567", True),
    ("The house is worth $1,234,567.", "1234568", False),
    ("\\boxed{\\$32,\\!348}", "32348", True),
    # --- "the answer is" and last-number fallbacks ---
    ("Adding up, the answer is 42.", "42", True),
    ("Adding up, the answer is 42.", "24", False),
    ("Final Answer: The final answer is $\\dfrac{3}{4}$. I hope it is correct.", "0.75", True),
    ("Final Answer: The final answer is $\\dfrac{3}{4}$. I hope it is correct.", "4/3", False),
    ("So the answer is 18 dollars per day.", "18", True),
    ("the answer is \\(\\frac{1}{2}\\)", "1/2", True),
    ("He had 5 apples, ate 2 and has 3 left.", "3", True),
    ("He had 5 apples, ate 2 and has 3 left.", "5", False),
    ("The total comes to 1.5 liters", "3/2", True),
    ("The total comes to -8", "8", False),
    ("No idea, sorry.", "5", False),
    ("", "5", False),
    # --- fractions, decimals, mixed numbers: exact, no float slop ---
    ("\\boxed{0.5}", "\\frac{1}{2}", True),
    ("\\boxed{1/2}", "2", False),
    ("\\boxed{\\frac12}", "2", False),
    ("\\boxed{\\frac{2}{1}}", "2", True),
    ("\\boxed{\\frac{14}{3}}", "4\\frac{2}{3}", True),
    ("\\boxed{4\\frac{2}{3}}", "\\frac{14}{3}", True),
    ("\\boxed{4 2/3}", "14/3", True),
    ("\\boxed{4\\frac{2}{3}}", "\\frac{8}{3}", False),  # not 4 * 2/3
    ("\\boxed{-4\\frac{2}{3}}", "-\\frac{14}{3}", True),
    ("\\boxed{137 \\frac{1}{2}}", "275/2", True),
    ("\\boxed{0.333}", "\\frac{1}{3}", False),
    ("\\boxed{0.3333333}", "\\frac{1}{3}", True),  # 1/3 to seven digits (docs/grading.md)
    ("\\boxed{3.14}", "3.1416", False),
    ("\\boxed{18.00}", "18", True),
    ("\\boxed{2.5}", "\\frac52", True),
    ("\\boxed{1000001}", "1000000", False),
    ("\\boxed{\\frac{1}{0}}", "1", False),
    # --- percent, degrees, dollars, units ---
    ("The price rose by 25%.", "25", True),
    ("\\boxed{50\\%}", "0.5", True),
    ("\\boxed{0.5}", "50\\%", True),
    ("\\boxed{5}", "50\\%", False),
    ("\\boxed{50}", "5\\%", False),
    ("The angle is \\boxed{30^\\circ}.", "30", True),
    ("\\boxed{30^{\\circ}}", "30^\\circ", True),
    ("\\boxed{30^{\\circ}}", "60^\\circ", False),
    ("\\boxed{\\frac{270}{7}}", "\\frac{270}7\\text{ degrees}", True),
    ("\\boxed{\\$18.00}", "18", True),
    ("\\boxed{5\\text{ cm}}", "5", True),
    ("\\boxed{15}", "15\\mbox{ cm}^2", True),
    ("\\boxed{864}", "864 \\mbox{ inches}^2", True),
    ("\\boxed{5.4}", "5.4 \\text{ cents}", True),
    ("\\boxed{4.5}", "5.4 \\text{ cents}", False),
    # --- symbolic: radicals, expressions, complex, pi ---
    ("\\boxed{2\\sqrt{5}}", "\\sqrt{20}", True),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{20}", False),
    ("\\boxed{\\frac{\\sqrt{3}}{3}}", "\\frac{1}{\\sqrt3}", True),
    ("\\boxed{-\\sqrt{3}}", "\\sqrt{3}", False),
    ("\\boxed{(x+1)^2}", "x^2+2x+1", True),
    ("\\boxed{x^2+2x+2}", "(x+1)^2", False),
    ("\\boxed{q-p}", "p - q", False),
    ("\\boxed{2(k+1)}", "2k+2", True),
    ("\\boxed{7i-2}", "-2 + 7i", True),
    ("\\boxed{2+7i}", "-2 + 7i", False),
    ("\\boxed{12\\pi}", "12\\pi", True),
    ("\\boxed{3.14}", "\\pi", False),
    ("\\boxed{\\cot x}", "\\cot x", True),
    ("\\boxed{\\tan x}", "\\cot x", False),
    # --- tuples, intervals, sets, matrices, equations ---
    ("\\boxed{(-1, 6)}", "(-1,6)", True),
    ("\\boxed{(6,-1)}", "(-1,6)", False),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("\\boxed{(3, \\pi)}", "\\left( 3, \\frac{\\pi}{2} \\right)", False),
    ("\\boxed{(-\\infty,2)\\cup(3,\\infty)}", "(-\\infty, 2) \\cup (3, \\infty)", True),
    ("\\boxed{(-\\infty,2]\\cup(3,\\infty)}", "(-\\infty, 2) \\cup (3, \\infty)", False),
    ("\\boxed{[-2,7]}", "x \\in [-2,7]", True),
    ("\\boxed{[-2,7)}", "x \\in [-2,7]", False),
    ("\\boxed{-2, 1}", "1,-2", True),
    ("\\boxed{1, 2}", "1,-2", False),
    ("\\boxed{7, 5, 3}", "3, 5, 7", True),
    (
        "\\boxed{\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}}",
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} 1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}}",
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
        False,
    ),
    ("\\boxed{y = 2x + 3}", "y = 2x + 3", True),
    ("\\boxed{2x+3}", "y = 2x + 3", True),
    ("\\boxed{y = 3x + 2}", "y = 2x + 3", False),
    ("\\boxed{x=5}", "5", True),
    ("\\boxed{5x - 7y + 11z + 4 = 0}", "0", False),  # not "the right-hand side is 0"
    ("\\boxed{5x - 7y + 11z + 4 = 0}", "-5x+7y-11z-4=0", True),
    # --- words and multiple choice: compared as text, never as symbol products ---
    ("\\boxed{\\text{(C)}}", "\\text{(C)}", True),
    ("The answer is (C).", "\\text{(C)}", True),
    ("\\boxed{\\text{(B)}}", "\\text{(C)}", False),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", True),
    ("\\boxed{\\text{neve}}", "\\text{even}", False),  # sympy would call e*v*e*n == n*e*v*e
    ("\\boxed{\\text{odd}}", "\\text{even}", False),
    # --- more wrong answers: near misses the grader must refuse ---
    ("<Answer>12.5</Answer>", "12", False),
    ("<Answer>-12</Answer>", "12", False),
    ("<Answer>120</Answer>", "12", False),
    ("<Answer>1/12</Answer>", "12", False),
    ("\\boxed{\\frac{3}{4}}", "\\frac{4}{3}", False),
    ("\\boxed{0.75}", "\\frac{3}{5}", False),
    ("\\boxed{75\\%}", "0.57", False),
    ("\\boxed{\\sqrt{2}}", "2", False),
    ("\\boxed{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", False),
    ("\\boxed{2\\pi}", "\\pi", False),
    ("\\boxed{\\pi^2}", "2\\pi", False),
    ("\\boxed{x^2-1}", "(x-1)^2", False),
    ("\\boxed{(1,2,3)}", "(1,3,2)", False),
    ("\\boxed{[0,1]}", "(0,1)", False),
    ("\\boxed{\\{1,2,3\\}}", "\\{1,2\\}", False),
    ("\\boxed{3+4i}", "3-4i", False),
    ("\\boxed{\\text{yes}}", "\\text{no}", False),
    ("\\boxed{\\text{(A)}}", "\\text{(D)}", False),
    ("#### 1,001", "1001.5", False),
    ("The answer is 7 and not 8.", "8", False),
    ("\\boxed{45^\\circ}", "135^\\circ", False),
    ("\\boxed{9^{9^{9^{9}}}}", "1", False),  # pathological: refused, not computed
    # --- more right answers in other dress ---
    ("<Answer>twelve is 12</Answer>", "12", True),
    ("<Answer>\\boxed{12}</Answer>", "12", True),
    ("<Answer>$12$</Answer>", "12.0", True),
    ("\\boxed{\\dfrac{3}{4}}", "0.75", True),
    ("\\boxed{75\\%}", "\\frac{3}{4}", True),
    ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", True),
    ("\\boxed{\\pi^2}", "\\pi\\cdot\\pi", True),
    ("\\boxed{x^2-1}", "(x-1)(x+1)", True),
    ("\\boxed{3-4i}", "-4i+3", True),
    ("\\boxed{\\{3,2,1\\}}", "\\{1,2,3\\}", True),
    ("\\boxed{(0,1]}", "(0, 1]", True),
    ("\\boxed{\\text{(D)}}", "D", True),
    ("#### 1,001", "1001", True),
    ("so she has $\\$1{,}250.00$ left.\n#### 1250", "1250", True),
    ("\\boxed{-\\frac{1}{2}}", "-0.5", True),
    ("\\boxed{\\frac{-1}{2}}", "-\\frac12", True),
    ("\\boxed{135^\\circ}", "135", True),
    ("\\boxed{\\sqrt[3]{8}}", "2", True),
]


def test_case_table_is_big_and_balanced():
    # The brief asks for breadth: a grader tested only on its happy path accepts garbage.
    assert len(CASES) >= 150
    assert sum(1 for *_, ok in CASES if not ok) >= 60


def _misgraded(expected_verdict: bool) -> list[tuple]:
    """Cases labelled expected_verdict that the grader got wrong, with what it extracted."""
    return [(response, gold, extract_answer(response)) for response, gold, expected in CASES
            if expected is expected_verdict and grade(response, gold) is not expected]


def test_labelled_cases_have_no_false_accepts():
    # A false accept poisons mining (a wrong solution looks right) and inflates accuracy.
    false_accepts = _misgraded(False)
    print(f"labelled suite: {len(CASES)} cases, {sum(not ok for *_, ok in CASES)} wrong answers, "
          f"{len(false_accepts)} false accepts")
    assert not false_accepts, f"{len(false_accepts)} false accepts: {false_accepts}"


def test_labelled_cases_have_no_false_rejects():
    false_rejects = _misgraded(True)
    print(f"labelled suite: {sum(ok for *_, ok in CASES)} right answers, {len(false_rejects)} false rejects")
    assert not false_rejects, f"{len(false_rejects)} false rejects: {false_rejects}"


# Every class named in docs/grading.md; each needs right and wrong pairs.
_SUITE_CLASSES = {
    "extract_decimal_unit", "extract_slash_fraction", "extract_thousands_unit", "extract_latex_digits",
    "extract_late_cue", "equiv_trig_degrees", "equiv_equations", "equiv_function_label",
    "equiv_labelled_tuple", "equiv_label", "coverage_multi_box", "coverage_cjk", "coverage_inline_math",
    "decision_rounding", "decision_decimal_comma", "decision_list_order", "decision_units",
    "whole_responses", "extract_sentence_answer", "coverage_box_lists", "equiv_labelled_bare",
    "equiv_inequality_interval", "coverage_multilingual", "decision_locale_thousands",
    "guard_false_accepts", "gold_solutions", "extract_choice_letter", "extract_escaped", "equiv_notation",
}


def _is_whole_response(response: str) -> bool:
    """A response with prose or several statements, not a bare (possibly boxed) answer."""
    return bool(re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}|[\u3400-\u9fff\uac00-\ud7af]{2}|\n", response))


def test_suite_covers_every_class_both_ways_in_both_forms():
    assert len(SUITE) >= 300
    assert len({(c.response, c.gold) for c in SUITE}) == len(SUITE), "duplicate cases"
    assert all(c.reason.strip() and "\n" not in c.reason for c in SUITE)
    assert {c.cls for c in SUITE} == _SUITE_CLASSES
    for cls in _SUITE_CLASSES:
        rows = [c for c in SUITE if c.cls == cls]
        assert {c.correct for c in rows} == {True, False}, cls
    whole = [c for c in SUITE if _is_whole_response(c.response)]
    assert 100 <= len(whole) <= len(SUITE) - 100, "both whole responses and bare answers"


@functools.lru_cache(maxsize=1)
def _suite_verdicts() -> tuple[bool, ...]:
    # Graded once, one by one, for both the false-accept and the false-reject test.
    return tuple(grade(c.response, c.gold, time_limit_s=60) for c in SUITE)


def _suite_misgraded(expected_verdict: bool) -> list[tuple]:
    return [(c.cls, c.response, c.gold, extract_answer(c.response), c.reason)
            for c, verdict in zip(SUITE, _suite_verdicts())
            if c.correct is expected_verdict and verdict is not expected_verdict]


def test_suite_has_no_false_accepts():
    false_accepts = _suite_misgraded(False)
    assert not false_accepts, "\n".join(map(repr, false_accepts))


def test_suite_has_no_false_rejects():
    false_rejects = _suite_misgraded(True)
    assert not false_rejects, "\n".join(map(repr, false_rejects))


def test_suite_batch_path_agrees_with_one_by_one():
    # grade_batch runs the same rules in threads; it must reach the same verdict on every case.
    # A generous limit: this checks the rules, not the limit (tested below), on a busy machine.
    got = grading.grade_batch([c.response for c in SUITE], [c.gold for c in SUITE], time_limit_s=60, workers=2)
    assert list(got) == [c.correct for c in SUITE]
    assert got.timeouts == 0


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("10", "10\\text{ cm}", True),          # one side without a unit: the unit is presentation
        ("10\\text{ cm}", "10\\text{ m}", False),  # both with units that differ
        ("x = 1, y = 2", "(1, 2)", True),
        ("x = 2, x = 3", "3, 2", True),         # one name for all items: a list of solutions
        ("y = 2x + 3", "2x - y + 3 = 0", True),
        ("x = 5", "y = 5", False),
        ("2x + 3 = 11", "11", False),           # the left side is not a name
        ("3{,}5", "3.5", True),
        ("3,5", "3.5", True),                   # the decimal point says the comma is decimal
        ("3, 5", "3.5", False),                 # with a space it is a list
        ("0.33", "\\frac13", False),             # two significant digits: too short to stand for 1/3
        ("0.3333", "\\frac13", True),            # four: 1/3 rounded to its shown digits
        ("1.732", "\\sqrt3", True),
        ("1.733", "\\sqrt3", False),
        ("1000001", "1000000", False),          # integers are never rounded
        ("-2 \\le x \\le 7", "x \\in [-2, 7]", True),
        ("10cm", "10", False),                  # glued: 10·c·m
        ("11:21", "V_1:V_2 = 11:21", True),
        ("11a + c", "7 = 11a + c", False),
    ],
)
def test_is_equivalent_decisions(pred, gold, expected):
    assert is_equivalent(pred, gold, time_limit_s=60) is expected
    assert is_equivalent(gold, pred, time_limit_s=60) is expected  # the rules are symmetric


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<Step1>7 apples</Step1><Answer>12</Answer>", "12"),
        ("<Step1>\\boxed{3}</Step1><Answer>4</Answer>", "4"),  # <Answer> beats an earlier box
        ("\\boxed{\\frac{\\sqrt{3}}{2}} and \\boxed{\\{1,2\\}}", "\\frac{\\sqrt{3}}{2}, \\{1,2\\}"),  # both boxes
        ("\\boxed{3}, so finally \\boxed{4}", "4"),  # a word between: the later box replaced it
        ("\\boxed{3} then \\boxed{4", "3"),  # unclosed last box is skipped
        ("\\boxed 7", "7"),
        ("x\n#### 1,000\n", "1000"),
        ("\\boxed{10{,}000}", "10000"),
        ("\\boxed{1,2}", "1,2"),  # a list, not one thousand and two
        ("\\boxed{\\dfrac{3}{4}}", "\\frac{3}{4}"),
        ("\\boxed{\\text{(C)}}", "(C)"),
        ("\\boxed{30^\\circ}.", "30"),
        ("\\boxed{50\\%}", "50%"),
        ("\\boxed{\\$18.00}", "18.00"),
        ("\\boxed{12 \\text{ inches}^2}", "12"),
        ("the answer is 3.5.", "3.5"),
        ("The answer is -7", "-7"),
        ("The answer is \u22127", "-7"),  # Unicode minus
        ("so we get \u22123 in the end", "-3"),
        ("It went from 5-3 to", "5-3"),  # an expression is never cut to its last digit
        ("It is 4\\frac{2}{3} cups.", "4\\frac{2}{3}"),
        ("Total: $1,234.50.", "1234.50"),
        ("No numbers here at all.", None),
        ("", None),
        ("   ", None),
        (None, None),
        (12, None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_last_boxed_nested_and_missing():
    assert last_boxed("a \\boxed{\\frac{1}{\\sqrt{2}}} b") == "\\frac{1}{\\sqrt{2}}"
    assert last_boxed("\\fbox{1} \\boxed{2}") == "2"
    assert last_boxed("\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"  # escaped braces do not nest
    assert last_boxed("no box here") is None
    assert last_boxed("\\boxed{unclosed") is None
    assert last_boxed(None) is None


@pytest.mark.parametrize(
    "pred, gold",
    [(None, "5"), ("5", None), (True, "1"), (object(), "1"), ("", ""), ("5", ""), ([1], "1")],
)
def test_is_equivalent_bad_input_is_false_not_an_error(pred, gold):
    assert is_equivalent(pred, gold) is False


def test_import_is_cheap():
    # math-verify pulls in sympy (about a second); it must load only when a symbolic
    # comparison needs it, so importing the grader stays free for every stage and the CLI.
    code = "import sys, supercorrect.grading; print('math_verify' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]


def test_is_equivalent_accepts_numbers_as_numbers():
    assert is_equivalent(5, "5") is True
    assert is_equivalent(0.5, "\\frac{1}{2}") is True
    assert grade("<Answer>5</Answer>", 5) is True


def test_exact_numbers_never_reach_math_verify(monkeypatch):
    # The fast path must decide plain numbers on its own: math-verify rounds floats and would
    # accept 1000000 vs 1000000.0000001.
    def boom(*a, **k):
        raise AssertionError("symbolic path used for plain numbers")

    monkeypatch.setattr(equivalence, "_symbolic_equivalent", boom)
    assert is_equivalent("1000000.0000001", "1000000") is False
    assert is_equivalent("\\frac{2}{4}", "0.5") is True
    assert is_equivalent("4\\frac{2}{3}", "14/3") is True


def test_symbolic_path_works_from_worker_threads():
    # math-verify's own timeouts call signal.alarm, which raises off the main thread; with
    # them left on, every symbolic case below would come back False from a worker.
    pairs = [("2\\sqrt{5}", "\\sqrt{20}", True), ("(x+1)^2", "x^2+2x+1", True),
             ("(-1,6)", "(6,-1)", False), ("\\sqrt{3}", "-\\sqrt3", False)] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: is_equivalent(c[0], c[1]), pairs))
    assert results == [ok for *_, ok in pairs]


# Passes the cheap size guards, yet sympy expands it forever: only a kill stops it.
_HANGS = ("\\boxed{(x+1)^{99999}}", "x^2+1")


def test_hung_symbolic_comparison_is_killed_from_a_worker_thread():
    # signal.alarm cannot fire in a worker thread; the limit must hold there too.
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        verdict = pool.submit(grading.judge, *_HANGS, 0.5).result(timeout=60)
    assert verdict.timed_out is True and verdict.correct is False
    assert time.monotonic() - start < 0.5 + 3  # the limit, plus a worker start-up at most
    # The killed worker is replaced: the next symbolic comparison still gets an answer.
    assert is_equivalent("2\\sqrt{5}", "\\sqrt{20}") is True


def test_hard_limit_leaves_the_callers_alarm_alone():
    # Someone else's timer (pytest-timeout, a job runner) must survive a timed-out item.
    saved_handler = signal.getsignal(signal.SIGALRM)
    fired = []
    try:
        signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert grade(*_HANGS, time_limit_s=0.3) is False
        assert 25.0 < signal.getitimer(signal.ITIMER_REAL)[0] < 30.0
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)


def test_grade_batch_is_parallel_and_counts_timeouts():
    responses = [_HANGS[0], _HANGS[0], "\\boxed{2\\sqrt5}", "no answer here", "#### 1,000", "\\boxed{(6,-1)}"]
    golds = [_HANGS[1], _HANGS[1], "\\sqrt{20}", "3", "1000", "(-1,6)"]
    is_equivalent("2\\sqrt{5}", "\\sqrt{20}")  # warm a worker so start-up is not timed
    start = time.monotonic()
    got = grading.grade_batch(responses, golds, time_limit_s=1.0, workers=2)
    elapsed = time.monotonic() - start
    assert list(got) == [False, False, True, False, True, False]
    assert got.timeouts == 2 and got.no_answer == 1
    # Each hung item costs its limit plus at most one worker restart, never a hang.
    assert elapsed < 2 * (1.0 + 3.0)
    with pytest.raises(ValueError):
        grading.grade_batch(["a"], [])


def test_pathological_tower_returns_false_fast_from_a_thread():
    with ThreadPoolExecutor(max_workers=1) as pool:
        start = time.monotonic()
        assert pool.submit(grade, "\\boxed{9^{9^{9^{9}}}}", "1", 1.0).result(timeout=30) is False
        assert time.monotonic() - start < 1.0


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.skipif(not (DATA_DIR / "gsm8k_test.jsonl").exists(), reason="GSM8K data absent")
def test_gsm8k_solutions_grade_correct_against_their_own_answer():
    rows = _read_jsonl(DATA_DIR / "gsm8k_test.jsonl")
    failures = []
    for row in rows:
        gold = row["answer"].split("####")[-1].strip()
        if not grade(row["answer"], gold):
            failures.append((extract_answer(row["answer"]), gold))
    rate = 1 - len(failures) / len(rows)
    print(f"GSM8K self-grading: {len(rows) - len(failures)}/{len(rows)} = {rate:.2%}")
    assert len(rows) == 1319
    assert not failures, failures[:20]


@pytest.mark.skipif(not (DATA_DIR / "math500_test.jsonl").exists(), reason="MATH500 data absent")
def test_math500_reference_solutions_grade_correct():
    rows = _read_jsonl(DATA_DIR / "math500_test.jsonl")
    failures = []
    for row in rows:
        if not grade(row["solution"], row["answer"]):
            failures.append((row["unique_id"], extract_answer(row["solution"]), row["answer"]))
    rate = 1 - len(failures) / len(rows)
    print(f"MATH500 self-grading: {len(rows) - len(failures)}/{len(rows)} = {rate:.2%}")
    for failure in failures:
        print("  MATH500 failure:", failure)
    assert len(rows) == 500
    assert rate >= 0.99, failures


# Different problems whose answers are genuinely the same value, written differently.
_SAME_VALUE_ACROSS_PROBLEMS = {("5", "x=5")}


@pytest.mark.skipif(not (DATA_DIR / "math500_test.jsonl").exists(), reason="MATH500 data absent")
def test_math500_solutions_reject_other_problems_answers():
    # Self-grading only shows the grader says yes; this shows it says no on real MATH answers:
    # each reference solution is graded against the golds of the next 3 problems whose
    # answers differ from its own as text.
    rows = _read_jsonl(DATA_DIR / "math500_test.jsonl")
    accepted, checked = [], 0
    for i, row in enumerate(rows):
        others = [r for r in rows[i + 1 :] + rows[:i] if r["answer"].strip() != row["answer"].strip()]
        for other in others[:3]:
            checked += 1
            if (row["answer"], other["answer"]) in _SAME_VALUE_ACROSS_PROBLEMS:
                continue
            if grade(row["solution"], other["answer"]):
                accepted.append((row["unique_id"], row["answer"], other["answer"]))
    print(f"MATH500 cross-problem false accepts: {len(accepted)}/{checked}")
    assert checked == 1500
    assert not accepted, accepted
