"""Answer text, cleaned: boxes found and unwrapped, units, labels and LaTeX wrappers stripped.

The lowest layer of supercorrect.grading: `last_boxed` and `clean` (what is left of an answer
once its wrapping is gone) serve the extraction (supercorrect.grading.extract) and the
comparison (supercorrect.grading.equivalence). docs/grading.md gives the rules.

    .venv/bin/python -c "from supercorrect.grading.normalize import last_boxed; print(last_boxed(r'so \\boxed{7}'))"
"""

from __future__ import annotations

import re


_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
ANSWER_TAG = re.compile(r"<Answer>(.*?)(?:</Answer>|$)", re.S | re.I)
GSM8K = re.compile(r"####\s*([^\n]+)")
# The cue that introduces a final answer, in the languages math models answer in: "the answer
# is 5", "Final answer: 5", "answer is: $5$", "La réponse est 5", "答案是 5", "الإجابة هي 5".
# Only the cue is matched, so a later cue on the same line ("Final Answer: The final answer is
# 5") is still found.
ANSWER_IS = re.compile(
    r"answer\s*(?:is\s*:?|:|=)"
    r"|r[ée]ponse(?:\s+finale)?\s*(?:est\s*(?:de\s*)?:?|:)"
    r"|respuesta(?:\s+final)?\s*(?:es\s*:?|:)|antwort\s*(?:ist\s*:?|:)|ответ\s*(?::|—|-)"
    r"|答案\s*(?:是|为|為|:|：)|答え\s*(?:は|:|：)|정답\s*(?:은|:)"
    r"|(?:الإجابة|الاجابة|الجواب)(?:\s+النهائية)?\s*(?:هي|هو|:)?",
    re.I,
)
# Letters of scripts other than Latin (CJK, Hangul, Arabic, Hebrew, Devanagari, Thai, Cyrillic).
# Python counts them as word characters; next to a number they are words, not part of it, so
# `共有12个`, `هو 92` and `67 कमीजें` all hold a bare number.
CJK = re.compile(r"[\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u097f\u0e00-\u0e7f"
                 r"\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")
# Digits of other scripts (Arabic-Indic, Persian, Devanagari, full-width) and the Arabic decimal
# and thousands signs, read as the ASCII ones before anything else looks at the text.
_DIGITS = {zero + i: str(i) for zero in (0x0660, 0x06F0, 0x0966, 0xFF10) for i in range(10)}
_DIGITS |= {0x066B: ".", 0x066C: ",", 0x060C: ", ", 0x2212: "-", 0xFF0E: ".", 0xFF0C: ", "}


def ascii_digits(text: str) -> str:
    """text with every non-ASCII digit as its ASCII digit (`٩٢` is 92, `１２` is 12)."""
    return text.translate(_DIGITS)


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
    r"(?<=[\d}\s])\s*\\(?:text|textrm|textbf|textnormal|mbox|mathrm)\s*\{\s*(?P<unit>[A-Za-z.]+(?:\s+[A-Za-z.]+)*)\s*\}"
    r"(?P<pow>\s*\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_NUM_THEN_WORDS = re.compile(
    r"^(-?(?:\d+(?:\.\d+)?|\d+\s*/\s*\d+|\\frac\s*\{\d+\}\s*\{\d+\}))\s+([A-Za-z]{3,}(?:\s+[A-Za-z]+)*)$"
)
_MATH_WORDS = {"sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "and", "or", "pi",
               "inf", "infinity", "mod", "cdot", "times", "plus", "minus", "over"}
TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|operatorname)\s*\{")
_THOUSANDS_WHOLE = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?%?$")
LATEX_CMD = re.compile(r"\\[A-Za-z]+")
# `\sin 30^\circ`: the degrees belong to the angle, so they become radians, not nothing.
_TRIG_DEG = re.compile(
    r"(\\(?:sin|cos|tan|cot|sec|csc)(?:\s*\^\s*\{?\s*\d\s*\}?)?)\s*"
    r"(?:\(\s*(?P<a>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?\s*\)"
    r"|\{\s*(?P<b>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?\s*\}"
    r"|(?P<c>-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?)"
)
# `\sin(90^\circ - x)`: degrees inside a longer trig argument are radians too, term by term.
_TRIG_ARG_DEG = re.compile(r"(\\(?:sin|cos|tan|cot|sec|csc)(?:\s*\^\s*\{?\s*\d\s*\}?)?)\s*\(([^()]*\\circ[^()]*)\)")
_DEGREE_TERM = re.compile(r"(\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?")
_FRAC_TOKEN = r"(\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z0-9])"
_BARE_FRAC = re.compile(r"\\frac\s*" + _FRAC_TOKEN + r"\s*" + _FRAC_TOKEN)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")

# A label is the name on the left of `name = value`: `x`, `x_1`, `f(x)`, `|AB|`, `(p,q)`,
# `\angle ABC`, `area`. Something with digits or operators (`2x + 3`) is not a name.
_NAME = (r"(?:[A-Za-z]+|\\(?:alpha|beta|gamma|delta|theta|phi|varphi|lambda|mu|omega|rho|sigma|tau))"
         r"(?:\s*_\s*\{?\s*[A-Za-z0-9]+\s*\}?)?")
LABEL_SRC = "|".join([
    r"(?:m\s*)?\\angle\s*[A-Z]{1,3}",
    r"\\overline\s*\{\s*[A-Z]{2}\s*\}",
    r"\|\s*[A-Za-z]{1,3}\s*\|",
    r"\(\s*[A-Za-z](?:\s*,\s*[A-Za-z])+\s*\)",
    _NAME + r"(?:\s*\^\s*\{?\s*-1\s*\}?)?'*\s*\(\s*[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*\s*\)",
    _NAME + r"'*",
    # A ratio of lengths, areas or volumes: `\\frac{NO}{BO}`, `V_1:V_2`, `AP:PB`.
    r"\\frac\s*\{\s*[A-Za-z]{1,3}\s*\}\s*\{\s*[A-Za-z]{1,3}\s*\}",
    _NAME + r"(?:\s*:\s*" + _NAME + r")+",
])
LABEL = re.compile(r"(?:" + LABEL_SRC + r")")
LABEL_BEFORE_BOX = re.compile(r"(?P<label>" + LABEL_SRC + r")\s*=\s*(?:\$|\\\(|\s)*$")
# What may stand between boxes that together form one answer: `\boxed{1}, \boxed{2}`,
# `x=\boxed{1} and y=\boxed{2}`. A word like "finally" means the later box replaced the earlier.
BOX_JOINER = re.compile(r"(?:\s|\$|\\[()\[\]]|[,;&]|\\q?quad|\\text\s*\{\s*(?:and|or)?\s*\}|\band\b|\bor\b)*")


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


def find_boxes(text: str) -> list[tuple[int, int, str]]:
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
    boxes = find_boxes(text)
    return boxes[-1][2] if boxes else None


def unwrap_command(text: str, pattern: re.Pattern) -> str:
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


def unit_name(word: str, power: str | None = None, prefix: str | None = None) -> str | None:
    """Canonical name of a unit spelling ("centimeters" -> "cm"), with its power; None if none."""
    for name, spelling in _UNIT_NAME:
        if spelling.fullmatch(word.strip()):
            exp = re.sub(r"\D", "", power or "") or {"square": "2", "sq": "2", "cubic": "3"}.get(
                (prefix or "").strip().rstrip(".").lower(), "")
            return name + (f"^{exp}" if exp else "")
    return None


def encloses(s: str) -> bool:
    """True if the bracket opening s closes at its very end: `(1,2)`, not `(1,2)\\cup(3,4)`."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def split_top(s: str, seps: str) -> list[str]:
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


def split_equals(s: str) -> list[str]:
    """s split at top-level `=` signs that are not part of `<=`, `>=`, `!=` or `==`."""
    guarded = re.sub(r"[<>!=]=|==", lambda m: "\0" * len(m.group(0)), s)
    pieces = split_top(guarded, "=")
    out, pos = [], 0
    for piece in pieces:
        out.append(s[pos : pos + len(piece)])
        pos += len(piece) + 1
    return out


def _final_of_chain(s: str) -> str:
    """`x = 2 + 3 = 5` -> `x = 5`; `2 + 3 = 5` -> `5`: a worked computation ends in its value.

    An equation whose left side has variables (`2x - y + 3 = 0`) is kept whole, and so is one
    that sets a number equal to an expression (`7 = 11a + c`): that is a condition, not a value.
    """
    groups = split_top(s, ";")
    if len(groups) > 1:  # `p=5, q=2; p=7, q=2`: one chain per group, the groups kept apart
        return "; ".join(_final_of_chain(group.strip()) for group in groups)
    items = split_top(re.sub(r"\s+and\s+", ",", s), ",")
    if sum("=" in item for item in items) > 1:  # `x = 1, y = 2`: each item is its own chain
        return ", ".join(_final_of_chain(item.strip()) for item in items)
    parts = [p.strip() for p in split_equals(s)]
    if len(parts) < 2 or not all(parts):
        return s
    head, last = parts[0], parts[-1]
    if LABEL.fullmatch(head):
        return f"{head} = {last}" if len(parts) > 2 else s
    if len(parts) > 2 or not (has_variables(head) or has_variables(last)):
        return last
    return s


def has_variables(s: str) -> bool:
    """True if s has a letter outside its LaTeX commands and environment names (`2x`,
    `\\frac{a}{2}`; not `\\sqrt{2}`, not `\\begin{vmatrix} 2 & 1 \\\\ 1 & 2 \\end{vmatrix}`). A limit, sum,
    product or integral binds its variable: `\\sum_{k=1}^{3} k` has none left."""
    if _BINDS_VARIABLE.match(s):
        return False
    # e and i alone are the constants (`e^{i\\pi} = -1`); beside other letters they may be names.
    return bool(set(re.findall(r"[A-Za-z]", LATEX_CMD.sub("", ENVIRONMENT.sub("", s)))) - {"e", "i"})


ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}")
_BINDS_VARIABLE = re.compile(r"\s*\\(?:lim|sum|prod|int)(?![A-Za-z])")


def _undouble(s: str) -> str:
    """An answer escaped twice has every backslash doubled (`\\\\left(\\\\frac{1}{5}\\\\right)`, matrix
    rows as four backslashes). When no run of backslashes is odd and a doubled one starts a
    command, halving every run restores the LaTeX; a lone row break (`1 \\\\ 2`) is left alone."""
    runs = re.findall(r"\\+", s)
    if runs and all(len(run) % 2 == 0 for run in runs) and re.search(r"\\\\[A-Za-z]", s):
        return re.sub(r"\\\\", lambda _: "\\", s)
    return s


# A system written as `\\begin{cases} a + b = 1 \\\\ a - b = 2 \\end{cases}` is the list of its rows.
_CASES = re.compile(r"\\begin\s*\{cases\}(.*)\\end\s*\{cases\}", re.S)

# `\\dfrac` and `\\sqrt` written with the backslash doubled (an answer escaped twice) are the
# commands themselves; `\\` before anything else is a matrix row break and stays.
_DOUBLED_BACKSLASH = re.compile(r"(?<!\\)\\\\(?=(?:[dtc]?frac|sqrt|text|mathrm|boxed|cdot|times|pi|infty|pm|le|ge)(?![A-Za-z]))")
# Chat-template tokens (`<|im_end|>`) are not part of any answer.
SPECIAL_TOKEN = re.compile(r"<\|[^|<>\s]*\|>")
_APPROX = re.compile(r"\\approx(?![A-Za-z])|≈")
# `6 and 8`, `(11,7) or (7,11)`, `1, 2, and 3`: "and"/"or" between two values separates items.
_JOINING_WORD = re.compile(r"(?<=[\d)\]}])\s*,?\s*\b(?:and|or)\b\s*(?=[-+\d(\[\\{A-Za-z])")
# Thousands grouped by spaces (`1 000 000`, also thin and no-break spaces) or, in continental
# style, by dots with a decimal comma (`1.234.567`, `1.234,5`). A single dot (`1.000`) is a
# decimal point.
_SPACED_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?$")
_DOTTED_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?:(?:\.\d{3}){2,}(?:,\d+)?|(?:\.\d{3})+,\d+)$")


def _semicolons(s: str) -> str:
    """Semicolons used as commas: `(0;-2;6)` is the triple (0, -2, 6) and `-12;-11;-10` a list.

    Where commas already separate items (`p=5, q=2; p=7, q=2`), semicolons separate groups
    and stay.
    """
    s = re.sub(r"\(([^(),;]*(?:;[^(),;]*)+)\)", lambda m: "(" + m[1].replace(";", ",") + ")", s)
    groups = split_top(s, ";")
    if len(groups) > 1 and all(len(split_top(g, ",")) == 1 for g in groups):
        return ", ".join(g.strip() for g in groups)
    return s


def _before_approx(s: str) -> str:
    """`\\frac{\\sqrt3}{3} \\approx 0.577` is the exact value; `x \\approx 11` is its value."""
    parts = _APPROX.split(s)
    head = parts[0].strip()
    if len(parts) == 1 or not head:
        return s
    return parts[-1].strip() if LABEL.fullmatch(head) else head


def clean_parts(ans: str) -> tuple[str, str | None]:
    """An answer stripped of presentation (dollars, \\text, separators, units), and its unit."""
    s = _undouble(SPECIAL_TOKEN.sub("", ascii_digits(ans)).strip())
    s = _DOUBLED_BACKSLASH.sub(r"\\", s)
    boxed = last_boxed(s)
    if boxed is not None and s.startswith(("\\boxed", "\\fbox")):
        s = boxed
    unit = None
    if "\\$" in s:
        unit = "$"
    s = re.sub(r"\\[dtc]frac", r"\\frac", s)
    # `\frac\pi3` and `\frac12` are valid LaTeX that math-verify misreads: give them braces.
    s = _BARE_FRAC.sub(lambda m: "\\frac{%s}{%s}" % (m[1].strip("{}"), m[2].strip("{}")), s)
    s = re.sub(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])", "", s)
    s = s.replace("°", "^\\circ")
    s = _TRIG_DEG.sub(lambda m: f"{m.group(1)}\\left(\\frac{{{m['a'] or m['b'] or m['c']}\\pi}}{{180}}\\right)", s)
    s = _TRIG_ARG_DEG.sub(lambda m: m[1] + "(" + _DEGREE_TERM.sub(lambda d: f"\\frac{{{d[1]}\\pi}}{{180}}", m[2]) + ")", s)
    if m := _CASES.fullmatch(s.strip()):
        s = ", ".join(row.replace("&", " ").strip() for row in re.split(r"\\\\", m[1]) if row.strip())
    if (m := _TEXT_UNIT.search(s)) and (name := unit_name(m["unit"], m["pow"])):
        unit, s = name, s[: m.start()]
    s = unwrap_command(s, TEXT_WRAPPERS)
    s = s.replace("\\displaystyle", "")
    # Inline/display math delimiters \( \) \[ \]; `\{ \}` are set braces and stay.
    s = re.sub(r"(?<!\\)\\[()\[\]]", "", s)
    s = s.replace("\\$", "").replace("$", "")
    # Degrees outside a trig function carry no value: `30^\circ` is the number 30.
    if _DEGREES.search(s):
        unit = unit or "deg"
        s = _DEGREES.sub("", s)
    s = s.replace("\\%", "%")
    s = re.sub(r"(?<=\d)\s*(?:percent(?:age)?|pct)\b", "%", s, flags=re.I)
    # LaTeX separators are unambiguous: `{,}` before exactly three digits groups thousands;
    # before fewer it is a decimal comma (`3{,}5`), the way European LaTeX writes 3.5.
    s = re.sub(r"(?<=\d)\{,\}(?=\d{3}(?!\d))", "", s)
    s = re.sub(r"(?<=\d)\{,\}(?=\d)", ".", s)
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3})", "", s)
    s = re.sub(r"(?<=\d)\\,(?=\d{3})", "", s)
    # A decimal that trails off (`0.0833...`, `0.0833\\ldots`) says its digits go on: one mark.
    s = re.sub(r"(?<=\d)\s*(?:\.{3}|…|\\[lc]?dots(?![A-Za-z]))", "…", s)
    # Remaining spacing macros are cosmetic; `(?<!\\)` keeps the `\\` row separator intact.
    s = re.sub(r"(?<!\\)\\(?:[!,;: ]|q?quad)|~", " ", s)
    # Quotes around an answer, escaped or not (`\\"12 and 13\\"`), are presentation.
    s = re.sub(r'^(?:\\?")+|(?:\\?")+$', "", re.sub(r"\s+", " ", s).strip()).strip()
    s = re.sub(r"(?<!\\)\\$", "", s).rstrip(" .;,").strip()
    # An abbreviation glued to the number (`10cm`) reads as variables in math, 10·c·m, as
    # math-verify and MARIO read it; with a space (`10 cm`) or set as text it is a unit.
    if (m := _TRAILING_UNIT.search(s)) and (len(m["unit"]) > 2 or m[0][:1].isspace() or m["pre"]):
        unit = unit_name(m["unit"], m["pow"], m["pre"]) or unit
        s = s[: m.start()].strip()
    s = s.rstrip(" .").strip()
    # "18 marbles": a number followed only by ordinary words is that number.
    m = _NUM_THEN_WORDS.match(s)
    if m and not (set(w.lower() for w in m.group(2).split()) & _MATH_WORDS):
        s = m.group(1)
    if ";" in s:
        s = _semicolons(s)
    # One value in brackets is that value: `[90]`, `(35 + 70 = 105)`. A letter in parentheses
    # is a choice, and anything with a comma a tuple, an interval or a list.
    while s[:1] in "([" and encloses(s) and len(split_top(s[1:-1], ",")) == 1 and not re.fullmatch(r".[A-Za-z].", s):
        s = s[1:-1].strip()
    s = _JOINING_WORD.sub(", ", s)
    if _APPROX.search(s):
        s = _before_approx(s)
    if "=" in s:
        s = _final_of_chain(s)
    # `{1, 2, 3}` with plain braces is the set math-verify reads there.
    if s.startswith("{") and _match_brace(s, 0) == len(s) - 1 and len(split_top(s[1:-1], ",")) > 1:
        s = "\\{" + s[1:-1] + "\\}"
    # A bare comma counts as a thousands separator only when the whole answer is one number:
    # "1,000" is a thousand, "1,2" or "3, 5, 7" are lists of solutions.
    if _THOUSANDS_WHOLE.match(s) or _SPACED_THOUSANDS.match(s):
        s = s.replace(",", "").replace(" ", "")
    elif _DOTTED_THOUSANDS.match(s):
        s = s.replace(".", "").replace(",", ".")
    return s, unit


class Answer(str):
    """A cleaned answer that remembers the unit cleaning took off it ("10 cm" is "10", cm)."""

    unit: str | None = None


def clean(ans: str) -> Answer:
    s, unit = clean_parts(ans)
    out = Answer(s)
    out.unit = unit
    return out


def looks_bare(s: str) -> bool:
    """True if s reads like an answer rather than a sentence that merely contains one."""
    if CJK.search(s):
        return False
    words = re.findall(r"[A-Za-z]{2,}", LATEX_CMD.sub(" ", s))
    if len(words) <= 1:
        return True
    # A short phrase with no digits ("no solution", "Navin and Evelyn") is itself the answer.
    return len(words) <= 3 and not re.search(r"\d", s)


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)
