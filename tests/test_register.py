"""Tests for stage `register`: champion/challenger logic and a real MLflow (SQLite) registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supercorrect import STAGES, register
from supercorrect.io import write_json, write_jsonl
from supercorrect.params_file import load_params
from tests.conftest import REPO


@pytest.mark.parametrize("new, current, expected", [
    (0.3, None, True),           # first version becomes champion
    (0.3, float("nan"), True),   # a champion without a score is replaced
    (0.4, 0.3, True),
    (0.3, 0.3, False),           # ties keep the incumbent
    (0.2, 0.3, False),
])
def test_should_promote(new, current, expected):
    assert register.should_promote(new, current) is expected


def test_register_moves_champion_only_when_better(in_tmp, monkeypatch):
    from mlflow import MlflowClient

    from supercorrect.config import TinyConfig
    from supercorrect.student.build import build_tiny

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20, TinyConfig(hidden_size=32, num_layers=1,
                                                                                   num_heads=2, vocab_size=300),
               in_tmp / "models" / "dpo")
    uri = f"sqlite:///{in_tmp / 'mlflow.db'}"
    p = load_params(REPO / "params.yaml", [f"register.tracking_uri={uri}", f"dpo.out_dir={in_tmp / 'models' / 'dpo'}",
                                           f"evaluate.out={in_tmp / 'metrics' / 'evaluate.json'}"])
    write_json(in_tmp / "metrics" / "sft.json", {"final_loss": 1.5})
    (in_tmp / "plots").mkdir()
    (in_tmp / "plots" / "sft_loss.csv").write_text("step,loss\n1,3.0\n2,2.0\n")
    # A dvc.lock as DVC writes it: the registering run must carry its hashes (lineage).
    (in_tmp / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  prepare:\n    cmd: supercorrect prepare\n    deps:\n"
        "    - path: supercorrect/prepare.py\n      hash: md5\n      md5: 1111\n      size: 10\n"
        "    outs:\n    - path: data/prepare\n      hash: md5\n      md5: 2222.dir\n      size: 20\n      nfiles: 3\n"
        "  dpo:\n    cmd: supercorrect dpo\n    deps:\n    - path: data/prepare\n      hash: md5\n      md5: 2222.dir\n"
        "      size: 20\n      nfiles: 3\n    outs:\n    - path: models/dpo\n      hash: md5\n      md5: 3333.dir\n")
    versions = []
    for accuracy in (0.3, 0.2, 0.5):
        write_json(p.evaluate.out, {"synthetic": {"accuracy": accuracy, "n": 10}})
        result = register.run(p)
        versions.append(result["version"])
        assert json.loads((in_tmp / "metrics" / "register.json").read_text())["version"] == result["version"]
        client = MlflowClient(tracking_uri=uri)
        champion = client.get_model_version_by_alias("supercorrect-student", "champion").version
        challenger = client.get_model_version_by_alias("supercorrect-student", "challenger").version
        assert int(challenger) == result["version"]
        if accuracy == 0.2:
            assert result["promoted"] is False and int(champion) == versions[0]
        else:
            assert result["promoted"] is True and int(champion) == result["version"]
    assert versions == [1, 2, 3]

    # One parent run per pipeline execution, with a child run per stage holding its record; the
    # later executions reuse sft's (the same metrics file: DVC would have skipped it) and link it.
    runs = client.search_runs([client.get_experiment_by_name("supercorrect").experiment_id])
    parents = sorted((r for r in runs if "mlflow.parentRunId" not in r.data.tags), key=lambda r: r.info.start_time)
    assert len(parents) == 3
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.info.run_name for r in children) == sorted(STAGES)
    later = [r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[2].info.run_id]
    assert "sft (reused)" in later and "sft" not in later
    sft_run = next(r for r in children if r.info.run_name == "sft")
    assert sft_run.data.metrics["final_loss"] == 1.5
    assert [m.value for m in client.get_metric_history(sft_run.info.run_id, "loss")] == [3.0, 2.0]
    assert sft_run.data.params["sft.learning_rate"] == str(p.sft.learning_rate)
    lineage = parents[0].data.tags
    # Data and models as tags (source files are pinned by the commit), every hash in the artifact.
    assert {k: v for k, v in lineage.items() if k.startswith("dvc.")} == {
        "dvc.data/prepare": "2222.dir", "dvc.models/dpo": "3333.dir"}
    assert "git_commit" in lineage and lineage["git_dirty"] in ("true", "false", "none")
    from mlflow.artifacts import load_dict
    hashes = load_dict(f"{parents[0].info.artifact_uri}/lineage/dvc_hashes.json")
    assert hashes["data/prepare"] == "2222.dir" and str(hashes["supercorrect/prepare.py"]) == "1111"


def test_register_names_missing_benchmark(in_tmp):
    p = load_params(REPO / "params.yaml", [f"evaluate.out={in_tmp / 'e.json'}", "register.benchmark=gsm8k"])
    write_json(p.evaluate.out, {"synthetic": {"accuracy": 0.1, "n": 1}})
    with pytest.raises(ValueError, match=r"register.benchmark: 'gsm8k' is not in .*e.json \(has \['synthetic'\]\)"):
        register.run(p)


def test_metric_names_are_made_mlflow_safe():
    from supercorrect.tracking import numeric
    assert numeric({"drops": {"student's own correction is right": 2, "teacher: no step": 1, "note": "text"},
                    "ok": True, "n": 3}) == {
        "drops.students_own_correction_is_right": 2.0, "drops.teacher_no_step": 1.0, "n": 3.0}


def test_registered_champion_answers_a_plain_problem_through_pyfunc(in_tmp, monkeypatch):
    """A real SFT student, registered, loaded back by alias through pyfunc with only the problem."""
    import mlflow
    from mlflow import MlflowClient

    from supercorrect import sft
    from supercorrect.formats.templates import parse_template
    from supercorrect.tracking import DEMO_PROBLEM
    from tests.test_sft import hsft_records
    from tests.test_sft import params as sft_params

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    write_jsonl(in_tmp / "annotate" / "hsft.jsonl", hsft_records(32))
    # Enough training for the tiny student to write whole templates (checked below).
    sft.run(sft_params(in_tmp, "sft.epochs=10", "sft.learning_rate=0.003"))
    uri = f"sqlite:///{in_tmp / 'mlflow.db'}"
    p = load_params(REPO / "params.yaml", [f"register.tracking_uri={uri}", f"dpo.out_dir={in_tmp / 'sft'}",
                                           f"evaluate.out={in_tmp / 'metrics' / 'evaluate.json'}",
                                           "student.max_new_tokens=80"])
    write_json(p.evaluate.out, {"synthetic": {"accuracy": 0.5, "n": 10, "sft_accuracy": 0.4}})
    result = register.run(p)

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/supercorrect-student@champion")
    answers = model.predict([DEMO_PROBLEM, "Tom has 2 apples. He buys 6 more apples. How many apples does Tom have now?"])
    assert len(answers) == 2
    templates = [parse_template(a) for a in answers]  # raises on anything but a whole template
    assert all(t.steps and t.answer for t in templates)
    # A DataFrame with the signature's column, and the max_new_tokens param, work too.
    import pandas as pd
    short = model.predict(pd.DataFrame({"problem": [DEMO_PROBLEM]}), params={"max_new_tokens": 3})
    assert len(short) == 1 and len(short[0]) < len(answers[0])

    client = MlflowClient(tracking_uri=uri)
    version = client.get_model_version("supercorrect-student", str(result["version"]))
    assert version.run_id == result["run_id"]  # the pipeline run is the source, not a child run
    assert "synthetic accuracy: 0.5000" in version.description and "sft_accuracy 0.4000" in version.description
    assert version.tags["git_commit"] and version.tags["accuracy"] == "0.5"
    assert version.tags["base_model"].startswith("tiny Qwen2")
    info = mlflow.models.get_model_info("models:/supercorrect-student@champion")
    assert info.signature.inputs.to_dict() == [{"type": "string", "required": True}]
    assert info.signature.params.to_dict()[0]["name"] == "max_new_tokens"
    example = mlflow.models.Model.load("models:/supercorrect-student@champion").load_input_example(
        mlflow.artifacts.download_artifacts("models:/supercorrect-student@champion"))
    assert list(example) == [DEMO_PROBLEM]
    local = mlflow.artifacts.download_artifacts("models:/supercorrect-student@champion")
    cards = list(Path(local).rglob("README.md"))  # the student folder, copied in as the `student` artifact
    assert len(cards) == 1 and "# SuperCorrect student (sft)" in cards[0].read_text()
    assert (cards[0].parent / "chat_template.jinja").exists() or "chat_template" in \
        (cards[0].parent / "tokenizer_config.json").read_text()
