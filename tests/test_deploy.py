"""The operator path end to end, as README "Operations" and docs/operations.md give it, on real servers on 127.0.0.1.

`prefect server start` → pools `cpu` and `gpu` → `prefect deploy --all` → one process worker per
pool → `prefect deployment run 'supercorrect/retrain'` → Completed → MLflow holds the registered
version with its aliases and lineage → a second run reports "up to date" quickly.

The DVC remote is a real S3 store (SeaweedFS `weed mini`), so every stage task on a worker does
`dvc pull` → the stage → `dvc push`. The workers run with distinctive OpenAI and AWS keys in
their environment, and `test_no_secret_leaks` searches every place they must not reach.

Runs in a scratch copy of the repo with the small params of tests/harness.py (the demo sizes take
about 5 minutes of CPU per run; the wiring is the same).
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
import httpx
import pytest
import yaml

from tests.harness import BIN, copy_repo, free_port, prefect_env, prefect_server, process, run, seaweedfs

SECRETS = {"OPENAI_API_KEY": "sk-test-OPENAI-9f3c1e77d2", "AWS_ACCESS_KEY_ID": "AKIATESTSUPERCORRECT5",
           "AWS_SECRET_ACCESS_KEY": "wJalrTEST/SECRET+supercorrect/77aa"}
GPU_STAGES = {"sft", "mine", "dpo", "evaluate"}
# The module fixture runs three pipelines (about 6 minutes on 2 cores); it counts against the first test.
pytestmark = pytest.mark.timeout(1800)
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
NEW_N_TRAIN = 270  # the third run's training set: 300 → 270 new synthetic problems


class Api:
    """The Prefect REST API, spoken over plain HTTP (what the UI and the CLI use)."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=120)

    def _call(self, method: str, path: str, body: dict | None = None):
        # A SQLite-backed server on a loaded 2-core box can stall for a minute on its database
        # lock; retry what the Prefect client itself would retry (timeouts, 5xx).
        for attempt in range(5):
            try:
                resp = self.http.request(method, path, json=body)
                if resp.status_code < 500:
                    resp.raise_for_status()
                    return resp.json()
            except httpx.TransportError:
                if attempt == 4:
                    raise
            time.sleep(5)
        resp.raise_for_status()

    def get(self, path: str):
        return self._call("GET", path)

    def post(self, path: str, body: dict):
        return self._call("POST", path, body)

    def wait(self, flow_run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in TERMINAL:
                return run
            time.sleep(2)
        raise TimeoutError(f"flow run {flow_run_id} not finished after {timeout}s: {run['state']}")

    def wait_logs(self, flow_run_id: str, timeout: float = 60) -> None:
        """Logs reach the server in batches after the state does: wait for the engine's last line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["message"].startswith("Finished in state") and not e["task_run_id"]
                   for e in self.log_entries([flow_run_id])):
                return
            time.sleep(1)
        raise TimeoutError(f"the logs of flow run {flow_run_id} did not arrive within {timeout}s")

    def flow_runs(self) -> list[dict]:
        return self.post("/flow_runs/filter", {"limit": 200})

    def log_entries(self, flow_run_ids: list[str]) -> list[dict]:
        out, offset = [], 0
        while True:
            page = self.post("/logs/filter", {"logs": {"flow_run_id": {"any_": flow_run_ids}},
                                              "limit": 200, "offset": offset, "sort": "TIMESTAMP_ASC"})
            out += page
            if len(page) < 200:
                return out
            offset += 200

    def logs(self, flow_run_ids: list[str]) -> list[str]:
        return [entry["message"] for entry in self.log_entries(flow_run_ids)]


def _snapshot(repo: Path) -> dict:
    """What the first run left: aliases, its evaluate metrics and dvc.lock (the third run changes them)."""
    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    return {"champion": int(client.get_model_version_by_alias("supercorrect-student", "champion").version),
            "challenger": int(client.get_model_version_by_alias("supercorrect-student", "challenger").version),
            "evaluate": json.loads((repo / "metrics" / "evaluate.json").read_text()),
            "lock": yaml.safe_load((repo / "dvc.lock").read_text())}


def _trigger(repo: Path, env: dict) -> str:
    out = run([str(BIN / "prefect"), "deployment", "run", "supercorrect/retrain"], repo, env)
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert match, out
    return match.group(1)


@pytest.fixture(scope="module")
def operated(tmp_path_factory):
    """Run the README operator sequence: retrain, retrain again (up to date), new data → retrain."""
    tmp = tmp_path_factory.mktemp("deploy")
    repo = tmp / "repo"
    copy_repo(repo)
    with seaweedfs(tmp) as s3_endpoint:
        env = prefect_env(tmp, free_port(), {k: v for k, v in os.environ.items()
                                             if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")})
        env.update(SECRETS, AWS_ENDPOINT_URL_S3=s3_endpoint, AWS_DEFAULT_REGION="us-east-1",
                   SUPERCORRECT_DVC_REMOTE="s3", PYTHONPATH=str(repo))
        boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=SECRETS["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=SECRETS["AWS_SECRET_ACCESS_KEY"],
                     region_name="us-east-1").create_bucket(Bucket="supercorrect")
        with prefect_server(tmp, env) as api_url:
            prefect = str(BIN / "prefect")
            run([prefect, "work-pool", "create", "cpu", "--type", "process"], repo, env)
            run([prefect, "work-pool", "create", "gpu", "--type", "process"], repo, env)
            run([prefect, "work-pool", "set-concurrency-limit", "gpu", "1"], repo, env)
            run([prefect, "concurrency-limit", "create", "dvc", "1"], repo, env)
            deploy_out = run([prefect, "--no-prompt", "deploy", "--all"], repo, env)
            with process([prefect, "worker", "start", "--pool", "cpu", "--type", "process"], tmp / "worker-cpu.log",
                         repo, env), \
                 process([prefect, "worker", "start", "--pool", "gpu", "--type", "process"], tmp / "worker-gpu.log",
                         repo, env):
                api = Api(api_url)
                first_id = _trigger(repo, env)
                first = api.wait(first_id, timeout=900)
                after_first = _snapshot(repo)
                t0 = time.monotonic()
                second_id = _trigger(repo, env)
                second = api.wait(second_id, timeout=600)
                second_wall = time.monotonic() - t0
                # New problems arrive: a new version of the input data, committed like a data update.
                params = yaml.safe_load((repo / "params.yaml").read_text())
                params["prepare"]["synthetic"]["n_train"] = NEW_N_TRAIN
                (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
                run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "new problems"], repo, env)
                third = api.wait(_trigger(repo, env), timeout=900)
                for run_id in (first_id, second_id, third["id"]):
                    api.wait_logs(run_id)
                runs = api.flow_runs()
                logs = {r["id"]: api.logs([r["id"]]) for r in runs}
                deployments = api.post("/deployments/filter", {"limit": 50})
                limits = api.post("/concurrency_limits/filter", {})
                pools = {name: api.get(f"/work_pools/{name}") for name in ("cpu", "gpu")}
            s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=SECRETS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=SECRETS["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="supercorrect").get("Contents", [])]
        yield {"repo": repo, "tmp": tmp, "first": first, "second": second, "second_wall": second_wall, "third": third,
               "after_first": after_first,
               "runs": runs, "logs": logs, "deployments": deployments, "limits": limits, "pools": pools,
               "s3_keys": keys, "deploy_out": deploy_out}


def _why(op, run_id) -> str:
    """On failure: the logs of every flow run, and the worker logs."""
    lines = [f"--- {r['name']} ({r['state']['type']})\n" + "\n".join(op["logs"][r["id"]][-40:]) for r in op["runs"]]
    for name in ("worker-cpu.log", "worker-gpu.log"):
        lines.append(f"--- {name}\n" + (op["tmp"] / name).read_text()[-3000:])
    return f"flow run {run_id}:\n" + "\n".join(lines)


def test_deployments_schedule_and_limits(operated):
    deps = {(d["name"], d["work_pool_name"], d["entrypoint"]) for d in operated["deployments"]}
    assert ("retrain", "cpu", "flows/pipeline.py:pipeline") in deps
    for stage in GPU_STAGES:
        assert ("gpu", "gpu", f"flows/{stage}.py:{stage}") in deps
    retrain = next(d for d in operated["deployments"] if d["name"] == "retrain")
    crons = [s["schedule"].get("cron") for s in retrain["schedules"]]
    assert crons == [yaml.safe_load((operated["repo"] / "prefect.yaml").read_text())["deployments"][0]
                     ["schedules"][0]["cron"]]
    assert retrain["global_concurrency_limit"]["limit"] == 1
    # The server's scheduler turned the cron into upcoming runs (Mondays 03:00 UTC).
    scheduled = [r for r in operated["runs"] if r["deployment_id"] == retrain["id"] and r["state"]["type"] == "SCHEDULED"]
    assert scheduled, "the scheduler created no runs from the cron schedule (see prefect-server.log)"
    for r in scheduled:
        start = datetime.fromisoformat(r["expected_start_time"]).astimezone(timezone.utc)
        assert (start.weekday(), start.hour, start.minute) == (0, 3, 0), start
    assert operated["pools"]["gpu"]["concurrency_limit"] == 1 and operated["pools"]["gpu"]["type"] == "process"
    assert any(lim["tag"] == "dvc" and lim["concurrency_limit"] == 1 for lim in operated["limits"])


def test_retrain_runs_gpu_stages_on_gpu_pool_and_registers(operated):
    first = operated["first"]
    assert first["state"]["type"] == "COMPLETED", _why(operated, first["id"])
    gpu_runs = [r for r in operated["runs"] if r["work_pool_name"] == "gpu"]
    # The two retrain runs that rebuilt started the four GPU stage deployments on pool `gpu`; the
    # up-to-date run sent none there.
    assert len(gpu_runs) == 8 and all(r["state"]["type"] == "COMPLETED" for r in gpu_runs)
    assert {r["deployment_id"] for r in gpu_runs} == {
        d["id"] for d in operated["deployments"] if d["work_pool_name"] == "gpu"}
    flow_names = {r["flow_id"] for r in gpu_runs}
    assert len(flow_names) == 4
    # Stage tasks on the worker pulled from and pushed to the S3 remote.
    all_logs = "\n".join(line for lines in operated["logs"].values() for line in lines)
    assert "pushed" in all_logs
    assert any(k.startswith("dvc/files/md5/") for k in operated["s3_keys"])

    from mlflow import MlflowClient
    repo = operated["repo"]
    first = operated["after_first"]
    assert first["champion"] == first["challenger"] == 1  # the first version becomes champion
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    v1 = client.get_model_version("supercorrect-student", "1")
    assert float(v1.tags["accuracy"]) == first["evaluate"]["synthetic"]["accuracy"]

    # Lineage: the registering run names the git commit and the DVC hashes of the data it used.
    lock = first["lock"]
    parent = client.get_run(v1.run_id)
    while parent.data.tags.get("mlflow.parentRunId"):
        parent = client.get_run(parent.data.tags["mlflow.parentRunId"])
    first_commit = run(["git", "rev-parse", "HEAD~1"], repo, dict(os.environ)).strip()
    assert parent.data.tags["git_commit"] == first_commit  # HEAD is the third run's "new problems"
    prepared = next(o for o in lock["stages"]["prepare"]["outs"] if o["path"] == "data/prepare")
    assert parent.data.tags["dvc.data/prepare"] == prepared["md5"]
    pairs_dep = next(d for d in lock["stages"]["dpo"]["deps"] if d["path"] == "data/mine/pairs.jsonl")
    assert parent.data.tags["dvc.data/mine/pairs.jsonl"] == pairs_dep["md5"]


def test_second_run_is_up_to_date_and_quick(operated):
    second = operated["second"]
    assert second["state"]["type"] == "COMPLETED", _why(operated, second["id"])
    logs = operated["logs"][second["id"]]
    assert "pipeline up to date: nothing to rebuild" in logs
    # One `dvc status` for the whole pipeline decided it, and no stage was started.
    assert logs.count("dvc status: up to date") == 1, logs
    assert "Everything is up to date." in logs  # the one `dvc push`: the remote already had it all
    for stage in ("prepare", "annotate", "sft", "mine", "dpo", "evaluate", "register"):
        assert f"{stage} up to date (skipped)" in logs
    assert not [r for r in operated["runs"] if r["parent_task_run_id"] and r["start_time"]
                and second["start_time"] <= r["start_time"] <= second["end_time"]]
    first_wall = operated["first"]["total_run_time"]
    assert second["total_run_time"] < first_wall / 2, (second["total_run_time"], first_wall)
    assert operated["second_wall"] < 90

    # Both runs are in MLflow with their lineage; only the first rebuilt anything.
    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=f"sqlite:///{operated['repo'] / 'mlflow.db'}")
    exp = client.get_experiment_by_name("supercorrect")
    # Each is named as its Prefect flow run is, `retrain-<sha>-<date>`.
    names = {r["id"]: r["name"] for r in operated["runs"]}
    retrains = {r.data.tags["prefect_flow_run_id"]: r for r in client.search_runs([exp.experiment_id])
                if r.info.run_name.startswith("retrain-")}
    assert all(r.info.run_name == names[flow_run_id] for flow_run_id, r in retrains.items())
    assert retrains[operated["first"]["id"]].data.tags["up_to_date"] == "false"
    assert retrains[second["id"]].data.tags["up_to_date"] == "true"
    assert retrains[second["id"]].data.tags["stages_ran"] == "none"
    assert retrains[second["id"]].data.tags["dvc.data/prepare"]
    # The up-to-date run registered nothing: the only other version is the third run's.
    versions = client.search_model_versions("name='supercorrect-student'")
    assert sorted(int(v.version) for v in versions) == [1, 2]


def test_new_data_retrains_and_champion_moves_only_if_better(operated):
    third = operated["third"]
    assert third["state"]["type"] == "COMPLETED", _why(operated, third["id"])
    assert any(line.startswith("pipeline rebuilt prepare") for line in operated["logs"][third["id"]])

    from mlflow import MlflowClient
    repo = operated["repo"]
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    v1, v2 = (client.get_model_version("supercorrect-student", str(n)) for n in (1, 2))
    assert int(client.get_model_version_by_alias("supercorrect-student", "challenger").version) == 2
    champion = int(client.get_model_version_by_alias("supercorrect-student", "champion").version)
    better = float(v2.tags["accuracy"]) > float(v1.tags["accuracy"])
    assert champion == (2 if better else 1), (v1.tags, v2.tags)
    register = json.loads((repo / "metrics" / "register.json").read_text())
    assert register["version"] == 2 and register["promoted"] is better

    # Lineage tells the two models apart: a new commit and a new hash of the prepared data.
    def parent_tags(version):
        run_ = client.get_run(version.run_id)
        while run_.data.tags.get("mlflow.parentRunId"):
            run_ = client.get_run(run_.data.tags["mlflow.parentRunId"])
        return run_.data.tags
    t1, t2 = parent_tags(v1), parent_tags(v2)
    assert t1["dvc.data/prepare"] != t2["dvc.data/prepare"]
    assert t1["git_commit"] != t2["git_commit"]
    assert json.loads((repo / "metrics" / "prepare.json").read_text())["train"] == NEW_N_TRAIN


def test_no_secret_leaks(operated):
    """No OpenAI or AWS key in Prefect parameters, flow-run logs or database, MLflow, dvc.lock or .dvc/config.

    The keys were in the workers' environment for the whole run, and the AWS ones were used
    (every stage pulled from and pushed to the S3 remote with them).
    """
    repo = operated["repo"]
    places = {}
    for r in operated["runs"]:
        places[f"prefect parameters of {r['name']}"] = json.dumps(r["parameters"])
        places[f"prefect job variables of {r['name']}"] = json.dumps(r.get("job_variables") or {})
        places[f"prefect logs of {r['name']}"] = "\n".join(operated["logs"][r["id"]])
    places["deployments"] = json.dumps(operated["deployments"])
    # The workers' own output (every flow run's stdout) and everything the Prefect server and the
    # runs stored: its database and the persisted flow results.
    for name in ("worker-cpu.log", "worker-gpu.log"):
        places[name] = (operated["tmp"] / name).read_text()
    prefect_files = [p for p in (operated["tmp"] / "prefect-home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in prefect_files)
    for path in prefect_files:
        places[f"prefect home: {path.name}"] = path.read_bytes().decode("latin-1")
    places["dvc.lock"] = (repo / "dvc.lock").read_text()
    places[".dvc/config"] = (repo / ".dvc" / "config").read_text()
    mlflow_files = [repo / "mlflow.db", *(p for p in (repo / "mlruns").rglob("*") if p.is_file())]
    assert len(mlflow_files) > 5  # the store and the logged model's files
    for path in mlflow_files:
        places[str(path.relative_to(repo))] = path.read_bytes().decode("latin-1")
    assert sum(len(v) for k, v in places.items() if k.startswith("prefect logs")) > 1000  # the logs are there
    for name, value in SECRETS.items():
        leaks = [where for where, text in places.items() if value in text]
        assert not leaks, f"{name} found in {leaks}"
