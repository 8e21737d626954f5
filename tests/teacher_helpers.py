"""Shared fixtures for the teacher tests: problems, a responder that plays a good teacher, params.

The responder reads the problem back out of the prompt and answers with the reference
template (annotate) or the reference correction (localize), and PASS to inspector prompts,
so every test runs the real client against tests/openai_server.py with a realistic teacher.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from supercorrect.data.synthetic import generate_problems
from supercorrect.io import write_jsonl
from supercorrect.params_file import load_params
from supercorrect.teacher.backends import ReferenceTeacher
from tests.conftest import REPO
from tests.openai_server import OpenAIServer, chat_key

_PROBLEM = re.compile(r"Problem:\n(.*?)\n\n", re.S)
# The solution to check sits between the correction prompt and the teacher's grounding.
_STUDENT = re.compile(r"\n\nSolution:\n(.*?)\n\nReference solution", re.S)


def make_problems(n: int, seed: int = 1) -> list[dict]:
    return generate_problems(n, seed=seed, max_steps=2, max_number=40)


def good_teacher(problems: list[dict]):
    """responder(messages) -> the reference answer for the problem the chat is about."""
    by_text = {p["problem"]: p for p in problems}
    ref = ReferenceTeacher()

    def respond(messages: list[dict]) -> str:
        first = messages[0]["content"]
        if first.startswith("You check a teacher's"):
            return "<Verdict>PASS</Verdict>"
        problem = by_text[_PROBLEM.search(first).group(1)]
        student = _STUDENT.search(first)
        if student:
            return ref.localize(problem, student.group(1)) or "Every step of the student is correct."
        return ref.annotate(problem)

    return respond


@pytest.fixture
def serve(monkeypatch):
    """Start a server with the given options and point OPENAI_* at it."""
    servers = []

    def start(problems, **options):
        server = OpenAIServer(good_teacher(problems), **options).__enter__()
        servers.append(server)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def teacher_params(tmp: Path, server, problems: list[dict] | None = None, **teacher) -> object:
    """Params for an openai-backed annotate run in `tmp` against `server`."""
    path = tmp / "problems.jsonl"
    if problems is not None:
        write_jsonl(path, problems)
    settings = {"backend": "openai", "model": "teacher-x", "cache_dir": str(tmp / "cache"), "backoff_s": 0.01,
                "timeout_s": 5, "prices": {"teacher-x": {"input": 10.0, "output": 30.0},
                                           "inspector-x": {"input": 1.0, "output": 2.0}}} | teacher
    # Only templates: the correction-trace examples would add localization requests to count.
    overrides = [f"annotate.input={path}", f"annotate.out_dir={tmp / 'out'}", "annotate.correction_share=0"]
    overrides += [f"teacher.{k}={json.dumps(v)}" for k, v in settings.items()]
    return load_params(REPO / "params.yaml", overrides)


def cached_server_keys(cache_dir: Path) -> set[str]:
    """The server-side keys of every request whose answer is in the cache."""
    keys = set()
    for path in Path(cache_dir).glob("responses/*/*.json"):
        keys.add(chat_key(json.loads(path.read_text())["request"]))
    return keys


def annotate_cmd(tmp: Path, problems_file: Path, *extra: str) -> list[str]:
    sets = [f"annotate.input={problems_file}", f"annotate.out_dir={tmp / 'out'}", "teacher.backend=openai",
            "teacher.model=teacher-x", f"teacher.cache_dir={tmp / 'cache'}", "teacher.backoff_s=0.01",
            "annotate.correction_share=0", *extra]
    return [sys.executable, "-m", "supercorrect", "annotate", "--json", "--params", str(REPO / "params.yaml")] + \
        [arg for s in sets for arg in ("--set", s)]


def problems_file(tmp: Path, n: int) -> tuple[list[dict], Path]:
    """`n` problems, and the file `tmp/problems.jsonl` holding them, for CLI runs."""
    problems = make_problems(n)
    write_jsonl(tmp / "problems.jsonl", problems)
    return problems, tmp / "problems.jsonl"


def start_annotate(cmd: list[str], tmp: Path, server) -> subprocess.Popen:
    """Start `cmd` (an annotate_cmd) in the background with its output discarded: a test kills it."""
    return subprocess.Popen(cmd, cwd=tmp, env=cli_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cli_env(server) -> dict:
    return os.environ | {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key,
                         "PYTHONPATH": str(REPO)}
