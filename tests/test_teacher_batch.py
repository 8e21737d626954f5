"""Tests for `teacher.mode: batch` (OpenAI Batch API): submit, poll, collect, resume by batch id.

The real `openai` SDK uploads to and polls tests/openai_server.py on 127.0.0.1, which runs
each batch in the background after `batch_delay_s`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from supercorrect import annotate
from tests.openai_server import MALFORMED, OpenAIServer
from tests.teacher_helpers import (annotate_cmd, cli_env, good_teacher, make_problems, problems_file, start_annotate,
                                   teacher_params)


def test_batch_submit_poll_collect_with_a_reask_wave(in_tmp, monkeypatch):
    problems = make_problems(20)
    good = good_teacher(problems)
    bad = problems[0]["problem"]  # this one's first answer is malformed: a second batch re-asks it
    with OpenAIServer(lambda m: MALFORMED if len(m) == 1 and bad in m[0]["content"] else good(m),
                      batch_delay_s=0.2) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        metrics = annotate.run(teacher_params(in_tmp, server, problems, mode="batch", batch_poll_s=0.05))
    assert metrics["verified"] == 20
    paths = [e["path"] for e in server.log]
    assert "/v1/chat/completions" not in paths  # nothing went through the online endpoint
    assert paths.count("/v1/batches") == 2 and len(server.batches) == 2
    assert [b["request_counts"]["total"] for b in server.batches.values()] == [20, 1]
    answered = server.answered_keys()
    assert len(answered) == len(set(answered)) == 21
    # Batch answers are cached at the batch price.
    entries = [json.loads(f.read_text()) for f in (in_tmp / "cache").glob("responses/*/*.json")]
    assert {e["mode"] for e in entries} == {"batch"}
    e = entries[0]
    online = (e["usage"]["prompt_tokens"] * 10.0 + e["usage"]["completion_tokens"] * 30.0) / 1e6
    assert abs(e["cost_usd"] - 0.5 * online) < 1e-12
    assert not list((in_tmp / "cache" / "batches").glob("*.json"))  # collected: nothing to resume


def test_batch_resumes_by_id_after_sigkill(tmp_path):
    problems, path = problems_file(tmp_path, 25)
    state_dir = tmp_path / "cache" / "batches"
    with OpenAIServer(good_teacher(problems), batch_delay_s=2.0) as server:
        cmd = annotate_cmd(tmp_path, path, "teacher.mode=batch", "teacher.batch_poll_s=0.1")
        proc = start_annotate(cmd, tmp_path, server)
        deadline = time.monotonic() + 60
        while not list(state_dir.glob("*.json")) and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # submitted, still in progress
        proc.wait()
        state = json.loads(next(state_dir.glob("*.json")).read_text())
        assert list(server.batches) == [state["batch_id"]]
        assert server.batches[state["batch_id"]]["status"] == "in_progress"
        assert "sk-" not in json.dumps(state)

        done = subprocess.run(cmd, cwd=tmp_path, env=cli_env(server), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    assert len(server.batches) == 1  # resumed the recorded batch instead of paying for a new one
    assert json.loads(done.stdout)["verified"] == 25
    answered = server.answered_keys()
    assert len(answered) == len(set(answered)) == 25
    assert not list(state_dir.glob("*.json"))


def test_batch_budget_submits_what_fits_then_resumes(in_tmp, monkeypatch):
    import pytest

    from supercorrect.teacher.wire import TeacherError

    problems = make_problems(20)
    with OpenAIServer(good_teacher(problems)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        options = dict(mode="batch", batch_poll_s=0.05, max_tokens=200)
        with pytest.raises(TeacherError, match="teacher.budget_usd=0.05 reached"):
            annotate.run(teacher_params(in_tmp, server, problems, budget_usd=0.05, **options))
        first = [b["request_counts"]["total"] for b in server.batches.values()]
        assert len(first) == 1 and 0 < first[0] < 20  # only the requests whose worst case fit
        entries = [json.loads(f.read_text()) for f in (in_tmp / "cache").glob("responses/*/*.json")]
        assert len(entries) == first[0] and sum(e["cost_usd"] for e in entries) <= 0.05
        metrics = annotate.run(teacher_params(in_tmp, server, problems, budget_usd=5, **options))
    assert metrics["verified"] == 20 and metrics["teacher"]["cache_hits"] == first[0]
    assert [b["request_counts"]["total"] for b in server.batches.values()] == [first[0], 20 - first[0]]
