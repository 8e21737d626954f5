"""Exactly-once response cache and cost ledger for the openai teacher.

`ResponseCache` keeps one JSON file per request, keyed on what shapes the answer (model,
messages, sampling params, prompt version; never the API key or the endpoint). A response is
written durably (temporary file, fsync, rename, fsync of the directory) as soon as it arrives,
so a SIGKILL never loses a paid answer and a rerun never sends that request again.

`Ledger` turns `usage` into dollars with the price table in `teacher.prices` and enforces
`teacher.budget_usd`: before a request goes out, its worst-case cost is reserved; a request
whose reservation would pass the budget is not sent.

    python -c "from supercorrect.teacher.cache import request_key as k; print(k({'model': 'm'}))"
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def describe_request(cfg, prompt_version: str, model: str, messages: list[dict]) -> dict:
    """The cache identity of a request: everything that shapes the answer, no secret."""
    return {"model": model, "messages": messages, "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens, "prompt_version": prompt_version}


def request_key(request: dict) -> str:
    """Stable hash of a request description (canonical JSON)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def durable_write(path: Path, text: str) -> None:
    """Write `text` so that after return it survives a crash or SIGKILL, all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # One writer per path per process (requests are deduplicated), so pid names the temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    # The rename itself is only durable once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ResponseCache:
    """One file per request key under `directory`; entries hold request, text, usage and cost."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)

    def _path(self, key: str) -> Path:
        return self.dir / "responses" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # cannot happen with durable_write; treat a damaged file as absent

    def put(self, key: str, entry: dict) -> None:
        durable_write(self._path(key), json.dumps(entry, ensure_ascii=False))


@dataclass
class TeacherStats:
    """What a stage's teacher calls cost; goes into metrics/<stage>.json as the `teacher` block."""

    requests: int = 0           # HTTP requests sent (every attempt, retries included)
    cache_hits: int = 0
    cache_misses: int = 0
    retries: int = 0
    rate_limited: int = 0       # 429 answers
    timeouts: int = 0
    server_errors: int = 0      # 5xx and connection errors
    malformed: int = 0          # 200s whose body is not a text answer (re-asked, never cached)
    refused: int = 0            # items the server refused with a 4xx (failed with its reason)
    too_long: int = 0           # items over teacher.max_prompt_tokens (failed, never sent)
    prompt_tokens: int = 0      # of every response the stage used (cached ones included)
    completion_tokens: int = 0
    cost_usd: float = 0.0       # the stage's whole teacher cost, cached responses at their price
    cost_usd_new: float = 0.0   # paid in this run
    failed: int = 0             # items recorded as failed (with a reason)
    budget_exhausted: bool = False

    def as_dict(self) -> dict:
        out = asdict(self)
        out["cost_usd"], out["cost_usd_new"] = round(self.cost_usd, 6), round(self.cost_usd_new, 6)
        return out


class BudgetError(RuntimeError):
    """teacher.budget_usd is set but cannot be enforced (e.g. no price for the model)."""


class Ledger:
    """Price table, spend so far and budget reservations (single event loop: no locking)."""

    def __init__(self, prices: dict, budget_usd: float | None, stats: TeacherStats, factor: float = 1.0):
        self.prices, self.budget, self.stats, self.factor = prices, budget_usd, stats, factor
        self.reserved = 0.0

    def check_models(self, *models: str | None) -> None:
        missing = [m for m in models if m and m not in self.prices]
        if self.budget is not None and missing:
            raise BudgetError(f"teacher.budget_usd is set but teacher.prices has no entry for model "
                              f"{missing[0]!r}; add one (USD per 1M input/output tokens)")

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.prices.get(model)
        if price is None:
            return 0.0
        return self.factor * (prompt_tokens * price.input + completion_tokens * price.output) / 1e6

    def worst_case(self, model: str, messages: list[dict], max_tokens: int) -> float:
        # A token is at least one byte, so the UTF-8 size bounds the prompt's token count.
        prompt = sum(len(m["content"].encode()) + 8 for m in messages)
        return self.cost(model, prompt, max_tokens)

    def reserve(self, amount: float) -> bool:
        """Hold `amount` for a request about to be sent; False (and nothing held) if over budget."""
        if self.budget is not None and self.stats.cost_usd + self.reserved + amount > self.budget:
            self.stats.budget_exhausted = True
            return False
        self.reserved += amount
        return True

    def release(self, amount: float) -> None:
        self.reserved = max(0.0, self.reserved - amount)

    def record(self, entry: dict, *, cached: bool) -> None:
        """Account one response the stage uses (a cache hit counts at the price paid then)."""
        usage = entry.get("usage") or {}
        self.stats.prompt_tokens += usage.get("prompt_tokens", 0)
        self.stats.completion_tokens += usage.get("completion_tokens", 0)
        self.stats.cost_usd += entry.get("cost_usd", 0.0)
        if not cached:
            self.stats.cost_usd_new += entry.get("cost_usd", 0.0)
