"""Checkpoints of `sft` and `dpo`: a run killed with SIGKILL resumes from its last checkpoint.

The stage runs as a real subprocess (`python -m supercorrect ...`, as DVC runs it); the test
waits for a complete checkpoint, kills the process with SIGKILL, reruns the same command and
checks that training continued from that step and finished. Tiny models: seconds per run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supercorrect.io import write_jsonl
from supercorrect.student.build import build_tiny
from supercorrect.training.checkpoints import last_checkpoint, run_key
from tests.conftest import REPO
from tests.test_dpo import pair
from tests.test_sft import SMALL, corpus, hsft_records

TINY = ["student.tiny.hidden_size=32", "student.tiny.num_layers=2", "student.tiny.num_heads=2",
        "student.tiny.vocab_size=300"]


def command(stage: str, overrides: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "supercorrect", stage, "--params", str(REPO / "params.yaml")]
    for o in overrides:
        cmd += ["--set", o]
    return cmd


ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def kill_after_checkpoint(cwd: Path, cmd: list[str], runs: Path) -> int:
    """Start the stage, SIGKILL it once a complete checkpoint exists; return that step."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = [c for d in runs.glob("*") if (c := last_checkpoint(d))]
            if found:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return int(found[0].rsplit("-", 1)[1])
            time.sleep(0.01)
        pytest.fail(f"no checkpoint before the run ended (exit {proc.poll()})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def rerun(cwd: Path, cmd: list[str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_sft_resumes_after_sigkill(tmp_path):
    write_jsonl(tmp_path / "annotate" / "hsft.jsonl", hsft_records(40))
    # 40 examples / batch 2 x 3 epochs = 60 steps, a checkpoint every 4.
    cmd = command("sft", [*TINY, "annotate.out_dir=annotate", "sft.out_dir=sft", "sft.base_dir=base",
                          "sft.batch_size=2", "sft.epochs=3", "sft.save_steps=4"])
    step = kill_after_checkpoint(tmp_path, cmd, tmp_path / ".cache" / "checkpoints" / "sft")
    assert step >= 4 and step % 4 == 0
    assert not (tmp_path / "sft" / "metrics.json").exists()  # it really died before the end

    out = rerun(tmp_path, cmd)
    metrics = json.loads((tmp_path / "sft" / "metrics.json").read_text())
    assert f"(step {metrics['resumed_from_step']})" in out
    assert metrics["resumed_from_step"] >= step and metrics["steps"] == 60
    assert (tmp_path / "sft" / "model.safetensors").exists()
    assert not any((tmp_path / ".cache" / "checkpoints" / "sft").iterdir())  # finished: cleaned up


def test_dpo_resumes_after_sigkill(tmp_path):
    build_tiny(corpus(hsft_records(30)) + [pair(0)["chosen"][0]["content"]], SMALL, tmp_path / "sft")
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", [pair(i, k=1 + i % 2, context="solve") for i in range(16)])
    # 16 pairs / batch 2 x 4 epochs = 32 steps, a checkpoint every 4.
    cmd = command("dpo", ["sft.out_dir=sft", "mine.out_dir=mine", "dpo.out_dir=dpo", "dpo.batch_size=2",
                          "dpo.epochs=4", "dpo.save_steps=4", "dpo.max_length=320"])
    step = kill_after_checkpoint(tmp_path, cmd, tmp_path / ".cache" / "checkpoints" / "dpo")
    assert not (tmp_path / "dpo" / "metrics.json").exists()

    out = rerun(tmp_path, cmd)
    metrics = json.loads((tmp_path / "dpo" / "metrics.json").read_text())
    assert f"(step {metrics['resumed_from_step']})" in out
    assert metrics["resumed_from_step"] >= step >= 4 and metrics["steps"] == 32
    assert metrics["reference_model_in_memory"] is False


def test_last_checkpoint_skips_partial_ones(tmp_path):
    for step, complete in [(4, True), (8, True), (12, False)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-8")
    assert last_checkpoint(tmp_path / "missing") is None


def test_run_key_changes_with_config_and_input(tmp_path):
    data = tmp_path / "hsft.jsonl"
    data.write_text("a\n")
    key = run_key({"lr": 1}, [data])
    assert key == run_key({"lr": 1}, [data])
    assert key != run_key({"lr": 2}, [data])
    data.write_text("b\n")
    assert key != run_key({"lr": 1}, [data])
