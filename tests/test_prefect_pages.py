"""What the Prefect UI shows (flows/_stage.py, flows/pipeline.py), read back from a real Prefect server.

A flow in a scratch copy of the repo publishes the stage artifacts and the parent summary the
pipeline publishes; the test reads them through the server's API: readable markdown (a short
summary and flat one-value-per-row tables, no dict reprs), the MLflow link, and a run name that
says what ran.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx

from supercorrect.io import write_json
from tests.harness import copy_repo, free_port, prefect_env, prefect_server

SCRIPT = """
from prefect import flow
from prefect.artifacts import create_markdown_artifact
from flows._stage import report, run_name
from flows.pipeline import summary_markdown

@flow(name="pages", flow_run_name=run_name("retrain"))
def pages():
    report("mine", True)
    evaluate = report("evaluate", False)
    summary = {"ran": ["mine"], "up_to_date": False, "evaluate": evaluate["metrics"], "mlflow_run_id": "r123"}
    create_markdown_artifact(key="pipeline-summary", markdown=summary_markdown(summary, "http://mlflow.test/#/runs/r123"))

pages()
"""


def test_prefect_artifacts_and_run_names(tmp_path):
    repo = tmp_path / "repo"
    copy_repo(repo)
    write_json(repo / "metrics" / "mine.json", {"rollouts": 60, "wrong": 33, "pairs": 28,
                                                 "drops": {"duplicate pair": 3, "student's own correction is right": 1}})
    write_json(repo / "metrics" / "evaluate.json", {"synthetic": {
        "accuracy": 0.5, "n": 40, "by_level": {"1": {"accuracy": 0.7, "n": 20}},
        "checkpoints": {"sft": {"accuracy": 0.45, "ci95_low": 0.3, "ci95_high": 0.6},
                        "dpo": {"accuracy": 0.5, "ci95_low": 0.35, "ci95_high": 0.65}}}})
    env = prefect_env(tmp_path, free_port())
    env["PYTHONPATH"] = str(repo)
    with prefect_server(tmp_path, env, timeout=600) as api:  # a loaded CI box starts it slowly
        done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        runs = httpx.post(f"{api}/flow_runs/filter", json={}).json()
        artifacts = {a["key"]: a["data"] for a in httpx.post(f"{api}/artifacts/filter", json={}).json()}

    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout[:7]
    assert [r["name"] for r in runs if re.fullmatch(rf"retrain-{sha}-\d{{8}}-\d{{4}}", r["name"])], runs
    mine = artifacts["mine-metrics"]
    assert mine.startswith("## mine: ran\n") and "- pairs: 28" in mine
    assert "| `drops.student's own correction is right` | 1 |" in mine and "{" not in mine
    evaluate = artifacts["evaluate-metrics"]
    assert evaluate.startswith("## evaluate: up to date (skipped)") and "| `synthetic.by_level.1.accuracy` | 0.7 |" in evaluate
    summary = artifacts["pipeline-summary"]
    assert "rebuilt mine" in summary and "| synthetic | dpo | 0.500 | 0.350–0.650 |" in summary
    assert "[r123](http://mlflow.test/#/runs/r123)" in summary
    json.dumps(artifacts)  # plain strings, nothing else
