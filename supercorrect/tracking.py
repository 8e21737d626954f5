"""MLflow record of a pipeline execution: the only module that imports mlflow.

`record_pipeline` opens one parent run per execution, named for its DVC experiment or git
commit (`pipeline_run_name`) and spanning it: from the first stage that ran for it to the end
of register's record. It carries the headline metrics (accuracy per benchmark and checkpoint,
self-correction gain, DPO pairs; every metric is rounded for display). Each stage that ran gets
a child run spanning its real start and end (metrics/timings.json, written by the CLI) with its
params section, its metrics file, its loss curve (step metric `loss`, so the MLflow UI plots it)
and a few sample records; a stage DVC found up to date gets a `<stage> (reused)` child that links
to the run holding it instead (tag `reused`). Then it logs and registers the final model
(`log_student`) in the parent run: a pyfunc that takes problems and returns templates, with a
signature, an input example, a description and lineage tags on the version (git commit, data
hashes, base model hash). `record_retrain` records one scheduled or manual retraining run,
including the ones that found everything up to date.

Every run carries its lineage: tags with the git commit (and whether the tree was dirty) and
the DVC content hash of each data and model path, and the artifact lineage/dvc_hashes.json
with every hash in dvc.lock (source files included).
Secrets never pass through here: params hold no keys (those come from the environment) and no
environment is logged. The addresses it gives open the MLflow UI on the runs (`UI_VIEW`):

    python -m supercorrect.tracking        # the address of the experiment's runs table
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from supercorrect import STAGES
from supercorrect.io import TIMINGS, flatten, metrics_path

RECORDED = [s for s in STAGES if s != "register"]  # register's own child run logs the model
SAMPLES = {"annotate": "hsft.jsonl", "mine": "pairs.jsonl"}


def metric_key(name: str) -> str:
    """A clean MLflow key: each dotted part lower-case words joined by `_` ("student's own" -> "students_own")."""
    return ".".join(re.sub(r"[^a-z0-9]+", "_", part.lower().replace("'", "")).strip("_") or "_"
                    for part in name.split("."))


def rounded(value: float) -> float:
    """A figure as a person reads it: 6 significant digits, whole numbers kept whole, so a
    self-correction gain of 0.6 - 0.65 shows as -0.05, not -0.04999999999999993."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 5 - math.floor(math.log10(abs(value)))))


def numeric(obj: dict) -> dict[str, float]:
    """Numeric leaves as MLflow metrics under clean keys (metric_key), rounded for display."""
    return {metric_key(k): rounded(v) for k, v in flatten(obj).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def headline(evaluate: dict, mine: dict) -> dict[str, float]:
    """The parent run's metrics (and metrics/headline.json): accuracy per benchmark and checkpoint,
    self-correction gain, pairs; rounded for display."""
    out = {}
    for bench, block in evaluate.items():
        if not isinstance(block, dict) or "accuracy" not in block:
            continue
        out[f"{bench}.accuracy"] = block["accuracy"]
        for ckpt, s in (block.get("checkpoints") or {}).items():
            out[f"{bench}.{ckpt}.accuracy"] = s["accuracy"]
        for ckpt, s in (block.get("self_correction") or {}).items():
            out[f"{bench}.{ckpt}.self_correction_gain"] = s.get("net_gain", s["accuracy_after"] - s["accuracy_before"])
        if not block.get("self_correction") and isinstance(block.get("self_correct"), dict):
            s = block["self_correct"]
            out[f"{bench}.{block.get('checkpoint', 'final')}.self_correction_gain"] = \
                s["accuracy_after"] - s["accuracy_before"]
    if "pairs" in mine:
        out["mine.pairs"] = mine["pairs"]
    return {metric_key(k): rounded(v) for k, v in out.items()}


def stage_times(p, stage: str, timings: dict) -> tuple[int, int] | None:
    """(start, end) of a stage in ms: the CLI's record, else the metrics file's mtime minus its runtime."""
    if stage in timings:
        return int(timings[stage]["start"] * 1000), int(timings[stage]["end"] * 1000)
    path = metrics_path(p, stage)
    if not path.exists():
        return None
    end = path.stat().st_mtime
    runtime = json.loads(path.read_text()).get("train_runtime_s") or 0
    return int((end - runtime) * 1000), int(end * 1000)


def git_commit(cwd: str | Path | None = None) -> str:
    """The commit checked out in `cwd` (default: here), or "unknown" outside git."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=cwd,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty(cwd: str | Path | None = None) -> bool | None:
    """True if tracked files differ from the commit (the commit alone then does not pin the code)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                             text=True, cwd=cwd, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.strip())


def dvc_hashes(lock_file: str | Path = "dvc.lock") -> dict[str, str]:
    """`<path>` -> DVC content hash (md5) of every dep and out recorded in dvc.lock.

    A path shared by two stages (an out of one, a dep of the next) has one hash, so the map is
    flat. An empty map means no stage has run through DVC yet.
    """
    import yaml

    path = Path(lock_file)
    if not path.exists():
        return {}
    lock = yaml.safe_load(path.read_text()) or {}
    hashes = {}
    for stage in (lock.get("stages") or {}).values():
        for entry in (stage.get("deps") or []) + (stage.get("outs") or []):
            if entry.get("md5"):
                hashes[entry["path"]] = entry["md5"]
    return dict(sorted(hashes.items()))


DATA_ROOTS = ("data/", "models/")


def lineage_tags(root: str | Path = ".") -> dict[str, str]:
    """Tags that pin a run of the repo at `root`: git commit, dirty flag and `dvc.<path>` = content
    hash of each data and model path (source files are pinned by the commit; all hashes are in
    lineage/dvc_hashes.json)."""
    tags = {"git_commit": git_commit(root), "git_dirty": str(git_dirty(root)).lower()}
    hashes = dvc_hashes(Path(root) / "dvc.lock")
    return tags | {f"dvc.{path}": md5 for path, md5 in hashes.items() if path.startswith(DATA_ROOTS)}


def tracking_uri(configured: str, root: str | Path | None = None) -> str:
    """MLFLOW_TRACKING_URI, else the configured one; a relative SQLite path is taken from `root`
    (the repo) when given, else from here."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    path = uri.removeprefix("sqlite:///")
    if root is not None and uri.startswith("sqlite:///") and not Path(path).is_absolute():
        return f"sqlite:///{(Path(root) / path).resolve()}"
    return uri


def _log_stage(mlflow, p, stage: str) -> None:
    section = getattr(p, stage).model_dump()
    mlflow.log_params({k: str(v)[:500] for k, v in flatten(section, f"{stage}.").items()})
    metrics_file = metrics_path(p, stage)  # where the stage wrote it
    if metrics_file.exists():
        mlflow.log_metrics(numeric(json.loads(metrics_file.read_text())))
        mlflow.log_artifact(str(metrics_file))
    curve = Path("plots") / f"{stage}_loss.csv"
    if curve.exists():
        # `loss`, not `train_loss`: that key is the metrics file's mean loss, a single value.
        with curve.open() as fh:
            for row in csv.DictReader(fh):
                mlflow.log_metric("loss", rounded(row["loss"]), step=int(float(row["step"])))
    sample = SAMPLES.get(stage)
    if sample:
        path = Path(getattr(p, stage).out_dir) / sample
        if path.exists():
            head = path.read_text(encoding="utf-8").splitlines()[:5]
            mlflow.log_text("\n".join(head) + "\n", f"samples/{sample}")


def pipeline_run_name(lineage: dict[str, str]) -> str:
    """`pipeline-<DVC experiment name>` inside `dvc exp run`, else `pipeline-<commit>` (plus
    `-dirty` when tracked files differ from it; both from the run's `lineage_tags`) and the UTC
    time, as Prefect names its runs: parent runs that tell executions apart, also two
    `dvc repro`s of one commit."""
    if experiment := os.environ.get("DVC_EXP_NAME"):  # DVC sets it for every stage of an experiment
        return f"pipeline-{experiment}"
    dirty = "-dirty" if lineage["git_dirty"] == "true" else ""
    return f"pipeline-{lineage['git_commit'][:7]}{dirty}-{datetime.now(timezone.utc):%Y%m%d-%H%M}"


def stage_keys(spans: dict[str, tuple[int, int]], lock_file: str | Path = "dvc.lock") -> dict[str, str]:
    """stage -> what names this execution of it: its dvc.lock entry (the hashes of its deps,
    params and outs, which DVC keeps exactly when it reuses the stage), else, for a stage run by
    hand, its recorded start and end (ms). The entry works where the CLI's timings do not
    survive: a queued or temp `dvc exp run`, a fresh clone after `dvc pull`, another worker."""
    import hashlib

    import yaml

    path = Path(lock_file)
    lock = (yaml.safe_load(path.read_text()) or {}).get("stages") or {} if path.exists() else {}
    keys = {}
    for stage in RECORDED:
        if entry := lock.get(stage):
            digest = hashlib.md5(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:16]
            keys[stage] = f"{stage}@lock-{digest}"
        elif stage in spans:
            keys[stage] = f"{stage}@{spans[stage][0]}-{spans[stage][1]}"
    return keys


def recorded_before(client, experiment_id: str, keys: dict[str, str]) -> dict[str, str]:
    """stage -> the MLflow run that already holds this very execution of it (`stage_keys`): a
    stage DVC found up to date and skipped this time."""
    found = {}
    for stage, key in keys.items():
        runs = client.search_runs([experiment_id], f"tags.stage_run = '{key}' and tags.reused = 'false'",
                                  max_results=1)
        if runs:
            found[stage] = runs[0].info.run_id
    return found


def record_pipeline(p, model_dir: str, accuracy: float, should_promote, started: float | None = None) -> dict:
    """Log the pipeline to MLflow and register `model_dir`; returns what was registered.

    The parent run spans this execution: from the first stage that ran for it (a stage DVC
    reused is linked to the run that recorded it, not logged again) to the end of the record;
    `started` is when register began, the start of its own child run."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    cfg = p.register
    client = MlflowClient(tracking_uri(cfg.tracking_uri))
    experiment_id = training_experiment(mlflow, client, cfg)
    now = int((started or time.time()) * 1000)
    timings = read_timings()
    spans = {stage: t for stage in RECORDED if (t := stage_times(p, stage, timings))}
    keys = stage_keys(spans)
    reused = recorded_before(client, experiment_id, keys)
    first = min((spans[stage][0] for stage in spans if stage not in reused), default=now)
    # Created through the client so the run starts when its first stage did, then resumed.
    lineage = lineage_tags()
    parent_id = client.create_run(experiment_id, start_time=min(first, now),
                                  tags=lineage | {"mlflow.runName": pipeline_run_name(lineage)}).info.run_id
    with mlflow.start_run(run_id=parent_id) as parent:
        mlflow.log_dict(dvc_hashes(), "lineage/dvc_hashes.json")
        mlflow.log_params({f"student.{k}": str(v) for k, v in flatten(p.student.model_dump()).items()})
        mlflow.log_params({f"teacher.{k}": str(v) for k, v in flatten(p.teacher.model_dump()).items()})
        mlflow.log_metrics(headline(_read(metrics_path(p, "evaluate")), _read(metrics_path(p, "mine"))))
        for stage in RECORDED:
            if stage in reused:
                _link_reused(client, experiment_id, parent_id, stage, reused[stage], keys[stage], now)
                continue
            start, end = spans.get(stage, (None, None))
            tags = {"mlflow.runName": stage, "mlflow.parentRunId": parent_id, "reused": "false"}
            if stage in keys:
                tags["stage_run"] = keys[stage]
            child = client.create_run(experiment_id, start_time=start, tags=tags)
            with mlflow.start_run(run_id=child.info.run_id, nested=True):
                _log_stage(mlflow, p, stage)
            if end is not None:
                client.set_terminated(child.info.run_id, "FINISHED", end_time=end)
        own = client.create_run(experiment_id, start_time=now, tags={
            "mlflow.runName": "register", "mlflow.parentRunId": parent_id, "reused": "false"}).info.run_id
        with mlflow.start_run(run_id=own, nested=True):
            mlflow.log_params({k: str(v) for k, v in flatten(cfg.model_dump(), "register.").items()})
            mlflow.log_metric("accuracy", rounded(accuracy))
        # Logged in the parent run, so the version's source run is the pipeline run itself.
        mv = log_student(p, model_dir, accuracy)
        client.set_registered_model_alias(cfg.model_name, "challenger", mv)
        try:
            champion = client.get_model_version_by_alias(cfg.model_name, "champion")
            champion_acc = float(champion.tags.get("accuracy", "nan"))
            champion_version = champion.version
        except MlflowException:
            champion_acc, champion_version = None, None
        promoted = should_promote(accuracy, champion_acc)
        if promoted:
            client.set_registered_model_alias(cfg.model_name, "champion", mv)
        client.set_terminated(own, "FINISHED", end_time=int(time.time() * 1000))  # register's whole record
    return {"run_id": parent.info.run_id, "model_name": cfg.model_name, "version": int(mv),
            "accuracy": accuracy, "previous_champion_version": champion_version,
            "previous_champion_accuracy": champion_acc, "promoted": promoted}


def _link_reused(client, experiment_id: str, parent_id: str, stage: str, source_id: str, key: str, at: int) -> None:
    """A child run that says DVC reused the stage and links to the run that recorded it; it logs
    nothing again and spans no time of this execution."""
    note = (f"DVC found `{stage}` up to date and reused its outputs. Its params, metrics and samples are "
            f"in [the run that produced them](#/experiments/{experiment_id}/runs/{source_id}).")
    run_id = client.create_run(experiment_id, start_time=at, tags={
        "mlflow.runName": f"{stage} (reused)", "mlflow.parentRunId": parent_id, "reused": "true",
        "reused_from": source_id, "stage_run": key, "mlflow.note.content": note}).info.run_id
    client.set_terminated(run_id, "FINISHED", end_time=at)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def read_timings(path: str | Path = TIMINGS) -> dict:
    return _read(Path(path))


def training_experiment(mlflow, client, cfg, root: str | Path | None = None) -> str:
    """Set (creating if needed) the experiment, marked as a model-training one (the kind the UI's
    experiment settings show; which page MLflow 3.17 opens is up to `UI_VIEW`, see `experiment_url`)."""
    mlflow.set_tracking_uri(tracking_uri(cfg.tracking_uri, root))
    experiment_id = mlflow.set_experiment(cfg.experiment).experiment_id
    client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
    return experiment_id


def _student_pyfunc():
    """The pyfunc class of the registered student: problems in, hierarchical thought templates out.

    Built inside a function so cloudpickle stores the class by value: loading the model needs
    mlflow, torch and transformers, not this project. The chat template of the folder carries the
    system prompt (supercorrect.student.saved_model), so a chat holding only the problem is what it was
    trained on."""
    import mlflow.pyfunc

    class SuperCorrectStudent(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = context.artifacts["student"]
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.tokenizer.padding_side = "left"
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
            device = "cuda" if torch.cuda.is_available() else "cpu"
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype="auto").to(device).eval()
            self.config = dict(context.model_config or {})

        def predict(self, context, model_input, params=None):
            import torch

            if hasattr(model_input, "columns"):  # a DataFrame, as the signature makes of a list
                problems = model_input.iloc[:, 0].tolist()
            elif isinstance(model_input, str):
                problems = [model_input]
            else:
                problems = list(model_input)
            settings = self.config | (params or {})
            chats = [[{"role": "user", "content": str(q)}] for q in problems]
            batch = self.tokenizer.apply_chat_template(chats, add_generation_prompt=True, padding=True,
                                                       return_tensors="pt", return_dict=True).to(self.model.device)
            with torch.inference_mode():
                out = self.model.generate(**batch, max_new_tokens=int(settings["max_new_tokens"]), do_sample=False)
            new = out[:, batch["input_ids"].shape[1]:]
            return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    return SuperCorrectStudent


DEMO_PROBLEM = "Tom has 5 apples. He buys 3 more apples. How many apples does Tom have now?"


def version_tags(p, accuracy: float) -> dict[str, str]:
    """Lineage of a registered version: git commit, data hashes and the base model's hash."""
    from supercorrect.student.saved_model import describe_base

    hashes = dvc_hashes()
    student = p.student
    local = student.model != "tiny" and Path(student.model).is_dir()
    # A local folder is hashed by DVC as `student.dep`; the tiny model as the base it built; a
    # hub model is pinned by its revision (the pointer file in sft.base_dir records it).
    base_path = student.dep if local else p.sft.base_dir
    tags = {"git_commit": git_commit(), "git_dirty": str(git_dirty()).lower(), "benchmark": p.register.benchmark,
            "accuracy": str(accuracy), "base_model": describe_base(student)[:250],
            "base_model_hash": hashes.get(str(base_path), "unknown"), "prompts_file": str(p.prompts.file)}
    tags |= {f"data.{path}": md5 for path, md5 in hashes.items() if path.startswith("data/")}
    return tags


def version_description(p, accuracy: float, run_id: str) -> str:
    from supercorrect.student.saved_model import describe_base

    lines = [f"SuperCorrect student: HSFT then cross-model DPO, from {describe_base(p.student)}.",
             f"{p.register.benchmark} accuracy: {accuracy:.4f} (metrics/evaluate.json)."]
    evaluate = metrics_path(p, "evaluate")
    if evaluate.exists():
        for name, block in json.loads(evaluate.read_text()).items():
            figures = ", ".join(f"{k} {v:.4f}" for k, v in block.items() if k.endswith("accuracy")
                                and isinstance(v, (int, float)))
            lines.append(f"- {name} (n={block.get('n')}): {figures}")
    lines += [f"Trained by pipeline run {run_id} at git commit {git_commit()}.",
              f"Use: mlflow.pyfunc.load_model('models:/{p.register.model_name}@champion').predict(['<problem>']) "
              "returns the hierarchical thought template (<Step1>... <Answer>...</Answer>) for each problem; "
              "the model folder's README.md is its model card."]
    return "\n".join(lines)


def log_student(p, model_dir: str, accuracy: float) -> str:
    """Log `model_dir` as a pyfunc in the active run, register it; return the version number.

    The version gets a signature (problem strings in, template strings out, `max_new_tokens`
    as a param), an input example, a description and its lineage tags."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    cfg = p.register
    reqs = [f"{pkg}=={version(pkg)}" for pkg in ("torch", "transformers", "accelerate", "pandas")]
    # Unnamed columns: `predict(["problem text", ...])` works as it is; a DataFrame's first column too.
    signature = ModelSignature(inputs=Schema([ColSpec("string")]), outputs=Schema([ColSpec("string")]),
                               params=ParamSchema([ParamSpec("max_new_tokens", "long", p.student.max_new_tokens)]))
    info = mlflow.pyfunc.log_model(
        name="model", python_model=_student_pyfunc()(),
        # Absolute: MLflow copies the folder (weights, tokenizer with its chat template, README.md).
        artifacts={"student": str(Path(model_dir).resolve())},
        signature=signature, input_example=[DEMO_PROBLEM],
        model_config={"max_new_tokens": p.student.max_new_tokens}, pip_requirements=reqs,
        # MLflow serves the input example once here (load + greedy answer): a 7B student loads in
        # its own dtype (bf16: ~15 GB of RAM on the register worker).
        registered_model_name=cfg.model_name,
    )
    mv = info.registered_model_version
    client = MlflowClient()
    run_id = mlflow.active_run().info.run_id
    client.update_model_version(cfg.model_name, mv, description=version_description(p, accuracy, run_id))
    for key, value in version_tags(p, accuracy).items():
        client.set_model_version_tag(cfg.model_name, mv, key, value)
    return mv


def record_retrain(p, summary: dict, flow_run_id: str | None = None, run_name: str = "retrain",
                   root: str | Path = ".") -> str:
    """Record one retraining run (also an "up to date" one) of the repo at `root` with its lineage,
    named `run_name` (a flow passes its Prefect flow-run name); returns the MLflow run id."""
    import mlflow
    from mlflow import MlflowClient

    training_experiment(mlflow, MlflowClient(tracking_uri(p.register.tracking_uri, root)), p.register, root)
    tags = lineage_tags(root) | {"up_to_date": str(summary["up_to_date"]).lower(),
                                 "stages_ran": ",".join(summary["ran"]) or "none"}
    if flow_run_id:
        tags["prefect_flow_run_id"] = flow_run_id
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_dict(dvc_hashes(Path(root) / "dvc.lock"), "lineage/dvc_hashes.json")
        mlflow.log_metric("stages_ran", len(summary["ran"]))
    return run.info.run_id


# MLflow 3.17's UI opens an experiment on its GenAI overview (traces, "No data available") unless
# the address asks for the model-training view, or the browser last chose "Model training": the
# experiment's kind tag does not decide it. Every address we print asks.
UI_VIEW = "workflowType=machine_learning"


def ui_base(uri: str) -> str:
    """The MLflow UI of tracking URI `uri`: the tracking server itself, or `make mlflow-ui` for a local store."""
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"


def run_url(p, run_id: str, root: str | Path | None = None) -> str:
    """The MLflow UI address of a run, in the model-training view."""
    from mlflow import MlflowClient

    uri = tracking_uri(p.register.tracking_uri, root)
    experiment_id = MlflowClient(uri).get_run(run_id).info.experiment_id
    return f"{ui_base(uri)}/#/experiments/{experiment_id}/runs/{run_id}?{UI_VIEW}"


def experiment_url(p) -> str | None:
    """The MLflow UI address of the experiment's runs table, or None before its first run."""
    from mlflow import MlflowClient

    uri = tracking_uri(p.register.tracking_uri)
    experiment = MlflowClient(uri).get_experiment_by_name(p.register.experiment)
    return f"{ui_base(uri)}/#/experiments/{experiment.experiment_id}/runs?{UI_VIEW}" if experiment else None


if __name__ == "__main__":
    from supercorrect.params_file import load_params

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # the address only, no store-migration chatter
    url = experiment_url(load_params("params.yaml"))
    print(f"the runs: {url}" if url else "no MLflow runs yet: `make demo` (or dvc repro) records them")
