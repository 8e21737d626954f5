"""GSM8K calculator notes: the `<<expr=value>>` marks GSM8K solutions carry on each step.

`gold_steps` reads them back (the reference teacher compares a student's step values with them;
the synthetic demo problems carry them too) and `strip_notes` removes them from a line.

    python -c "from supercorrect.formats.gsm8k_notes import gold_steps; print(gold_steps('48/2=<<48/2=24>>24'))"
"""

from __future__ import annotations

import re

_NOTE = re.compile(r"<<([^<>]*)=([^<>=]*)>>")
_ANY_NOTE = re.compile(r"<<[^<>]*>>")


def gold_steps(solution: str) -> list[tuple[str, str]]:
    """The `(expr, value)` pairs of the solution's `<<expr=value>>` notes, in order.

    >>> gold_steps("Natalia sold 48/2 = <<48/2=24>>24 clips in May.")
    [('48/2', '24')]
    """
    return [(expr.strip(), value.strip()) for expr, value in _NOTE.findall(solution)]


def strip_notes(line: str) -> str:
    """The line without its `<<...>>` notes."""
    return _ANY_NOTE.sub("", line)
