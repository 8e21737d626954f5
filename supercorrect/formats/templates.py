"""Parse, validate and render the XML of hierarchical thought templates and corrections.

A template is `<Step1>…</Step1>…<StepN>…</StepN><Generalized>…</Generalized><Answer>…</Answer>`,
where a step may hold a `<Key>…</Key>` note. A correction is
`<Stepk><Cause>…</Cause><Correction>…</Correction></Stepk>`, then optional further steps and
`<Answer>…</Answer>`. Pure functions; used by annotate, mine and evaluate.

    python -c "from supercorrect.formats.templates import parse_template as p; print(p(open('t.xml').read()))"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STEP = re.compile(r"<Step(\d+)>(.*?)</Step\1>", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


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
    return f"<Step{index}>{body}{note}</Step{index}>"


def render_template(steps: list[Step], generalized: str, answer: str) -> str:
    lines = [render_step(s.index, s.body, s.key) for s in steps]
    lines += [f"<Generalized>{generalized}</Generalized>", f"<Answer>{answer}</Answer>"]
    return "\n".join(lines)


def parse_correction(text: str) -> Correction:
    """Parse a teacher or student correction of the first wrong step."""
    match = re.search(r"<Step(\d+)>\s*<Cause>(.*?)</Cause>\s*<Correction>(.*?)</Correction>\s*</Step\1>", text, re.S)
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
