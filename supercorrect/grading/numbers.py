"""Plain numbers in answers, read exactly, and when a written decimal is a rounding of an exact value.

A plain number is an integer, a decimal, a fraction (`\\frac{a}{b}`, `a/b`), a mixed number
(`4\\frac23`, `4 2/3`), a percentage, a number in scientific notation (`2.5 \\times 10^{-3}`) or
a repeating decimal (`0.\\overline{3}`). `to_number` reads one as an exact Fraction and records
how it was written; `numbers_match` compares two; `rounds_to` says whether a decimal is a value
with no finite decimal form (1/12, the square root of 3) written to its shown digits.

    .venv/bin/python -c "from supercorrect.grading.numbers import to_number, numbers_match as m; print(m(to_number('0.0833...'), to_number('1/12')))"

Only the standard library: the symbolic worker imports this module too. The rounding rule and its
reasons are in docs/grading.md.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import NamedTuple

# A decimal stands for a value it rounds only with this many significant digits: 0.3333 and
# 1.732 say "1/3" and "the square root of 3", 0.33 and 3.14 are too short to say so. A decimal
# that trails off (`0.0833...`) states that its digits go on, so two significant digits do.
MIN_ROUNDED_DIGITS = 4
MIN_TRAILING_DIGITS = 2


class Num(NamedTuple):
    value: Fraction
    percent: bool
    places: int | None = None  # decimal places as written; None unless written as a decimal
    digits: int = 0  # significant digits as written (decimals only)
    trails_off: bool = False  # written with an ellipsis: the digits shown go on

    def may_round(self) -> bool:
        """True if this decimal may stand for a value it rounds (see MIN_ROUNDED_DIGITS)."""
        if self.places is None:
            return False
        return self.digits >= (MIN_TRAILING_DIGITS if self.trails_off else MIN_ROUNDED_DIGITS)


_INT_OR_DEC = r"\d+(?:\.\d*)?|\.\d+"
# `\frac{a}{b}`, plus MATH's brace-less shorthands `\frac12`, `\frac 34`, `\frac9{19}`.
_FRAC_ARG = r"(?:\{\s*([+-]?(?:" + _INT_OR_DEC + r"))\s*\}|(\d))"
_LATEX_FRAC = re.compile(r"\\frac\s*" + _FRAC_ARG + r"\s*" + _FRAC_ARG)
_PLAIN_NUM = re.compile(r"[+-]?(?:" + _INT_OR_DEC + r")")
_SLASH_FRAC = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)")
_SCIENTIFIC = re.compile(r"([+-]?(?:" + _INT_OR_DEC + r"))\s*(?:(?:\\times|\\cdot|×|\*)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?"
                         r"|[eE]([+-]?\d+))")
_REPEATING = re.compile(r"([+-]?)(\d*)\.(\d*)\\overline\s*\{\s*(\d+)\s*\}")


def _frac_value(m: re.Match) -> Fraction | None:
    num = Fraction(m.group(1) or m.group(2))
    den = Fraction(m.group(3) or m.group(4))
    return None if den == 0 else num / den


def _written(decimal: str) -> tuple[int, int]:
    """(decimal places, significant digits) of a decimal as written: `0.0830` is (4, 3)."""
    digits = decimal.lstrip("+-")
    places = len(digits.split(".", 1)[1]) if "." in digits else 0
    return places, len(digits.replace(".", "").lstrip("0"))


def to_number(s: str) -> Num | None:
    """Exact value of a plain numeric answer, or None if s is anything richer.

    Mixed numbers (`4\\frac{2}{3}`, `4 2/3`) mean 4 + 2/3, as MATH writes them.
    """
    s = s.strip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    trails_off = s.endswith("…")
    if trails_off:
        s = s[:-1].strip()
    sign = 1
    if s[:1] in "+-" and len(s) > 1 and not _PLAIN_NUM.fullmatch(s):
        sign = -1 if s[0] == "-" else 1
        s = s[1:].strip()
    if _PLAIN_NUM.fullmatch(s):
        places, digits = _written(s)
        written_as_decimal = "." in s
        return Num(sign * Fraction(s), percent, places if written_as_decimal else None, digits, trails_off)
    if trails_off:
        return None  # only a decimal can trail off
    if m := _SCIENTIFIC.fullmatch(s):
        places, digits = _written(m[1])
        exponent = int(m[2] or m[3])
        return Num(sign * Fraction(m[1]) * Fraction(10) ** exponent, percent, places - exponent, digits)
    if m := _REPEATING.fullmatch(s):
        # 0.08\overline{3}: the block under the bar repeats for ever, so the value is exact.
        head, fixed, block = m[2] or "0", m[3], m[4]
        value = Fraction(head + "." + fixed if fixed else head)
        value += Fraction(int(block), (10 ** len(block) - 1) * 10 ** len(fixed))
        return Num(sign * (-1 if m[1] == "-" else 1) * value, percent)
    value: Fraction | None = None
    if m := _SLASH_FRAC.fullmatch(s):
        den = Fraction(m.group(2))
        value = None if den == 0 else Fraction(m.group(1)) / den
    elif m := _LATEX_FRAC.fullmatch(s):
        value = _frac_value(m)
    else:
        # Mixed number: a whole part directly followed by a non-negative proper fraction.
        m = re.fullmatch(r"(\d+)\s*(\\frac.*)", s) or re.fullmatch(r"(\d+)\s+(\d+\s*/\s*\d+)", s)
        if m:
            frac = to_number(m.group(2))
            if frac is not None and not frac.percent and frac.places is None and 0 <= frac.value < 1:
                value = int(m.group(1)) + frac.value
    if value is None:
        return None
    return Num(sign * value, percent)


def has_finite_decimal(value: Fraction) -> bool:
    """True if value can be written exactly as a decimal (its denominator divides a power of 10)."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def rounds_to(decimal: Fraction, places: int, value: Fraction) -> bool:
    """True if `decimal` is `value` rounded, or cut, to `places` decimal places.

    Both readings keep every shown digit right: 0.0833 is 1/12 cut, 2.6667 is 8/3 rounded.
    `value` may be a close rational approximation of an irrational number: such a number is
    never on a rounding boundary, so enough extra digits decide the same way.
    """
    if decimal == 0 or (decimal < 0) != (value < 0):
        return False
    scale = Fraction(10) ** places
    scaled = abs(value) * scale
    cut = math.floor(scaled)
    rounded = math.floor(scaled + Fraction(1, 2))
    return abs(decimal) * scale in (cut, rounded)


def _rounding_match(dec: Num, exact: Num) -> bool:
    """A decimal against an exact value with no finite decimal form (1/12 and 0.0833...)."""
    if not dec.may_round() or exact.places is not None or has_finite_decimal(exact.value):
        return False
    pairs = [(dec.value, dec.places, exact.value)]
    if dec.percent and not exact.percent:  # 8.333% against 1/12
        pairs.append((dec.value / 100, dec.places + 2, exact.value))
    if exact.percent and not dec.percent:  # 0.3333 against 100/3 %
        pairs.append((dec.value, dec.places, exact.value / 100))
    return any(rounds_to(d, p, v) for d, p, v in pairs)


def numbers_match(pred: Num, gold: Num) -> bool:
    """Exactly equal (50% and 0.5 and 50 agree), or one a decimal rounding the other's value."""
    if pred.value == gold.value:  # "50%" vs "50": the sign is presentation
        return True
    # "50%" vs "0.5" (either way round) is the same quantity written as a ratio.
    if pred.percent and not gold.percent and pred.value / 100 == gold.value:
        return True
    if gold.percent and not pred.percent and gold.value / 100 == pred.value:
        return True
    return _rounding_match(pred, gold) or _rounding_match(gold, pred)
