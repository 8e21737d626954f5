"""Every prompt the pipeline sends, in one place, versioned and replaceable.

The built-in texts are version `v2` (v1 had separate student-correction and self-check
prompts; v2 has one correction-trace prompt for both, as the paper does). `prompts.file` in params.yaml may name a YAML file
that replaces any of them; it must carry its own `version`, which then goes into every
record the prompts produce, so a dataset always says which wording made it.

    python -c "from supercorrect.formats.prompts import load_prompts; print(load_prompts().system)"
"""

from __future__ import annotations

import difflib
import string
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from supercorrect.config import ConfigError


@dataclass(frozen=True)
class Prompts:
    version: str
    # Given to the student for every problem: asks for the hierarchical thought template.
    system: str
    # Teacher: rewrite a reference solution into the template. Fields: problem, solution, answer.
    annotate: str
    # The correction-trace prompt (paper Appendix A), one context for three uses: the student
    # checks its own solution at evaluation, the student writes its blind correction in `mine`,
    # and DPO trains in it. Fields: problem, student_solution.
    correct: str
    # Appended to `correct` for the teacher only: the reference it grounds its trace in.
    # Fields: solution, answer.
    grounding: str
    # Appended to `correct` for the student under `mine.rejected: told_k` only. Fields: k.
    told_k: str
    # Teacher, after a reply failed validation or inspection: the reason and the problem again.
    # Fields: reason, problem, answer.
    reask: str = ""
    # Inspector: check a teacher output against the problem and gold answer.
    # Fields: problem, answer, output. Reply PASS, or FAIL with what is wrong.
    inspect: str = ""


V2 = Prompts(
    version="v2",
    system=(
        "Solve the math problem step by step. Write each step as <Step1>...</Step1>, "
        "<Step2>...</Step2> and so on, add <Key>...</Key> inside a step that is easy to get "
        "wrong, then give the general strategy in <Generalized>...</Generalized> and the "
        "final answer in <Answer>...</Answer>."
    ),
    annotate=(
        "Rewrite the reference solution below as a hierarchical thought template.\n"
        "Format: detailed steps <Step1>...</Step1>, <Step2>...</Step2>, ...; inside any step "
        "that is tricky, a <Key>...</Key> note saying what to watch out for; then "
        "<Generalized>...</Generalized> with the strategy that transfers to similar problems; "
        "then <Answer>...</Answer> with only the final answer. Output nothing else.\n\n"
        "Problem:\n{problem}\n\nReference solution:\n{solution}\n\nFinal answer: {answer}"
    ),
    correct=(
        "Check the solution step by step. Copy every correct step as it is. In the first wrong "
        "step, write <Cause>why it is wrong</Cause><Correction>the right step</Correction> inside "
        "its tags, then redo the steps after it. End with <Answer>...</Answer>.\n\n"
        "Problem:\n{problem}\n\nSolution:\n{student_solution}"
    ),
    grounding=(
        "\n\nReference solution (use it to find the first wrong step; do not mention it):\n"
        "{solution}\n\nCorrect final answer: {answer}"
    ),
    told_k="\n\nHint: step {k} is the first wrong step.",
    reask=(
        "Your reply above cannot be used: {reason}.\n"
        "Here is the problem again.\n\nProblem:\n{problem}\n\nFinal answer: {answer}\n\n"
        "Reply again, following the requested format exactly and reaching the final answer above. "
        "Output nothing else."
    ),
    inspect=(
        "You check a teacher's worked solution. Given the problem, its correct final answer and "
        "the teacher's output, decide whether every step is correct, the tags are well formed, "
        "and the output reaches the correct final answer.\n"
        "Reply with <Verdict>PASS</Verdict>, or with <Verdict>FAIL</Verdict> followed by "
        "<Issue>the first thing that is wrong</Issue>.\n\n"
        "Problem:\n{problem}\n\nCorrect final answer: {answer}\n\nTeacher output:\n{output}"
    ),
)


# The fields each prompt is formatted with (the system prompt is sent as is). A replacement may
# use any of them and no other: an unknown `{field}` would fail only when the prompt is sent.
_PROBLEM = {"id", "source", "split", "problem", "solution", "answer", "subject", "level"}
FIELDS = {"annotate": _PROBLEM, "correct": {"problem", "student_solution"}, "grounding": {"solution", "answer"},
          "told_k": {"k"}, "reask": {"reason", "problem", "answer"}, "inspect": {"problem", "answer", "output"}}


def _check_fields(file, name: str, text: str) -> None:
    allowed = FIELDS.get(name)
    if allowed is None:
        return
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:  # e.g. a lone "{": literal braces are written {{ and }}
        raise ConfigError(f"{file}: {name}: {exc} (write a literal brace as {{{{ or }}}})") from None
    unknown = sorted(f for f in used if f.split(".")[0].split("[")[0] not in allowed)
    if unknown:
        raise ConfigError(f"{file}: {name}: unknown field {{{unknown[0]}}}; this prompt can use "
                          f"{', '.join('{' + f + '}' for f in sorted(allowed))}")


def load_prompts(file: str | None = None) -> Prompts:
    """Built-in prompts, with any texts from the YAML `file` replacing them (ConfigError if bad)."""
    if file is None:
        return V2
    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the prompts file ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}: invalid YAML at column {mark.column + 1}" if mark else ": invalid YAML"
        raise ConfigError(f"{file}{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of prompt names to texts")
    known = {f.name for f in fields(Prompts)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(known))}"
        raise ConfigError(f"{file}: {unknown[0]}: unknown prompt key; {hint}")
    if not data.get("version") or data["version"] == V2.version:
        raise ConfigError(f"{file}: version: set a new version name for replaced prompts")
    for name, text in data.items():
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise ConfigError(f"{file}: {name}: expected a text, got {type(text).__name__}")
        _check_fields(file, name, str(text))
    return replace(V2, **{k: str(v) for k, v in data.items()})


def solve_messages(prompts: Prompts, problem: str) -> list[dict]:
    """The chat the student sees for a problem: system prompt, then the problem."""
    return [
        {"role": "system", "content": prompts.system},
        {"role": "user", "content": problem},
    ]


def correction_messages(prompts: Prompts, problem: str, solution: str, told_k: int | None = None) -> list[dict]:
    """The correction-trace chat: system prompt, then the problem and a solution to check.

    The same chat serves the student's self-check at evaluation, its blind correction in
    `mine` and the DPO context; `told_k` adds the hint of the `told_k` ablation.
    """
    user = prompts.correct.format(problem=problem, student_solution=solution)
    if told_k is not None:
        user += prompts.told_k.format(k=told_k)
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user}]


def teacher_correction_message(prompts: Prompts, problem: dict, solution: str) -> list[dict]:
    """The teacher's chat: the same correction prompt, grounded in the reference solution."""
    user = prompts.correct.format(problem=problem["problem"], student_solution=solution)
    user += prompts.grounding.format(solution=problem["solution"], answer=problem["answer"])
    return [{"role": "user", "content": user}]
