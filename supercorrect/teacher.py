"""Teacher backends: write HSFT templates (annotate) and locate + correct student errors (mine).

* `reference`: offline and deterministic. It is not an LLM: it rebuilds templates from the
  reference solutions and finds the first wrong step by comparing the student's step values
  with the gold intermediate values (GSM8K `<<expr=value>>` notes). Good for demos and tests.
* `openai`: any OpenAI-compatible endpoint through the official SDK, configured by the
  standard `OPENAI_BASE_URL` / `OPENAI_API_KEY` variables. Every response is cached on disk
  before it is used, keyed on everything that shapes it, so a rerun never pays twice.

Both return raw text; callers validate it with `supercorrect.templates`.

    python -c "from supercorrect.teacher import ReferenceTeacher as T; print(T().annotate({...}))"
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from supercorrect.grading import extract_answer
from supercorrect.io import write_json
from supercorrect.prompts import Prompts
from supercorrect.synthetic import gold_steps
from supercorrect.templates import Step, leading_steps, parse_step, render_step, render_template, step_value

_NOTE = re.compile(r"<<[^<>]*>>")
_OPS = {"-": "Subtract", "*": "Multiply", "/": "Divide", "x": "Multiply", "×": "Multiply"}
GENERALIZED_ARITHMETIC = (
    "Turn each event in the problem into one arithmetic operation on the running quantity, "
    "apply the operations in order, and report the last result."
)
GENERALIZED_GENERIC = (
    "Write down what is given and what is asked, derive one fact per step from the previous "
    "ones, and simplify until the asked quantity is explicit."
)


def _same_number(a: str | None, b: str | None) -> bool:
    try:
        return a is not None and b is not None and float(a) == float(b)
    except ValueError:
        return False


class ReferenceTeacher:
    """Deterministic offline teacher built from reference solutions."""

    model = "reference"

    def _reference_steps(self, problem: dict) -> list[Step]:
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
            steps.append(Step(i + 1, _NOTE.sub("", line), key))
        return steps

    def annotate(self, problem: dict) -> str:
        steps = self._reference_steps(problem)
        generalized = GENERALIZED_ARITHMETIC if "<<" in problem["solution"] else GENERALIZED_GENERIC
        # The answer is read off the reference solution, not copied from the gold field, so the
        # annotate stage's check still catches a solution that disagrees with its gold answer.
        answer = extract_answer(problem["solution"]) or problem["answer"]
        return render_template(steps, generalized, answer)

    def localize(self, problem: dict, student_solution: str) -> str | None:
        """Correction XML for the first wrong step, or None when there are no gold values."""
        gold = self._reference_steps(problem)
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
                cause = f"Step {k} arrives at {got}, but the correct value at this point is {g}."
                break
        if k is None:
            return None  # all values match the reference: the error is not in the steps
        parts = [f"<Step{k}><Cause>{cause}</Cause><Correction>{gold[k - 1].body}</Correction></Step{k}>"]
        parts += [render_step(s.index, s.body, s.key) for s in gold[k:]]
        parts.append(f"<Answer>{problem['answer']}</Answer>")
        return "\n".join(parts)


class TeacherCache:
    """One JSON file per request key; written atomically before the response is used."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        if path.exists():
            self.hits += 1
            return json.loads(path.read_text(encoding="utf-8"))["response"]
        self.misses += 1
        return None

    def put(self, key: str, request: dict, response: str) -> None:
        write_json(self._path(key), {"request": request, "response": response})


class OpenAITeacher:
    """A teacher behind any OpenAI-compatible chat-completions endpoint."""

    def __init__(self, cfg, prompts: Prompts):
        if not os.environ.get("OPENAI_API_KEY"):
            raise RuntimeError("teacher.backend=openai needs OPENAI_API_KEY in the environment "
                               "(and OPENAI_BASE_URL for a non-OpenAI endpoint)")
        import openai  # lazy: the offline demo never needs it

        self.cfg, self.prompts, self.model = cfg, prompts, cfg.model
        self.client = openai.OpenAI(timeout=cfg.timeout_s, max_retries=cfg.max_retries)
        self.cache = TeacherCache(cfg.cache_dir)

    def complete(self, content: str) -> str:
        messages = [{"role": "user", "content": content}]
        # The key covers everything that shapes the answer, never the API key or endpoint.
        request = {"model": self.model, "messages": messages, "temperature": self.cfg.temperature,
                   "max_tokens": self.cfg.max_tokens, "prompt_version": self.prompts.version}
        key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        response = self.client.chat.completions.create(
            model=self.model, messages=messages,
            temperature=self.cfg.temperature, max_tokens=self.cfg.max_tokens,
        )
        text = response.choices[0].message.content or ""
        self.cache.put(key, request, text)
        return text

    def annotate(self, problem: dict) -> str:
        return self.complete(self.prompts.annotate.format(**problem))

    def localize(self, problem: dict, student_solution: str) -> str | None:
        return self.complete(self.prompts.localize.format(student_solution=student_solution, **problem))


def make_teacher(cfg, prompts: Prompts):
    """The teacher backend named by `teacher.backend`."""
    if cfg.backend == "openai":
        return OpenAITeacher(cfg, prompts)
    return ReferenceTeacher()
