"""Stage `register`: record the pipeline in MLflow and register the DPO student.

The model goes to the registry as `register.model_name` (contract: `supercorrect-student`)
with alias `challenger`; alias `champion` moves to it only if its accuracy on
`register.benchmark` beats the current champion's (the first version always becomes champion).
Also writes metrics/headline.json, the run's few headline numbers (the DVC metric).

    supercorrect register [--params params.yaml]
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 supercorrect register
"""

from __future__ import annotations

import json
import math
import time

from supercorrect.config import ConfigError, Params
from supercorrect.io import InputError, metrics_path, read_json, write_json

HEADLINE = "metrics/headline.json"


def should_promote(accuracy: float, champion_accuracy: float | None) -> bool:
    """A challenger replaces the champion only when strictly better (ties keep the incumbent)."""
    if champion_accuracy is None or math.isnan(champion_accuracy):
        return True  # no champion yet, or one without a recorded score
    return accuracy > champion_accuracy


def run(p: Params) -> dict:
    started = time.time()  # register's own MLflow run spans the stage from here to the end of the record
    from supercorrect.tracking import headline, record_pipeline

    evaluate = metrics_path(p, "evaluate")
    metrics = read_json(evaluate)
    if not isinstance(metrics, dict):
        raise InputError(f"{evaluate}: expected a JSON object of benchmarks")
    if p.register.benchmark not in metrics:
        raise ConfigError(f"register.benchmark: {p.register.benchmark!r} is not in {evaluate} "
                          f"(has {sorted(metrics)})")
    accuracy = float(metrics[p.register.benchmark]["accuracy"])
    result = record_pipeline(p, p.dpo.out_dir, accuracy, should_promote, started)
    write_json(metrics_path(p, "register"), result)
    # The few numbers `dvc metrics show/diff` and `dvc exp show` compare between runs.
    mine = metrics_path(p, "mine")
    write_json(HEADLINE, headline(metrics, json.loads(mine.read_text()) if mine.exists() else {}))
    return result
