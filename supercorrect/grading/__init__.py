"""Programmatic grading: pull the final answer out of a response and compare it with the gold.

Every stage that needs a right/wrong verdict goes through here: annotate (is the teacher's
template right?), mine (which student solutions are wrong?) and evaluate (accuracy).

    from supercorrect.grading import extract_answer, grade, is_equivalent
    grade("<Step1>2+2=4</Step1><Answer>4</Answer>", "4")        # True
    extract_answer(r"so the total is \\boxed{\\frac{14}{3}}.")     # '\\frac{14}{3}'
    is_equivalent("0.5", r"\\frac{1}{2}")                          # True

Try it from a shell:

    .venv/bin/python -c "from supercorrect.grading import grade; print(grade('#### 1,000', '1000'))"

The rules, in order, and the deliberate decisions (rounded decimals, decimal commas and locale
separators, list order, units, inequalities against intervals) with their reasons are in
docs/grading.md. In short: the last <Answer> block, else the latest of the last box (with the
boxes joined to it), `####` and "the answer is" (in several languages); else a response that is
itself bare math; else the last math or number, never cut out of a unit, fraction or LaTeX. A
gold that is a worked solution is read the same way; a multiple-choice gold is met by the letter
the response picks. Comparison is layered from cheap and exact to expensive and symbolic:
1. normalized string equality; differing units are unequal;
2. labels (`f(x) =`, `|AB| =`, `V_1:V_2 =`, `x = 1, y = 2`) and equations, read by their structure;
   an inequality in one variable against an interval is compared as the set it describes;
3. exact rational comparison (supercorrect.grading.numbers) when both sides are plain numbers,
   fractions, mixed numbers, decimals, percentages or scientific notation; a decimal also equals
   a value with no finite decimal form that it rounds to its shown digits; that decides the case;
4. sets, lists, tuples and intervals, member by member;
5. math-verify (sympy) for radicals, matrices and expressions, and sympy for equations against
   equations (same solutions up to a constant factor) and decimals against closed values.

Step 5 is the only one that can be slow or hang (sympy expanding `(x+1)^{99999}` never
returns, and no signal interrupts its C loops). So it runs in a small pool of persistent
worker subprocesses (supercorrect.grading.symbolic): past the per-item limit the worker is killed, the item counts as wrong
(and as a timeout), and a fresh worker replaces it. This works from any thread or process.
Steps 1-4 stay in-process, which keeps the common case fast.

The modules, lowest first: `normalize` (boxes, units, labels, separators), `numbers` (plain
numbers, exactly, and rounding), `extract` (the final answer), `symbolic` (the worker pool),
`equivalence` (the layered comparison), `judge` (verdicts, one or many, and math-verify's own)
and `stats` (pass@k, maj@k, bootstrap intervals, step AUC). The contract's names are here too
(`from supercorrect.grading import grade`), each imported from its module on first use, so
importing one module still costs only what it needs.

Many answers at once, in parallel, with the timeout count:

    from supercorrect.grading import grade_batch
    verdicts = grade_batch(responses, golds, time_limit_s=5, workers=4)   # list[bool]
    verdicts.timeouts, verdicts.no_answer
"""

# The contract at the package root, name -> its module. PEP 562: a name's module is imported when
# the name is first asked for, never when the package is.
_EXPORTS = {"extract_answer": "extract", "is_equivalent": "equivalence", "grade": "judge", "grade_batch": "judge"}
__all__ = ["extract_answer", "is_equivalent", "grade", "grade_batch"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
