"""Programmatic grading: pull the final answer out of a response and compare it with the gold.

Every stage that needs a right/wrong verdict goes through here: annotate (is the teacher's
template right?), mine (which student solutions are wrong?) and evaluate (accuracy).

    from supercorrect.grading import grade, extract_answer, is_equivalent
    grade("<Step1>2+2=4</Step1><Answer>4</Answer>", "4")        # True
    extract_answer(r"so the total is \\boxed{\\frac{14}{3}}.")     # '\\frac{14}{3}'
    is_equivalent("0.5", r"\\frac{1}{2}")                          # True

Try it from a shell:

    .venv/bin/python -c "from supercorrect.grading import grade; print(grade('#### 1,000', '1000'))"

The rules, in order, and the deliberate decisions (rounded decimals, decimal commas, list
order, differing units) with their reasons are in docs/grading.md. In short: the last
<Answer> block, else the latest of the last box (with the boxes joined to it), `####` and
"the answer is"; else the last math or number, never cut out of a unit, fraction or LaTeX.
Comparison is layered from cheap and exact to expensive and symbolic:
1. normalised string equality; differing units are unequal;
2. labels (`f(x) =`, `|AB| =`, `x = 1, y = 2`) and equations, read by their structure;
3. exact rational comparison (fractions.Fraction) when both sides are plain numbers,
   fractions, mixed numbers, decimals or percentages (or lists of them); that decides the case;
4. math-verify (sympy) for radicals, intervals, sets, tuples, matrices and expressions, and
   sympy for equations against equations (same solutions up to a constant factor).

Step 4 is the only one that can be slow or hang (sympy expanding `(x+1)^{99999}` never
returns, and no signal interrupts its C loops). So it runs in a small pool of persistent
worker subprocesses (supercorrect.symbolic): past the per-item limit the worker is killed, the item counts as wrong
(and as a timeout), and a fresh worker replaces it. This works from any thread or process.
Steps 1-3 stay in-process, which keeps the common case fast.

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
# "the answer is 5", "Final answer: 5", "answer is: $5$", "答案是 5". Only the cue is matched, so
# a later cue on the same line ("Final Answer: The final answer is 5") is still found.
_ANSWER_IS = re.compile(r"answer\s*(?:is\s*:?|:|=)|答案\s*(?:是|为|:|：)", re.I)
# CJK characters are letters to Python's \w; next to a number they are words, not digits' kin.
_CJK = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")

# Each unit spelling maps to one name: "10 cm" and "10 centimeters" agree, "10 cm" and "10 m"
# do not. Count nouns ("apples") are dropped without a name. Single letters (m, g, s, h, L)
# are variables unless set as text (`\text{ m}`) or glued to a number in prose ("10m").
_UNIT_SPELLINGS = [
    ("mm", r"mm|millimet(?:er|re)s?"), ("cm", r"cm|centimet(?:er|re)s?"), ("km", r"km|kilomet(?:er|re)s?"),
    ("m", r"m|met(?:er|re)s?"), ("in", r"in\.?|inch(?:es)?"), ("ft", r"ft|feet|foot"),
    ("yd", r"yds?|yards?"), ("mi", r"mi|miles?"), ("mg", r"mg|milligrams?"), ("kg", r"kg|kilograms?"),
    ("g", r"g|grams?"), ("t", r"tons?|tonnes?"), ("lb", r"lbs?|pounds?"), ("oz", r"oz|ounces?"),
    ("s", r"s|secs?|seconds?"), ("min", r"mins?|minutes?"), ("h", r"h|hrs?|hours?"), ("day", r"days?"),
    ("week", r"weeks?"), ("month", r"months?"), ("year", r"years?"), ("mL", r"ml|millilit(?:er|re)s?"),
    ("L", r"l|lit(?:er|re)s?"), ("gal", r"gallons?"), ("qt", r"quarts?"), ("pt", r"pints?"),
    ("cup", r"cups?"), ("$", r"dollars?"), ("cent", r"cents?"), ("euro", r"euros?"),
    ("deg", r"degrees?"), ("rad", r"radians?"), ("mph", r"mph|mi/h"), ("kph", r"kph|km/h"), ("m/s", r"m/s"),
]
_UNIT_NAME = [(name, re.compile(spelling, re.I)) for name, spelling in _UNIT_SPELLINGS]
_COUNT_NOUNS = (r"units?|sq\.?\s*units?|points?|people|persons?|students?|apples?|eggs?|pieces?|"
                r"items?|times?|pages?|books?|marbles?")
# Trailing units on a bare answer: multi-letter spellings only (a lone letter is a variable).
_MULTI_LETTER_UNITS = "|".join(s for _, s in _UNIT_SPELLINGS if not re.fullmatch(r"[a-z]", s)) + "|" + _COUNT_NOUNS
_TRAILING_UNIT = re.compile(
    r"(?<=[\d}])\s*(?P<pre>(?:square|sq\.?|cubic)\s+)?(?P<unit>" + _MULTI_LETTER_UNITS + r")"
    r"(?P<pow>\s*\^\s*\{?\s*[23]\s*\}?)?(?:\s+(?:per|an?|each)\s+[A-Za-z]+)?\s*$",
    re.I,
)
# `\text{ m}^2` at the end of an answer: set as text, so even one letter is a unit.
_TEXT_UNIT = re.compile(
    r"(?<=[\d}\s])\s*\\(?:text|textrm|mbox|mathrm)\s*\{\s*(?P<unit>[A-Za-z.]+(?:\s+[A-Za-z.]+)*)\s*\}"
    r"(?P<pow>\s*\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_NUM_THEN_WORDS = re.compile(
    r"^(-?(?:\d+(?:\.\d+)?|\d+\s*/\s*\d+|\\frac\s*\{\d+\}\s*\{\d+\}))\s+([A-Za-z]{3,}(?:\s+[A-Za-z]+)*)$"
)
_MATH_WORDS = {"sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "and", "or", "pi",
               "inf", "infinity", "mod", "cdot", "times", "plus", "minus", "over"}
_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm|operatorname)\s*\{")
_THOUSANDS_WHOLE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
# `\sin 30^\circ`: the degrees belong to the angle, so they become radians, not nothing.
_TRIG_DEG = re.compile(
    r"(\\(?:sin|cos|tan|cot|sec|csc)(?:\s*\^\s*\{?\s*\d\s*\}?)?)\s*"
    r"(?:\(\s*(?P<a>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?\s*\)"
    r"|\{\s*(?P<b>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?\s*\}"
    r"|(?P<c>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?)"
)
_FRAC_TOKEN = r"(\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z0-9])"
_BARE_FRAC = re.compile(r"\\frac\s*" + _FRAC_TOKEN + r"\s*" + _FRAC_TOKEN)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")

# A label is the name on the left of `name = value`: `x`, `x_1`, `f(x)`, `|AB|`, `(p,q)`,
# `\angle ABC`, `area`. Something with digits or operators (`2x + 3`) is not a name.
_NAME = (r"(?:[A-Za-z]+|\\(?:alpha|beta|gamma|delta|theta|phi|varphi|lambda|mu|omega|rho|sigma|tau))"
         r"(?:\s*_\s*\{?\s*[A-Za-z0-9]+\s*\}?)?")
_LABEL_SRC = "|".join([
    r"(?:m\s*)?\\angle\s*[A-Z]{1,3}",
    r"\\overline\s*\{\s*[A-Z]{2}\s*\}",
    r"\|\s*[A-Za-z]{1,3}\s*\|",
    r"\(\s*[A-Za-z](?:\s*,\s*[A-Za-z])+\s*\)",
    _NAME + r"(?:\s*\^\s*\{?\s*-1\s*\}?)?'*\s*\(\s*[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*\s*\)",
    _NAME + r"'*",
])
_LABEL = re.compile(r"(?:" + _LABEL_SRC + r")")
_LABEL_BEFORE_BOX = re.compile(r"(?P<label>" + _LABEL_SRC + r")\s*=\s*(?:\$|\\\(|\s)*$")
# What may stand between boxes that together form one answer: `\boxed{1}, \boxed{2}`,
# `x=\boxed{1} and y=\boxed{2}`. A word like "finally" means the later box replaced the earlier.
_BOX_JOINER = re.compile(r"(?:\s|\$|\\[()\[\]]|[,;&]|\\q?quad|\\text\s*\{\s*(?:and|or)?\s*\}|\band\b|\bor\b)*")


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


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every well-formed `\\boxed{...}` / `\\fbox{...}`, in order."""
    found = []
    for m in _BOX_CMD.finditer(text):
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            end = _match_brace(text, j)
            if end is not None:
                found.append((m.start(), end + 1, text[j + 1 : end]))
        elif m.end() < j:  # `\boxed 5`: the argument is the next token
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                found.append((m.start(), j + tok.end(), tok.group(0)))
    return found


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed `\\boxed{...}` / `\\fbox{...}` in text, or None.

    Nested braces are honoured. `\\boxed 5` (no braces, valid LaTeX) yields "5". An unclosed
    box at the very end (a truncated generation) is skipped in favour of an earlier one.
    """
    if not isinstance(text, str):
        return None
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


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


def _unit_name(word: str, power: str | None = None, prefix: str | None = None) -> str | None:
    """Canonical name of a unit spelling ("centimeters" -> "cm"), with its power; None if none."""
    for name, spelling in _UNIT_NAME:
        if spelling.fullmatch(word.strip()):
            exp = re.sub(r"\D", "", power or "") or {"square": "2", "sq": "2", "cubic": "3"}.get(
                (prefix or "").strip().rstrip(".").lower(), "")
            return name + (f"^{exp}" if exp else "")
    return None


def _split_top(s: str, seps: str) -> list[str]:
    """s split at the characters in seps that sit outside every bracket (`\\{` counts too)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and ch in seps:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    parts.append(s[start:])
    return parts


def _split_equals(s: str) -> list[str]:
    """s split at top-level `=` signs that are not part of `<=`, `>=`, `!=` or `==`."""
    guarded = re.sub(r"[<>!=]=|==", lambda m: "\0" * len(m.group(0)), s)
    pieces = _split_top(guarded, "=")
    out, pos = [], 0
    for piece in pieces:
        out.append(s[pos : pos + len(piece)])
        pos += len(piece) + 1
    return out


def _final_of_chain(s: str) -> str:
    """`x = 2 + 3 = 5` -> `x = 5`; `2 + 3 = 5` -> `5`: a worked computation ends in its value.

    An equation whose left side has variables (`2x - y + 3 = 0`) is kept whole.
    """
    items = _split_top(re.sub(r"\s+and\s+", ",", s), ",;")
    if sum("=" in item for item in items) > 1:  # `x = 1, y = 2`: each item is its own chain
        return ", ".join(_final_of_chain(item.strip()) for item in items)
    parts = [p.strip() for p in _split_equals(s)]
    if len(parts) < 2 or not all(parts):
        return s
    head, last = parts[0], parts[-1]
    if _LABEL.fullmatch(head):
        return f"{head} = {last}" if len(parts) > 2 else s
    if len(parts) > 2 or not re.search(r"[A-Za-z]", _LATEX_CMD.sub("", head)):
        return last
    return s


def _clean_parts(ans: str) -> tuple[str, str | None]:
    """An answer stripped of presentation (dollars, \\text, separators, units), and its unit."""
    s = ans.strip()
    boxed = last_boxed(s)
    if boxed is not None and s.startswith(("\\boxed", "\\fbox")):
        s = boxed
    unit = None
    if "\\$" in s:
        unit = "$"
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    # `\frac\pi3` and `\frac12` are valid LaTeX that math-verify misreads: give them braces.
    s = _BARE_FRAC.sub(lambda m: "\\frac{%s}{%s}" % (m[1].strip("{}"), m[2].strip("{}")), s)
    s = re.sub(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])", "", s)
    s = s.replace("°", "^\\circ")
    s = _TRIG_DEG.sub(lambda m: f"{m.group(1)}\\left(\\frac{{{m['a'] or m['b'] or m['c']}\\pi}}{{180}}\\right)", s)
    if (m := _TEXT_UNIT.search(s)) and (name := _unit_name(m["unit"], m["pow"])):
        unit, s = name, s[: m.start()]
    s = _unwrap_command(s, _TEXT_WRAPPERS)
    s = s.replace("\\displaystyle", "")
    # Inline/display math delimiters \( \) \[ \]; `\{ \}` are set braces and stay.
    s = re.sub(r"(?<!\\)\\[()\[\]]", "", s)
    s = s.replace("\\$", "").replace("$", "")
    # Degrees outside a trig function carry no value: `30^\circ` is the number 30.
    if _DEGREES.search(s):
        unit = unit or "deg"
        s = _DEGREES.sub("", s)
    s = s.replace("\u2212", "-")  # Unicode minus, common in chat-model output
    s = s.replace("\\%", "%")
    s = re.sub(r"(?<=\d)\s*percent\b", "%", s, flags=re.I)
    # LaTeX separators are unambiguous: `{,}` before exactly three digits groups thousands;
    # before fewer it is a decimal comma (`3{,}5`), the way European LaTeX writes 3.5.
    s = re.sub(r"(?<=\d)\{,\}(?=\d{3}(?!\d))", "", s)
    s = re.sub(r"(?<=\d)\{,\}(?=\d)", ".", s)
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3})", "", s)
    s = re.sub(r"(?<=\d)\\,(?=\d{3})", "", s)
    # Remaining spacing macros are cosmetic; `(?<!\\)` keeps the `\\` row separator intact.
    s = re.sub(r"(?<!\\)\\[!,;: ]", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(" .;,").strip()
    if m := _TRAILING_UNIT.search(s):
        unit = _unit_name(m["unit"], m["pow"], m["pre"]) or unit
        s = s[: m.start()].strip()
    s = s.rstrip(" .").strip()
    # "18 marbles": a number followed only by ordinary words is that number.
    m = _NUM_THEN_WORDS.match(s)
    if m and not (set(w.lower() for w in m.group(2).split()) & _MATH_WORDS):
        s = m.group(1)
    if "=" in s:
        s = _final_of_chain(s)
    # A bare comma counts as a thousands separator only when the whole answer is one number:
    # "1,000" is a thousand, "1,2" or "3, 5, 7" are lists of solutions.
    if _THOUSANDS_WHOLE.match(s):
        s = s.replace(",", "")
    return s, unit


class _Answer(str):
    """A cleaned answer that remembers the unit cleaning took off it ("10 cm" is "10", cm)."""

    unit: str | None = None


def _clean(ans: str) -> _Answer:
    s, unit = _clean_parts(ans)
    out = _Answer(s)
    out.unit = unit
    return out


def _looks_bare(s: str) -> bool:
    """True if s reads like an answer rather than a sentence that merely contains one."""
    if _CJK.search(s):
        return False
    words = re.findall(r"[A-Za-z]{2,}", _LATEX_CMD.sub(" ", s))
    if len(words) <= 1:
        return True
    # A short phrase with no digits ("no solution", "Navin and Evelyn") is itself the answer.
    return len(words) <= 3 and not re.search(r"\d", s)


def _math_segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of inline and display math: `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`.

    A `$` whose would-be body reads as prose ("$5 and $6") is a dollar sign, not math.
    """
    found = []
    for m in re.finditer(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", text, re.S):
        found.append((m.start(), m.end(), m.group(1) if m.group(1) is not None else m.group(2)))
    for m in _DISPLAY_ENV.finditer(text):
        found.append((m.start(), m.end(), m.group(2)))
    i = 0
    while (start := text.find("$", i)) != -1:
        if start > 0 and text[start - 1] == "\\":
            i = start + 1
            continue
        delim = "$$" if text.startswith("$$", start) else "$"
        end = start + len(delim)
        while (end := text.find(delim, end)) != -1 and text[end - 1] == "\\":
            end += 1
        if end == -1:
            break
        body = text[start + len(delim) : end]
        bare = re.sub(r"\\(?:begin|end)\s*\{[^{}]*\}", " ", _unwrap_command(body, _TEXT_WRAPPERS))
        prose = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{3,}", bare)
        if body.strip() and (delim == "$$" or (len(prose) <= 1 and "\n\n" not in body)):
            found.append((start, end + len(delim), body))
            i = end + len(delim)
        else:  # a currency sign: skip it and look for math after it
            i = start + 1
    return sorted(found)


# Display environments outside `$`, aligned derivations inside them, and Asymptote figures.
_DISPLAY_ENV = re.compile(r"\\begin\s*\{((?:align|equation|gather|eqnarray|multline)\*?)\}(.+?)\\end\s*\{\1\}", re.S)
_ALIGN_WRAPPER = re.compile(
    r"\\(?:begin|end)\s*\{(?:aligned|gathered|split|(?:align|equation|gather|eqnarray|multline)\*?)\}")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*>")  # template tags: the 1 of <Step1> is no answer
_NUM = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_NUM_TOKEN = re.compile(r"(?P<num>" + _NUM + r"(?:/\d+(?:\.\d+)?)?)(?P<pct>\s*%)?(?P<unit>[A-Za-z]+(?:/[A-Za-z]+)?\.?)?")
_RELATION = {"<", ">", "<=", ">=", "≤", "≥", "\\le", "\\leq", "\\lt", "\\ge", "\\geq", "\\gt", "\\neq", "≠"}
_OPENERS, _CLOSERS = "([{", ")]}"


def _prose_answer(prose: str, tokens: list[re.Match], k: int) -> str:
    """What token k (which holds a digit) says, read with its neighbours.

    A bare number is that number, with a glued ("12.5cm") or following ("10 cm") unit; a
    token with more in it ("5x", "2^{10}", "\\sqrt{7}") is itself the answer, so no digit
    is ever cut out of an expression; "x < 3" is an inequality, not 3.
    """
    tok = tokens[k].group(0)
    t = tok.rstrip(".,;:!?")
    t = re.sub(r"^(?:\\\$|\$|€|£)", "", t)
    # A closing bracket with no opener in the token closes a group that began earlier.
    while t and t[-1] in _CLOSERS and t.count(t[-1]) > t.count(_OPENERS[_CLOSERS.index(t[-1])]):
        closer = t[-1]
        start = prose.rfind(_OPENERS[_CLOSERS.index(closer)], 0, tokens[k].start())
        group = prose[start : tokens[k].start() + len(t)] if start != -1 else ""
        if group and "\n" not in group and len(group) < 60 and "," in group:
            return group
        t = t[:-1]
    t = t.lstrip("([{") if t[:1] in _OPENERS and t.count(t[0]) > t.count(_CLOSERS[_OPENERS.index(t[0])]) else t
    m = _NUM_TOKEN.fullmatch(t)
    if m is None:
        return t  # an expression: returned whole
    num = m["num"]
    prev = [tokens[j].group(0) for j in range(max(0, k - 2), k)]
    if m["unit"]:
        name = _unit_name(m["unit"])
        if name is None:
            return t  # "5x", "3rd": not a number with a unit
        return f"{num}\\text{{ {m['unit']}}}"
    if prev and prev[-1] in _RELATION:
        return f"{prev[0] if len(prev) > 1 else ''} {prev[-1]} {num}".strip()
    if "/" not in num and len(prev) == 2 and prev[-1] == "/" and re.fullmatch(r"\d+", prev[0]):
        return f"{prev[0]}/{num}"  # "3 / 4"
    if re.fullmatch(r"\d+/\d+", num) and prev and re.fullmatch(r"\d+", prev[-1]):
        return f"{prev[-1]} {num}"  # mixed number "4 2/3"
    out = num + ("%" if m["pct"] else "")
    after = tokens[k + 1].group(0).rstrip(".,;:!?") if k + 1 < len(tokens) else ""
    if not m["pct"] and after and _unit_name(after):
        return f"{out}\\text{{ {after}}}"
    return out


def _prose_numbers(text: str, last: bool) -> str | None:
    """The last (or first) number-bearing token of prose text, read by _prose_answer."""
    prose = _CJK.sub(" ", text)
    tokens = list(re.finditer(r"\S+", prose))
    order = range(len(tokens) - 1, -1, -1) if last else range(len(tokens))
    for k in order:
        if re.search(r"\d", tokens[k].group(0)):
            got = _clean(_prose_answer(prose, tokens, k))
            if got:
                return got
    return None


def _segment_answer(body: str) -> str:
    """The answer a math span ends on: the last row of an aligned derivation, chain-cut."""
    body = _ALIGN_WRAPPER.sub(" ", body)
    if "\\begin" not in body:
        rows = [row for row in re.split(r"\\\\", body) if row.strip()]
        body = (rows[-1] if rows else body).replace("&", " ")
    body = re.sub(r"^(?:\s*(?:=|\\(?:Rightarrow|Longrightarrow|implies|therefore|q?quad)(?![A-Za-z])))+", "", body)
    return _clean(body)


def _last_number(text: str) -> str | None:
    """The answer a response ends on when it names none: its last math or its last number.

    Whichever comes later wins: the last math span (taken whole, so `$x^{2}$` is x^2, not 2;
    a span that is one letter, as in "the value of $x$", only names a variable) or the
    last number-bearing token of the prose around the math. Asymptote figures are skipped.
    """
    text = _TAG.sub(" ", _ASY.sub(" ", text))
    segments = _math_segments(text)
    prose = list(text)
    for start, end, _ in segments:
        prose[start:end] = " " * (end - start)
    prose_text = "".join(prose)
    answers = [seg for seg in segments if not re.fullmatch(r"\s*[A-Za-z]\s*", seg[2])]
    last_seg = max(answers, key=lambda seg: (seg[1], seg[0])) if answers else None
    tail = prose_text[last_seg[1]:] if last_seg else prose_text
    if re.search(r"\d", tail):
        got = _prose_numbers(tail, last=True)
        if got:
            return got
    if last_seg is not None:
        return _segment_answer(last_seg[2]) or None
    return None


def _substantive(ans: str) -> bool:
    """An answer a later cue can override a box with: a number, some math, or a choice letter."""
    return bool(re.search(r"\d|\\[A-Za-z]|[=^()]", ans) or re.fullmatch(r"\(?[A-Za-z]\)?", ans))


def _cue_leads_with_value(text: str, cue: re.Match) -> bool:
    """True if what follows the cue starts with a value, not prose ("the answer is correct")."""
    tail = text[cue.end() :].split("\n", 1)[0]
    tail = re.sub(r"^\s*(?:therefore|thus|then|now|actually|indeed|just|simply)\b[\s,:]*", "", tail, flags=re.I)
    first = tail.split(None, 1)[0] if tail.split() else ""
    return bool(re.search(r"\d|\$|\\|^\(?[A-Za-z]\)?[.,]?$", first))


def _from_cue(text: str, cue: re.Match) -> str | None:
    tail = text[cue.end() :].split("\n", 1)[0]
    # Prefer inline math right after "is": `the answer is $\frac{1}{2}$.`
    math = re.match(r"\s*(?:\$+|\\\(|\\\[)(.+?)(?:\$+|\\\)|\\\])", tail)
    if math:
        return _clean(math.group(1)) or None
    # Otherwise the sentence ends at a period followed by a space or the end ("3.5" survives).
    sentence = re.split(r"\.(?:\s|$)", tail, maxsplit=1)[0]
    cand = _clean(sentence)
    if cand and _looks_bare(cand):
        return cand
    segments = _math_segments(sentence)
    if segments:
        return _clean(segments[0][2]) or None
    return _prose_numbers(sentence, last=False)


def _box_group(text: str, boxes: list[tuple[int, int, str]]) -> str | None:
    """The last box, joined by the boxes just before it when only commas or "and" divide them.

    `x = \\boxed{1}, y = \\boxed{2}` is the answer `x = 1, y = 2`; `\\boxed{3}, finally
    \\boxed{4}` is 4 (the later box replaced the earlier).
    """
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = text[prev[1] : group[0][0]]
        between = _LABEL_BEFORE_BOX.sub("", between)
        if "\n\n" in between or not _BOX_JOINER.fullmatch(between):
            break
        group.insert(0, prev)
    contents = [_clean(content) for _, _, content in group]
    if len(group) == 1 or not all(contents):
        return contents[-1] or None
    contents = [str(c) for c in contents]
    labels = []
    for idx, (start, _, _) in enumerate(group):
        before_from = group[idx - 1][1] if idx else text.rfind("\n", 0, start) + 1
        m = _LABEL_BEFORE_BOX.search(text[before_from:start])
        labels.append(m["label"].strip() if m else None)
    if all(labels) and len({_squash(label) for label in labels}) > 1:
        return ", ".join(f"{label} = {c}" for label, c in zip(labels, contents))
    return ", ".join(contents)


def _from_region(text: str, tagged: bool) -> str | None:
    """The answer in a response or in one <Answer> block: the latest explicit statement wins.

    Boxes, `####` and "the answer is" cues are ranked by position, latest first; a cue that
    comes after the last box overrides it only when it states something substantive.
    Without any of them, a tagged block that is itself an answer is taken whole, and
    otherwise the last math or number is.
    """
    markers = []
    boxes = _boxes(text)
    if boxes:
        markers.append((boxes[-1][0], "box", lambda: _box_group(text, boxes)))
    gsm = list(_GSM8K.finditer(text))
    if gsm:
        markers.append((gsm[-1].start(), "gsm", lambda: _clean(gsm[-1].group(1))))
    cues = list(_ANSWER_IS.finditer(text))
    if cues:
        markers.append((cues[-1].start(), "cue", lambda: _from_cue(text, cues[-1])))
    markers.sort(key=lambda marker: marker[0], reverse=True)
    for rank, (_, kind, get) in enumerate(markers):
        got = get()
        last_resort = rank == len(markers) - 1
        if got and (kind != "cue" or last_resort or (_substantive(got) and _cue_leads_with_value(text, cues[-1]))):
            return got
    if tagged:
        cand = _clean(text)
        if cand and _looks_bare(cand):
            return cand
    return _last_number(text)


def extract_answer(text: str) -> str | None:
    """The final answer in a response, cleaned; None if there is none.

    Priority: the last non-empty <Answer>...</Answer>; then the latest of the last \\boxed
    (with the boxes joined to it), GSM8K `#### N` and "the answer is ..."; then the last
    inline math or number. Never raises.
    """
    got = _extract_safely(text)
    return None if got is None else str(got)


def _extract_safely(text: str) -> _Answer | None:
    try:
        return _extract(text)
    except Exception:  # a grader that crashes would take a whole evaluation run down
        return None


def _extract(text: str) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    for block in reversed(_ANSWER_TAG.findall(text)):
        got = _from_region(block, tagged=True) if block.strip() else None
        if got:
            return got
    return _from_region(text, tagged=False)


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
_BASE_NUM = re.compile(r"([0-9A-Fa-f]+)\s*_\s*\{?\s*(\d+)\s*\}?")
_CHOICE = re.compile(r"^\(\s*([A-Za-z])\s*\)$")
_MEMBER = re.compile(r"^(?:" + _LABEL_SRC + r")\s*\\in\s*")


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


def _canon(s: str) -> tuple[str, str | None]:
    """Cleaned answer and its unit, with choice parentheses and `x \\in` removed.

    `x = 2, x = 3` (one name for every item) is the list `2, 3`.
    """
    carried = getattr(s, "unit", None)
    s, unit = _clean_parts(s)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1)
    s = _MEMBER.sub("", s)
    items = _labelled_items(s, same_name=True)
    if items:
        s = ", ".join(value for _, value in items)
    return s.strip(), unit or carried


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


def _equation(s: str) -> tuple[str, str] | None:
    parts = _split_equals(s)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()


def _is_label(lhs: str) -> bool:
    """True for a name (`x`, `f(x)`, `|AB|`, `(p,q)`) or a worked computation without variables."""
    return bool(_LABEL.fullmatch(lhs)) or not re.search(r"[A-Za-z]", _LATEX_CMD.sub("", lhs))


def _labelled_items(s: str, same_name: bool = False) -> list[tuple[str, str]] | None:
    """`x = 1, y = 2` as [("x", "1"), ("y", "2")]; None unless every item is `name = value`.

    Items that all carry one name (`x = 2, x = 3`) are a list of solutions, not a tuple:
    they are returned only when same_name is True, and only then.
    """
    items = [p.strip() for p in _split_top(re.sub(r"\s+and\s+", ",", s), ",;")]
    if len(items) < 2:
        return None
    pairs = []
    for item in items:
        eq = _equation(item)
        if eq is None or not _LABEL.fullmatch(eq[0]):
            return None
        pairs.append((_squash(eq[0]), eq[1]))
    return pairs if (len({name for name, _ in pairs}) == 1) == same_name else None


def _list_items(s: str) -> tuple[str, list[str]] | None:
    """("tuple" | "set" | "bare", items) for `(a, b)`, `\\{a, b\\}` or `a, b`; else None."""
    kind, body = "bare", s
    if s.startswith("\\{") and s.endswith("\\}"):
        kind, body = "set", s[2:-2]
    elif s.startswith("(") and s.endswith(")") and len(_split_top(s, "")) == 1 and _split_top(s[1:-1], ",") != [s[1:-1]]:
        inner = s[1:-1]
        if _split_top(inner, ")") == [inner]:  # one group: `(1,2)`, not `(1,2)\cup(3,4)`
            kind, body = "tuple", inner
    items = [p.strip() for p in _split_top(body, ",")]
    if kind == "bare" and len(items) < 2:
        return None
    return kind, items


def _is_compound(s: str) -> bool:
    """A tuple, interval, set or list: brackets around, commas at the top level, or a ±."""
    return len(_split_top(s, ",")) > 1 or "\\pm" in s or "\\mp" in s or bool(re.fullmatch(r"[(\[].*,.*[)\]]|\\\{.*\\\}", s))


def _compare_lists(p: str, g: str) -> bool | None:
    """Verdict on two lists of plain numbers, or None when either is not one.

    Bare lists and sets are unordered (MATH's "list all solutions"); tuples are ordered; a
    tuple against a bare list or a set is a different kind of object.
    """
    pl, gl = _list_items(p), _list_items(g)
    if pl is None or gl is None:
        return None
    pv = [_to_number(x) for x in pl[1]]
    gv = [_to_number(x) for x in gl[1]]
    if None in pv or None in gv:
        return None
    if (pl[0] == "tuple") != (gl[0] == "tuple"):
        return False
    pvals, gvals = [x.value for x in pv], [x.value for x in gv]
    if pl[0] == "tuple":
        return pvals == gvals
    if "set" in (pl[0], gl[0]):
        return set(pvals) == set(gvals)
    return sorted(pvals) == sorted(gvals)


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
    (p, p_unit), (g, g_unit) = _canon(p_text), _canon(g_text)
    if not p or not g:
        return False
    # Both sides name a unit and they differ: 10 cm is not 10 m (no conversions are tried).
    if p_unit and g_unit and p_unit != g_unit:
        return False
    return _compare(p, g, time_limit_s)


def _compare(p: str, g: str, time_limit_s: float | None) -> bool:
    """Two cleaned answers: labels and lists first, then exact numbers, then symbolic."""
    if _squash(p) == _squash(g):
        return True
    p_items, g_items = _labelled_items(p), _labelled_items(g)
    if p_items or g_items:
        return _compare_labelled(p_items, g_items, p, g, time_limit_s)
    p_eq, g_eq = _equation(p), _equation(g)
    if p_eq and g_eq:
        if _squash(p_eq[0]) == _squash(g_eq[0]) and _is_label(p_eq[0]):
            return _compare(p_eq[1], g_eq[1], time_limit_s)
        return _symbolic_equivalent(p, g, time_limit_s, mode="equations")
    if p_eq or g_eq:
        # `f(x) = x^2` against `x^2`: the left side is a name. `5x - 7y + 4 = 0` against `0`
        # is not "the right-hand side is 0", which is what math-verify would compare.
        lhs, rhs = p_eq or g_eq
        if not _is_label(lhs):
            return False
        return _compare(rhs, g, time_limit_s) if p_eq else _compare(p, rhs, time_limit_s)
    for many, one in ((p, g), (g, p)):
        items = _split_top(many, ",")
        if len(items) > 1 and not _is_compound(one):
            # `15\frac{39}{40}, or \frac{639}{40}`: one value written twice is that value;
            # a list with any other member is not a single answer.
            return all(_compare(item.strip(), one, time_limit_s) for item in items if item.strip())
    p_base, g_base = _BASE_NUM.fullmatch(p), _BASE_NUM.fullmatch(g)
    if p_base or g_base:
        # `13_5` is thirteen in base 5 (eight): equal only to the same digits in the same base.
        return bool(p_base and g_base) and (p_base[1].lower(), p_base[2]) == (g_base[1].lower(), g_base[2])
    p_num, g_num = _to_number(p), _to_number(g)
    if p_num is not None and g_num is not None:
        # Both exact: the rational comparison is the verdict. Falling through to math-verify
        # would only add its float rounding, which accepts near misses.
        return _numbers_match(p_num, g_num)
    lists = _compare_lists(p, g)
    if lists is not None:
        return lists
    if (p_num is None) != (g_num is None) and _is_compound(p if g_num is not None else g):
        return False  # a number never equals a tuple, an interval, a set or a list
    if _is_word_answer(p) or _is_word_answer(g):
        return p.lower() == g.lower()
    if (p_num is None) != (g_num is None):
        # A plain number against an expression (`1.41421356` against `\sqrt2`, `0.5` against
        # `\sin 30^\circ`): exact values only; math-verify's float rounding would accept the
        # first.
        num, other = (p_num, g) if p_num is not None else (g_num, p)
        values = [num.value] + ([num.value / 100] if num.percent else [])
        return any(_symbolic_equivalent(f"\\frac{{{v.numerator}}}{{{v.denominator}}}", other, time_limit_s,
                                        mode="exact") for v in values)
    return _symbolic_equivalent(p, g, time_limit_s)


def _compare_labelled(p_items, g_items, p: str, g: str, time_limit_s: float | None) -> bool:
    """`x = 1, y = 2` against `y = 2, x = 1` (by name), or against `(1, 2)` / `1, 2` (in order)."""
    if p_items and g_items:
        p_map, g_map = dict(p_items), dict(g_items)
        if len(p_map) != len(p_items) or set(p_map) != set(g_map):
            return False
        return all(_compare(p_map[k], g_map[k], time_limit_s) for k in p_map)
    items, other = (p_items, g) if p_items else (g_items, p)
    listed = _list_items(other)
    if listed is None or listed[0] == "set" or len(listed[1]) != len(items):
        return False
    pairs = zip((v for _, v in items), listed[1])
    if p_items:
        return all(_compare(v, o, time_limit_s) for v, o in pairs)
    return all(_compare(o, v, time_limit_s) for v, o in pairs)


# --------------------------------------------------------------------------- grading


class Judgement(NamedTuple):
    correct: bool
    extracted: str | None
    timed_out: bool  # the symbolic comparison hit the time limit (and counts as wrong)


def judge(response: str, gold: str, time_limit_s: float | None = None) -> Judgement:
    """Verdict on one response with the extracted answer and whether it timed out. Never raises."""
    pred = _extract_safely(response)
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
