"""Cross-model DPO pairs (paper Eq. 8): the context, both sides, and the token boundary.

For a wrong rollout whose first wrong step the teacher located at k:

* prompt: the correction-trace chat (`prompts.correct`: system prompt, then the problem and the
  student's whole solution), the context in which the student later checks its own work
  (`mine.context: correction`, the default); or the plain solve chat (`mine.context: solve`);
* chosen: the student's correct steps 1..k-1, verbatim, then the teacher's trace from step k,
  `<Stepk><Cause>a+</Cause><Correction>c+</Correction></Stepk>`, the redone steps, `<Answer>`;
* rejected: the same steps 1..k-1, then what the student itself wrote from step k on.

Both completions open with the same steps 1..k-1, so those tokens get the same log-probability
under the policy and under the reference on both sides and cancel in the DPO margin: the loss is
Eq. 8's, conditioned on x and s1..s(k-1). The pair is a plain conversational preference record
(a system + user prompt, one assistant message per side) that TRL's DPOTrainer tokenizes as is.

The rejected side is written *blind* by default (`mine.rejected: blind`): the student gets the
same correction prompt as the teacher, without the reference and without k; its turn is opened
with its own steps 1..k-1 (the conditioning of Eq. 8), and it goes on from there. It may flag
step k, call it correct by copying it, or flag a later step; whatever it wrote from step k on is
the rejected side. `told_k` is the ablation that tells it k and opens `<Stepk><Cause>` for it.

`step_dpo_request` and `step_k` serve the Step-DPO ablation (`mine.pairs: step_dpo`, Lai et al.
2024): in the solve chat, the student continues its own correct steps 1..k-1; a continuation that
reaches the right answer gives the chosen step k, the rollout's own wrong step k the rejected one,
each cut to that single step (`build_pair` with `context="solve"`).

`false_alarm_pair` is an extension beyond the paper (`mine.false_alarm_pairs`): a right solution
the student's blind check wrongly flags gives a pair that prefers keeping it as it is.

    python -c "from supercorrect.pairs.cross_model import correct_prefix; print(correct_prefix('<Step1>a</Step1>', 2))"
"""

from __future__ import annotations

import re

from supercorrect.formats.prompts import Prompts, correction_messages, solve_messages
from supercorrect.formats.templates import leading_steps
from supercorrect.pairs.errors import copy_trace

REJECTED_MODES = ("blind", "told_k")
CONTEXTS = ("correction", "solve")


def correct_prefix(response: str, k: int) -> str:
    """The student's steps 1..k-1, one per line, each followed by a newline ('' for k = 1)."""
    return "".join(step + "\n" for step in leading_steps(response)[: k - 1])


def student_request(prompts: Prompts, problem: str, response: str, k: int, mode: str = "blind") -> list[dict]:
    """The chat in which the student writes its own side: no reference, and k only for told_k.

    The assistant turn is opened with the correct steps 1..k-1 (and, for told_k, `<Stepk><Cause>`).
    """
    chat = correction_messages(prompts, problem, response, told_k=k if mode == "told_k" else None)
    opened = correct_prefix(response, k) + (f"<Step{k}><Cause>" if mode == "told_k" else "")
    return chat + [{"role": "assistant", "content": opened}] if opened else chat


def step_dpo_request(prompts: Prompts, problem: str, response: str, k: int) -> list[dict]:
    """Step-DPO's context: the solve chat, the assistant turn opened with the correct steps 1..k-1."""
    chat, opened = solve_messages(prompts, problem), correct_prefix(response, k)
    return chat + [{"role": "assistant", "content": opened}] if opened else chat


def step_k(text: str, k: int) -> str | None:
    """The `<Stepk>…</Stepk>` a text opens with (leading blanks aside), or None."""
    match = re.match(rf"\s*(<Step{k}>.*?</Step{k}>)", text, re.S)
    return match.group(1) if match else None


def student_side(request: list[dict], generated: str, k: int, response: str) -> str:
    """What the student wrote from step k on: its opened text past the prefix, then its output."""
    opened = request[-1]["content"] if request[-1]["role"] == "assistant" else ""
    return (opened[len(correct_prefix(response, k)):] + generated).strip()


def verdict_at_step(text: str, k: int) -> str:
    """What the student's side says of step k: it flags k, flags a later step, or flags none."""
    flagged = flagged_step(text)
    if flagged == k:
        return "flagged step k"
    return "flagged a later step" if flagged is not None else "called step k correct"


def flagged_step(text: str) -> int | None:
    """The step a correction trace blames: the first `<StepN>` that opens with a `<Cause>`."""
    match = re.search(r"<Step(\d+)>\s*<Cause>", text)
    return int(match.group(1)) if match else None


def build_pair(prompts: Prompts, problem: dict, rollout: dict, k: int, chosen: str, rejected: str,
               lineage: dict, context: str = "correction") -> dict:
    """One Eq. 8 pair; `chosen` and `rejected` are the two traces from step k on."""
    prefix = correct_prefix(rollout["response"], k)
    if context == "correction":
        prompt = correction_messages(prompts, problem["problem"], rollout["response"])
    else:
        prompt = solve_messages(prompts, problem["problem"])
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": prefix + chosen}],
        "rejected": [{"role": "assistant", "content": prefix + rejected}],
        "id": f"{rollout['id']}-pair", "problem_id": problem["id"], "rollout_id": rollout["id"],
        "error_step": k, "context": context, **lineage,
    }


def false_alarm_pair(prompts: Prompts, problem: dict, rollout: dict, check: str, lineage: dict) -> dict:
    """A pair from a right solution whose blind check flagged a step (`mine.false_alarm_pairs`):
    chosen = the solution's steps kept as they are, rejected = the student's false flag. Both
    sides share whatever the student copied before its flag, which cancels as in Eq. 8."""
    return {
        "prompt": correction_messages(prompts, problem["problem"], rollout["response"]),
        "chosen": [{"role": "assistant", "content": copy_trace(rollout["response"])}],
        "rejected": [{"role": "assistant", "content": check.strip()}],
        "id": f"{rollout['id']}-false-alarm", "problem_id": problem["id"], "rollout_id": rollout["id"],
        "error_step": None, "context": "correction", **lineage,
    }


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def boundary_ok(tokenizer, pair: dict) -> bool:
    """True when TRL's split of the pair falls after the whole prompt on both sides.

    TRL renders the prompt with the generation prompt and prompt + completion as a finished
    chat, and starts the completion where their tokens part. If the template writes something
    else before assistant content than its generation prompt, or tokens merge across the
    boundary, the end of the prompt would be trained on as completion.
    """
    prompt = _ids(tokenizer, tokenizer.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True))
    return all(_ids(tokenizer, tokenizer.apply_chat_template(pair["prompt"] + pair[side], tokenize=False))[: len(prompt)]
               == prompt for side in ("chosen", "rejected"))


def generation_matches(tokenizer, request: list[dict], pair: dict, side: str = "rejected") -> bool:
    """True when the point where the student's generation began is, token for token, where DPO
    scores its side (`side`: the one the student wrote): the pair's prompt with the student's
    opened turn (if any), rendered for generation, is a token prefix of the pair's prompt + side.
    With a byte-level BPE that has no tag tokens, re-tokenizing the opened turn plus the output
    can merge tokens across that point (told_k opens `<Stepk><Cause>`, and `>` merges with the
    word after it), and DPO would then score a context the student never generated in. The
    opened turn is set in the pair's own prompt, so the check is the same in every mode and
    context (told_k's hint and the solve context change the prompt by design, not the tokens at
    this point)."""
    from supercorrect.student.load import render

    opened = pair["prompt"] + (request[-1:] if request[-1]["role"] == "assistant" else [])
    context = _ids(tokenizer, render(tokenizer, opened))
    full = _ids(tokenizer, tokenizer.apply_chat_template(pair["prompt"] + pair[side], tokenize=False))
    return full[: len(context)] == context
