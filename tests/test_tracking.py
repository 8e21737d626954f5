"""The MLflow record of a pipeline (supercorrect.tracking), read back through the MLflow client
and seen in the MLflow UI.

A real SQLite store holds two executions: a first one where every stage ran, then a rerun as
`dvc exp run -S dpo.beta=0.5` makes it, where only dpo and evaluate ran. The parent runs are
told apart by name, span their own execution, carry rounded headline metrics; every stage that
ran spans its real start and end; the stages DVC reused link to the run that recorded them; and
a real `mlflow server` shows the experiment's runs in headless chromium at the address we print.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from supercorrect import register
from supercorrect.config import TinyConfig
from supercorrect.io import record_timing, write_json
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny
from tests.conftest import REPO

# An hour ago, to the second: the runs must show these recorded times, not when register ran.
T0 = float(int(time.time()) - 3600)
T1 = T0 + 1800  # the rerun's dpo and evaluate
STAGES_RUN = ["prepare", "annotate", "sft", "mine", "dpo", "evaluate"]
REUSED = ["prepare", "annotate", "sft", "mine"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two executions recorded in one store; what each register.run returned and when it ran."""
    tmp = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        # Set here so it is undone after: mlflow.set_tracking_uri exports it for subprocesses.
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("DVC_EXP_NAME", "")
        mp.delenv("DVC_EXP_NAME")
        build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20,
                   TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), tmp / "models" / "dpo")
        p = load_params(REPO / "params.yaml", [f"register.tracking_uri={uri}", f"dpo.out_dir={tmp / 'models' / 'dpo'}"])
        # 0.6 - 0.65 is -0.05000000000000004 in floating point: the record shows -0.05.
        write_json("metrics/evaluate.json", {"synthetic": {
            "accuracy": 0.5, "n": 10, "checkpoint": "dpo",
            "checkpoints": {"base": {"accuracy": 0.0}, "sft": {"accuracy": 0.4}, "dpo": {"accuracy": 0.5}},
            "self_correction": {"sft": {"accuracy_before": 0.65, "accuracy_after": 0.6},
                                "dpo": {"accuracy_before": 0.5, "accuracy_after": 0.6, "net_gain": 0.1}}}})
        write_json("metrics/mine.json", {"rollouts": 20, "pairs": 7, "drops": {"student's own correction is right": 2}})
        for i, stage in enumerate(STAGES_RUN):
            record_timing(stage, T0 + 100 * i, T0 + 100 * i + 60)
        first = register.run(p)
        # `dvc exp run -S dpo.beta=0.5`: DVC reran dpo and evaluate (new timings), reused the
        # rest, and named the experiment.
        mp.setenv("DVC_EXP_NAME", "bushy-kite")
        record_timing("dpo", T1, T1 + 60)
        record_timing("evaluate", T1 + 100, T1 + 160)
        before = time.time()
        second = register.run(p)
        after = time.time()
    return {"tmp": tmp, "uri": uri, "first": first, "second": second, "before": before, "after": after}


def runs_of(recorded):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=recorded["uri"])
    exp = client.get_experiment_by_name("supercorrect")
    return client, exp


def children(client, exp, parent_id: str) -> dict:
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")}


def test_pipeline_record_tells_the_story(recorded):
    client, exp = runs_of(recorded)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = client.get_run(recorded["first"]["run_id"])
    # Outside git the commit is "unknown"; in a repo it is the short sha.
    assert re.fullmatch(r"pipeline-unknown-\d{8}-\d{4}", parent.info.run_name) and "mlflow.parentRunId" not in parent.data.tags
    assert parent.data.metrics == {"synthetic.accuracy": 0.5, "synthetic.base.accuracy": 0.0,
                                   "synthetic.sft.accuracy": 0.4, "synthetic.dpo.accuracy": 0.5,
                                   "synthetic.sft.self_correction_gain": -0.05,
                                   "synthetic.dpo.self_correction_gain": 0.1, "mine.pairs": 7.0}
    assert parent.info.start_time == T0 * 1000 and parent.info.end_time > (T0 + 560) * 1000
    assert not [t for t in parent.data.tags if t.startswith("dvc.") and not t.startswith(("dvc.data/", "dvc.models/"))]

    runs = children(client, exp, parent.info.run_id)
    assert set(runs) == {*STAGES_RUN, "register"}
    for i, stage in enumerate(STAGES_RUN):
        run = runs[stage]
        assert (run.info.start_time, run.info.end_time) == ((T0 + 100 * i) * 1000, (T0 + 100 * i + 60) * 1000), stage
        assert run.info.status == "FINISHED" and run.data.tags["reused"] == "false"
    assert runs["mine"].data.metrics["drops.students_own_correction_is_right"] == 2.0


def test_a_rerun_is_named_spans_what_ran_and_links_the_reused_stages(recorded):
    client, exp = runs_of(recorded)
    first = children(client, exp, recorded["first"]["run_id"])
    parent = client.get_run(recorded["second"]["run_id"])
    assert parent.info.run_name == "pipeline-bushy-kite"
    # It starts when its first stage that ran did (dpo), not at the first execution's start.
    assert parent.info.start_time == T1 * 1000 and parent.info.end_time <= recorded["after"] * 1000

    runs = children(client, exp, parent.info.run_id)
    assert set(runs) == {*(f"{s} (reused)" for s in REUSED), "dpo", "evaluate", "register"}
    for stage in REUSED:
        run = runs[f"{stage} (reused)"]
        assert run.data.tags["reused"] == "true" and run.data.tags["reused_from"] == first[stage].info.run_id
        assert first[stage].info.run_id in run.data.tags["mlflow.note.content"]
        assert not run.data.metrics and not run.data.params  # linked, not logged again
        assert run.info.end_time - run.info.start_time == 0
    assert (runs["dpo"].info.start_time, runs["dpo"].info.end_time) == (T1 * 1000, (T1 + 60) * 1000)
    assert runs["dpo"].data.tags["reused"] == "false" and runs["evaluate"].data.params

    # register's own run spans the stage: from before its record to after the model is registered.
    own = runs["register"].info
    before, after = int(recorded["before"] * 1000), recorded["after"] * 1000  # MLflow keeps whole ms
    assert before <= own.start_time < own.end_time <= after
    assert own.end_time - own.start_time > 0.5 * (after - before)


def test_reuse_is_found_by_the_stage_lock_entry_where_timings_are_gone(tmp_path, monkeypatch):
    """A queued or temp `dvc exp run`, a fresh clone or another worker has no metrics/timings.json
    for the stages it did not run: those are still linked as reused, found by their dvc.lock entry,
    which DVC keeps exactly when it reuses a stage; a stage whose entry changed is logged again."""
    import yaml
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20,
               TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), tmp_path / "models" / "dpo")
    p = load_params(REPO / "params.yaml", [f"register.tracking_uri={uri}", f"dpo.out_dir={tmp_path / 'models' / 'dpo'}"])
    write_json("metrics/evaluate.json", {"synthetic": {"accuracy": 0.5, "n": 10, "checkpoint": "dpo"}})
    lock = {"schema": "2.0", "stages": {s: {"cmd": f"supercorrect {s}", "outs": [{"path": f"data/{s}", "md5": f"{i}" * 32}]}
                                        for i, s in enumerate(STAGES_RUN)}}
    Path("dvc.lock").write_text(yaml.safe_dump(lock))
    for i, stage in enumerate(STAGES_RUN):
        record_timing(stage, T0 + 100 * i, T0 + 100 * i + 60)
    first = register.run(p)
    Path("metrics/timings.json").unlink()  # the experiment's workspace: no record of the reused stages
    for stage in ("dpo", "evaluate"):
        lock["stages"][stage]["outs"][0]["md5"] = "f" * 32
    Path("dvc.lock").write_text(yaml.safe_dump(lock))
    record_timing("dpo", T1, T1 + 60)
    record_timing("evaluate", T1 + 100, T1 + 160)
    second = register.run(p)

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("supercorrect")
    before, after = children(client, exp, first["run_id"]), children(client, exp, second["run_id"])
    assert set(after) == {*(f"{s} (reused)" for s in REUSED), "dpo", "evaluate", "register"}
    for stage in REUSED:
        assert after[f"{stage} (reused)"].data.tags["reused_from"] == before[stage].info.run_id
    assert after["dpo"].data.tags["stage_run"] != before["dpo"].data.tags["stage_run"]
    assert (after["dpo"].info.start_time, after["dpo"].info.end_time) == (T1 * 1000, (T1 + 60) * 1000)


@pytest.mark.timeout(600)
def test_mlflow_ui_opens_the_experiment_on_its_runs(recorded, monkeypatch):
    """What a user sees: a real `mlflow server` on the store, the address `python -m
    supercorrect.tracking` prints, opened in headless chromium, shows the runs table with both
    pipeline runs (MLflow 3.17 would open a bare experiment address on its GenAI overview)."""
    from supercorrect.tracking import experiment_url, run_url
    from tests.browser import chromium_page, chromium_path
    from tests.harness import BIN, free_port, process, wait_http

    # mlflow.set_tracking_uri, called by any earlier test's register, leaves MLFLOW_TRACKING_URI
    # in this process's environment, and it would win over the server address set below.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    chromium_path()  # skips when chromium is missing
    tmp, port = recorded["tmp"], free_port()
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", recorded["uri"], "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with process(cmd, tmp / "mlflow-server.log", tmp, env) as server:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", server, tmp / "mlflow-server.log", timeout=240)
        p = load_params(REPO / "params.yaml", [f"register.tracking_uri={base}"])
        url = experiment_url(p)
        with chromium_page(1400, 900) as page:
            page.goto(url)
            page.get_by_text("pipeline-bushy-kite").first.wait_for(timeout=120_000)
            page.get_by_text(re.compile(r"^pipeline-unknown-\d{8}-\d{4}$")).first.wait_for(timeout=30_000)
            body = page.inner_text("body")
            shot = tmp / "mlflow-runs.png"
            page.screenshot(path=str(shot))
            assert "/runs" in page.url and "workflowType=machine_learning" in page.url, page.url
            assert "No data available" not in body and "Run Name" in body, body[:2000]
            # The run link the pipeline publishes (Prefect's summary) opens the run, its metrics rounded.
            page.goto(run_url(p, recorded["first"]["run_id"]))
            page.get_by_text("synthetic.sft.self_correction_gain").first.wait_for(timeout=120_000)
            body = page.inner_text("body")
            assert "-0.05" in body and "0.0499999" not in body and "0.0500000" not in body, body[:3000]
            assert not page.blocked, page.blocked
