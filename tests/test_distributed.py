"""`sft` and `dpo` on 2 CPU processes (gloo) through `accelerate launch`, the path to real clusters.

Real processes, a real gloo process group and real (tiny) TRL training: nothing is mocked.
Both ranks print their rank and world size; only rank 0 writes outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from supercorrect.io import write_jsonl
from tests.conftest import REPO
from tests.test_dpo import pair
from tests.test_sft import hsft_records

CONFIGS = REPO / "supercorrect" / "accelerate"
ACCELERATE = os.path.join(os.path.dirname(sys.executable), "accelerate")
TINY = ["student.tiny.hidden_size=32", "student.tiny.num_layers=2", "student.tiny.num_heads=2",
        "student.tiny.vocab_size=300"]


def launch(cwd, stage: str, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    cmd = [ACCELERATE, "launch", "--config_file", str(CONFIGS / "cpu2.yaml"), "-m", "supercorrect", stage,
           "--params", str(REPO / "params.yaml")]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_sft_and_dpo_on_two_cpu_processes(tmp_path):
    write_jsonl(tmp_path / "annotate" / "hsft.jsonl", hsft_records(16))
    proc = launch(tmp_path, "sft", *TINY, f"annotate.out_dir={tmp_path}/annotate", "sft.out_dir=sft",
                  "sft.base_dir=base", "sft.batch_size=2", "sft.epochs=1", "sft.save_steps=0")
    out = proc.stdout + proc.stderr
    assert "sft: rank 0 of world size 2" in out and "sft: rank 1 of world size 2" in out
    metrics = json.loads((tmp_path / "sft" / "metrics.json").read_text())
    # 16 examples, 2 per process and step, 2 processes: 4 steps (one process alone would take 8).
    assert metrics["world_size"] == 2 and metrics["steps"] == 4
    assert (tmp_path / "sft" / "model.safetensors").exists()

    pairs = [pair(i, k=1 + i % 2, context="solve") for i in range(8)]
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", pairs)
    proc = launch(tmp_path, "dpo", "sft.out_dir=sft", "mine.out_dir=mine", "dpo.out_dir=dpo", "dpo.batch_size=2",
                  "dpo.epochs=1", "dpo.save_steps=0", "dpo.max_length=320")
    out = proc.stdout + proc.stderr
    assert "dpo: rank 0 of world size 2" in out and "dpo: rank 1 of world size 2" in out
    metrics = json.loads((tmp_path / "dpo" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 2 and metrics["n_trained"] == 8
    # Precomputed reference scores were shared by both ranks: no reference model was loaded.
    assert metrics["reference_model_in_memory"] is False
    assert (tmp_path / "dpo" / "model.safetensors").exists()


@pytest.mark.parametrize("name", ["fsdp.yaml", "zero3.yaml", "cpu2.yaml"])
def test_accelerate_configs_load(name):
    """accelerate's own loader accepts each config (field names and values it knows)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / name))
    assert config.num_processes >= 2
    if name == "fsdp.yaml":
        assert config.distributed_type == "FSDP" and config.fsdp_config["fsdp_version"] == 2
    if name == "zero3.yaml":
        assert config.distributed_type == "DEEPSPEED" and config.deepspeed_config["zero_stage"] == 3
