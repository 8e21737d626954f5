"""End-to-end: the whole demo pipeline on a tiny model, through the Prefect flow, then DVC.

Runs in a temporary copy of the repo with smaller demo params. Asserts that metrics have
numbers, TRL loads the pairs file as is, MLflow holds the registered version with its aliases,
and a second `dvc repro` finds nothing to do, nor does a change to a param no stage lists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.harness import copy_repo
from tests.harness import run as _run


def test_demo_pipeline_end_to_end(tmp_path):
    repo = tmp_path / "repo"
    copy_repo(repo)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PYTHONPATH=str(repo),
               # The flow's temporary Prefect server takes about 20 s to start, Prefect's default
               # limit; on a loaded 2-core box it takes longer.
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("PREFECT_API_URL", None)

    out = _run([sys.executable, "-m", "flows.pipeline"], repo, env)
    assert "'up_to_date': False" in out

    metrics = json.loads((repo / "metrics" / "evaluate.json").read_text())
    synthetic = metrics["synthetic"]
    assert synthetic["n"] == 30
    for key in ("accuracy", "base_accuracy", "sft_accuracy", "dpo_accuracy"):
        assert 0.0 <= synthetic[key] <= 1.0
    # The self-correction contract, for both checkpoints that check their own work.
    for ckpt in ("sft", "dpo"):
        sc = synthetic["self_correction"][ckpt]
        assert set(sc) >= {"accuracy_before", "accuracy_after", "wrong_to_right", "right_to_wrong", "net_gain",
                           "net_gain_ci", "heldout_errors"}
        assert sc["net_gain"] == sc["accuracy_after"] - sc["accuracy_before"]
        assert sc["net_gain_ci"][0] <= sc["net_gain"] <= sc["net_gain_ci"][1]
        held = sc["heldout_errors"]
        assert held["n"] > 0 and 0 <= held["locate_rate"] <= 1 and 0 <= held["fix_rate"] <= 1
        # Both sides of the flag decision (contract): every field, consistent with its counts.
        v = sc["verification"]
        assert set(v) >= {"false_flag_rate", "missed_error_rate", "step_auc", "step_auc_ci", "n_right_steps",
                          "n_wrong_steps", "diagnosis"}
        assert v["n_wrong_steps"] == held["n"] and 0 <= v["missed_error_rate"] <= 1
        assert v["missed_error_rate"] == (held["n"] - held["named_a_step"]) / held["n"]
        assert sum(v["flag_prob_histogram"]["wrong"]) == v["n_wrong_steps"]
        assert v["diagnosis"].startswith(ckpt)
    mine = json.loads((repo / "metrics" / "mine.json").read_text())
    assert mine["rejected"] == "blind" and mine["heldout_errors"] == held["n"]
    assert mine["students"] == {"models/sft": {"rollouts": mine["rollouts"], "wrong": mine["wrong"],
                                               "localized": mine["localized"], "pairs": mine["pairs"]}}
    heldout = {json.loads(line)["problem_id"] for line in (repo / "data" / "mine" / "heldout.jsonl").open()}
    sft = json.loads((repo / "metrics" / "sft.json").read_text())
    assert sft["final_loss"] < sft["first_loss"]

    # TRL's DPOTrainer loads the pairs file as it is.
    from datasets import load_dataset
    from trl.data_utils import is_conversational
    pairs = load_dataset("json", data_files=str(repo / "data" / "mine" / "pairs.jsonl"), split="train")
    assert len(pairs) > 0 and is_conversational(pairs[0])
    assert all("<Cause>" in p["chosen"][0]["content"] and "<Correction>" in p["chosen"][0]["content"] for p in pairs)
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    assert not heldout & set(pairs["problem_id"])  # held-out errors never reach DPO

    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("supercorrect-student", "champion")
    challenger = client.get_model_version_by_alias("supercorrect-student", "challenger")
    assert int(champion.version) == int(challenger.version) == 1
    assert float(champion.tags["accuracy"]) == synthetic["accuracy"]

    again = _run([sys.executable, "-m", "flows.pipeline"], repo, env)
    assert "'up_to_date': True" in again

    second = _run([sys.executable, "-m", "dvc", "repro"], repo, env)
    assert "Data and pipelines are up to date." in second
    status = _run([sys.executable, "-m", "dvc", "status"], repo, env)
    assert "Data and pipelines are up to date." in status

    # dvc.yaml lists the params keys each stage reads, not whole sections: a key that never
    # changes outputs (tests/test_layout.py NOT_RESULTS) reruns no stage, a listed one does. Only
    # `check`, which validates the whole file, sees every change.
    written = (repo / "params.yaml").read_text()

    def status_with(section: str, key: str, value) -> dict:
        params = yaml.safe_load(written)
        params[section][key] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        return json.loads(_run([sys.executable, "-m", "dvc", "status", "--json"], repo, env))

    for section, key, value in [("sft", "save_steps", 7), ("dpo", "checkpoint_dir", ".cache/elsewhere"),
                                ("teacher", "rpm", 100), ("evaluate", "grade_workers", 1)]:
        assert set(status_with(section, key, value)) == {"check"}, f"{section}.{key}"
    changed = status_with("sft", "lr_scheduler", "linear")
    assert set(changed) == {"check", "sft"} and "sft.lr_scheduler" in json.dumps(changed["sft"])

    # Any key of params.yaml can be edited: a new mine.out_dir reruns mine, which still writes the
    # metrics file dvc.yaml declares (its summary names it), and then what reads its outputs.
    # (Rebuilding dpo, evaluate and register too would add minutes; DVC's plan shows they are next.)
    status_with("mine", "out_dir", "data/mined")
    moved = _run([sys.executable, "-m", "dvc", "repro", "mine"], repo, env)
    assert "Running stage 'mine'" in moved and "full metrics: metrics/mine.json" in moved
    assert (repo / "data" / "mined" / "pairs.jsonl").exists() and not (repo / "data" / "mined" / "metrics.json").exists()
    assert json.loads((repo / "metrics" / "mine.json").read_text())["pairs"] == len(
        (repo / "data" / "mined" / "pairs.jsonl").read_text().splitlines())
    plan = _run([sys.executable, "-m", "dvc", "repro", "--dry"], repo, env)
    assert set(re.findall(r"Running stage '(\w+)'", plan)) == {"check", "dpo", "evaluate", "register"}, plan

    # A typo in the file no longer passes as "up to date": `dvc repro` stops at `check`, one line.
    (repo / "params.yaml").write_text((repo / "params.yaml").read_text().replace("\nsft:\n", "\nsft:\n  learning_rat: 1\n"))
    typo = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert typo.returncode != 0 and set(re.findall(r"Running stage '(\w+)'", typo.stdout + typo.stderr)) == {"check"}
    assert "supercorrect check: error: params.yaml: sft.learning_rat: unknown key; did you mean sft.learning_rate?" \
        in typo.stderr.splitlines()
