"""The API key never leaves the environment; teacher cost reaches MLflow through the stage metrics.

`supercorrect annotate` runs as a subprocess against tests/openai_server.py (127.0.0.1) with a
unique key, then `register` records the pipeline in a real MLflow SQLite store. Every byte the
two produced (outputs, cache, metrics, console, MLflow database and artifacts) is searched for
the key.
"""

from __future__ import annotations

import json
import subprocess
import uuid

from supercorrect import register
from supercorrect.config import TinyConfig
from supercorrect.io import write_json, write_jsonl
from supercorrect.student.build import build_tiny
from supercorrect.tracking import rounded
from tests.openai_server import OpenAIServer
from tests.teacher_helpers import annotate_cmd, cli_env, good_teacher, make_problems, teacher_params


def test_key_is_nowhere_and_cost_reaches_mlflow(in_tmp, monkeypatch):
    from mlflow import MlflowClient

    key = f"sk-secret-{uuid.uuid4().hex}"
    problems = make_problems(12)
    write_jsonl(in_tmp / "problems.jsonl", problems)
    prices = 'teacher.prices={"teacher-x": {"input": 10.0, "output": 30.0}}'
    with OpenAIServer(good_teacher(problems), api_key=key) as server:
        done = subprocess.run(annotate_cmd(in_tmp, in_tmp / "problems.jsonl", prices), cwd=in_tmp,
                              env=cli_env(server), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    teacher = json.loads((in_tmp / "out" / "metrics.json").read_text())["teacher"]
    assert teacher["requests"] == 12 and teacher["cache_misses"] == 12 and teacher["cost_usd"] > 0
    assert teacher["prompt_tokens"] > 0 and teacher["completion_tokens"] > 0

    # Record the pipeline in MLflow (SQLite store) with the same teacher settings.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", key)  # present in the environment while MLflow logs
    build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20,
               TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), in_tmp / "models" / "dpo")
    uri = f"sqlite:///{in_tmp / 'mlflow.db'}"
    p = teacher_params(in_tmp, server, prices={"teacher-x": {"input": 10.0, "output": 30.0}})
    p = p.model_copy(update={"register": p.register.model_copy(update={"tracking_uri": uri}),
                             "dpo": p.dpo.model_copy(update={"out_dir": str(in_tmp / "models" / "dpo")})})
    write_json("metrics/evaluate.json", {"synthetic": {"accuracy": 0.5, "n": 10}})
    register.run(p)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("supercorrect").experiment_id])
    annotate_run = next(r for r in runs if r.info.run_name == "annotate")
    assert annotate_run.data.metrics["teacher.cost_usd"] == rounded(teacher["cost_usd"])  # 6 significant digits
    assert annotate_run.data.metrics["teacher.requests"] == 12
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["teacher.model"] == "teacher-x"

    # The key is in none of it.
    produced = [done.stdout, done.stderr]
    for path in in_tmp.rglob("*"):
        if path.is_file():
            produced.append(path.read_bytes().decode("utf-8", "replace"))
    everything = "\n".join(produced)
    assert (in_tmp / "cache").exists() and "mlflow" in everything.lower()  # the search saw the store
    assert key not in everything and key[-12:] not in everything
