"""The S3 data plane against a real S3-compatible server (SeaweedFS `weed mini` on 127.0.0.1).

- DVC: the committed remote `s3` (.dvc/config holds only the bucket URL; endpoint and keys come
  from the environment) round-trips a stage's outputs: push, delete the cache and the outputs,
  pull, same bytes.
- MLflow: the tracking server started by mlflow/server.sh with an S3 artifact destination stores
  a registered model's files in the bucket; the client holds no S3 credentials (the server proxies).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import boto3
import pytest

from tests.conftest import REPO
from tests.harness import BIN, copy_repo, free_port, process, run, seaweedfs, wait_http

KEYS = {"AWS_ACCESS_KEY_ID": "AKIAS3TESTKEY0000001", "AWS_SECRET_ACCESS_KEY": "s3-test-secret/abc+123"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s3")
    with seaweedfs(tmp) as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
        client.create_bucket(Bucket="supercorrect")
        yield endpoint, client


def _digests(root):
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_dvc_push_pull_round_trip(s3, tmp_path):
    endpoint, client = s3
    repo = tmp_path / "repo"
    copy_repo(repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(KEYS, AWS_ENDPOINT_URL_S3=endpoint, AWS_DEFAULT_REGION="us-east-1", PYTHONPATH=str(repo),
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "repro", "--single-item", "prepare"], repo, env)
    before = _digests(repo / "data" / "prepare")
    assert "train.jsonl" in before

    out = run([*dvc, "push", "-r", "s3", "prepare"], repo, env)
    assert "pushed" in out
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="supercorrect", Prefix="dvc/").get("Contents", [])]
    assert len(keys) >= len(before)

    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data" / "prepare")
    status = run([*dvc, "status", "prepare"], repo, env)
    assert "not in cache" in status  # really gone locally
    run([*dvc, "pull", "-r", "s3", "prepare"], repo, env)
    assert _digests(repo / "data" / "prepare") == before
    assert "up to date" in run([*dvc, "status", "prepare"], repo, env)

    # Nothing about the endpoint or the keys was written into the repo's DVC config.
    config = (repo / ".dvc" / "config").read_text()
    assert endpoint not in config and all(v not in config for v in KEYS.values())


def test_mlflow_server_stores_registered_model_in_s3(s3, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from supercorrect import register
    from supercorrect.config import TinyConfig
    from supercorrect.params_file import load_params
    from supercorrect.io import write_json
    from supercorrect.student.build import build_tiny

    endpoint, client = s3
    port = free_port()
    server_env = dict(os.environ, **KEYS, MLFLOW_S3_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1",
                      MLFLOW_BACKEND_STORE_URI=f"sqlite:///{tmp_path / 'server.db'}",
                      MLFLOW_ARTIFACTS_DESTINATION="s3://supercorrect/mlflow", MLFLOW_PORT=str(port),
                      MLFLOW_BIN=str(BIN / "mlflow"))
    log = tmp_path / "mlflow-server.log"
    with process(["bash", str(REPO / "mlflow" / "server.sh")], log, tmp_path, server_env) as proc:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, timeout=120)
        # The client side: tracking URI only, no S3 endpoint or keys.
        for name in (*KEYS, "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
        monkeypatch.chdir(tmp_path)
        build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer> apples"] * 20,
                   TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), tmp_path / "models" / "dpo")
        p = load_params(REPO / "params.yaml", [f"dpo.out_dir={tmp_path / 'models' / 'dpo'}",
                                               f"evaluate.out={tmp_path / 'metrics' / 'evaluate.json'}"])
        write_json(p.evaluate.out, {"synthetic": {"accuracy": 0.25, "n": 4}})
        result = register.run(p)

        mlflow_client = MlflowClient()
        version = mlflow_client.get_model_version_by_alias("supercorrect-student", "champion")
        assert int(version.version) == result["version"] == 1
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="supercorrect", Prefix="mlflow/").get("Contents", [])]
        model_files = {k.rsplit("/", 1)[-1] for k in keys}
        assert {"MLmodel", "config.json", "model.safetensors", "tokenizer.json"} <= model_files, sorted(keys)
        # The bytes in the bucket are the model that was registered.
        weights = next(k for k in keys if k.endswith("model.safetensors"))
        body = client.get_object(Bucket="supercorrect", Key=weights)["Body"].read()
        assert body == (tmp_path / "models" / "dpo" / "model.safetensors").read_bytes()
        assert json.loads((tmp_path / "metrics" / "register.json").read_text())["promoted"] is True
    store = (tmp_path / "server.db").read_bytes().decode("latin-1")
    assert all(v not in store for v in KEYS.values())
