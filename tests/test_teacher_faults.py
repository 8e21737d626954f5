"""Tests for the teacher client's failure rules: circuit breaker, per-item refusals, malformed
answers, rate-limit waits and the prompt size cap (docs/teacher.md).

Every case runs the real `openai` SDK against tests/openai_server.py (a real HTTP server on
127.0.0.1 that injects the fault), or against a port nobody listens on, through the CLI entry
point; each asserts the exit code, the exact one-line message, that no partial output is left
and, from the server's log, what was paid for.

    python -m pytest tests/test_teacher_faults.py -q
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time

import pytest

from supercorrect.cli import main
from supercorrect.formats.prompts import V2
from supercorrect.io import read_jsonl, write_jsonl
from tests.conftest import REPO
from tests.teacher_helpers import (annotate_cmd, cached_server_keys, good_teacher, make_problems, problems_file,  # noqa: F401
                                   serve)

SETTING = "check OPENAI_BASE_URL and that the server is up"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tmp, problems_path, *sets, capsys=None):
    """Run annotate through the CLI entry point -> (exit code, stderr lines)."""
    argv = annotate_cmd(tmp, problems_path, *sets)[3:]  # drop "python -m supercorrect"
    if capsys:
        capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err if capsys else ""
    return rc, [line for line in err.splitlines() if "error:" in line]


def problem_of(body: dict) -> str:
    return body["messages"][0]["content"]


# --- the circuit breaker ------------------------------------------------------------------------

def test_unreachable_endpoint_stops_after_the_first_items_retries(in_tmp, monkeypatch, capsys):
    _, path = problems_file(in_tmp, 40)
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    rc, err = run(in_tmp, path, "teacher.max_retries=3", capsys=capsys)
    assert rc == 2
    assert err == [f"supercorrect annotate: error: teacher endpoint {url} is not answering: the first request "
                   f"failed 4 times (last: APIConnectionError: Connection error.); stopped before sending the "
                   f"other 39 requests; {SETTING}"]
    assert not (in_tmp / "out").exists() and not (in_tmp / "metrics").exists()


def test_unreachable_endpoint_with_400_items_and_default_retries_takes_one_items_retries(in_tmp):
    """The done-when case: default retry settings (6 retries, backoff 1 s doubling, full jitter)."""
    write_jsonl(in_tmp / "problems.jsonl", make_problems(400))
    url = f"http://127.0.0.1:{free_port()}/v1"
    cmd = [sys.executable, "-m", "supercorrect", "annotate", "--params", str(REPO / "params.yaml")]
    for s in (f"annotate.input={in_tmp / 'problems.jsonl'}", f"annotate.out_dir={in_tmp / 'out'}",
              "teacher.backend=openai", f"teacher.cache_dir={in_tmp / 'cache'}"):
        cmd += ["--set", s]
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=in_tmp, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OPENAI_BASE_URL": url,
                               "OPENAI_API_KEY": "sk-test-key"})
    elapsed = time.monotonic() - t0
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"supercorrect annotate: error: teacher endpoint {url} is not answering: the first request failed 7 times "
        f"(last: APIConnectionError: Connection error.); stopped before sending the other 399 requests; {SETTING}")
    # One item's retries: the six backoffs are at most 1+2+4+8+16+32 s; all 400 items' would be ~400x that.
    assert elapsed < 63 + 15
    assert not (in_tmp / "out").exists()


@pytest.mark.parametrize("fault, last, extra", [
    ("500", "HTTP 500", []),
    ("stall", "timed out after 0.3s", ["teacher.timeout_s=0.3"]),
])
def test_endpoint_failing_every_request_stops_after_one_items_retries(fault, last, extra, in_tmp, serve, capsys):
    problems, path = problems_file(in_tmp, 20)
    server = serve(problems, faults=lambda body, n: fault, stall_s=2)
    rc, err = run(in_tmp, path, "teacher.max_retries=2", *extra, capsys=capsys)
    assert rc == 2
    assert err == [f"supercorrect annotate: error: teacher endpoint {server.base_url} is not answering: the first "
                   f"request failed 3 times (last: {last}); stopped before sending the other 19 requests; {SETTING}"]
    server.settle()  # a stalled request is logged when its stall ends
    assert len(server.log) == 3 and len({e["key"] for e in server.log}) == 1  # one item, three attempts
    assert not (in_tmp / "out").exists()


def test_endpoint_dying_mid_run_stops_and_keeps_every_paid_answer(in_tmp, serve, capsys):
    problems, path = problems_file(in_tmp, 40)
    server = serve(problems, faults=lambda body, n: "drop" if n > 10 else None)
    sets = ("teacher.max_retries=1", "teacher.max_concurrency=4", "teacher.circuit_breaker=3")
    rc, err = run(in_tmp, path, *sets, capsys=capsys)
    assert rc == 2
    assert err == [f"supercorrect annotate: error: teacher endpoint {server.base_url} stopped answering: 3 items in "
                   f"a row failed 2 times each (last: APIConnectionError: Connection error.); stopped with every "
                   f"answer so far cached in {in_tmp / 'cache'}: rerun to resume"]
    assert not (in_tmp / "out").exists()
    paid = set(server.answered_keys())
    assert len(paid) == 10 and cached_server_keys(in_tmp / "cache") == paid
    # Back up: the rerun resumes from the cache and pays for none of the 10 again.
    healthy = serve(problems)
    assert run(in_tmp, path, *sets)[0] == 0
    assert len(read_jsonl(in_tmp / "out" / "hsft.jsonl")) == 40
    assert not paid & set(healthy.answered_keys()) and len(healthy.answered_keys()) == 30


# --- refusals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("refused_index", [0, 5])  # the first request (the canary) or a later one
def test_a_refused_item_fails_alone_with_the_servers_reason(refused_index, in_tmp, serve):
    problems, path = problems_file(in_tmp, 20)
    bad = problems[refused_index]["problem"]
    server = serve(problems, faults=lambda body, n: "400" if bad in problem_of(body) else None)
    for _ in range(2):  # and a rerun does not stop on it either
        assert run(in_tmp, path)[0] == 0
        rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
        assert [(r["problem_id"], r["reason"]) for r in rejected] == [(problems[refused_index]["id"], (
            "refused: HTTP 400: This model's maximum context length is 128000 tokens; your messages are longer"))]
        assert len(read_jsonl(in_tmp / "out" / "hsft.jsonl")) == 19
    assert [e["status"] for e in server.log].count(400) == 2  # one refusal a run, never retried


def test_a_refusal_every_item_gets_is_a_setting(in_tmp, serve, capsys):
    problems, path = problems_file(in_tmp, 20)
    server = serve(problems, faults=lambda body, n: "400", refusal="Invalid value for 'max_tokens'")
    rc, err = run(in_tmp, path, capsys=capsys)
    assert rc == 2
    assert err == [f"supercorrect annotate: error: teacher refused the first 3 requests, the last for item "
                   f"{problems[2]['id']} (refused: HTTP 400: Invalid value for 'max_tokens'); every item gets this, "
                   f"so it is a setting: check teacher.model='teacher-x', temperature and max_tokens; not retried"]
    assert len(server.log) == 3 and not (in_tmp / "out").exists()


# --- answers that are not text ----------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["int", "null", "image", "badjson"])
def test_non_text_content_is_reasked_and_never_cached(fault, in_tmp, serve):
    problems, path = problems_file(in_tmp, 3)
    server = serve(problems, faults=lambda body, n: fault if n in (1, 3) else None)
    assert run(in_tmp, path)[0] == 0
    metrics = json.loads((in_tmp / "out" / "metrics.json").read_text())
    assert metrics["verified"] == 3 and metrics["teacher"]["malformed"] == 2 and metrics["teacher"]["requests"] == 5
    entries = [json.loads(f.read_text()) for f in (in_tmp / "cache").glob("responses/*/*.json")]
    assert len(entries) == 3 and all(isinstance(e["text"], str) and e["text"].startswith("<Step1>") for e in entries)


def test_text_parts_are_joined(in_tmp, serve):
    problems, path = problems_file(in_tmp, 2)
    server = serve(problems, faults=lambda body, n: "parts")
    assert run(in_tmp, path)[0] == 0
    kept = read_jsonl(in_tmp / "out" / "hsft.jsonl")
    assert len(kept) == 2 and len(server.log) == 2
    assert kept[0]["template"] == good_teacher(problems)([{"content": V2.annotate.format(**problems[0])}])


def test_a_bad_cached_answer_from_an_older_version_is_asked_again(in_tmp, serve):
    problems, path = problems_file(in_tmp, 2)
    server = serve(problems)
    assert run(in_tmp, path)[0] == 0
    entry_path = next((in_tmp / "cache").glob("responses/*/*.json"))
    entry = json.loads(entry_path.read_text())
    entry_path.write_text(json.dumps({**entry, "text": 42}))  # what the old client cached from a bad server
    before = len(server.log)
    assert run(in_tmp, path)[0] == 0
    assert len(server.log) == before + 1 and len(read_jsonl(in_tmp / "out" / "hsft.jsonl")) == 2
    assert isinstance(json.loads(entry_path.read_text())["text"], str)


def test_batch_mode_fails_a_non_text_item_without_caching_it(in_tmp, serve):
    problems, path = problems_file(in_tmp, 3)
    serve(problems, faults=lambda body, n: "int" if problems[1]["problem"] in problem_of(body) else None)
    assert run(in_tmp, path, "teacher.mode=batch", "teacher.batch_poll_s=0.05")[0] == 0
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert [r["reason"] for r in rejected] == ["batch item failed: malformed answer: content is int, not text"]
    assert len(list((in_tmp / "cache").glob("responses/*/*.json"))) == 2


# --- rate limits ----------------------------------------------------------------------------------

def test_server_rate_cap_without_client_rpm_loses_no_item(in_tmp, serve):
    problems, path = problems_file(in_tmp, 30)
    server = serve(problems, rpm=300)  # 5 a second; 429 with Retry-After beyond
    assert run(in_tmp, path, "teacher.max_retries=1", "teacher.max_concurrency=16")[0] == 0
    metrics = json.loads((in_tmp / "out" / "metrics.json").read_text())
    assert metrics["verified"] == 30
    assert metrics["teacher"]["rate_limited"] > 10 and metrics["teacher"]["retries"] == 0
    assert sum(e["status"] == 429 for e in server.log) == metrics["teacher"]["rate_limited"]


def test_retry_after_waits_past_the_cap_use_the_retries(in_tmp, serve):
    problems, path = problems_file(in_tmp, 1)
    server = serve(problems, faults=lambda body, n: "429", retry_after_s=0.1)
    assert run(in_tmp, path, "teacher.max_retries=1", "teacher.rate_limit_wait_s=0.35")[0] == 0
    # Waits of 0.1 s three times fit in 0.35 s and cost nothing; then the one retry; then it fails.
    assert len(server.log) == 5
    assert [r["reason"] for r in read_jsonl(in_tmp / "out" / "rejected.jsonl")] == [
        "request failed: rate limited (429) after 1 retries"]


# --- the prompt size cap ----------------------------------------------------------------------------

def test_an_item_over_max_prompt_tokens_is_failed_and_never_sent(in_tmp, serve):
    problems = make_problems(4)
    problems[0] = {**problems[0], "problem": "How many? " * 100_000}  # a 1 MB problem, first in the file
    write_jsonl(in_tmp / "problems.jsonl", problems)
    server = serve(problems)
    assert run(in_tmp, in_tmp / "problems.jsonl")[0] == 0
    tokens = math.ceil(len(V2.annotate.format(**problems[0])) / 4)
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert [r["reason"] for r in rejected] == [
        f"prompt too long: about {tokens} tokens > teacher.max_prompt_tokens=32000; not sent"]
    assert len(server.log) == 3 and all(len(json.dumps(b)) < 10_000 for b in server.requests)
    metrics = json.loads((in_tmp / "out" / "metrics.json").read_text())
    assert metrics["teacher"]["too_long"] == 1 and metrics["verified"] == 3
