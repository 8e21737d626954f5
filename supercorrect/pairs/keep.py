"""Keep pairs (beyond the paper, `mine.keep_share`): the other side of the flag decision.

Every Eq. 8 pair prefers a flag, so DPO on them alone teaches "flag" and nothing teaches "keep
a right step": a student trained only on them learns to flag right solutions too. A keep pair
comes from a right rollout whose blind check (the correction prompt, no reference) flags a
step anyway: chosen = the solution kept as written (`copy_trace`: its steps and answer),
rejected = the student's false flag. Both sides share whatever the student copied before its
flag, which cancels in the DPO margin as in Eq. 8. Keep pairs pass the same admission as every
other pair (supercorrect.pairs.admission); `keep_pairs` admits at most `limit` of them, in the
order given.

    python -c "from supercorrect.pairs.keep import keep_pair; help(keep_pair)"
"""

from __future__ import annotations

from collections import Counter

from supercorrect.formats.prompts import Prompts, correction_messages
from supercorrect.formats.templates import copy_trace, flagged_step
from supercorrect.pairs.admission import PairSpec


def keep_pair(prompts: Prompts, problem: dict, rollout: dict, check: str, lineage: dict) -> dict:
    """A right solution whose blind check flagged a step: keep it as written, against the flag."""
    return {
        "prompt": correction_messages(prompts, problem["problem"], rollout["response"]),
        "chosen": [{"role": "assistant", "content": copy_trace(rollout["response"])}],
        "rejected": [{"role": "assistant", "content": check.strip()}],
        "id": f"{rollout['id']}-keep", "problem_id": problem["id"], "rollout_id": rollout["id"],
        "error_step": None, "context": "correction", **lineage, "source_student": rollout.get("model"),
    }


def keep_pairs(right: list[tuple[dict, dict]], checks: list[str], requests: list[list[dict]], spec: PairSpec,
               limit: int) -> tuple[list[dict], Counter]:
    """At most `limit` admitted keep pairs from the right `(problem, rollout)`s and the student's
    blind `checks` of them (each written in the chat `requests[i]`), in order; counts of what the
    checks did and why pairs were left out."""
    pairs, counts = [], Counter()
    for (problem, rollout), check, request in zip(right, checks, requests, strict=True):
        counts["checked"] += 1
        if flagged_step(check) is None:
            counts["kept as written"] += 1
            continue
        counts["flagged a right step"] += 1
        if len(pairs) >= limit:
            counts["over mine.keep_share"] += 1
            continue
        pair = keep_pair(spec.prompts, problem, rollout, check, spec.lineage)
        if spec.admission.admit(pair, request, "rejected", label="keep pair: "):
            pairs.append(pair)
    counts["pairs"] = len(pairs)
    return pairs, counts
