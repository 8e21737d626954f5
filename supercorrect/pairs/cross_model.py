"""Cross-model DPO pairs (paper Eq. 8): the context, both sides, and the pairs of a set of errors.

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

    python -c "from supercorrect.pairs.cross_model import student_side; help(student_side)"
"""

from __future__ import annotations

from collections import Counter

from supercorrect.formats.prompts import Prompts, correction_messages, solve_messages
from supercorrect.formats.templates import FLAG, correct_prefix, step_open, verdict_at_step
from supercorrect.grading.judge import grade
from supercorrect.pairs.admission import Located, PairSpec


def student_request(prompts: Prompts, problem: str, response: str, k: int, mode: str = "blind") -> list[dict]:
    """The chat in which the student writes its own side: no reference, and k only for told_k.

    The assistant turn is opened with the correct steps 1..k-1 (and, for told_k, `<Stepk><Cause>`).
    """
    chat = correction_messages(prompts, problem, response, told_k=k if mode == "told_k" else None)
    opened = correct_prefix(response, k) + (step_open(k) + FLAG if mode == "told_k" else "")
    return chat + [{"role": "assistant", "content": opened}] if opened else chat


def student_side(request: list[dict], generated: str, k: int, response: str) -> str:
    """What the student wrote from step k on: its opened text past the prefix, then its output."""
    opened = request[-1]["content"] if request[-1]["role"] == "assistant" else ""
    return (opened[len(correct_prefix(response, k)):] + generated).strip()


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
        "error_step": k, "context": context, **lineage, "source_student": rollout.get("model"),
    }


def cross_model_pairs(errors: list[Located], generated: list[str], requests: list[list[dict]],
                      spec: PairSpec) -> tuple[list[dict], list[dict], Counter]:
    """The admitted Eq. 8 pairs of `errors`, given what the student `generated` for each in the
    chat `requests[i]`; also, per error, the student's side and its verdict at step k (the notes
    corrections.jsonl records), and how often each verdict came."""
    pairs, notes, verdicts = [], [], Counter()
    for error, output, request in zip(errors, generated, requests, strict=True):
        c, problem = error.correction, error.problem
        rejected = student_side(request, output, error.k, error.rollout["response"])
        note = {"student_text": rejected, "student_verdict": verdict_at_step(rejected, error.k)}
        notes.append(note)
        verdicts[note["student_verdict"]] += 1
        pair = build_pair(spec.prompts, problem, error.rollout, error.k, c["teacher_text"], rejected, spec.lineage,
                          spec.context)
        if not rejected:
            spec.admission.drop("student's side is empty")
        elif grade(rejected, problem["answer"]):
            spec.admission.drop("student's own correction is right")
        elif rejected == c["teacher_text"].strip():
            spec.admission.drop("chosen and rejected are the same")
        elif spec.admission.admit(pair, request, "rejected"):
            pairs.append(pair)
    return pairs, notes, verdicts
