"""Tests for the openai teacher client: faults, retries, Retry-After, timeouts, fail-fast, RPM, budget.

Everything runs the real `openai` SDK (async) against tests/openai_server.py, a real HTTP server
on 127.0.0.1 that injects the faults; the server's request log is the ground truth for what
was sent.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from supercorrect import annotate
from supercorrect.io import read_jsonl
from supercorrect.teacher.wire import TeacherError
from tests.teacher_helpers import cached_server_keys, make_problems, serve, teacher_params  # noqa: F401 (serve: fixture)


def test_unknown_inspector_model_fails_fast_too(in_tmp, serve):
    problems = make_problems(30)
    server = serve(problems, models={"teacher-x"})
    with pytest.raises(TeacherError, match="HTTP 404.*inspector-y"):
        annotate.run(teacher_params(in_tmp, server, problems, inspector="inspector-y", max_concurrency=16,
                                    prices={"teacher-x": {"input": 1, "output": 1},
                                            "inspector-y": {"input": 1, "output": 1}}))
    statuses = Counter(e["status"] for e in server.log)
    assert statuses == {200: 30, 404: 1}  # every teacher answer, then one inspector request


def test_500_items_with_20_percent_faults_are_all_accounted_for(in_tmp, serve):
    problems = make_problems(500)
    server = serve(problems, faults={"429": 0.04, "500": 0.04, "stall": 0.04, "malformed": 0.04, "badjson": 0.04},
                   retry_after_s=0.05, stall_s=2.0, seed=3)
    # The breaker is off: on a loaded machine 1 s timeouts can fail items in a row, and this test
    # counts every item's fate (tests/test_teacher_faults.py covers the breaker).
    p = teacher_params(in_tmp, server, problems, max_concurrency=32, timeout_s=1.0, max_retries=4, circuit_breaker=0)
    metrics = annotate.run(p)
    kept = read_jsonl(in_tmp / "out" / "hsft.jsonl")
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    # Every item is either annotated or recorded as failed with a reason, none twice.
    assert sorted(r["problem_id"] for r in kept + rejected) == sorted(q["id"] for q in problems)
    assert all(r["reason"] for r in rejected)
    assert metrics["verified"] + metrics["rejected"] == 500 and metrics["verified"] >= 480
    faults = Counter(e["fault"] for e in server.log if e["fault"])
    assert all(faults[f] > 5 for f in ("429", "500", "stall", "malformed", "badjson"))
    assert sum(faults.values()) / len(server.log) == pytest.approx(0.20, abs=0.04)
    t = metrics["teacher"]
    assert t["rate_limited"] == faults["429"] and t["timeouts"] >= faults["stall"] > 0
    assert t["failed"] == metrics["rejected"]
    # Malformed answers were re-asked and fixed: more rounds than items, still verified.
    assert sum(r["teacher_rounds"] for r in kept) > len(kept)
    answered = server.answered_keys()
    # No request was answered twice, except one whose answer came after our timeout (on a busy
    # machine an ordinary answer can be that late too); there were none or next to none.
    repeats = len(answered) - len(set(answered))
    assert repeats <= t["timeouts"] - faults["stall"] and repeats <= 3
    # A rerun is served entirely from the cache: not one request reaches the server.
    server.settle()  # a stalled request the client gave up on is logged when its 2 s stall ends
    before = len(server.log)
    again = annotate.run(p)
    assert len(server.log) == before and again["teacher"]["requests"] == 0
    assert again["verified"] == metrics["verified"]


@pytest.mark.parametrize("case, match, sent", [
    ("key", "HTTP 401", 1), ("model", "HTTP 404", 1),
    # A 400 may be about the item (its length, a content filter): three refused canaries in a row
    # are needed to call it a setting.
    ("request", "refused the first 3 requests, the last for item .*HTTP 400: temperature must be at most 2", 3),
])
def test_fatal_answers_fail_fast_after_one_request(in_tmp, serve, monkeypatch, case, match, sent):
    problems = make_problems(40)
    server = serve(problems, models={"teacher-x"})
    options = {"max_concurrency": 16}
    if case == "key":
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123")
    elif case == "model":
        options["model"] = "no-such-model"
    else:
        options["temperature"] = 3.0
    with pytest.raises(TeacherError, match=match) as err:
        annotate.run(teacher_params(in_tmp, server, problems, **options))
    assert len(server.log) == sent  # not one request per item, and no retries
    assert "\n" not in str(err.value) and "not retried" in str(err.value)
    assert "sk-wrong-key-123" not in str(err.value)


def test_retry_after_is_honoured(in_tmp, serve):
    problems = make_problems(1)
    server = serve(problems, faults=lambda body, n: "429" if n == 1 else None, retry_after_s=1.2)
    t0 = time.monotonic()
    metrics = annotate.run(teacher_params(in_tmp, server, problems, backoff_s=0.01))
    assert metrics["verified"] == 1 and metrics["teacher"]["rate_limited"] == 1
    first, second = [e["t"] for e in server.log]
    # Our own backoff would be ~10 ms; the server asked for 1.2 s.
    assert second - first >= 1.15 and time.monotonic() - t0 < 5


def test_stalled_request_times_out_and_is_retried(in_tmp, serve):
    problems = make_problems(1)
    server = serve(problems, faults=lambda body, n: "stall" if n == 1 else None, stall_s=4)
    t0 = time.monotonic()
    metrics = annotate.run(teacher_params(in_tmp, server, problems, timeout_s=0.5))
    assert time.monotonic() - t0 < 3  # did not wait out the 4 s stall
    assert metrics["verified"] == 1 and metrics["teacher"]["timeouts"] == 1
    assert metrics["teacher"]["requests"] == 2


def test_truncated_body_is_retried(in_tmp, serve):
    problems = make_problems(2)
    server = serve(problems, faults=lambda body, n: "badjson" if n == 1 else None)
    metrics = annotate.run(teacher_params(in_tmp, server, problems))
    assert metrics["verified"] == 2 and metrics["teacher"]["malformed"] == 1
    assert metrics["teacher"]["requests"] == 3


def test_server_errors_exhaust_retries_into_a_reason(in_tmp, serve):
    problems = make_problems(3)
    # The first request is answered, then 500s: each later item fails with the reason, and two
    # in a row are below the circuit breaker's count.
    server = serve(problems, faults=lambda body, n: "500" if n > 1 else None)
    metrics = annotate.run(teacher_params(in_tmp, server, problems, max_retries=2))
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert metrics["rejected"] == 2 and len(server.log) == 1 + 2 * 3
    assert {r["reason"] for r in rejected} == {"request failed: HTTP 500 after 2 retries"}
    assert metrics["teacher"]["failed"] == 2 and metrics["teacher"]["server_errors"] == 6


def test_client_rpm_limit_keeps_under_the_server_cap(in_tmp, serve):
    problems = make_problems(40)
    server = serve(problems, rpm=1200)  # 20 requests/s, one second of burst
    t0 = time.monotonic()
    metrics = annotate.run(teacher_params(in_tmp, server, problems, rpm=1200, max_concurrency=16))
    elapsed = time.monotonic() - t0
    assert metrics["verified"] == 40
    assert all(e["status"] == 200 for e in server.log)  # never ran into a 429
    assert elapsed >= 1.3  # 40 requests at 20/s with half a second of burst


def test_budget_stops_before_overspending_and_resumes(in_tmp, serve):
    problems = make_problems(40)
    server = serve(problems)
    budget = 0.02
    p = teacher_params(in_tmp, server, problems, max_tokens=200, budget_usd=budget, max_concurrency=8)
    with pytest.raises(TeacherError, match=r"teacher.budget_usd=0.02 reached: .*\$0\.0\d+ .*rerun") as err:
        annotate.run(p)
    assert "\n" not in str(err.value)
    entries = [json.loads(f.read_text()) for f in (in_tmp / "cache").glob("responses/*/*.json")]
    spent = sum(e["cost_usd"] for e in entries)
    assert 0 < spent <= budget and 0 < len(entries) < 40
    assert not (in_tmp / "out" / "hsft.jsonl").exists()  # no partial dataset
    first = set(server.answered_keys())
    assert first == cached_server_keys(in_tmp / "cache")  # every paid answer is in the cache
    # Raise the budget and rerun: it resumes, nothing already paid for is sent again.
    metrics = annotate.run(teacher_params(in_tmp, server, problems, max_tokens=200, budget_usd=1.0))
    assert metrics["verified"] == 40
    assert metrics["teacher"]["cache_hits"] == len(entries)
    answered = server.answered_keys()
    assert len(answered) == len(set(answered)) == 40
    assert metrics["teacher"]["cost_usd"] == pytest.approx(sum(
        json.loads(f.read_text())["cost_usd"] for f in (in_tmp / "cache").glob("responses/*/*.json")))


def test_budget_needs_a_price_for_the_model(in_tmp, serve):
    problems = make_problems(1)
    server = serve(problems)
    with pytest.raises(TeacherError, match="no entry for model 'unpriced'"):
        annotate.run(teacher_params(in_tmp, server, problems, model="unpriced", budget_usd=1.0))
    assert server.log == []


def test_cache_key_ignores_key_and_endpoint(in_tmp, serve, monkeypatch):
    problems = make_problems(2)
    first = serve(problems)
    p = teacher_params(in_tmp, first, problems)
    annotate.run(p)
    # Another endpoint with another key: the same requests are answered from the cache.
    second = serve(problems, api_key="sk-other-key")
    metrics = annotate.run(p)
    assert second.log == [] and metrics["teacher"]["cache_hits"] == 2
    cache_text = "".join(f.read_text() for f in (in_tmp / "cache").rglob("*.json"))
    assert "sk-test-key" not in cache_text and "sk-other-key" not in cache_text and "127.0.0.1" not in cache_text


def test_tpm_bucket_paces_tokens():
    import asyncio

    from supercorrect.teacher.client import RateLimiter

    async def go():
        limiter = RateLimiter(rpm=None, tpm=6000)  # 100 tokens/s, half a second of burst
        start = time.monotonic()
        for _ in range(4):
            await limiter.acquire(50)
        return time.monotonic() - start

    # The first 50 tokens are the burst; the next 150 take 1.5 s at 100 tokens/s.
    assert 1.4 <= asyncio.run(go()) < 2.5
