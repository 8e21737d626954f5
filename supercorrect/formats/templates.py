"""The trace grammar: parse, validate and render the XML every model reads and writes.

The one module that knows the tags. A template is
`<Step1>…</Step1>…<StepN>…</StepN><Generalized>…</Generalized><Answer>…</Answer>`, where a step
may hold a `<Key>…</Key>` note. A correction trace copies the right steps, then flags the first
wrong one, `<Stepk><Cause>…</Cause><Correction>…</Correction></Stepk>`, redoes the steps after
it and ends with `<Answer>…</Answer>`; a trace that flags nothing copies every step.

`step_open(j) + FLAG` is how a trace starts flagging step j: `flagged_step` reads it, and
`evaluate` scores a checkpoint's probability of writing it (the step-level flag decision).
Pure functions; used by annotate, mine, evaluate, the teacher and the pair builders.

    python -c "from supercorrect.formats.templates import parse_template as p; print(p(open('t.xml').read()))"
    python -c "from supercorrect.formats.templates import flagged_step; print(flagged_step('<Step2><Cause>x'))"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STEP = re.compile(r"<Step(\d+)>(.*?)</Step\1>", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ANSWER = re.compile(r"<Answer>.*?</Answer>", re.S)
# What follows `<Stepj>` when a correction trace flags step j (a right step goes on with its text).
FLAG = "<Cause>"
_FLAGGED = re.compile(r"<Step(\d+)>\s*" + re.escape(FLAG))


def step_open(j: int) -> str:
    """The tag that opens step j."""
    return f"<Step{j}>"


class TemplateError(ValueError):
    """Malformed template or correction XML; the message says what is wrong."""


@dataclass(frozen=True)
class Step:
    index: int
    body: str  # text of the step without the <Key> note
    key: str | None = None


@dataclass(frozen=True)
class Template:
    steps: list[Step]
    generalized: str
    answer: str


@dataclass(frozen=True)
class Correction:
    k: int
    cause: str
    correction: str
    answer: str | None
    text: str  # the whole correction, from <Stepk> to </Answer>


def _tag(text: str, name: str) -> str | None:
    found = re.findall(rf"<{name}>(.*?)</{name}>", text, re.S)
    return found[-1].strip() if found else None


def leading_steps(text: str) -> list[str]:
    """The well-formed `<StepN>` blocks numbered 1, 2, … from the start, as raw XML strings.

    Lenient on purpose: student output is often cut off or drifts, and the steps before
    the first malformed one are still usable as a correct prefix.
    """
    steps, pos = [], 0
    for match in _STEP.finditer(text):
        between = text[pos:match.start()]
        if int(match.group(1)) != len(steps) + 1 or "<Step" in between:
            break
        steps.append(match.group(0))
        pos = match.end()
    return steps


def parse_step(raw: str) -> Step:
    match = _STEP.fullmatch(raw.strip())
    if not match:
        raise TemplateError(f"not a step: {raw[:60]!r}")
    inner = match.group(2)
    key = _tag(inner, "Key")
    body = re.sub(r"<Key>.*?</Key>", "", inner, flags=re.S).strip()
    return Step(int(match.group(1)), body, key)


def parse_template(text: str) -> Template:
    """Strictly parse a template; raise TemplateError naming the first problem."""
    raws = leading_steps(text)
    if not raws:
        raise TemplateError("no <Step1>…</Step1> found")
    total = len(re.findall(r"<Step\d+>", text))
    if total != len(raws):
        raise TemplateError(f"steps must be numbered 1..n and closed; step {len(raws) + 1} is malformed")
    steps = [parse_step(r) for r in raws]
    if any(not s.body for s in steps):
        raise TemplateError("empty step")
    generalized = _tag(text, "Generalized")
    if not generalized:
        raise TemplateError("missing <Generalized>…</Generalized>")
    answer = _tag(text, "Answer")
    if not answer:
        raise TemplateError("missing <Answer>…</Answer>")
    return Template(steps, generalized, answer)


def render_step(index: int, body: str, key: str | None = None) -> str:
    note = f"<Key>{key}</Key>" if key else ""
    return f"{step_open(index)}{body}{note}</Step{index}>"


def render_answer(answer: str) -> str:
    return f"<Answer>{answer}</Answer>"


def render_correction(k: int, cause: str, correction: str) -> str:
    """Step k flagged: the cause of its error and the step as it should be."""
    return f"{step_open(k)}{FLAG}{cause}</Cause><Correction>{correction}</Correction></Step{k}>"


def render_template(steps: list[Step], generalized: str, answer: str) -> str:
    lines = [render_step(s.index, s.body, s.key) for s in steps]
    lines += [f"<Generalized>{generalized}</Generalized>", render_answer(answer)]
    return "\n".join(lines)


def correct_prefix(response: str, k: int) -> str:
    """The steps 1..k-1 of a solution, one per line, each followed by a newline ('' for k = 1):
    how a correction trace copies the steps before the one it flags."""
    return "".join(step + "\n" for step in leading_steps(response)[: k - 1])


def copy_trace(solution: str) -> str:
    """The correction trace of a solution with no wrong step: its steps as they are, the answer."""
    answer = _ANSWER.findall(solution)
    return "\n".join(leading_steps(solution) + answer[-1:])


def step_k(text: str, k: int) -> str | None:
    """The `<Stepk>…</Stepk>` a text opens with (leading blanks aside), or None."""
    match = re.match(rf"\s*({re.escape(step_open(k))}.*?</Step{k}>)", text, re.S)
    return match.group(1) if match else None


def flagged_step(text: str) -> int | None:
    """The step a correction trace blames: the first `<StepN>` that opens with FLAG, or None."""
    match = _FLAGGED.search(text)
    return int(match.group(1)) if match else None


def verdict_at_step(text: str, k: int) -> str:
    """What a trace from step k on says of step k: it flags k, flags a later step, or flags none."""
    flagged = flagged_step(text)
    if flagged == k:
        return "flagged step k"
    return "flagged a later step" if flagged is not None else "called step k correct"


def replace_answer(text: str, answer: str) -> str:
    """`text` with the content of every `<Answer>` block set to `answer`."""
    return _ANSWER.sub(lambda _: render_answer(answer), text)


def wrong_step(response: str, k: int) -> str | None:
    """A solution's wrong step k; for a solution that stopped after step k-1 (the teacher's k is
    one past its steps), the premature `<Answer>` it wrote instead; else None."""
    steps = leading_steps(response)
    if k <= len(steps):
        return steps[k - 1]
    after = response.split(steps[-1], 1)[1] if steps else response
    answer = re.match(r"\s*(<Answer>.*?</Answer>)", after, re.S)
    return answer.group(1) if answer and k == len(steps) + 1 else None


def parse_correction(text: str) -> Correction:
    """Parse a teacher or student correction of the first wrong step."""
    match = re.search(r"<Step(\d+)>\s*" + re.escape(FLAG) + r"(.*?)</Cause>\s*<Correction>(.*?)</Correction>\s*</Step\1>",
                      text, re.S)
    if not match:
        raise TemplateError("no <Stepk><Cause>…</Cause><Correction>…</Correction></Stepk> found")
    cause, correction = match.group(2).strip(), match.group(3).strip()
    if not cause or not correction:
        raise TemplateError("empty <Cause> or <Correction>")
    answer = _tag(text[match.end():], "Answer")
    end = text.find("</Answer>", match.end())
    whole = text[match.start(): end + len("</Answer>")] if end >= 0 else text[match.start():]
    return Correction(int(match.group(1)), cause, correction, answer, whole.strip())


def step_value(body: str) -> str | None:
    """The value a step arrives at: the number after its last '=', else its last number."""
    tail = body.rsplit("=", 1)[-1] if "=" in body else body
    numbers = _NUMBER.findall(tail.replace(",", "")) or _NUMBER.findall(body.replace(",", ""))
    return numbers[-1] if numbers else None
