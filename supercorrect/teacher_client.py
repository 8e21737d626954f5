"""Async client for an OpenAI-compatible teacher: concurrency, rate limits, retries, cache, budget.

`TeacherClient.complete_all(requests)` answers a list of chat requests, in order:
* answered ones come from the exactly-once cache (supercorrect.teacher_cache), never resent;
* the first uncached request of a run goes out alone, so a wrong key, model or endpoint costs
  one request and one clear error (400/401/403/404 are never retried);
* then up to `teacher.max_concurrency` requests are in flight, paced by client-side RPM/TPM
  token buckets (`teacher.rpm`, `teacher.tpm`), each with `teacher.timeout_s`;
* 429, 5xx, timeouts and connection errors are retried up to `teacher.max_retries` times with
  exponential backoff and full jitter; a `Retry-After` answer pauses every sender that long;
* each request's worst-case cost is reserved against `teacher.budget_usd` before it is sent;
* `teacher.mode: batch` sends the uncached requests through the Batch API instead
  (supercorrect.teacher_batch).

The SDK's own retries are off (max_retries=0) so this module alone decides. Keys and endpoints
come from OPENAI_API_KEY / OPENAI_BASE_URL only and are never written anywhere.

    python -m bench.teacher      # throughput and rate-limit figures against tests/openai_server.py
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from supercorrect.teacher_cache import Ledger, ResponseCache, TeacherStats, describe_request, request_key


class TeacherError(RuntimeError):
    """A teacher failure that stops the stage; the message is one line and holds no secret."""


@dataclass
class Outcome:
    text: str | None
    error: str | None = None  # short reason when there is no text


def redact(message: str) -> str:
    """Drop the API key from a message (a server may echo it) and keep one line."""
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        message = message.replace(key, "***")
    return " ".join(message.split())[:300]


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

    async def close(self) -> None:
        for sdk in self._shards:
            await sdk.close()
        self._writer.shutdown(wait=True)

    def describe(self, model: str, messages: list[dict]) -> dict:
        """The cache identity of a request (supercorrect.teacher_cache.describe_request)."""
        return describe_request(self.cfg, self.prompt_version, model, messages)

    async def complete_all(self, requests: list[tuple[str, list[dict]]], desc: str) -> list[Outcome]:
        """Answer (model, messages) requests in order; failures come back as Outcome.error."""
        described = [self.describe(m, msgs) for m, msgs in requests]
        keys = [request_key(d) for d in described]
        done: dict[str, Outcome] = {}
        todo: dict[str, dict] = {}
        for key, request in zip(keys, described):
            if key in done or key in todo:
                continue  # the same request twice in one call is sent once
            entry = self.cache.get(key)
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
                    from supercorrect.teacher_batch import complete_batch
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
        # name costs exactly one request instead of one per item.
        for model in dict.fromkeys(r["model"] for _, r in items):
            if model not in self.proven:
                key, request = next((k, r) for k, r in items if r["model"] == model)
                items.remove((key, request))
                out[key] = await self._one(key, request, bar)
        tasks = [asyncio.ensure_future(self._one(k, r, bar)) for k, r in items]
        try:
            for key, task in zip([k for k, _ in items], tasks):
                out[key] = await task
        finally:
            for task in tasks:  # a fatal error stops everything still queued or in flight
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return out

    async def _one(self, key: str, request: dict, bar) -> Outcome:
        worst = self.ledger.worst_case(request["model"], request["messages"], request["max_tokens"])
        reserved = False
        try:
            # The slot is held until the answer is on disk, so a crash at any moment loses at
            # most max_concurrency paid answers (in flight or not yet written), never a backlog.
            async with self._slots:
                if self.stats.budget_exhausted or not self.ledger.reserve(worst):
                    bar.update(1)
                    return Outcome(None, "budget exhausted")
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
        """One request with retries -> (outcome, usage); raises TeacherError on a fatal answer."""
        o = self.openai
        estimate = sum(len(m["content"]) for m in request["messages"]) // 4 + request["max_tokens"]
        last = "no attempt"
        for attempt in range(self.cfg.max_retries + 1):
            if attempt:
                self.stats.retries += 1
            await self.limiter.acquire(estimate)
            self.stats.requests += 1
            wait = None
            try:
                self._turn = (self._turn + 1) % len(self._shards)
                # The SDK's own POST (auth, headers, error classes) without the per-call param
                # transform of `chat.completions.create` and the typed model of its answer, which
                # together cost over 1 ms of CPU a request: our bodies are plain JSON already.
                data = await self._shards[self._turn].post(
                    "/chat/completions", cast_to=object, options={"timeout": self.cfg.timeout_s},
                    body={k: request[k] for k in ("model", "messages", "temperature", "max_tokens")})
                text = data["choices"][0]["message"]["content"] or ""
                usage = {k: int((data.get("usage") or {}).get(k) or 0) for k in ("prompt_tokens", "completion_tokens")}
            except (o.BadRequestError, o.AuthenticationError, o.PermissionDeniedError, o.NotFoundError) as exc:
                raise TeacherError(
                    f"teacher request refused with HTTP {exc.status_code} ({type(exc).__name__}: "
                    f"{redact(str(exc))}); check OPENAI_API_KEY, OPENAI_BASE_URL and teacher.model="
                    f"{request['model']!r}; not retried") from None
            except o.RateLimitError as exc:
                self.stats.rate_limited += 1
                wait, last = retry_after(exc), "rate limited (429)"
                if wait is not None:
                    self.limiter.pause(wait)  # every sender backs off, not just this one
            except o.APITimeoutError:
                self.stats.timeouts += 1
                last = f"timed out after {self.cfg.timeout_s:g}s"
            except o.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 409):
                    raise TeacherError(f"teacher request refused with HTTP {exc.status_code}: "
                                       f"{redact(str(exc))}; not retried") from None
                self.stats.server_errors += 1
                wait, last = retry_after(exc), f"HTTP {exc.status_code}"
            except (o.APIConnectionError, o.APIResponseValidationError) as exc:
                self.stats.server_errors += 1
                last = f"{type(exc).__name__}: {redact(str(exc))[:80]}"
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                self.stats.server_errors += 1  # a 200 whose body is cut short or not a chat completion
                last = "malformed response body"
            else:
                self.limiter.refund(max(0, estimate - sum(usage.values())))
                return Outcome(text), usage
            if attempt < self.cfg.max_retries:
                backoff = random.uniform(0, min(self.cfg.backoff_max_s, self.cfg.backoff_s * 2 ** attempt))
                await asyncio.sleep(max(backoff, wait or 0.0))
        return Outcome(None, f"request failed: {last} after {self.cfg.max_retries} retries"), {}
