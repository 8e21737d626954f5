"""Validation, re-asking and the optional inspector for teacher outputs.

Every teacher output is checked before it is used:
* annotate: the template parses (supercorrect.formats.templates) and its `<Answer>` equals the gold answer;
* localize: the correction parses, its step k lies within the student's steps + 1, the student's
  steps before k parse, and the correction's `<Answer>` equals the gold answer.
A failed output is re-asked in the same chat with the reason and the problem fed back, up to
`teacher.max_rounds` asks in all. An accepted output then goes to the inspector model
(`teacher.inspector`), which may send it back with its objection, up to
`teacher.inspector_rounds` inspections (3 in the paper). Items that still fail keep a reason.

Requests go out in waves (every item's round 1, then the re-asks, ...), so the same loop drives
the online client and the Batch API.

    python -c "from supercorrect.teacher.checks import check_template as c; print(c('<x/>', '1'))"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from supercorrect.formats.templates import (TemplateError, leading_steps, parse_correction, parse_step,
                                            parse_template)
from supercorrect.grading.equivalence import is_equivalent


def check_template(text: str, gold: str) -> tuple[str | None, str | None]:
    """(parsed answer, reason it fails or None) for one teacher template."""
    try:
        template = parse_template(text)
    except TemplateError as exc:
        return None, f"malformed: {exc}"
    if not is_equivalent(template.answer, gold):
        return template.answer, f"answer {template.answer!r} != gold {gold!r}"
    return template.answer, None


def check_annotation(text: str, problem: dict) -> str | None:
    return check_template(text, problem["answer"])[1]


def check_localization(text: str | None, problem: dict, student_solution: str) -> str | None:
    """Why a teacher correction of `student_solution` cannot be used, or None."""
    if text is None:
        return "no wrong step"
    try:
        c = parse_correction(text)
    except TemplateError as exc:
        return f"malformed: {exc}"
    steps = leading_steps(student_solution)
    if c.k < 1 or c.k > len(steps) + 1:
        return f"error step {c.k} beyond the student's {len(steps)} steps"
    try:
        for raw in steps[: c.k - 1]:
            parse_step(raw)
    except TemplateError as exc:
        return f"student steps before {c.k} malformed: {exc}"
    if c.answer is None:
        return "malformed: missing <Answer> after the correction"
    if not is_equivalent(c.answer, problem["answer"]):
        return f"answer {c.answer!r} != gold {problem['answer']!r}"
    return None


_KINDS = [("answer ", "answer mismatch"), ("malformed", "malformed"), ("error step", "error step beyond the solution"),
          ("student steps", "student steps malformed"), ("request failed", "request failed"),
          ("inspector", "inspector rejected"), ("batch", "batch item failed"), ("refused", "refused"),
          ("prompt too long", "prompt too long")]


def reason_kind(reason: str) -> str:
    """A short, countable kind for a failure reason (for metrics: no values in the name)."""
    return next((kind for prefix, kind in _KINDS if reason.startswith(prefix)), reason.split(":")[0])


_VERDICT = re.compile(r"<Verdict>\s*(PASS|FAIL)\s*</Verdict>", re.I)


def parse_verdict(text: str | None) -> tuple[bool, str]:
    """(passed, issue) from an inspector reply; an unreadable reply does not pass."""
    match = _VERDICT.search(text or "")
    if not match:
        return False, "the inspector's reply had no <Verdict>"
    if match.group(1).upper() == "PASS":
        return True, ""
    issue = re.search(r"<Issue>(.*?)</Issue>", text, re.S)
    return False, (issue.group(1).strip() if issue else "no issue given")[:300]


@dataclass
class Item:
    problem: dict
    check: Callable[[str], str | None]
    messages: list[dict]
    rounds: int = 0        # teacher asks used
    reasks: int = 0        # asks caused by failed validation
    inspections: int = 0
    raw: str | None = None
    text: str | None = None
    reason: str | None = None
    done: bool = False
    notes: list[str] = field(default_factory=list)

    def finish(self, text: str | None, reason: str | None) -> None:
        self.text, self.reason, self.done = text, reason, True

    def reask(self, prompts, reason: str) -> None:
        follow = prompts.reask.format(reason=reason, problem=self.problem["problem"], answer=self.problem["answer"])
        self.messages = self.messages + [{"role": "assistant", "content": self.raw or ""},
                                         {"role": "user", "content": follow}]


async def run_rounds(client, cfg, prompts, items: list[Item], stage: str) -> list[dict]:
    """Ask, validate, re-ask and inspect until every item is accepted or failed with a reason."""
    pending, wave = list(items), 1
    while pending:
        outs = await client.complete_all([(cfg.model, it.messages) for it in pending], f"{stage} teacher {wave}",
                                         [str(it.problem.get("id")) for it in pending])
        inspect = []
        retry = []
        for it, out in zip(pending, outs):
            it.rounds += 1
            if out.text is None:
                it.finish(None, out.error)
                continue
            it.raw = out.text
            reason = it.check(out.text)
            if reason is None:
                if cfg.inspector:
                    inspect.append(it)
                else:
                    it.finish(out.text, None)
            elif it.reasks + 1 < cfg.max_rounds:
                it.reasks += 1
                it.reask(prompts, reason)
                retry.append(it)
            else:
                it.finish(None, reason)
        if inspect:
            chats = [[{"role": "user", "content": prompts.inspect.format(
                problem=it.problem["problem"], answer=it.problem["answer"], output=it.raw)}] for it in inspect]
            verdicts = await client.complete_all([(cfg.inspector, c) for c in chats], f"{stage} inspector {wave}",
                                                 [str(it.problem.get("id")) for it in inspect])
            for it, verdict in zip(inspect, verdicts):
                if verdict.text is None:
                    it.finish(None, f"inspector: {verdict.error}")
                    continue
                passed, issue = parse_verdict(verdict.text)
                it.inspections += 1
                if passed:
                    it.finish(it.raw, None)
                elif it.inspections >= cfg.inspector_rounds:
                    it.finish(None, f"inspector rejected: {issue}")
                else:
                    it.notes.append(issue)
                    it.reask(prompts, f"an inspector found a problem: {issue}")
                    retry.append(it)
        pending, wave = retry, wave + 1
    client.stats.failed += sum(it.text is None for it in items)
    return [result(it.text, it.reason, it.rounds, it.raw, it.inspections) for it in items]


def result(text: str | None, reason: str | None, rounds: int, raw: str | None, inspections: int = 0) -> dict:
    """One item's outcome as both teacher backends return it."""
    return {"text": text, "reason": reason, "kind": reason_kind(reason) if reason else None, "rounds": rounds,
            "raw": raw, "inspections": inspections}
