"""Static checks of docker/ (no Docker engine or `docker compose` plugin runs here or in CI).

What is checked, so that a broken edit fails here rather than at `docker compose up`:
- compose.yaml has the Prefect server, cpu and gpu workers, MLflow with Postgres and an S3 store;
  every build points at an existing Dockerfile, every image tag is pinned, depends_on names
  existing services, named volumes are declared;
- the gpu worker (and only it) requests NVIDIA GPUs; the workers' pools are prefect.yaml's pools;
- every ${VAR} compose reads is documented in docker/.env.example, and no secret has a literal value;
- the Dockerfiles use pinned bases (a CUDA runtime for the GPU image), install exactly their lock
  (requirements.lock with CPU torch, requirements-cuda.lock with CUDA torch) with hashes checked and
  the uv the lock pins, install no torch of their own, and start a Prefect worker.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

DOCKER = REPO / "docker"
SECRET_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "POSTGRES_PASSWORD")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and tag != "latest" and re.search(r"\d", tag) is not None


def test_services_and_builds(compose):
    services = compose["services"]
    assert {"prefect-server", "cpu-worker", "gpu-worker", "mlflow", "postgres", "s3"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc and _pinned(svc["image"]), f"{name}: image {svc.get('image')!r} is not pinned"
        if "build" in svc:
            context = (DOCKER / svc["build"]["context"]).resolve()
            assert (context / svc["build"]["dockerfile"]).is_file(), f"{name}: no {svc['build']['dockerfile']}"
        for dep in svc.get("depends_on", []):
            assert dep in services, f"{name}: depends_on unknown service {dep}"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose.get("volumes", {}), f"{name}: volume {source} not declared"
    # One image per Dockerfile: services sharing an image tag build it the same way.
    builds = {}
    for svc in services.values():
        if "build" in svc:
            assert builds.setdefault(svc["image"], svc["build"]["dockerfile"]) == svc["build"]["dockerfile"]


def test_gpu_request_and_pools(compose):
    services = compose["services"]
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert not any("deploy" in svc for name, svc in services.items() if name != "gpu-worker")

    pools = {d["work_pool"]["name"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]}
    assert pools == {"cpu", "gpu"}
    for pool, dockerfile in (("cpu", "Dockerfile.cpu"), ("gpu", "Dockerfile.gpu")):
        entry = _entrypoint(DOCKER / dockerfile)
        assert entry[:3] == ["prefect", "worker", "start"] and entry[entry.index("--pool") + 1] == pool
    # The workers reach the stack by service name and sync data through DVC remote `s3`.
    env = services["gpu-worker"]["environment"]
    assert env["PREFECT_API_URL"].startswith("http://prefect-server:")
    assert env["MLFLOW_TRACKING_URI"].startswith("http://mlflow:")
    assert env["SUPERCORRECT_DVC_REMOTE"] == "s3" and "[\'remote \"s3\"\']" in (REPO / ".dvc" / "config").read_text()
    mlflow_env = services["mlflow"]["environment"]
    assert mlflow_env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://") and "@postgres:" in \
        mlflow_env["MLFLOW_BACKEND_STORE_URI"]
    assert mlflow_env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")


def test_env_vars_documented_and_secrets_not_literal(compose):
    text = (DOCKER / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (DOCKER / ".env.example").read_text(), re.M))
    assert used and used <= documented, f"undocumented: {sorted(used - documented)}"
    assert set(SECRET_NAMES) <= used

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in SECRET_NAMES:
                    assert isinstance(value, str) and value.startswith("${"), f"{key} has a literal value"
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(compose)
    assert "docker/.env" in (REPO / ".gitignore").read_text()


LOCK_OF = {"Dockerfile.cpu": "requirements.lock", "Dockerfile.gpu": "requirements-cuda.lock"}


def _runs(text: str) -> list[str]:
    """The Dockerfile's RUN instructions, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [x.removeprefix("RUN").strip() for x in joined.splitlines() if x.startswith("RUN")]


def _entrypoint(dockerfile) -> list[str]:
    line = next(x for x in dockerfile.read_text().splitlines() if x.startswith("ENTRYPOINT"))
    return yaml.safe_load(line.removeprefix("ENTRYPOINT").strip())


@pytest.mark.parametrize("dockerfile", ["Dockerfile.gpu", "Dockerfile.cpu"])
def test_dockerfiles_are_pinned(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert bases and all(_pinned(b) for b in bases), bases
    if dockerfile == "Dockerfile.gpu":
        assert bases[0].startswith("nvidia/cuda:") and "runtime" in bases[0]
    # Everything from the lock (CPU torch for the CPU image, CUDA torch for the GPU one), hashes
    # checked, with the uv the lock pins; nothing installed past the lock but the optional vLLM.
    lock = LOCK_OF[dockerfile]
    assert re.search(rf"^COPY {lock} ", text, re.M), f"{dockerfile} does not copy {lock}"
    sync = next(x for x in _runs(text) if "uv pip sync" in x)
    assert "--require-hashes" in sync and sync.endswith(f" {lock}"), sync
    uv_pin = re.search(r"^uv==(\S+)", (REPO / lock).read_text(), re.M).group(1)
    assert f"ARG UV_VERSION={uv_pin}" in text and 'pip install "uv==${UV_VERSION}"' in sync
    installs = [x for x in _runs(text) if re.search(r"pip install", x)]
    assert all(x == sync or "--no-deps" in x or "VLLM_VERSION" in x for x in installs), installs
    assert not re.search(r"\btorch\b(?!/)", " ".join(installs)), f"{dockerfile}: torch must come from the lock"
    for args in re.findall(r"^COPY\s+(.+)$", text, re.M):
        for copied in args.split()[:-1]:
            assert (REPO / copied).exists(), f"{dockerfile}: COPY {copied} does not exist"
    assert "HF_HUB_OFFLINE=1" in text  # nothing is fetched from a hub at run time
