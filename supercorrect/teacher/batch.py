"""`teacher.mode: batch`: send uncached teacher requests through the OpenAI Batch API.

Submit: the requests become a JSONL file (custom_id = cache key) uploaded to `/v1/files`, then
a batch on `/v1/batches`. Its id is written durably to `<teacher.cache_dir>/batches/<id>.json`
before anything else happens, so a crashed run resumes by batch id: on restart every recorded
batch that still holds wanted requests is polled and collected instead of paying again.
Poll: every `teacher.batch_poll_s` seconds. Collect: each output line goes into the response
cache at the batch price (`teacher.batch_discount`); error lines become per-item failures.

    supercorrect annotate --set teacher.backend=openai --set teacher.mode=batch
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from supercorrect.teacher.cache import durable_write
from supercorrect.teacher.wire import (MalformedAnswer, Outcome, TeacherError, answer_text, endpoint,
                                       estimate_tokens, redact)

if TYPE_CHECKING:  # the client calls this module; it is never imported back at run time
    from supercorrect.teacher.client import TeacherClient

DONE = {"completed", "failed", "expired", "cancelled"}


def _state_dir(client: TeacherClient) -> Path:
    return Path(client.cfg.cache_dir) / "batches"


def pending_batches(client: TeacherClient) -> list[dict]:
    """Recorded batches not yet collected (the resume list)."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(_state_dir(client).glob("*.json"))]


async def _submit(client: TeacherClient, todo: dict[str, dict]) -> dict:
    lines = [json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions",
                         "body": {"model": r["model"], "messages": r["messages"], "temperature": r["temperature"],
                                  "max_tokens": r["max_tokens"]}}) for key, r in todo.items()]
    data = ("\n".join(lines) + "\n").encode()
    o = client.openai
    try:
        upload = await client.sdk.files.create(file=("teacher-batch.jsonl", data), purpose="batch")
        client.stats.requests += 1
        batch = await client.sdk.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                completion_window="24h")
        client.stats.requests += 1
    except o.APIStatusError as exc:
        raise TeacherError(f"batch submit refused with HTTP {exc.status_code}: {redact(str(exc))}") from None
    except o.APIConnectionError as exc:
        raise TeacherError(f"teacher endpoint {endpoint(client.sdk)} is not answering: batch submit failed "
                           f"({type(exc).__name__}); check OPENAI_BASE_URL and that the server is up") from None
    # The full request descriptions go with the id: a resumed run caches every paid answer.
    state = {"batch_id": batch.id, "input_file_id": upload.id, "requests": todo}
    durable_write(_state_dir(client) / f"{batch.id}.json", json.dumps(state))
    return state


async def _collect(client: TeacherClient, state: dict, todo: dict[str, dict], bar) -> dict[str, Outcome]:
    """Poll one batch to its end, cache its answers; outcomes for the keys in `todo`."""
    o = client.openai
    while True:
        client.stats.requests += 1
        try:
            batch = await client.sdk.batches.retrieve(state["batch_id"])
        except (o.APIConnectionError, o.RateLimitError, o.InternalServerError):
            client.stats.server_errors += 1  # transient: the batch runs on; ask again later
            await asyncio.sleep(client.cfg.batch_poll_s)
            continue
        except o.APIStatusError as exc:
            raise TeacherError(f"batch {state['batch_id']} poll refused with HTTP {exc.status_code}: "
                               f"{redact(str(exc))}") from None
        if batch.status in DONE:
            break
        await asyncio.sleep(client.cfg.batch_poll_s)
    out: dict[str, Outcome] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await client.sdk.files.content(file_id)
        client.stats.requests += 1
        for line in content.text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            key = row["custom_id"]
            response = row.get("response") or {}
            body = response.get("body") or {}
            text = None
            if response.get("status_code") == 200 and body.get("choices"):
                try:
                    text = answer_text(body)
                except MalformedAnswer as exc:  # never cached: a rerun asks again
                    client.stats.malformed += 1
                    out[key] = Outcome(None, f"batch item failed: malformed answer: {exc}")
            if text is not None:
                usage = {k: (body.get("usage") or {}).get(k, 0) for k in ("prompt_tokens", "completion_tokens")}
                request = state["requests"].get(key)
                if request is None:  # not a line we sent: ignore it
                    continue
                entry = await asyncio.to_thread(client.store, key, request, text, usage)
                client.ledger.record(entry, cached=False)
                out[key] = Outcome(text)
            elif key not in out:
                error = (row.get("error") or body.get("error") or {}).get("message", "no response")
                out[key] = Outcome(None, f"batch item failed: {redact(str(error))[:120]}")
            if key in todo:
                bar.update(1)
                bar.set_postfix_str(f"${client.stats.cost_usd_new:.4f} spent", refresh=False)
    if batch.status != "completed":
        for key in state["requests"]:
            out.setdefault(key, Outcome(None, f"batch {batch.status}"))
    # Collected: the answers are in the cache, so the batch no longer needs resuming.
    (_state_dir(client) / f"{state['batch_id']}.json").unlink(missing_ok=True)
    return {k: v for k, v in out.items() if k in todo}


async def complete_batch(client: TeacherClient, todo: dict[str, dict], bar) -> dict[str, Outcome]:
    """Answers for the uncached requests `todo` (key -> request description)."""
    todo = dict(todo)
    out: dict[str, Outcome] = {}
    # Resume: batches submitted by a run that died before collecting them.
    for state in pending_batches(client):
        if set(state["requests"]) & set(todo):
            wanted = {k: todo[k] for k in state["requests"] if k in todo}
            got = await _collect(client, state, wanted, bar)
            out |= got
            for key in got:
                todo.pop(key, None)
    if not todo:
        return out
    # Budget: submit only the requests whose worst case still fits; the rest wait for a rerun.
    fits = {}
    cap = client.cfg.max_prompt_tokens
    for key, request in todo.items():
        if cap is not None and (tokens := estimate_tokens(request["messages"])) > cap:
            client.stats.too_long += 1
            out[key] = Outcome(None, f"prompt too long: about {tokens} tokens > teacher.max_prompt_tokens={cap}; "
                                     "not sent", "unsent")
            bar.update(1)
            continue
        worst = client.ledger.worst_case(request["model"], request["messages"], request["max_tokens"])
        if not client.stats.budget_exhausted and client.ledger.reserve(worst):
            fits[key] = request
        else:
            out[key] = Outcome(None, "budget exhausted")
            bar.update(1)
    if fits:
        state = await _submit(client, fits)
        try:
            out |= await _collect(client, state, fits, bar)
        finally:
            client.ledger.reserved = 0.0
    return out
