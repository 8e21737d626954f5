"""What every pair builder shares: its inputs, its labels, and the admission a pair passes to count.

* `Located`: one located error: the teacher's correction record, its problem and the rollout.
* `PairSpec`: the prompts, the DPO context, the lineage each pair carries, and the `Admission`.
* `Admission`: the checks every pair passes, whichever builder made it, in order:
  1. TRL's split of the pair falls after the whole prompt on both sides (`boundary_ok`);
  2. the side the student generated tokenizes, after the pair's prompt, into the ids it was
     generated after (`generation_matches`);
  3. it duplicates no admitted pair: the same prompt (every message) and the same two sides;
  4. its problem has fewer than `mine.max_pairs_per_problem` admitted pairs (one cap for all kinds).
  A pair that fails is counted under its reason in `drops`, as are the builders' own reasons.

    python -c "from supercorrect.pairs.admission import Admission; print(Admission(None, 2).drops)"
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from supercorrect.formats.prompts import Prompts


class Located(NamedTuple):
    """A wrong rollout whose first wrong step the teacher located."""
    correction: dict  # a corrections.jsonl record: rollout_id, problem_id, k, teacher_text, ...
    problem: dict
    rollout: dict

    @property
    def k(self) -> int:
        return self.correction["k"]


class Admission:
    """The shared state of the checks above: pairs seen, pairs per problem, drops by reason."""

    def __init__(self, tokenizer, max_per_problem: int):
        self.tokenizer, self.max_per_problem = tokenizer, max_per_problem
        self.seen: set[tuple] = set()
        self.per_problem: Counter = Counter()
        self.drops: Counter = Counter()

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def admit(self, pair: dict, request: list[dict], side: str, label: str = "") -> bool:
        """Count `pair` (built from the chat `request`, in which the student wrote `side`) if it
        passes every check; else count the reason, prefixed by `label`, and return False."""
        key = (tuple(m["content"] for m in pair["prompt"]), pair["chosen"][0]["content"], pair["rejected"][0]["content"])
        if not boundary_ok(self.tokenizer, pair):
            reason = "prompt is not a token prefix of chosen and rejected"
        elif not generation_matches(self.tokenizer, request, pair, side):
            reason = "re-tokenized student side differs from what it generated"
        elif key in self.seen:
            reason = "duplicate pair"
        elif self.per_problem[pair["problem_id"]] >= self.max_per_problem:
            reason = "over max_pairs_per_problem"
        else:
            self.seen.add(key)
            self.per_problem[pair["problem_id"]] += 1
            return True
        self.drop(label + reason)
        return False


@dataclass
class PairSpec:
    """How pairs are built and labelled: the prompts, the DPO context (`correction` or `solve`),
    the lineage every pair records, and the admission they share."""
    prompts: Prompts
    context: str
    admission: Admission
    lineage: dict = field(default_factory=dict)


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
