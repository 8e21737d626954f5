"""math-verify (sympy) comparisons under a hard per-item time limit, for supercorrect.grading.

sympy can run for ever in C (expanding `(x+1)^{99999}`), where no signal reaches it, so each
comparison runs in a persistent worker subprocess: past the limit the worker is killed, the
call raises SymbolicTimeout and a fresh worker replaces it on next use. A small pool of
workers serves all threads; none starts until the first symbolic comparison, so importing
this module costs nothing. Inputs that are obviously too expensive are refused up front.

    from supercorrect.grading.symbolic import symbolic_equivalent
    symbolic_equivalent(r"\\sqrt{8}", r"2\\sqrt{2}", time_limit_s=5)   # True

Plain numbers never come here: supercorrect.grading decides them exactly in-process.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

# Hard limit for one symbolic comparison, enforced by killing its worker process, so it holds
# in any thread. Plain numbers never get near it: they are decided exactly in-process.
SYMBOLIC_TIME_LIMIT_S = 5.0
# Longer answers are almost always extraction garbage (a whole paragraph) and are exactly the
# inputs that make sympy crawl, so they never reach the symbolic path.
MAX_SYMBOLIC_CHARS = 400


class SymbolicTimeout(Exception):
    """A symbolic comparison ran past its time limit; its worker process was killed."""


def _too_expensive(s: str) -> bool:
    """Inputs sympy would evaluate in C for a very long time (no signal can stop it)."""
    if len(s) > MAX_SYMBOLIC_CHARS:
        return True
    # Towers like 10^{10^{10}} and huge exponents/factorials expand to enormous integers.
    if re.search(r"\^\s*\{[^{}]*\^", s) or re.search(r"\^\s*\{?\s*\d{7,}", s):
        return True
    return bool(re.search(r"\d{5,}\s*!", s))


def _quiet_math_verify_logs() -> None:
    """Drop math-verify's "timeout is disabled" warning: the worker's kill is the limit."""

    class _DropTimeoutNotice(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "Timeout is disabled" not in record.getMessage()

    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_DropTimeoutNotice())


def _math_verify_equal(pred: str, gold: str) -> bool:
    """math-verify's verdict on two cleaned answers. Runs inside a worker process only.

    math-verify's own timeouts use signal.alarm and cannot stop sympy's C loops; they are
    off (None) because the parent kills the whole worker instead.
    """
    import math_verify

    # Wrapping in $...$ makes math-verify treat the whole string as one LaTeX answer.
    gold_parsed = math_verify.parse(f"${gold}$", parsing_timeout=None)
    pred_parsed = math_verify.parse(f"${pred}$", parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    if math_verify.verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return True
    return _equal_as_complex(pred_parsed[0], gold_parsed[0])


def _equal_as_complex(pred, gold) -> bool:
    """`i(2 - i)` against `1 + 2i`: where i is the only letter on both sides it is the imaginary
    unit, which math-verify leaves a symbol (so i^2 is not -1). Runs inside a worker only."""
    import sympy

    if not all(isinstance(e, sympy.Expr) for e in (pred, gold)):
        return False
    symbols = pred.free_symbols | gold.free_symbols  # math-verify's i is Symbol("i", real=True)
    if not symbols or any(symbol.name != "i" for symbol in symbols):
        return False
    unit = {symbol: sympy.I for symbol in symbols}
    return bool(sympy.simplify(pred.xreplace(unit) - gold.xreplace(unit)) == 0)


def _same_equation(pred: str, gold: str) -> bool:
    """True if two equations have the same solutions because one side-difference is a nonzero
    constant times the other: `y = 2x + 3` and `2x - y + 3 = 0`. Runs inside a worker only.

    math-verify is not asked: it compares equations by their sides, so `x = 5` would meet
    `y = 5` and a line in slope form would miss its general form.
    """
    import math_verify
    import sympy

    exprs = []
    for text in (pred, gold):
        parsed = math_verify.parse(f"${text}$", parsing_timeout=None)
        eq = parsed[0] if parsed else None
        if not isinstance(eq, sympy.Equality) or not all(isinstance(side, sympy.Expr) for side in eq.args):
            return False
        exprs.append(eq.lhs - eq.rhs)
    if any(e == 0 for e in exprs):
        return False
    # cancel() decides rational functions exactly and fast; simplify() only for the rest (trig, roots).
    ratio = sympy.cancel(exprs[0] / exprs[1])
    if ratio.free_symbols and not all(e.is_polynomial() for e in exprs):
        ratio = sympy.simplify(ratio)
    return bool(ratio.is_number and ratio.is_finite and ratio != 0)


def _exactly_equal(pred: str, gold: str) -> bool:
    """True if two closed expressions have exactly the same value. Runs inside a worker only.

    One side is a plain number written as an exact fraction. math-verify is not asked:
    it rounds floats, so 1.41421356 would equal the square root of 2.
    """
    import math_verify
    import sympy

    values = []
    for text in (pred, gold):
        parsed = math_verify.parse(f"${text}$", parsing_timeout=None)
        if not parsed or not isinstance(parsed[0], sympy.Expr):
            return False
        values.append(parsed[0])
    diff = values[0] - values[1]
    if diff.free_symbols:
        return False
    return bool(sympy.simplify(diff) == 0)


def _rounds_value(pred: str, gold: str) -> bool:
    """True if a decimal is the closed expression `gold` rounded or cut to its shown digits.
    Runs inside a worker only.

    pred is "<exact value of the decimal as a fraction>;<decimal places written>", e.g.
    "433/250;3" for 1.732 against the square root of 3. A gold with a finite decimal form is
    never rounded to: 1.732 is not 1.7321 (see supercorrect.grading.numbers).
    """
    import math_verify
    import sympy

    from supercorrect.grading.numbers import has_finite_decimal, rounds_to

    value, places = pred.split(";")
    decimal, places = Fraction(value), int(places)
    parsed = math_verify.parse(f"${gold}$", parsing_timeout=None)
    if not parsed or not isinstance(parsed[0], sympy.Expr) or parsed[0].free_symbols:
        return False
    expr = parsed[0]
    if expr.is_rational:
        exact = Fraction(int(expr.p), int(expr.q))
        return not has_finite_decimal(exact) and rounds_to(decimal, places, exact)
    if expr.is_real is not True:
        return False
    # Enough digits that the rounding of an irrational value is decided: it is never on a boundary.
    digits = max(places, 0) + len(str(abs(int(decimal)))) + 30
    return rounds_to(decimal, places, Fraction(str(sympy.N(expr, digits))))


def _math_verify_readme(response: str, gold: str) -> bool:
    """math-verify's own verdict on a whole response, called as its README shows:
    `verify(parse("$" + gold + "$"), parse(response))`. Runs inside a worker only; its own
    timeouts are off because the parent kills the worker instead."""
    import math_verify

    gold_parsed = math_verify.parse(f"${gold}$", parsing_timeout=None)
    return bool(math_verify.verify(gold_parsed, math_verify.parse(response, parsing_timeout=None),
                                   timeout_seconds=None))


_WARM_UP = {"rounded": ("433/250;3", "\\sqrt{3}"), "readme": ("so $x = \\boxed{\\sqrt{2}}$", "\\sqrt{2}")}
_MODES = {"verify": _math_verify_equal, "equations": _same_equation, "exact": _exactly_equal,
          "rounded": _rounds_value, "readme": _math_verify_readme}


def serve() -> None:
    """Worker loop: one JSON [pred, gold, mode] per stdin line, one "1"/"0" per stdout line.

    Started by _Worker as `python -c "from supercorrect.grading.symbolic import serve; serve()"`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; EOF ends us
    import math_verify  # noqa: F401  (pay the ~1 s import before saying ready)

    _quiet_math_verify_logs()
    # The first parse and comparison load grammars and sympy modules lazily; that start-up
    # is not the first item's fault, so it is paid here, inside the start-up allowance.
    for mode, warm_up in _MODES.items():
        warm_up(*_WARM_UP.get(mode, ("\\sqrt{2} + x = 1", "1 = x + \\sqrt{2}")))
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            pred, gold, mode = json.loads(line)
            verdict = _MODES[mode](pred, gold)
        except Exception:
            verdict = False
        out.write("1\n" if verdict else "0\n")
        out.flush()


# A fresh worker imports sympy and math-verify; that is not the item's fault, so it gets its
# own, generous allowance before the first item is sent.
_STARTUP_LIMIT_S = 120.0


class _Worker:
    """One persistent grading subprocess. Killing it is the only limit sympy cannot ignore."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from supercorrect.grading.symbolic import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        if self._read_line(_STARTUP_LIMIT_S) != b"ready":
            self.kill()
            raise RuntimeError("grading worker failed to start")

    def _read_line(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline().strip()

    def compare(self, pred: str, gold: str, time_limit_s: float, mode: str = "verify") -> bool:
        """The verdict, or SymbolicTimeout after time_limit_s (the worker is then dead)."""
        self.proc.stdin.write(json.dumps([pred, gold, mode]).encode() + b"\n")
        self.proc.stdin.flush()
        line = self._read_line(time_limit_s)
        if line is None:
            self.kill()
            raise SymbolicTimeout(f"symbolic comparison over {time_limit_s} s")
        if line not in (b"0", b"1"):  # EOF: the worker crashed (e.g. out of memory)
            self.kill()
            return False
        return line == b"1"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class _Pool:
    """Idle workers shared by all threads; at most `size` exist at once.

    A thread takes a worker for one comparison and returns it; a timed-out worker is killed
    and a new one is started the next time one is needed. Nothing starts until the first
    symbolic comparison, so importing the grader or grading plain numbers costs nothing.
    """

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._at_exit = False
        self.started = 0  # workers ever started (tests check a killed one is replaced)

    def compare(self, pred: str, gold: str, time_limit_s: float, mode: str = "verify") -> bool:
        with self._slots:  # waiting for a free worker does not count against the item's limit
            with self._lock:
                worker = self._idle.pop() if self._idle else None
                if not self._at_exit:
                    atexit.register(self.close)
                    self._at_exit = True
            if worker is None or not worker.alive():
                worker = _Worker()
                self.started += 1
            verdict = worker.compare(pred, gold, time_limit_s, mode)  # raises on timeout, worker dead
            if worker.alive():
                with self._lock:
                    self._idle.append(worker)
            return verdict

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = _Pool(max(2, os.cpu_count() or 2))
        return _POOL


def math_verify_verdict(response: str, gold: str, time_limit_s: float | None = None) -> bool:
    """math-verify alone on a whole response against a gold, as its README calls it, under the
    same hard per-item limit (SymbolicTimeout past it). No size guard: responses are long, and a
    hang is what the kill is for. For reporting accuracy beside ours, never for our verdicts."""
    limit = SYMBOLIC_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    return _pool().compare(response, gold, limit, "readme")


def symbolic_equivalent(pred: str, gold: str, time_limit_s: float | None = None,
                        mode: str = "verify") -> bool:
    """math-verify comparison of two cleaned answers under a hard per-item time limit.

    mode "verify" asks math-verify; "equations" compares two equations (_same_equation);
    "exact" compares closed values without rounding (_exactly_equal); "rounded" asks whether
    a decimal is a closed value rounded to its shown digits (_rounds_value).

    The comparison runs in a persistent worker subprocess; past the limit the worker is killed
    (and replaced on next use) and SymbolicTimeout is raised. That works the same from any
    thread or process, unlike signal.alarm. Obvious monsters are refused before any IPC.
    """
    if _too_expensive(pred) or _too_expensive(gold):
        return False
    limit = SYMBOLIC_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if mode not in _MODES:
        raise ValueError(f"unknown symbolic mode {mode!r}")
    return _pool().compare(pred, gold, limit, mode)
