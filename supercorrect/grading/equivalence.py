"""Is a predicted answer equivalent to the gold one? Exact and cheap first, symbolic last.

1. normalized string equality (differing units are unequal);
2. labels and equations, read by their structure; an inequality against an interval as a set;
3. exact rational comparison when both sides are plain numbers (supercorrect.grading.numbers),
   including a decimal that rounds a value with no finite decimal form;
4. sets, lists, tuples and intervals, member by member;
5. math-verify (sympy) in a killable worker (supercorrect.grading.symbolic) for the rest.

    .venv/bin/python -c "from supercorrect.grading.equivalence import is_equivalent; print(is_equivalent('0.5', r'\\frac{1}{2}'))"
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

from supercorrect.grading.normalize import (clean_parts, encloses, has_variables, LABEL, LABEL_SRC,
                                            split_equals, split_top, squash)
from supercorrect.grading.numbers import numbers_match, to_number
from supercorrect.grading.symbolic import symbolic_equivalent as _symbolic_equivalent



_BASE_NUM = re.compile(r"([0-9A-Fa-f]+)\s*_\s*\{?\s*(\d+)\s*\}?")
_CHOICE = re.compile(r"^\(\s*([A-Za-z])\s*\)$")
_MEMBER = re.compile(r"^(?:" + LABEL_SRC + r")\s*\\in\s*")
# `1,22` or `1000,99`: digits, one comma, digits, no space; a decimal comma or a list of two.
_BARE_COMMA_DECIMAL = re.compile(r"-?\d+,\d+")
# Inequalities as intervals: the relation, the bracket it gives, its mirror image (`3 < x`).
_RELATION = re.compile(r"(<=|>=|≤|≥|<|>|\\(?:leq?|lt|geq?|gt)(?![A-Za-z]))")
_LESS = {"<": "(", "\\lt": "(", "<=": "[", "≤": "[", "\\le": "[", "\\leq": "["}
_GREATER = {">": "(", "\\gt": "(", ">=": "[", "≥": "[", "\\ge": "[", "\\geq": "["}
_OPEN_TO_CLOSE = {"(": ")", "[": "]"}
_FLIP = {"<": ">", "\\lt": ">", "<=": ">=", "≤": ">=", "\\le": ">=", "\\leq": ">=",
         ">": "<", "\\gt": "<", ">=": "<=", "≥": "<=", "\\ge": "<=", "\\geq": "<="}
# A number with one or two letters glued to it (`10cm`, `15m`): in math, a product of variables.
_GLUED_LETTERS = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)[A-Za-z]{1,2}")
_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
# An article opening a word answer ("an ellipse" against "ellipse") says nothing.
_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.I)
# A clock time: `20:34`, `20:34:00`, `8:34 p.m.`.
_CLOCK = re.compile(r"(\d{1,2}):([0-5]\d)(?::([0-5]\d))?\s*(?:([AaPp])\.?\s*[Mm]\.?)?")
# A vector written as a one-row or one-column matrix.
_MATRIX = re.compile(r"\\begin\s*\{([pbB]?matrix)\}(.*)\\end\s*\{\1\}", re.S)
# The absolute value of one variable, `|z|` (two or three letters, `|AB|`, are a length).
_ABSOLUTE = re.compile(r"\|\s*([A-Za-z])\s*\|")


def _canon(s: str) -> tuple[str, str | None]:
    """Cleaned answer and its unit, with choice parentheses and `x \\in` removed.

    `x = 2, x = 3` (one name for every item) is the list `2, 3`; `p = 5, q = 2; p = 7, q = 2`
    (groups that name the same variables in the same order, split by semicolons, "and" or
    commas) is the list of tuples `(5, 2), (7, 2)`.
    """
    carried = getattr(s, "unit", None)
    s, unit = clean_parts(s)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1)
    s = _MEMBER.sub("", s)
    groups = split_top(s, ";")
    if len(groups) > 1:
        named = [_labelled_items(group) for group in groups]
        if all(named) and len({tuple(name for name, _ in items) for items in named}) == 1:
            s = ", ".join("(" + ", ".join(value for _, value in items) + ")" for items in named)
    items = _labelled_items(s, same_name=True)
    if items:
        s = ", ".join(value for _, value in items)
    elif (items := _labelled_items(s)) and (size := _group_size([name for name, _ in items])):
        # `p = 5, q = 2 and p = 7, q = 2`: the names repeat in one order, so each round is a tuple.
        s = ", ".join("(" + ", ".join(value for _, value in items[i : i + size]) + ")"
                      for i in range(0, len(items), size))
    return s.strip(), unit or carried


def _group_size(names: list[str]) -> int | None:
    """k when names are k distinct names repeated in the same order (p, q, p, q: 2), else None."""
    size = len(set(names))
    if 2 <= size < len(names) and len(names) % size == 0 and len(set(names[:size])) == size \
            and all(name == names[i % size] for i, name in enumerate(names)):
        return size
    return None


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


def _is_label(lhs: str, rhs: str = "") -> bool:
    """True for a name (`x`, `f(x)`, `|AB|`, `(p,q)`, `V_1:V_2`) or a computation without
    variables (`2 + 3 = 5`). `7 = 11a + c` sets a number equal to an expression: no label."""
    return bool(LABEL.fullmatch(lhs)) or not (has_variables(lhs) or has_variables(rhs))


def _name_key(name: str) -> str:
    return re.sub(r"[{}\s]", "", name)  # `a_{37}` and `a_37` name the same term


def _same_name(a: str, b: str) -> bool:
    """Two left sides that name the same quantity: `a_{3}` and `a_3`, or `y` and `f(x)` (the
    value of a function of x is its y)."""
    a, b = _name_key(a), _name_key(b)
    return a == b or ("y" in (a, b) and bool(re.fullmatch(r"[A-Za-z]\(x\)", b if a == "y" else a)))


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
        pairs.append((_name_key(eq[0]), eq[1]))
    return pairs if (len({name for name, _ in pairs}) == 1) == same_name else None


class _Struct(NamedTuple):
    kind: str  # "set", "list" (bare, MATH's "list all solutions") or "tuple" (intervals too)
    items: list[str]
    brackets: str  # "(]" for a tuple or an interval, "" for a set or a list


def _expand_pm(items: list[str]) -> list[str]:
    """`1 \\pm \\sqrt5` in a list of solutions is the two solutions `1 + \\sqrt5`, `1 - \\sqrt5`."""
    out = []
    for item in items:
        if len(_PLUS_MINUS.findall(item)) == 1:
            sign = "+-" if "\\pm" in item else "-+"
            out += [_PLUS_MINUS.sub(sign[0], item), _PLUS_MINUS.sub(sign[1], item)]
        else:
            out.append(item)
    return [item.strip() for item in out]


def _structure(s: str) -> _Struct | None:
    """A set `\\{a, b\\}`, a tuple `(a, b)` or interval `(a, b]`, or a bare list `a, b`; else None."""
    if s.startswith("\\{") and s.endswith("\\}") and "\\{" not in s[2:-2] and "\\}" not in s[2:-2]:
        return _Struct("set", _expand_pm(split_top(s[2:-2], ",")), "")
    if s[:1] in "([" and s[-1:] in ")]" and encloses(s):
        items = [item.strip() for item in split_top(s[1:-1], ",")]
        if len(items) < 2 or not all(items):
            return None
        return _Struct("tuple", items, s[0] + s[-1])
    items = [item.strip() for item in split_top(s, ",")]
    if len(items) > 1 and all(items):
        return _Struct("list", _expand_pm(items), "")
    if len(items) == 1 and len(expanded := _expand_pm(items)) == 2:
        return _Struct("list", expanded, "")  # `\pm 3` is the list 3, -3
    return None


def _order_matters(p_items: list[str], g_items: list[str]) -> bool:
    """Lists of numbers in which order counts: two lists of three or more numbers, neither of them
    written in ascending order. A set of solutions is listed ascending (`-5, -2, 7`), so a
    permutation of it is the same set; `10, 4, -2` against `4, 10, -2` may be an ordering the
    question asks for, and is compared in order."""
    lists = [[to_number(item) for item in items] for items in (p_items, g_items)]
    if len(g_items) < 3 or any(None in nums for nums in lists):
        return False
    return not any([n.value for n in nums] == sorted(n.value for n in nums) for nums in lists)


def _compare_structures(p: str, g: str, time_limit_s: float | None) -> bool | None:
    """Verdict on two sets, lists, tuples or intervals, member by member; None unless both are.

    Sets and bare lists are unordered (bare lists of numbers unless neither is ascending, see
    _order_matters); tuples and intervals are ordered, and never equal a set or a bare list.
    """
    ps, gs = _structure(p), _structure(g)
    if ps is None or gs is None:
        return None
    if (ps.kind == "tuple") != (gs.kind == "tuple"):
        return False
    p_items, g_items = ps.items, gs.items
    if ps.kind == "tuple":
        if ps.brackets != gs.brackets or len(p_items) != len(g_items):
            return False
        return all(_compare(a, b, time_limit_s) for a, b in zip(p_items, g_items))
    # A set has no repeated members, nor has a list of tuples (solutions written as points): a
    # point written twice is one solution. In a list of numbers a repeat counts (a double root).
    if "set" in (ps.kind, gs.kind) or all(getattr(_structure(x), "kind", None) == "tuple" for x in p_items + g_items):
        p_items = list({squash(x): x for x in p_items}.values())
        g_items = list({squash(x): x for x in g_items}.values())
    if len(p_items) != len(g_items):
        return False
    if ps.kind == gs.kind == "list" and _order_matters(p_items, g_items):
        return all(_compare(a, b, time_limit_s) for a, b in zip(p_items, g_items))
    return _match_unordered(p_items, g_items, time_limit_s)


def _match_unordered(p_items: list[str], g_items: list[str], time_limit_s: float | None) -> bool:
    """True if every predicted member equals a different gold member (identical text first)."""
    remaining = list(g_items)
    pending = []
    for item in p_items:
        same = next((j for j, other in enumerate(remaining) if squash(other) == squash(item)), None)
        if same is None:
            pending.append(item)
        else:
            del remaining[same]
    for item in pending:
        match = next((j for j, other in enumerate(remaining) if _compare(item, other, time_limit_s)), None)
        if match is None:
            return False
        del remaining[match]
    return not remaining


def _interval_of(s: str) -> str | None:
    """`-2 \\le x \\le 7` as `[-2, 7]`, `x > 3` as `(3, \\infty)`, `x < -1, x > 2` as a union.

    None unless s is an inequality in one named variable, or several joined by commas (what
    "or" became) or `\\cup`. `|z| \\le 1` names no variable: it stays an inequality.
    """
    pieces = [piece for part in split_top(s, ",") for piece in part.split("\\cup")]
    names, intervals = set(), []
    for piece in pieces:
        bits = [bit.strip() for bit in _RELATION.split(piece)]
        terms, rels = bits[::2], bits[1::2]
        if not rels or not all(terms) or len(rels) > 2:
            return None
        if len(rels) == 1:
            (a, b), rel = terms, rels[0]
            if LABEL.fullmatch(a) and not LABEL.fullmatch(b):
                name, bound, rel = a, b, rel
            elif LABEL.fullmatch(b) and not LABEL.fullmatch(a):  # `3 < x` is `x > 3`
                name, bound, rel = b, a, _FLIP[rel]
            else:
                return None
            if rel in _LESS:
                low, high, left, right = "-\\infty", bound, "(", _OPEN_TO_CLOSE[_LESS[rel]]
            else:
                low, high, left, right = bound, "\\infty", _GREATER[rel], ")"
        else:
            (a, name, b), (r1, r2) = terms, rels
            if not LABEL.fullmatch(name) or LABEL.fullmatch(a) or LABEL.fullmatch(b):
                return None
            if r1 in _LESS and r2 in _LESS:
                low, high, left, right = a, b, _LESS[r1], _OPEN_TO_CLOSE[_LESS[r2]]
            elif r1 in _GREATER and r2 in _GREATER:  # `7 \ge x \ge -2`
                low, high, left, right = b, a, _GREATER[r2], _OPEN_TO_CLOSE[_GREATER[r1]]
            else:
                return None
        if any(has_variables(bound) for bound in (low, high)):
            return None
        if absolute := _ABSOLUTE.fullmatch(name):
            spread = _absolute_intervals(low, high, left, right)
            if spread is None:
                return None
            names.add(absolute[1])
            intervals += spread
            continue
        names.add(_name_key(name))
        intervals.append(f"{left}{low}, {high}{right}")
    return " \\cup ".join(intervals) if len(names) == 1 else None


def _absolute_intervals(low: str, high: str, left: str, right: str) -> list[str] | None:
    """Where x lies when |x| lies between low and high (brackets left and right):
    `1 \\le |x| \\le 2` is `[-2, -1] \\cup [1, 2]`, `|x| < 3` is `(-3, 3)`. None unless the
    bounds are numbers that leave some x out."""
    lo = None if low == "-\\infty" else to_number(low)
    hi = None if high == "\\infty" else to_number(high)
    if (lo is None and low != "-\\infty") or (hi is None and high != "\\infty"):
        return None
    if hi is not None and (hi.value <= 0 or (lo is not None and hi.value <= lo.value)):
        return None
    mirror = {"(": ")", "[": "]", ")": "(", "]": "["}
    if lo is None or lo.value < 0 or (lo.value == 0 and left == "["):
        return None if hi is None else [f"{mirror[right]}-{high}, {high}{right}"]
    outer = f"{mirror[right]}-{high}" if hi is not None else "(-\\infty"
    inner = "0" if lo.value == 0 else f"-{low}"
    return [f"{outer}, {inner}{mirror[left]}", f"{left}{low}, {high}{right}"]


def _clock(s: str) -> tuple[int, bool] | None:
    """(seconds after midnight, whether it is surely a time: seconds or a.m./p.m. written), else None.

    `12:00` alone may be a ratio; with seconds or a.m./p.m. it can only be a time."""
    m = _CLOCK.fullmatch(s.strip())
    if m is None:
        return None
    hours, half = int(m[1]), (m[4] or "").lower()
    if half:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half == "p" else 0)
    if hours > 23:
        return None
    return (hours * 60 + int(m[2])) * 60 + int(m[3] or 0), bool(m[3] or half)


def _vector(s: str) -> list[str] | None:
    """The entries of a one-row or one-column matrix (not a determinant), in order; else None."""
    m = _MATRIX.fullmatch(s.strip())
    if m is None:
        return None
    rows = [[cell.strip() for cell in row.split("&")] for row in re.split(r"\\\\", m[2]) if row.strip()]
    if len(rows) == 1:
        items = rows[0]
    elif all(len(row) == 1 for row in rows):
        items = [row[0] for row in rows]
    else:
        return None
    return items if len(items) > 1 and all(items) else None


def _is_set_like(s: str) -> bool:
    """An interval, a union of intervals, or the reals: what an inequality's solution set is."""
    return bool(re.fullmatch(r"[(\[].*,.*[)\]]", s) or "\\cup" in s or re.search(r"\\mathbb\s*\{?\s*R", s))


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


def _decimal_point(s: str) -> bool:
    num = to_number(s)
    return num is not None and num.places is not None


def _compare(p: str, g: str, time_limit_s: float | None) -> bool:
    """Two cleaned answers: labels and lists first, then exact numbers, then symbolic."""
    if squash(p) == squash(g):
        return True
    # `1,22` against `1.22`: the other side's decimal point says the comma is a decimal comma.
    if _BARE_COMMA_DECIMAL.fullmatch(p) and _decimal_point(g):
        p = p.replace(",", ".")
    elif _BARE_COMMA_DECIMAL.fullmatch(g) and _decimal_point(p):
        g = g.replace(",", ".")
    p_items, g_items = _labelled_items(p), _labelled_items(g)
    if p_items or g_items:
        return _compare_labelled(p_items, g_items, p, g, time_limit_s)
    p_eq, g_eq = _equation(p), _equation(g)
    if p_eq and g_eq:
        # The same left side (a name, or the same expression: `a - b = 1.732` against
        # `a - b = \sqrt3`): the equations agree when their right sides do.
        if (_same_name(p_eq[0], g_eq[0]) and _is_label(*p_eq)) or squash(p_eq[0]) == squash(g_eq[0]):
            return _compare(p_eq[1], g_eq[1], time_limit_s)
        return _symbolic_equivalent(p, g, time_limit_s, mode="equations")
    if p_eq or g_eq:
        # `f(x) = x^2` against `x^2`: the left side is a name. `5x - 7y + 4 = 0` against `0`
        # is not "the right-hand side is 0", which is what math-verify would compare.
        lhs, rhs = p_eq or g_eq
        if not _is_label(lhs, rhs):
            return False
        return _compare(rhs, g, time_limit_s) if p_eq else _compare(p, rhs, time_limit_s)
    # An inequality in one variable against an interval: compare the set it describes.
    p_set, g_set = _interval_of(p), _interval_of(g)
    if (p_set is None) != (g_set is None) and _is_set_like(g if p_set else p):
        return _compare(p_set or p, g_set or g, time_limit_s)
    p_clock, g_clock = _clock(p), _clock(g)
    if p_clock and g_clock and (p_clock[1] or g_clock[1]):
        return p_clock[0] == g_clock[0]  # `20:34` is `20:34:00` and `8:34 p.m.`
    p_vec, g_vec = _vector(p), _vector(g)
    if (p_vec is None) != (g_vec is None):
        # A one-row or one-column matrix against a tuple `(a, b)` or `[a, b]`: the same vector.
        listed = _structure(g if p_vec else p)
        if listed is not None and listed.kind == "tuple" and len(listed.items) == len(p_vec or g_vec):
            pairs = zip(p_vec, listed.items) if p_vec else zip(listed.items, g_vec)
            return all(_compare(a, b, time_limit_s) for a, b in pairs)
    p_base, g_base = _BASE_NUM.fullmatch(p), _BASE_NUM.fullmatch(g)
    if p_base or g_base:
        # `13_5` is thirteen in base 5 (eight): equal only to the same digits in the same base.
        return bool(p_base and g_base) and (p_base[1].lower(), p_base[2]) == (g_base[1].lower(), g_base[2])
    p_num, g_num = to_number(p), to_number(g)
    if p_num is not None and g_num is not None:
        # Both plain numbers: decided here. Falling through to math-verify would only add its
        # float rounding, which accepts near misses.
        return numbers_match(p_num, g_num)
    structures = _compare_structures(p, g, time_limit_s)
    if structures is not None:
        return structures
    for many, one in ((p, g), (g, p)):
        items = split_top(many, ",")
        if len(items) > 1 and not _is_compound(one):
            # `15\frac{39}{40}, or \frac{639}{40}`: one value written twice is that value;
            # a list with any other member is not a single answer.
            return all(_compare(item.strip(), one, time_limit_s) for item in items if item.strip())
    if (p_num is None) != (g_num is None) and _is_compound(p if g_num is not None else g):
        return False  # a number never equals a tuple, an interval, a set or a list
    if _is_word_answer(p) or _is_word_answer(g):
        return _ARTICLE.sub("", p).lower() == _ARTICLE.sub("", g).lower()
    if (p_num is None) != (g_num is None):
        return _number_against_expression(p_num or g_num, g if p_num is not None else p, time_limit_s)
    return _symbolic_equivalent(p, g, time_limit_s)


def _number_against_expression(num, other: str, time_limit_s: float | None) -> bool:
    """A plain number against an expression (`2` and `\\sqrt4`, `1.732` and `\\sqrt3`).

    Exact values first; then, for a decimal long enough to stand for a rounding (see
    supercorrect.grading.numbers), whether it is the expression's value rounded or cut to its
    shown digits. math-verify's float rounding is not used: it would accept `1.41` for `\\sqrt2`.
    """
    if _GLUED_LETTERS.fullmatch(other):
        return False  # `10cm` in math is 10·c·m (see clean_parts), whatever math-verify's units say
    values = [num.value] + ([num.value / 100] if num.percent else [])
    if any(_symbolic_equivalent(f"\\frac{{{v.numerator}}}{{{v.denominator}}}", other, time_limit_s, mode="exact")
           for v in values):
        return True
    if not num.may_round():
        return False
    places = [num.places] + ([num.places + 2] if num.percent else [])
    return any(_symbolic_equivalent(f"{v};{k}", other, time_limit_s, mode="rounded") for v, k in zip(values, places))


def _is_compound(s: str) -> bool:
    """A tuple, interval, set or list: brackets around, commas at the top level, or a ±."""
    return len(split_top(s, ",")) > 1 or "\\pm" in s or "\\mp" in s or bool(re.fullmatch(r"[(\[].*,.*[)\]]|\\\{.*\\\}", s))


def _compare_labelled(p_items, g_items, p: str, g: str, time_limit_s: float | None) -> bool:
    """`x = 1, y = 2` against `y = 2, x = 1` (by name), or against `(1, 2)` / `1, 2` (in order)."""
    if p_items and g_items:
        p_map, g_map = dict(p_items), dict(g_items)
        if len(p_map) != len(p_items) or set(p_map) != set(g_map):
            return False
        return all(_compare(p_map[k], g_map[k], time_limit_s) for k in p_map)
    items, other = (p_items, g) if p_items else (g_items, p)
    listed = _structure(other)
    if listed is None or listed.kind == "set" or len(listed.items) != len(items):
        return False
    pairs = zip((v for _, v in items), listed.items)
    if p_items:
        return all(_compare(v, o, time_limit_s) for v, o in pairs)
    return all(_compare(o, v, time_limit_s) for v, o in pairs)
