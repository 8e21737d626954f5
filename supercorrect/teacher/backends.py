"""Teacher backends: write HSFT templates (annotate) and locate + correct student errors (mine).

* `reference`: offline and deterministic. It is not an LLM: it rebuilds templates from the
  reference solutions and finds the first wrong step by comparing the student's step values
  with the gold intermediate values (GSM8K `<<expr=value>>` notes). Good for demos and tests.
* `openai`: any OpenAI-compatible endpoint through the official async SDK, configured by the
  standard `OPENAI_BASE_URL` / `OPENAI_API_KEY` variables: concurrency, rate limits, retries,
  exactly-once cache and budget in supercorrect.teacher.client / teacher_cache / teacher_batch.

Both expose the same batch API, which validates every output (supercorrect.teacher.checks):
`annotate_all(problems)` and `localize_all([(problem, student_solution), ...])` return, in
input order, dicts with `text` (the validated output or None), `reason` (None, or why it
failed), `kind` (the reason's countable kind, e.g. "answer mismatch"), `rounds` (teacher asks
used) and `raw` (the last output). `metrics()` is the `teacher` block of the stage metrics;
`check_budget()` raises TeacherError once the budget stopped sending.

    python -c "from supercorrect.teacher.backends import ReferenceTeacher as T; print(T().annotate({...}))"
"""

from __future__ import annotations

import asyncio
import os
import re

from supercorrect.formats.gsm8k_notes import gold_steps, strip_notes
from supercorrect.formats.prompts import Prompts, teacher_correction_message
from supercorrect.formats.templates import (Step, leading_steps, parse_step, render_answer, render_correction, render_step,
                                            render_template, step_value)
from supercorrect.grading.extract import extract_answer
from supercorrect.teacher.cache import BudgetError, Ledger, TeacherStats
from supercorrect.teacher.checks import Item, check_annotation, check_localization, result, run_rounds
from supercorrect.teacher.client import TeacherClient
from supercorrect.teacher.wire import TeacherError

_OPS = {"-": "Subtract", "*": "Multiply", "/": "Divide", "x": "Multiply", "×": "Multiply"}
GENERALIZED_ARITHMETIC = (
    "Turn each event in the problem into one arithmetic operation on the running quantity, "
    "apply the operations in order, and report the last result."
)
GENERALIZED_GENERIC = (
    "Write down what is given and what is asked, derive one fact per step from the previous "
    "ones, and simplify until the asked quantity is explicit."
)


_CALC = re.compile(r"\d+(?:\.\d+)?\s*[-+*/×x]\s*\d+(?:\.\d+)?\s*=\s*\d+(?:\.\d+)?")


def _last_calc(body: str) -> str | None:
    """The last `a op b = c` of a step, spaces removed, e.g. `8-2=6`."""
    found = _CALC.findall(body)
    return re.sub(r"\s+", "", found[-1]) if found else None


def _same_number(a: str | None, b: str | None) -> bool:
    try:
        return a is not None and b is not None and float(a) == float(b)
    except ValueError:
        return False


def reference_steps(problem: dict) -> list[Step]:
    """The reference solution as steps: one per GSM8K line (its `<<expr=value>>` note made a `<Key>`
    for a non-addition step), or MATH prose grouped into at most 8 steps."""
    lines = [ln.strip() for ln in problem["solution"].split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("####")]
    if not any("<<" in ln for ln in lines):
        # MATH-style prose: one sentence group per step, at most 8 steps.
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(lines))
        size = max(1, -(-len(sentences) // 8))
        lines = [" ".join(sentences[i:i + size]) for i in range(0, len(sentences), size)]
        return [Step(i + 1, body) for i, body in enumerate(lines) if body]
    steps = []
    for i, line in enumerate(lines):
        notes = gold_steps(line)
        key = None
        if notes:
            expr, value = notes[-1]
            op = next((w for c, w in _OPS.items() if c in expr), None)
            if op:  # addition is routine; other operations are where students slip
                key = f"{op}: {expr}={value}."
        steps.append(Step(i + 1, strip_notes(line), key))
    return steps


class ReferenceTeacher:
    """Deterministic offline teacher built from reference solutions."""

    model = "reference"

    def annotate(self, problem: dict) -> str:
        steps = reference_steps(problem)
        generalized = GENERALIZED_ARITHMETIC if "<<" in problem["solution"] else GENERALIZED_GENERIC
        # The answer is read off the reference solution, not copied from the gold field, so the
        # annotate stage's check still catches a solution that disagrees with its gold answer.
        answer = extract_answer(problem["solution"]) or problem["answer"]
        return render_template(steps, generalized, answer)

    def localize(self, problem: dict, student_solution: str) -> str | None:
        """Correction XML for the first wrong step, or None when there are no gold values."""
        gold = reference_steps(problem)
        gold_values = [step_value(s.body) for s in gold]
        if "<<" not in problem["solution"]:
            return None
        student = [parse_step(raw) for raw in leading_steps(student_solution)]
        k = None
        for i, g in enumerate(gold_values):
            if i >= len(student):
                k = i + 1  # every step so far was right, but the solution stops too early
                cause = f"The solution stops after step {i}, but the problem needs another operation."
                break
            got = step_value(student[i].body)
            if not _same_number(got, g):
                k = i + 1
                theirs, ours = _last_calc(student[i].body), _last_calc(gold[i].body)
                # The cause redoes the calculation right before its result, the way a step does,
                # so a student learning from it computes the value instead of recalling it.
                cause = (f"Step {k} has {theirs}, but {ours}." if theirs and ours else
                         f"Step {k} arrives at {got}, but the correct value at this point is {g}.")
                break
        if k is None:
            return None  # all values match the reference: the error is not in the steps
        parts = [render_correction(k, cause, gold[k - 1].body)]
        parts += [render_step(s.index, s.body, s.key) for s in gold[k:]]
        parts.append(render_answer(problem["answer"]))
        return "\n".join(parts)

    # The batch API shared with OpenAITeacher. Re-asking a deterministic teacher gives the same
    # answer, so there is one round; the output is still validated like any teacher's.
    def annotate_all(self, problems: list[dict]) -> list[dict]:
        return [_result(text, check_annotation(text, p)) for p in problems for text in [self.annotate(p)]]

    def localize_all(self, items: list[tuple[dict, str]]) -> list[dict]:
        return [_result(text, check_localization(text, p, s)) for p, s in items for text in [self.localize(p, s)]]

    def metrics(self) -> dict | None:
        return None

    def check_budget(self) -> None:
        pass


def _result(raw: str | None, reason: str | None) -> dict:
    return result(raw if reason is None else None, reason, 1, raw)


def annotate_chat(prompts: Prompts, problem: dict) -> list[dict]:
    """The first-round chat the openai teacher gets to annotate `problem` (also `--dry-run`'s)."""
    return [{"role": "user", "content": prompts.annotate.format(**problem)}]


def localize_chat(prompts: Prompts, problem: dict, student_solution: str) -> list[dict]:
    """The first-round chat that asks the openai teacher for the first wrong step: the
    correction-trace prompt, grounded in the reference solution."""
    return teacher_correction_message(prompts, problem, student_solution)


class OpenAITeacher:
    """A teacher behind any OpenAI-compatible chat-completions endpoint (or its Batch API)."""

    def __init__(self, cfg, prompts: Prompts):
        if not os.environ.get("OPENAI_API_KEY"):
            raise TeacherError("teacher.backend=openai needs OPENAI_API_KEY in the environment "
                               "(and OPENAI_BASE_URL for a non-OpenAI endpoint)")
        self.cfg, self.prompts, self.model = cfg, prompts, cfg.model
        self.stats = TeacherStats()
        try:
            Ledger(cfg.prices, cfg.budget_usd, self.stats).check_models(cfg.model, cfg.inspector)
        except BudgetError as exc:
            raise TeacherError(str(exc)) from None

    def _run(self, items: list[Item], stage: str) -> list[dict]:
        async def go():
            # The SDK client binds to the running loop, so each call gets its own.
            client = TeacherClient(self.cfg, self.prompts.version, self.stats)
            try:
                return await run_rounds(client, self.cfg, self.prompts, items, stage)
            finally:
                await client.close()

        return asyncio.run(go())

    def annotate_all(self, problems: list[dict]) -> list[dict]:
        items = [Item(p, lambda text, p=p: check_annotation(text, p), annotate_chat(self.prompts, p))
                 for p in problems]
        return self._run(items, "annotate")

    def localize_all(self, pairs: list[tuple[dict, str]]) -> list[dict]:
        items = [Item(p, lambda text, p=p, s=s: check_localization(text, p, s), localize_chat(self.prompts, p, s))
                 for p, s in pairs]
        return self._run(items, "mine")

    def metrics(self) -> dict:
        return self.stats.as_dict()

    def check_budget(self) -> None:
        """Raise the one-line stop message if the budget kept requests from being sent."""
        if self.stats.budget_exhausted:
            raise TeacherError(
                f"teacher.budget_usd={self.cfg.budget_usd:g} reached: this stage's teacher calls cost "
                f"${self.stats.cost_usd:.4f} so far; every paid response is cached in {self.cfg.cache_dir}, "
                f"so raise the budget (e.g. --set teacher.budget_usd={max(2 * self.cfg.budget_usd, 1):g}) "
                f"and rerun to resume")


def make_teacher(cfg, prompts: Prompts):
    """The teacher backend named by `teacher.backend`."""
    if cfg.backend == "openai":
        return OpenAITeacher(cfg, prompts)
    return ReferenceTeacher()
