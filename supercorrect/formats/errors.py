"""Erroneous solutions made on purpose, so the student meets the correction format before DPO.

`inject_error(template, rng)` takes a verified template and returns a copy whose step k is
wrong. The `annotate` stage turns a share of its templates into correction-trace examples with
it (`annotate.correction_share`): the teacher writes the trace for the erroneous copy, grounded
in the reference, exactly as it does for the student's own errors in `mine`.

The errors are the kind a student makes in a chain of calculations: one step misreads an
operand, or arrives at a value off by one or two, by a factor of ten or by the wrong operation,
and every later step computes correctly from the wrong value (so the first wrong step is the
one to find).
Steps without an `a op b = c` calculation are left alone.

    python -c "import random; from supercorrect.formats.errors import inject_error as f; \
print(f('<Step1>so 5+3=8 apples.</Step1>\\n<Generalized>g</Generalized>\\n<Answer>8</Answer>', random.Random(0)))"
"""

from __future__ import annotations

import random
import re

from supercorrect.formats.templates import leading_steps, replace_answer

# `a op b = c` with whole numbers: the calculations of GSM8K-style steps.
_CALC = re.compile(r"(?<![\d.])(\d+)\s*([+\-*/])\s*(\d+)\s*=\s*(\d+)(?!\d|\.\d)")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def _wrong_value(rng: random.Random, a: int, op: str, b: int, value: int) -> int:
    """A plausible wrong result for `a op b = value`: mostly a slip by one or two, sometimes
    another operation or a factor of ten (the mix the demo student's own errors show)."""
    slips = [value + d for d in (-2, -1, 1, 2) if value + d >= 0]
    others = sorted({fn(a, b) for o, fn in _OPS.items() if o != op} | {value * 10} - {value} - set(slips))
    others = [v for v in others if v >= 0]
    return rng.choice(slips) if slips and (not others or rng.random() < 0.75) else rng.choice(others)


def _recompute(step: str, old: int, new: int) -> tuple[str, int | None]:
    """A later step redone from a wrong running value: its first operand `old` becomes `new`."""
    match = _CALC.search(step)
    if not match or int(match.group(1)) != old or match.group(2) not in _OPS:
        return step, None
    value = _OPS[match.group(2)](new, int(match.group(3)))
    if value < 0:
        return step, None
    return _replace_calc(step, match.group(0), f"{new}{match.group(2)}{match.group(3)}={value}"), value


def _replace_calc(step: str, calc: str, new_calc: str) -> str:
    # Every occurrence: the step's body and its <Key> note, which repeats the calculation.
    return re.sub(rf"(?<![\d.]){re.escape(calc)}(?!\d|\.\d)", new_calc, step)


def inject_error(template: str, rng: random.Random) -> tuple[str, int] | None:
    """(the template with its step k made wrong, k), or None when no step has a calculation."""
    steps = leading_steps(template)
    candidates = [i for i, s in enumerate(steps) if (m := _CALC.search(s)) and m.group(2) in _OPS]
    if not candidates:
        return None
    i = rng.choice(candidates)
    match = _CALC.search(steps[i])
    a, op, b, value = int(match.group(1)), match.group(2), int(match.group(3)), int(match.group(4))
    new_steps = list(steps)
    if rng.random() < 0.3 and b > 2:
        # A misread operand: the step uses a number the problem does not give, computed right.
        b = b + rng.choice([-1, 1])
        wrong = _OPS[op](a, b)
    else:
        wrong = _wrong_value(rng, a, op, b, value)
    new_steps[i] = _replace_calc(steps[i], match.group(0), f"{a}{op}{b}={wrong}")
    old, new = value, wrong
    for j in range(i + 1, len(steps)):
        new_steps[j], changed = _recompute(steps[j], old, new)
        if changed is None:
            break
        old, new = int(_CALC.search(steps[j]).group(4)), changed
    text = template
    for before, after in zip(steps, new_steps):
        text = text.replace(before, after, 1)
    last_changed = new_steps[-1] != steps[-1]
    if last_changed:
        text = replace_answer(text, str(new))
    return text, i + 1

