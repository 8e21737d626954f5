"""Know the teacher's cost before paying: what a stage would send, how much of it is cached, and
what the rest would cost. `supercorrect annotate --dry-run` and `supercorrect mine --dry-run`
print it and send nothing.

`estimate(cfg, prompt_version, model, chats, expected_outputs)` takes the first-round chats a
stage would send and returns one summary (annotate's adds the correction-example requests that
`annotate.correction_share` makes, with their own part under `corrections`):
* requests, and how many are already in the response cache (keyed exactly as the client keys
  them, so a cached request is one the real run will not send) or new;
* input tokens, counted as about 4 characters a token (the rule of thumb for English text with
  GPT-class tokenizers; the exact count is the endpoint's);
* output tokens: the mean completion of this stage's cached responses when there are any, else
  the expected output's length (`expected_outputs`: the reference solution the teacher rewrites),
  and `max_tokens` per request as the upper bound;
* cost from `teacher.prices` (times `teacher.batch_discount` in batch mode) for the new requests,
  and a worst case where every new request uses `max_tokens` in all `teacher.max_rounds` asks.
Re-asks and the inspector (`teacher.inspector`) only happen for failed or accepted outputs, which
nobody knows before the run: they are in the worst case only.

`priced(cfg, chats, outputs)` prices what a stage did send, after the run: the offline `reference`
teacher reports no usage, so annotate and mine record this estimate (`teacher_estimate` in their
metrics) of what `teacher.model` at `teacher.prices` would have cost for the same requests.

    supercorrect annotate --dry-run --set teacher.backend=openai --set teacher.model=gpt-4o
"""

from __future__ import annotations

import math

from supercorrect.teacher.cache import Ledger, ResponseCache, TeacherStats, describe_request, request_key
from supercorrect.teacher.wire import CHARS_PER_TOKEN, estimate_tokens

# The template around the content: step and answer tags plus a <Generalized> sentence.
TEMPLATE_OVERHEAD_TOKENS = 40
# A correction trace's <Cause>...</Cause><Correction> sentence around the step it redoes.
CAUSE_TOKENS = 20


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def estimate(cfg, prompt_version: str, stage: str, chats: list[list[dict]], expected_outputs: list[str],
             overhead_tokens: int = TEMPLATE_OVERHEAD_TOKENS) -> dict:
    """The dry-run summary for a stage's first-round teacher requests (see the module docstring);
    an expected output costs its tokens plus `overhead_tokens` (what the answer adds to it)."""
    summary = {"dry_run": True, "stage": stage, "teacher_backend": cfg.backend, "teacher_model": cfg.model,
               "mode": cfg.mode, "requests": len(chats)}
    if cfg.backend != "openai":
        return summary | {"cached": 0, "new": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
                          "note": f"teacher.backend={cfg.backend} runs offline and costs nothing"}
    cache = ResponseCache(cfg.cache_dir)
    seen, cached, new = set(), [], []
    for messages, expected in zip(chats, expected_outputs):
        key = cache_key(cfg, prompt_version, messages)
        if key in seen:
            continue  # the client sends a repeated request once
        seen.add(key)
        entry = cache.get(key)
        if entry is not None:
            cached.append(entry)
        else:
            new.append((messages, expected))
    used = [e["usage"]["completion_tokens"] for e in cached if (e.get("usage") or {}).get("completion_tokens")]
    mean_cached = sum(used) / len(used) if used else None
    input_tokens = sum(estimate_tokens(m) for m, _ in new)
    output_tokens = sum(round(mean_cached) if mean_cached else tokens(x) + overhead_tokens for _, x in new)
    ledger = Ledger(cfg.prices, None, TeacherStats(), cfg.batch_discount if cfg.mode == "batch" else 1.0)
    # Worst case: every ask of every round uses the whole answer budget, and re-asks resend the chat.
    rounds = cfg.max_rounds + (cfg.inspector_rounds if cfg.inspector else 0)
    budget = len(new) * cfg.max_tokens
    worst = ledger.cost(cfg.model, rounds * (input_tokens + budget), rounds * budget)
    if cfg.inspector:
        worst += ledger.cost(cfg.inspector, cfg.inspector_rounds * (input_tokens + budget),
                             cfg.inspector_rounds * budget)
    summary |= {
        "unique_requests": len(seen), "cached": len(cached), "new": len(new),
        "input_tokens": input_tokens, "output_tokens": output_tokens, "output_tokens_max": budget,
        "output_estimate_from": "cached responses" if mean_cached else "reference solution length",
        "cost_usd": round(ledger.cost(cfg.model, input_tokens, output_tokens), 6),
        "cost_usd_worst_case": round(worst, 6),
        "cached_cost_usd": round(sum(e.get("cost_usd", 0.0) for e in cached), 6),
        "priced": cfg.model in cfg.prices,
    }
    if cfg.model not in cfg.prices:
        summary["note"] = f"teacher.prices has no entry for {cfg.model!r}: costs show as 0"
    return summary


def priced(cfg, chats: list[list[dict]], outputs: list[str | None]) -> dict:
    """Requests, tokens (about 4 characters a token) and cost at `teacher.prices` of chats sent."""
    prompt_tokens = sum(estimate_tokens(m) for m in chats)
    completion_tokens = sum(tokens(o) for o in outputs if o)
    ledger = Ledger(cfg.prices, None, TeacherStats())
    return {"estimated": True, "model": cfg.model, "requests": len(chats), "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "priced": cfg.model in cfg.prices,
            "cost_usd": round(ledger.cost(cfg.model, prompt_tokens, completion_tokens), 6)}


def cache_key(cfg, prompt_version: str, messages: list[dict]) -> str:
    """The response-cache key of a first-round request to `teacher.model`, as the client keys it."""
    return request_key(describe_request(cfg, prompt_version, cfg.model, messages))


def cached_text(cfg, prompt_version: str, messages: list[dict]) -> str | None:
    """The cached answer to a first-round request, keyed as the client keys it, or None."""
    if cfg.backend != "openai":
        return None
    entry = ResponseCache(cfg.cache_dir).get(cache_key(cfg, prompt_version, messages))
    return entry.get("text") if entry else None


def estimate_annotate(p, prompts, problems: list[dict], corrections: list[tuple[dict, str, int]] = ()) -> dict:
    """`annotate --dry-run`: one request per problem, the teacher rewriting its reference
    solution, plus one localization request per correction-trace example with an injected
    error (`corrections`: (problem, solution shown, wrong step k), picked by the stage as the
    run would pick them); `corrections` in the summary is that part on its own. A trace's
    expected output is the shown steps from k on and the answer, plus a cause sentence."""
    from supercorrect.teacher.backends import annotate_chat, localize_chat
    from supercorrect.formats.templates import leading_steps, render_answer

    templates = estimate(p.teacher, prompts.version, "annotate", [annotate_chat(prompts, q) for q in problems],
                         [q["solution"] for q in problems])
    part = estimate(p.teacher, prompts.version, "annotate", [localize_chat(prompts, q, s) for q, s, _ in corrections],
                    ["".join(leading_steps(s)[k - 1:]) + render_answer(q["answer"]) for q, s, k in corrections],
                    CAUSE_TOKENS)
    summed = {k: round(v + part[k], 6) if isinstance(v, float) else v + part[k] for k, v in templates.items()
              if k in part and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return templates | summed | {"templates": templates["requests"], "corrections": part}


def estimate_mine(p, prompts, items: list[tuple[dict, str]]) -> dict:
    """`mine --dry-run`: one localization request per selected wrong rollout (problem, response)."""
    from supercorrect.teacher.backends import localize_chat

    return estimate(p.teacher, prompts.version, "mine", [localize_chat(prompts, q, s) for q, s in items],
                    [q["solution"] for q, _ in items])
