"""The MLflow record of a pipeline (supercorrect.tracking), read back through the MLflow client.

A real SQLite store: the experiment opens on training runs, the parent run carries the headline
metrics, every stage run spans the stage's real start and end, and lineage is a short tag set.
"""

from __future__ import annotations

import time

from supercorrect import register
from supercorrect.config import TinyConfig
from supercorrect.io import record_timing, write_json
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny
from tests.conftest import REPO

# An hour ago, to the second: the runs must show these recorded times, not when register ran.
T0 = float(int(time.time()) - 3600)


def test_pipeline_record_tells_the_story(in_tmp, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20,
               TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), in_tmp / "models" / "dpo")
    uri = f"sqlite:///{in_tmp / 'mlflow.db'}"
    p = load_params(REPO / "params.yaml", [f"register.tracking_uri={uri}", f"dpo.out_dir={in_tmp / 'models' / 'dpo'}"])
    write_json("metrics/evaluate.json", {"synthetic": {
        "accuracy": 0.5, "n": 10, "checkpoint": "dpo",
        "checkpoints": {"base": {"accuracy": 0.0}, "sft": {"accuracy": 0.4}, "dpo": {"accuracy": 0.5}},
        "self_correction": {"dpo": {"accuracy_before": 0.5, "accuracy_after": 0.6, "net_gain": 0.1}}}})
    write_json("metrics/mine.json", {"rollouts": 20, "pairs": 7, "drops": {"student's own correction is right": 2}})
    for i, stage in enumerate(["prepare", "annotate", "sft", "mine", "dpo", "evaluate"]):
        record_timing(stage, T0 + 100 * i, T0 + 100 * i + 60)
    result = register.run(p)

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("supercorrect")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = client.get_run(result["run_id"])
    assert parent.info.run_name == "pipeline" and "mlflow.parentRunId" not in parent.data.tags
    assert parent.data.metrics == {"synthetic.accuracy": 0.5, "synthetic.base.accuracy": 0.0,
                                   "synthetic.sft.accuracy": 0.4, "synthetic.dpo.accuracy": 0.5,
                                   "synthetic.dpo.self_correction_gain": 0.1, "mine.pairs": 7.0}
    assert parent.info.start_time == T0 * 1000 and parent.info.end_time > (T0 + 560) * 1000
    assert not [t for t in parent.data.tags if t.startswith("dvc.") and not t.startswith(("dvc.data/", "dvc.models/"))]

    children = {r.info.run_name: r for r in client.search_runs(
        [exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")}
    for i, stage in enumerate(["prepare", "annotate", "sft", "mine", "dpo", "evaluate"]):
        run = children[stage]
        assert (run.info.start_time, run.info.end_time) == ((T0 + 100 * i) * 1000, (T0 + 100 * i + 60) * 1000), stage
        assert run.info.status == "FINISHED"
    assert children["mine"].data.metrics["drops.students_own_correction_is_right"] == 2.0
