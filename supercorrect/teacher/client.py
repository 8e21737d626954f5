"""Async client for an OpenAI-compatible teacher: concurrency, rate limits, retries, cache, budget.

`TeacherClient.complete_all(requests)` answers a list of chat requests, in order:
* answered ones come from the exactly-once cache (supercorrect.teacher.cache), never resent;
* the first uncached request of a run goes out alone (the canary), so a wrong key, model or
  endpoint costs one request and one clear error: 401/403/404 stop the stage; an endpoint that
  exhausts the canary's retries on connection errors, timeouts or 5xx stops it too (the
  circuit breaker), naming the endpoint; a 400 fails that item and the next item becomes the
  canary, and only three refused canaries in a row are a configuration error;
* then up to `teacher.max_concurrency` requests are in flight, paced by client-side RPM/TPM
  token buckets (`teacher.rpm`, `teacher.tpm`), each with `teacher.timeout_s`;
* 429, 5xx, timeouts, connection errors and malformed answers are retried up to
  `teacher.max_retries` times with exponential backoff and full jitter; a 429 with `Retry-After`
  pauses every sender that long and costs no retry while the request's total such wait stays
  within `teacher.rate_limit_wait_s`;
* mid-run, `teacher.circuit_breaker` items in a row failing on the endpoint stop the stage
  with everything answered so far cached; any other 4xx fails just its item with the server's reason;
* an answer whose content is not text (a number, an object, null) is malformed: re-asked, never
  cached; content given as a list of text parts is joined;
* a prompt estimated above `teacher.max_prompt_tokens` fails its item without being sent;
* each request's worst-case cost is reserved against `teacher.budget_usd` before it is sent;
* `teacher.mode: batch` sends the uncached requests through the Batch API instead
  (supercorrect.teacher.batch).

The SDK's own retries are off (max_retries=0) so this module alone decides. docs/teacher.md has
the rules in full. Keys and endpoints
come from OPENAI_API_KEY / OPENAI_BASE_URL only and are never written anywhere.

    python -m bench.teacher      # throughput and rate-limit figures against tests/openai_server.py
"""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from supercorrect.teacher.cache import Ledger, ResponseCache, TeacherStats, describe_request, request_key
from supercorrect.teacher.wire import (MalformedAnswer, Outcome, TeacherError, answer_text, endpoint,
                                       estimate_tokens, redact)


# Canaries refused in a row before a refusal counts as a setting, not an item.
CANARY_REFUSALS = 3


class RateLimiter:
    """Token buckets for requests and tokens per minute, plus a shared Retry-After pause."""

    def __init__(self, rpm: int | None, tpm: int | None):
        now = time.monotonic()
        # [rate per second, capacity, level, last refill]; half a second of burst at most.
        self.buckets = [[r / 60, max(1.0, r / 120), max(1.0, r / 120), now] for r in (rpm, tpm) if r]
        self.kinds = [k for k, r in (("req", rpm), ("tok", tpm)) if r]
        self.pause_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)

    async def acquire(self, tokens: int) -> None:
        async with self._lock:  # FIFO: waiters are served in order
            while True:
                now = time.monotonic()
                wait = self.pause_until - now
                for kind, b in zip(self.kinds, self.buckets):
                    b[2] = min(b[1], b[2] + (now - b[3]) * b[0])
                    b[3] = now
                    need = 1.0 if kind == "req" else min(float(tokens), b[1])
                    wait = max(wait, (need - b[2]) / b[0])
                if wait <= 0:
                    for kind, b in zip(self.kinds, self.buckets):
                        b[2] -= 1.0 if kind == "req" else tokens  # tokens may go negative: paid back later
                    return
                await asyncio.sleep(wait)

    def refund(self, tokens: int) -> None:
        for kind, b in zip(self.kinds, self.buckets):
            if kind == "tok":
                b[2] = min(b[1], b[2] + tokens)


def retry_after(exc) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms or Retry-After), if any."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


class TeacherClient:
    """One stage's connection to the teacher endpoint (create inside the running event loop)."""

    def __init__(self, cfg, prompt_version: str, stats: TeacherStats | None = None):
        import openai  # lazy: the offline demo never needs it

        self.openai, self.cfg, self.prompt_version = openai, cfg, prompt_version
        self.stats = stats or TeacherStats()
        self.cache = ResponseCache(cfg.cache_dir)
        self.ledger = Ledger(cfg.prices, cfg.budget_usd, self.stats,
                             cfg.batch_discount if cfg.mode == "batch" else 1.0)
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm)
        self.sdk = openai.AsyncOpenAI(max_retries=0, timeout=cfg.timeout_s)
        # The HTTP pool scans all its connections for every request it places, so one pool with
        # 64 connections spends more CPU than the requests; shards of <= 4 connections do not.
        self._shards = [self.sdk] + [openai.AsyncOpenAI(max_retries=0, timeout=cfg.timeout_s)
                                     for _ in range((cfg.max_concurrency - 1) // 4)]
        self._turn = 0
        self._writer = ThreadPoolExecutor(16, thread_name_prefix="teacher-cache")  # fsyncs off the loop
        self.proven: set[str] = set()  # models that answered once: key, model and endpoint work
        self._slots = asyncio.Semaphore(cfg.max_concurrency)
        self._labels: dict[str, str] = {}
        self._failing = 0  # items in a row that failed on the endpoint (the circuit breaker's count)

    async def close(self) -> None:
        for sdk in self._shards:
            await sdk.close()
        self._writer.shutdown(wait=True)

    def describe(self, model: str, messages: list[dict]) -> dict:
        """The cache identity of a request (supercorrect.teacher.cache.describe_request)."""
        return describe_request(self.cfg, self.prompt_version, model, messages)

    async def complete_all(self, requests: list[tuple[str, list[dict]]], desc: str,
                            labels: list[str] | None = None) -> list[Outcome]:
        """Answer (model, messages) requests in order; failures come back as Outcome.error.

        `labels` (e.g. item ids) name the request in a stop message; they are not part of its identity."""
        described = [self.describe(m, msgs) for m, msgs in requests]
        keys = [request_key(d) for d in described]
        self._labels = dict(zip(keys, labels or []))
        done: dict[str, Outcome] = {}
        todo: dict[str, dict] = {}
        for key, request in zip(keys, described):
            if key in done or key in todo:
                continue  # the same request twice in one call is sent once
            entry = self.cache.get(key)
            if entry is not None and not isinstance(entry.get("text"), str):
                entry = None  # written by an older version from a malformed answer: ask again
            if entry is not None:
                self.stats.cache_hits += 1
                self.ledger.record(entry, cached=True)
                done[key] = Outcome(entry["text"])
            else:
                self.stats.cache_misses += 1
                todo[key] = request
        if todo:
            bar = tqdm(total=len(todo), desc=desc, unit="req", dynamic_ncols=True)
            try:
                if self.cfg.mode == "batch":
                    from supercorrect.teacher.batch import complete_batch
                    done |= await complete_batch(self, todo, bar)
                else:
                    done |= await self._online(todo, bar)
            finally:
                bar.close()
        return [done[k] for k in keys]

    def _progress(self, bar) -> None:
        bar.set_postfix_str(f"${self.stats.cost_usd_new:.4f} spent", refresh=False)
        bar.update(1)

    async def _online(self, todo: dict[str, dict], bar) -> dict[str, Outcome]:
        items = list(todo.items())
        out = {}
        # Canary: the first request for each model goes alone, so a bad key, endpoint or model
        # name costs exactly one request (or one item's retries) instead of one per item.
        for model in dict.fromkeys(r["model"] for _, r in items):
            refused = 0
            while model not in self.proven:
                head = next(((k, r) for k, r in items if r["model"] == model), None)
                if head is None:
                    break
                items.remove(head)
                outcome = out[head[0]] = await self._one(*head, bar)
                if outcome.kind == "endpoint":
                    raise TeacherError(
                        f"teacher endpoint {endpoint(self.sdk)} is not answering: the first request failed "
                        f"{outcome.tries} times (last: {outcome.last}); stopped before sending the other "
                        f"{len(items)} requests; check OPENAI_BASE_URL and that the server is up")
                if outcome.kind == "refused":
                    refused += 1
                    if refused >= CANARY_REFUSALS:
                        raise TeacherError(
                            f"teacher refused the first {refused} requests, the last for item "
                            f"{self._labels.get(head[0], '?')} ({outcome.error}); every item gets this, so it is a "
                            f"setting: check teacher.model={model!r}, temperature and max_tokens; not retried")
                elif outcome.kind != "unsent":
                    break  # answered, or failed in a way the next requests may not share
        tasks = [asyncio.ensure_future(self._keyed(k, r, bar)) for k, r in items]
        try:
            for task in asyncio.as_completed(tasks):
                key, outcome = await task  # the circuit breaker's TeacherError surfaces here at once
                out[key] = outcome
        finally:
            for task in tasks:  # a fatal error stops everything still queued or in flight
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return out

    async def _keyed(self, key: str, request: dict, bar) -> tuple[str, Outcome]:
        outcome = await self._one(key, request, bar)
        if outcome.kind == "endpoint":
            self._failing += 1
            if self.cfg.circuit_breaker and self._failing >= self.cfg.circuit_breaker:
                raise TeacherError(
                    f"teacher endpoint {endpoint(self.sdk)} stopped answering: {self._failing} items in a row "
                    f"failed {outcome.tries} times each (last: {outcome.last}); stopped with every answer so "
                    f"far cached in {self.cfg.cache_dir}: rerun to resume")
        elif outcome.kind != "unsent":
            self._failing = 0
        return key, outcome

    async def _one(self, key: str, request: dict, bar) -> Outcome:
        cap, tokens = self.cfg.max_prompt_tokens, estimate_tokens(request["messages"])
        if cap is not None and tokens > cap:
            self.stats.too_long += 1
            bar.update(1)
            return Outcome(None, f"prompt too long: about {tokens} tokens > teacher.max_prompt_tokens={cap}; "
                                 "not sent", "unsent")
        worst = self.ledger.worst_case(request["model"], request["messages"], request["max_tokens"])
        reserved = False
        try:
            # The slot is held until the answer is on disk, so a crash at any moment loses at
            # most max_concurrency paid answers (in flight or not yet written), never a backlog.
            async with self._slots:
                if self.stats.budget_exhausted or not self.ledger.reserve(worst):
                    bar.update(1)
                    return Outcome(None, "budget exhausted", "unsent")
                reserved = True
                outcome, usage = await self._send(request)
                if outcome.text is not None:
                    # Durable before it is used; the reservation holds until the cost is recorded.
                    entry = await asyncio.get_running_loop().run_in_executor(
                        self._writer, self.store, key, request, outcome.text, usage)
                    self.ledger.record(entry, cached=False)
                    self.proven.add(request["model"])
        finally:
            if reserved:
                self.ledger.release(worst)
        self._progress(bar)
        return outcome

    def store(self, key: str, request: dict, text: str, usage: dict) -> dict:
        """Price a fresh response and write it to the cache durably (call from a thread)."""
        cost = self.ledger.cost(request["model"], usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        entry = {"request": request, "text": text, "usage": usage, "cost_usd": cost, "mode": self.cfg.mode}
        self.cache.put(key, entry)
        return entry

    async def _send(self, request: dict) -> tuple[Outcome, dict]:
        """One request with retries -> (outcome, usage); raises TeacherError on a fatal answer.

        A 429 with Retry-After costs no retry while this request's total such wait stays within
        `teacher.rate_limit_wait_s`: the server said when to come back, and we did."""
        o = self.openai
        estimate = estimate_tokens(request["messages"]) + request["max_tokens"]
        last, kind = "no attempt", "other"
        attempt, waited, tries = 0, 0.0, 0
        while True:
            tries += 1
            await self.limiter.acquire(estimate)
            self.stats.requests += 1
            wait, free = None, False
            try:
                self._turn = (self._turn + 1) % len(self._shards)
                # The SDK's own POST (auth, headers, error classes) without the per-call param
                # transform of `chat.completions.create` and the typed model of its answer, which
                # together cost over 1 ms of CPU a request: our bodies are plain JSON already.
                data = await self._shards[self._turn].post(
                    "/chat/completions", cast_to=object, options={"timeout": self.cfg.timeout_s},
                    body={k: request[k] for k in ("model", "messages", "temperature", "max_tokens")})
                text = answer_text(data)
                usage = {k: int((data.get("usage") or {}).get(k) or 0) for k in ("prompt_tokens", "completion_tokens")}
            except (o.AuthenticationError, o.PermissionDeniedError, o.NotFoundError) as exc:
                raise TeacherError(
                    f"teacher request refused with HTTP {exc.status_code} ({type(exc).__name__}: "
                    f"{redact(str(exc))}); check OPENAI_API_KEY, OPENAI_BASE_URL and teacher.model="
                    f"{request['model']!r}; not retried") from None
            except o.RateLimitError as exc:
                self.stats.rate_limited += 1
                wait, last, kind = retry_after(exc), "rate limited (429)", "other"
                if wait is not None:
                    self.limiter.pause(wait)  # every sender backs off, not just this one
                    if waited + wait <= self.cfg.rate_limit_wait_s:
                        waited, free = waited + wait, True
            except o.APITimeoutError:
                self.stats.timeouts += 1
                last, kind = f"timed out after {self.cfg.timeout_s:g}s", "endpoint"
            except o.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 409):
                    # This item is refused (context length, content filter, ...): the others may not be.
                    self.stats.refused += 1
                    return Outcome(None, f"refused: HTTP {exc.status_code}: {server_reason(exc)}", "refused"), {}
                self.stats.server_errors += 1
                wait, last, kind = retry_after(exc), f"HTTP {exc.status_code}", "endpoint"
            except o.APIConnectionError as exc:
                self.stats.server_errors += 1
                last, kind = f"{type(exc).__name__}: {redact(str(exc))[:80]}", "endpoint"
            except (o.APIResponseValidationError, MalformedAnswer, ValueError, TypeError, AttributeError) as exc:
                # A 200 that is not a text answer: ask again, never cache it.
                self.stats.malformed += 1
                last, kind = f"malformed answer: {redact(str(exc))[:80]}", "other"
            else:
                self.limiter.refund(max(0, estimate - sum(usage.values())))
                return Outcome(text), usage
            if not free:
                if attempt >= self.cfg.max_retries:
                    break
                attempt += 1
                self.stats.retries += 1
            backoff = random.uniform(0, min(self.cfg.backoff_max_s, self.cfg.backoff_s * 2 ** max(0, attempt - 1)))
            await asyncio.sleep(max(backoff, wait or 0.0))
        return Outcome(None, f"request failed: {last} after {self.cfg.max_retries} retries", kind, last, tries), {}


def server_reason(exc) -> str:
    """The server's own message from an error answer, one line, no secret."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return redact(str(message if message else exc))[:200]
