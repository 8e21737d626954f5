"""Step-DPO pairs (Lai et al. 2024), the ablation `mine.pairs: step_dpo` (docs/ablations.md).

In the solve chat, the student continues its own correct steps 1..k-1 of a located error
(`step_dpo_request`), `mine.continuations` times; the first continuation that reaches the right
answer gives the chosen step k, the rollout's own wrong step k the rejected one, each cut to
that single step, after the same steps 1..k-1 (`build_pair` with `context="solve"`). A solution
that stopped after step k-1 gives its premature `<Answer>` as its wrong step.

    python -c "from supercorrect.pairs.step_dpo import step_dpo_request; help(step_dpo_request)"
"""

from __future__ import annotations

from collections import Counter

from supercorrect.formats.prompts import Prompts, solve_messages
from supercorrect.formats.templates import correct_prefix, step_k, wrong_step
from supercorrect.grading.judge import grade
from supercorrect.pairs.admission import Located, PairSpec
from supercorrect.pairs.cross_model import build_pair


def step_dpo_request(prompts: Prompts, problem: str, response: str, k: int) -> list[dict]:
    """Step-DPO's context: the solve chat, the assistant turn opened with the correct steps 1..k-1."""
    chat, opened = solve_messages(prompts, problem), correct_prefix(response, k)
    return chat + [{"role": "assistant", "content": opened}] if opened else chat


def step_dpo_pairs(errors: list[Located], sampled: list[list[str]], requests: list[list[dict]],
                   spec: PairSpec) -> tuple[list[dict], list[dict], Counter]:
    """The admitted Step-DPO pairs from the continuations `sampled` for each error (each
    continuing its `requests` chat); also, per error, how many continuations were right and the
    chosen step (corrections.jsonl's notes), and the continuation counts."""
    pairs, notes, counts = [], [], Counter()
    for error, texts, request in zip(errors, sampled, requests, strict=True):
        problem, k = error.problem, error.k
        rejected = wrong_step(error.rollout["response"], k)
        right = [t for t in texts if grade(t, problem["answer"])]
        counts["continuations"] += len(texts)
        counts["right continuations"] += len(right)
        chosen = next((s for s in (step_k(t, k) for t in right) if s and s != rejected), None)
        notes.append({"right_continuations": len(right), "chosen_step": chosen})
        pair = build_pair(spec.prompts, problem, error.rollout, k, chosen or "", rejected or "", spec.lineage, "solve")
        if rejected is None:
            spec.admission.drop("rollout has no step k")
        elif not right:
            spec.admission.drop("no correct continuation")
        elif chosen is None:
            spec.admission.drop("right continuations repeat step k or open without it")
        elif spec.admission.admit(pair, request, "chosen"):
            pairs.append(pair)
    return pairs, notes, counts
