"""Programmatic grading: pull the final answer out of a response and compare it with the gold.

Every stage that needs a right/wrong verdict goes through here: annotate (is the teacher's
template right?), mine (which student solutions are wrong?) and evaluate (accuracy).

    from supercorrect.grading import grade, extract_answer, is_equivalent
    grade("<Step1>2+2=4</Step1><Answer>4</Answer>", "4")        # True
    extract_answer(r"so the total is \\boxed{\\frac{14}{3}}.")     # '\\frac{14}{3}'
    is_equivalent("0.5", r"\\frac{1}{2}")                          # True

Try it from a shell:

    .venv/bin/python -c "from supercorrect.grading import grade; print(grade('#### 1,000', '1000'))"

Comparison is layered from cheap and exact to expensive and symbolic:
1. normalised string equality;
2. exact rational comparison (fractions.Fraction) when both sides are plain numbers,
   fractions, mixed numbers, decimals or percentages; that decides the case outright;
3. math-verify (sympy) for radicals, intervals, sets, tuples, matrices and expressions.

Step 3 is the only one that can be slow or hang (sympy expanding `(x+1)^{99999}` never
returns, and no signal interrupts its C loops). So it runs in a small pool of persistent
worker subprocesses (supercorrect.symbolic): past the per-item limit the worker is killed, the item counts as wrong
(and as a timeout), and a fresh worker replaces it. This works from any thread or process.
Steps 1-2 stay in-process, which keeps the common case fast.

Many answers at once, in parallel, with the timeout count:

    from supercorrect.grading import grade_batch
    verdicts = grade_batch(responses, golds, time_limit_s=5, workers=4)   # list[bool]
    verdicts.timeouts, verdicts.no_answer
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from typing import NamedTuple

from supercorrect.symbolic import SymbolicTimeout
from supercorrect.symbolic import symbolic_equivalent as _symbolic_equivalent

__all__ = ["BatchGrades", "Judgement", "SymbolicTimeout", "extract_answer", "grade", "grade_batch",
           "is_equivalent", "judge", "last_boxed"]

# --------------------------------------------------------------------------- extraction

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_TAG = re.compile(r"<Answer>(.*?)(?:</Answer>|$)", re.S | re.I)
_GSM8K = re.compile(r"####\s*([^\n]+)")
# "the answer is 5", "Final answer: 5", "answer is: $5$". Stops at the end of the line.
# Only the cue is matched, so a later cue on the same line ("Final Answer: The final answer
# is 5") is still found; the answer is the rest of that line.
_ANSWER_IS = re.compile(r"answer\s*(?:is\s*:?|:|=)", re.I)

# One number as it appears in running text: a latex fraction, a/b, or a decimal with optional
# thousands separators; a trailing percent sign is kept because it changes the value.
# The sign is only taken when it cannot be a binary minus ("5-3" ends in 3, not -3).
_NUM_CORE = (
    r"\d+\s*\\[dt]?frac\s*\{\s*\d+\s*\}\s*\{\s*\d+\s*\}"  # mixed number 4\frac{2}{3}
    r"|\\[dt]?frac\s*\{\s*-?\d+(?:\.\d+)?\s*\}\s*\{\s*\d+(?:\.\d+)?\s*\}"
    r"|\d+\s*/\s*\d+(?![\d.])"
    r"|(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"|\.\d+"
)
_NUMBER_IN_TEXT = re.compile(
    r"(?:(?<![\w)}\]])[-\u2212]\s*)?(?<![\w.])(?:" + _NUM_CORE + r")(?:\s*\\?%)?(?![\w])"
)

# Units that may trail a numeric answer. Multi-letter only: single letters are variables.
_UNITS = (
    "dollars?|cents?|euros?|pounds?|lbs?|ounces?|oz|grams?|kilograms?|kg|mg|tons?|"
    "inch(?:es)?|in\\.|feet|foot|ft|yards?|yds?|miles?|mi|meters?|metres?|cm|mm|km|"
    "centimeters?|millimeters?|kilometers?|liters?|litres?|ml|gallons?|quarts?|pints?|cups?|"
    "seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    "degrees?|radians?|mph|kph|units?|sq\\.?\\s*units?|percent|points?|"
    "people|persons?|students?|apples?|eggs?|pieces?|items?|times?|pages?|books?"
)
_TRAILING_UNIT = re.compile(
    r"(?<=[\d}])\s*(?:(?:square|sq\.?|cubic)\s+)?(?:" + _UNITS + r")"
    r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?(?:\s+(?:per|an?|each)\s+[A-Za-z]+)?\s*$",
    re.I,
)
_NUM_THEN_WORDS = re.compile(
    r"^(-?(?:\d+(?:\.\d+)?|\d+\s*/\s*\d+|\\frac\s*\{\d+\}\s*\{\d+\}))\s+([A-Za-z]{3,}(?:\s+[A-Za-z]+)*)$"
)
_MATH_WORDS = {"sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "and", "or", "pi",
               "inf", "infinity", "mod", "cdot", "times", "plus", "minus", "over"}
_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm|operatorname)\s*\{")
_THOUSANDS_WHOLE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")


def _match_brace(text: str, open_idx: int) -> int | None:
    """Index of the `}` closing the `{` at open_idx, or None if unbalanced.

    Escaped braces (`\\{`, `\\}`) are set-builder delimiters, not grouping, so a backslash
    always swallows the next character (which also handles `\\\\` correctly).
    """
    depth = 0
    i = open_idx
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed `\\boxed{...}` / `\\fbox{...}` in text, or None.

    Nested braces are honoured. `\\boxed 5` (no braces, valid LaTeX) yields "5". An unclosed
    box at the very end (a truncated generation) is skipped in favour of an earlier one.
    """
    if not isinstance(text, str):
        return None
    found = None
    for m in _BOX_CMD.finditer(text):
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            end = _match_brace(text, j)
            if end is not None:
                found = text[j + 1 : end]
        elif m.end() < j:  # `\boxed 5`: the argument is the next token
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                found = tok.group(0)
    return found


def _unwrap_command(text: str, pattern: re.Pattern) -> str:
    """Replace `\\cmd{body}` by `body` for every match of pattern (which ends at the `{`)."""
    out = []
    i = 0
    while True:
        m = pattern.search(text, i)
        if m is None:
            out.append(text[i:])
            return "".join(out)
        end = _match_brace(text, m.end() - 1)
        if end is None:  # unbalanced: leave the rest alone rather than guess
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : m.start()])
        out.append(text[m.end() : end])
        i = end + 1


def _clean(ans: str) -> str:
    """Strip presentation from an answer: dollars, \\text, degrees, separators, units."""
    s = ans.strip()
    boxed = last_boxed(s)
    if boxed is not None and s.startswith(("\\boxed", "\\fbox")):
        s = boxed
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = _unwrap_command(s, _TEXT_WRAPPERS)
    s = s.replace("\\displaystyle", "")
    # Inline/display math delimiters \( \) \[ \]; `\{ \}` are set braces and stay.
    s = re.sub(r"(?<!\\)\\[()\[\]]", "", s)
    s = s.replace("\\$", "").replace("$", "")
    # Degrees carry no value; `^\circ`, `^{\circ}` and the unicode sign all mean the same.
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    s = s.replace("°", "")
    s = s.replace("\u2212", "-")  # Unicode minus, common in chat-model output
    s = s.replace("\\%", "%")
    # LaTeX thousands separators are unambiguous, unlike a bare comma.
    s = re.sub(r"(?<=\d)\{,\}(?=\d)", "", s)
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3})", "", s)
    s = re.sub(r"(?<=\d)\\,(?=\d{3})", "", s)
    # Remaining spacing macros are cosmetic; `(?<!\\)` keeps the `\\` row separator intact.
    s = re.sub(r"(?<!\\)\\[!,;: ]", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(" .;,").strip()
    s = _TRAILING_UNIT.sub("", s).strip()
    s = s.rstrip(" .").strip()
    # "18 marbles": a number followed only by ordinary words is that number.
    m = _NUM_THEN_WORDS.match(s)
    if m and not (set(w.lower() for w in m.group(2).split()) & _MATH_WORDS):
        s = m.group(1)
    # A bare comma counts as a thousands separator only when the whole answer is one number:
    # "1,000" is a thousand, "1,2" or "3, 5, 7" are lists of solutions.
    if _THOUSANDS_WHOLE.match(s):
        s = s.replace(",", "")
    return s


def _looks_bare(s: str) -> bool:
    """True if s reads like an answer rather than a sentence that merely contains one."""
    words = re.findall(r"[A-Za-z]{2,}", _LATEX_CMD.sub(" ", s))
    if len(words) <= 1:
        return True
    # A short phrase with no digits ("no solution", "Navin and Evelyn") is itself the answer.
    return len(words) <= 3 and not re.search(r"\d", s)


def _last_number(text: str) -> str | None:
    matches = list(_NUMBER_IN_TEXT.finditer(text))
    return _clean(matches[-1].group(0)) if matches else None


def _first_number(text: str) -> str | None:
    m = _NUMBER_IN_TEXT.search(text)
    return _clean(m.group(0)) if m else None


def _from_answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        return None
    tail = text[matches[-1].end() :].split("\n", 1)[0]
    # Prefer inline math right after "is": `the answer is $\frac{1}{2}$.`
    math = re.match(r"\s*(?:\$+|\\\(|\\\[)(.+?)(?:\$+|\\\)|\\\])", tail)
    if math:
        return _clean(math.group(1)) or None
    # Otherwise the sentence ends at a period followed by a space or the end ("3.5" survives).
    tail = re.split(r"\.(?:\s|$)", tail, maxsplit=1)[0]
    cand = _clean(tail)
    if cand and _looks_bare(cand):
        return cand
    return _first_number(tail)


def _from_answer_block(block: str) -> str | None:
    """Answer inside an <Answer> tag, which may be bare ("14/3") or a sentence."""
    boxed = last_boxed(block)
    if boxed is not None and _clean(boxed):
        return _clean(boxed)
    said = _from_answer_is(block)
    if said:
        return said
    cand = _clean(block)
    if cand and _looks_bare(cand):
        return cand
    return _last_number(block)


def extract_answer(text: str) -> str | None:
    """The final answer in a response, cleaned; None if there is none.

    Priority: last <Answer>...</Answer>, last \\boxed/\\fbox, GSM8K `#### N`,
    "the answer is ...", the last number anywhere. Never raises.
    """
    try:
        return _extract(text)
    except Exception:  # a grader that crashes would take a whole evaluation run down
        return None


def _extract(text: str) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    blocks = _ANSWER_TAG.findall(text)
    for block in reversed(blocks):
        got = _from_answer_block(block)
        if got:
            return got
    boxed = last_boxed(text)
    if boxed is not None and _clean(boxed):
        return _clean(boxed)
    gsm = _GSM8K.findall(text)
    if gsm:
        got = _clean(gsm[-1])
        if got:
            return got
    said = _from_answer_is(text)
    if said:
        return said
    return _last_number(text)


# --------------------------------------------------------------------------- comparison


class _Num(NamedTuple):
    value: Fraction
    percent: bool


_INT_OR_DEC = r"\d+(?:\.\d*)?|\.\d+"
# `\frac{a}{b}`, plus MATH's brace-less shorthands `\frac12`, `\frac 34`, `\frac9{19}`.
_FRAC_ARG = r"(?:\{\s*([+-]?(?:" + _INT_OR_DEC + r"))\s*\}|(\d))"
_LATEX_FRAC = re.compile(r"\\frac\s*" + _FRAC_ARG + r"\s*" + _FRAC_ARG)
_PLAIN_NUM = re.compile(r"[+-]?(?:" + _INT_OR_DEC + r")")
_SLASH_FRAC = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)")
_ASSIGN = re.compile(r"^[A-Za-z]\s*=\s*(?=[^=]+$)")
_CHOICE = re.compile(r"^\(\s*([A-Za-z])\s*\)$")


def _frac_value(m: re.Match) -> Fraction | None:
    num = Fraction(m.group(1) or m.group(2))
    den = Fraction(m.group(3) or m.group(4))
    return None if den == 0 else num / den


def _to_number(s: str) -> _Num | None:
    """Exact value of a plain numeric answer, or None if s is anything richer.

    Mixed numbers (`4\\frac{2}{3}`, `4 2/3`) mean 4 + 2/3, as MATH writes them.
    """
    s = s.strip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    sign = 1
    if s[:1] in "+-" and len(s) > 1 and not _PLAIN_NUM.fullmatch(s):
        sign = -1 if s[0] == "-" else 1
        s = s[1:].strip()
    value: Fraction | None = None
    if _PLAIN_NUM.fullmatch(s):
        value = Fraction(s)
    elif m := _SLASH_FRAC.fullmatch(s):
        den = Fraction(m.group(2))
        value = None if den == 0 else Fraction(m.group(1)) / den
    elif m := _LATEX_FRAC.fullmatch(s):
        value = _frac_value(m)
    else:
        # Mixed number: a whole part directly followed by a non-negative proper fraction.
        m = re.fullmatch(r"(\d+)\s*(\\frac.*)", s) or re.fullmatch(r"(\d+)\s+(\d+\s*/\s*\d+)", s)
        if m:
            frac = _to_number(m.group(2))
            if frac is not None and not frac.percent and 0 <= frac.value < 1:
                value = int(m.group(1)) + frac.value
    if value is None:
        return None
    return _Num(sign * value, percent)


def _numbers_match(pred: _Num, gold: _Num) -> bool:
    if pred.value == gold.value:  # "50%" vs "50": the sign is presentation
        return True
    # "50%" vs "0.5" (either way round) is the same quantity written as a ratio.
    if pred.percent and not gold.percent and pred.value / 100 == gold.value:
        return True
    if gold.percent and not pred.percent and gold.value / 100 == pred.value:
        return True
    return False


def _canon(s: str) -> str:
    """Cleaned answer with an `x =` prefix and choice parentheses removed."""
    s = _clean(s)
    s = _ASSIGN.sub("", s)
    s = re.sub(r"\\left|\\right", "", s)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1)
    return s.strip()


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _is_word_answer(s: str) -> bool:
    """Plain words like "Evelyn" or "even": sympy would read them as products of symbols,
    so that "even" == "neve" (commutative). They are compared as strings only."""
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z .'\-]*", s)) and bool(re.search(r"[A-Za-z]{2}", s))


def _as_text(x: object) -> str | None:
    if isinstance(x, bool):  # bool is an int subclass; True is not an answer
        return None
    if isinstance(x, str):
        return x
    if isinstance(x, (int, Fraction)):
        return str(x)
    if isinstance(x, float) and x == x and abs(x) != float("inf"):
        return repr(x)
    return None


def is_equivalent(pred: str, gold: str, time_limit_s: float | None = None) -> bool:
    """True if the predicted answer means the same as the gold answer. Never raises.

    A symbolic comparison that runs past time_limit_s (default: SYMBOLIC_TIME_LIMIT_S in
    supercorrect.symbolic) is False.
    """
    try:
        return _is_equivalent(pred, gold, time_limit_s)
    except Exception:  # SymbolicTimeout included
        return False


def _is_equivalent(pred: object, gold: object, time_limit_s: float | None = None) -> bool:
    p_text, g_text = _as_text(pred), _as_text(gold)
    if p_text is None or g_text is None:
        return False
    p, g = _canon(p_text), _canon(g_text)
    if not p or not g:
        return False
    if _squash(p) == _squash(g):
        return True
    p_num, g_num = _to_number(p), _to_number(g)
    if p_num is not None and g_num is not None:
        # Both exact: the rational comparison is the verdict. Falling through to math-verify
        # would only add its float rounding, which accepts near misses.
        return _numbers_match(p_num, g_num)
    if _is_word_answer(p) or _is_word_answer(g):
        return p.lower() == g.lower()
    # An equation against a bare value: math-verify would compare only the right-hand side,
    # so "5x - 7y + 4 = 0" would match "0". (`x = 5` lost its prefix in _canon already.)
    if ("=" in p) != ("=" in g):
        return False
    return _symbolic_equivalent(p, g, time_limit_s)


# --------------------------------------------------------------------------- grading


class Judgement(NamedTuple):
    correct: bool
    extracted: str | None
    timed_out: bool  # the symbolic comparison hit the time limit (and counts as wrong)


def judge(response: str, gold: str, time_limit_s: float | None = None) -> Judgement:
    """Verdict on one response with the extracted answer and whether it timed out. Never raises."""
    pred = extract_answer(response)
    if pred is None:
        return Judgement(False, None, False)
    try:
        return Judgement(_is_equivalent(pred, gold, time_limit_s), pred, False)
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
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} golds")
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(lambda pair: judge(pair[0], pair[1], time_limit_s), zip(responses, golds))
        if progress:
            from tqdm import tqdm

            jobs = tqdm(jobs, total=len(responses), desc=desc, unit="answer")
        return BatchGrades(list(jobs))
