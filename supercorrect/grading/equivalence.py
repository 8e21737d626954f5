"""Is a predicted answer equivalent to the gold one? Exact and cheap first, symbolic last.

1. normalized string equality (differing units are unequal);
2. labels and equations, read by their structure;
3. exact rational comparison when both sides are plain numbers, fractions, decimals or percentages;
4. math-verify (sympy) in a killable worker (supercorrect.grading.symbolic) for the rest.

    .venv/bin/python -c "from supercorrect.grading.equivalence import is_equivalent; print(is_equivalent('0.5', r'\\frac{1}{2}'))"
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

from supercorrect.grading.normalize import (clean_parts, LABEL, LABEL_SRC, LATEX_CMD, split_equals,
                                            split_top, squash)
from supercorrect.grading.symbolic import symbolic_equivalent as _symbolic_equivalent



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
_MEMBER = re.compile(r"^(?:" + LABEL_SRC + r")\s*\\in\s*")


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
    s, unit = clean_parts(s)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1)
    s = _MEMBER.sub("", s)
    items = _labelled_items(s, same_name=True)
    if items:
        s = ", ".join(value for _, value in items)
    return s.strip(), unit or carried


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
    parts = split_equals(s)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()


def _is_label(lhs: str) -> bool:
    """True for a name (`x`, `f(x)`, `|AB|`, `(p,q)`) or a worked computation without variables."""
    return bool(LABEL.fullmatch(lhs)) or not re.search(r"[A-Za-z]", LATEX_CMD.sub("", lhs))


def _labelled_items(s: str, same_name: bool = False) -> list[tuple[str, str]] | None:
    """`x = 1, y = 2` as [("x", "1"), ("y", "2")]; None unless every item is `name = value`.

    Items that all carry one name (`x = 2, x = 3`) are a list of solutions, not a tuple:
    they are returned only when same_name is True, and only then.
    """
    items = [p.strip() for p in split_top(re.sub(r"\s+and\s+", ",", s), ",;")]
    if len(items) < 2:
        return None
    pairs = []
    for item in items:
        eq = _equation(item)
        if eq is None or not LABEL.fullmatch(eq[0]):
            return None
        pairs.append((squash(eq[0]), eq[1]))
    return pairs if (len({name for name, _ in pairs}) == 1) == same_name else None


def _list_items(s: str) -> tuple[str, list[str]] | None:
    """("tuple" | "set" | "bare", items) for `(a, b)`, `\\{a, b\\}` or `a, b`; else None."""
    kind, body = "bare", s
    if s.startswith("\\{") and s.endswith("\\}"):
        kind, body = "set", s[2:-2]
    elif s.startswith("(") and s.endswith(")") and len(split_top(s, "")) == 1 and split_top(s[1:-1], ",") != [s[1:-1]]:
        inner = s[1:-1]
        if split_top(inner, ")") == [inner]:  # one group: `(1,2)`, not `(1,2)\cup(3,4)`
            kind, body = "tuple", inner
    items = [p.strip() for p in split_top(body, ",")]
    if kind == "bare" and len(items) < 2:
        return None
    return kind, items


def _is_compound(s: str) -> bool:
    """A tuple, interval, set or list: brackets around, commas at the top level, or a ±."""
    return len(split_top(s, ",")) > 1 or "\\pm" in s or "\\mp" in s or bool(re.fullmatch(r"[(\[].*,.*[)\]]|\\\{.*\\\}", s))


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
    supercorrect.grading.symbolic) is False.
    """
    try:
        return equivalent_or_raise(pred, gold, time_limit_s)
    except Exception:  # SymbolicTimeout included
        return False


def equivalent_or_raise(pred: object, gold: object, time_limit_s: float | None = None) -> bool:
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
    if squash(p) == squash(g):
        return True
    p_items, g_items = _labelled_items(p), _labelled_items(g)
    if p_items or g_items:
        return _compare_labelled(p_items, g_items, p, g, time_limit_s)
    p_eq, g_eq = _equation(p), _equation(g)
    if p_eq and g_eq:
        if squash(p_eq[0]) == squash(g_eq[0]) and _is_label(p_eq[0]):
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
        items = split_top(many, ",")
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


