"""`make gpu-smoke` on a machine without a CUDA GPU (this one, and CI): it stops at once, before
installing anything, with one clear line and a non-zero exit. The GPU run itself needs a GPU
(bench/gpu_smoke.py); here only this refusal can run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine runs the real smoke instead")
def test_gpu_smoke_without_cuda_stops_at_once_with_one_line(tmp_path):
    started = time.monotonic()
    # VENV points at a directory that does not exist: reaching `install` would fail differently.
    proc = subprocess.run(["make", "-s", "gpu-smoke", f"VENV={tmp_path / 'no-venv'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if not line.startswith("make")]
    assert ours == ["gpu-smoke: no CUDA GPU here (nvidia-smi not found); run it on a machine with an NVIDIA GPU "
                    "and its driver (nvidia-smi must list the GPU)"]
    assert proc.stdout == "" and not (tmp_path / "no-venv").exists()
    assert time.monotonic() - started < 20
