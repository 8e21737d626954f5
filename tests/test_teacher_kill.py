"""Exactly-once under SIGKILL, and the `supercorrect annotate` CLI against an OpenAI-compatible server.

The stage runs as a real subprocess (`python -m supercorrect annotate --set ...`, keys from the
environment) against tests/openai_server.py on 127.0.0.1; the server's request log decides
what was sent twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from supercorrect.io import read_jsonl
from tests.openai_server import OpenAIServer
from tests.teacher_helpers import (annotate_cmd, cached_server_keys, cli_env, good_teacher, problems_file,
                                   start_annotate)


def test_sigkill_midway_then_rerun_sends_nothing_twice(tmp_path):
    problems, path = problems_file(tmp_path, 300)
    responses = tmp_path / "cache" / "responses"
    with OpenAIServer(good_teacher(problems), latency_s=0.03) as server:
        cmd = annotate_cmd(tmp_path, path, "teacher.max_concurrency=4")
        proc = start_annotate(cmd, tmp_path, server)
        deadline = time.monotonic() + 60
        while len(list(responses.glob("*/*.json"))) < 150 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.5)  # let the server finish logging what was in flight at the kill
        cached = cached_server_keys(tmp_path / "cache")
        first_run = server.answered_keys()
        assert 150 <= len(cached) < 300 and not (tmp_path / "out").exists()
        # No temporary file is left behind as a half answer, and every cached file is whole JSON.
        assert all(json.loads(f.read_text())["text"] for f in responses.glob("*/*.json"))

        n_first = len(server.log)
        done = subprocess.run(cmd, cwd=tmp_path, env=cli_env(server), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        second_run = server.answered_keys()[len(first_run):]
    # The server's log: not one request whose answer was already stored is sent again.
    assert cached.isdisjoint(second_run)
    assert len(second_run) == len(set(second_run)) == 300 - len(cached)
    # Answers in flight at the kill (answered by the server, never stored) are the only repeats.
    resent = set(first_run) & set(second_run)
    print(f"cached at kill: {len(cached)}, sent again: {len(set(second_run) & cached)}, "
          f"answered but unstored at kill (in flight): {len(resent)}")
    assert len(resent) <= 4
    summary = json.loads(done.stdout)
    assert summary["verified"] == 300 and summary["teacher"]["cache_hits"] == len(cached)
    assert len(server.log) - n_first == summary["teacher"]["requests"]
    assert len(read_jsonl(tmp_path / "out" / "hsft.jsonl")) == 300


def test_cli_wrong_key_one_request_one_line(tmp_path):
    problems, path = problems_file(tmp_path, 30)
    with OpenAIServer(good_teacher(problems)) as server:
        env = cli_env(server) | {"OPENAI_API_KEY": "sk-not-the-right-one-987"}
        done = subprocess.run(annotate_cmd(tmp_path, path), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and len(server.log) == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("supercorrect annotate: error: teacher request refused with HTTP 401")
    assert "sk-not-the-right-one-987" not in done.stderr + done.stdout


def test_cli_budget_exhausted_exits_nonzero_and_names_the_budget(tmp_path):
    problems, path = problems_file(tmp_path, 30)
    prices = 'teacher.prices={"teacher-x": {"input": 10.0, "output": 30.0}}'
    with OpenAIServer(good_teacher(problems)) as server:
        cmd = annotate_cmd(tmp_path, path, prices, "teacher.max_tokens=200", "teacher.budget_usd=0.05")
        done = subprocess.run(cmd, cwd=tmp_path, env=cli_env(server), capture_output=True, text=True)
        assert done.returncode == 2
        last = done.stderr.strip().splitlines()[-1]
        assert "teacher.budget_usd=0.05 reached" in last and "rerun to resume" in last
        paid = len(server.log)
        assert 0 < paid < 30
        # Raised on the command line, the same command finishes without repeating a request.
        resumed = subprocess.run(cmd[:-2] + ["--set", "teacher.budget_usd=5"], cwd=tmp_path, env=cli_env(server),
                                 capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        answered = server.answered_keys()
    assert len(answered) == len(set(answered)) == 30
    assert json.loads(resumed.stdout)["teacher"]["cache_hits"] == paid
