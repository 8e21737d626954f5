"""GPU smoke run: the pipeline on a tiny student in bf16, with vLLM rollouts and evaluation.

    make gpu-smoke                          # checks for a GPU, installs vLLM, then runs this
    python -m bench.gpu_smoke [--workdir DIR] [--keep]
    python3 -m bench.gpu_smoke --check      # only the GPU check (no project imports, any python)

Without a CUDA GPU (no `nvidia-smi`, or it lists no GPU) it stops at once with one line on
stderr and exit status 2. Otherwise it exports the committed tree (`git archive HEAD`) to a
scratch directory and runs `supercorrect prepare`, `annotate`, `sft`, `mine`, `dpo` and `evaluate`
there on a small synthetic dataset, with `student.dtype=bfloat16` and `student.engine=vllm`.
nvidia-smi is polled for memory while the stages run. The last line is JSON: seconds per
stage, rollout tokens per second of `mine` (rollout tokens over the stage's seconds, the
teacher's and the student's corrections included), peak GPU memory (MiB) and the accuracies.
This machine has no GPU: only the check has run here (tests/test_gpu_smoke.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NO_GPU = ("gpu-smoke: no CUDA GPU here ({why}); run it on a machine with an NVIDIA GPU and its driver "
          "(nvidia-smi must list the GPU)")
STAGES = ["prepare", "annotate", "sft", "mine", "dpo", "evaluate"]
SETTINGS = [
    "student.dtype=bfloat16", "student.engine=vllm", "student.vllm_gpu_memory=0.4",
    "prepare.synthetic.n_train=600", "prepare.synthetic.n_mine=120", "prepare.synthetic.n_test=100",
    "sft.epochs=2", "sft.batch_size=16", "dpo.epochs=1", "mine.samples_per_problem=4",
]


def gpu_problem() -> str | None:
    """Why there is no usable CUDA GPU, or None when nvidia-smi lists one."""
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not found"
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {type(exc).__name__}"
    if out.returncode != 0 or "GPU" not in out.stdout:
        return "nvidia-smi lists no GPU"
    return None


class MemoryPoll(threading.Thread):
    """The peak of the GPUs' used memory (MiB, summed over GPUs), sampled every half second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True)
            used = sum(int(x) for x in out.stdout.split() if x.strip().isdigit())
            self.peak = max(self.peak, used)
            self.stop.wait(0.5)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check for a CUDA GPU")
    parser.add_argument("--workdir", default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    why = gpu_problem()
    if why:
        print(NO_GPU.format(why=why), file=sys.stderr)
        raise SystemExit(2)
    if args.check:
        return None

    repo = Path(__file__).resolve().parents[1]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gpu-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    poll = MemoryPoll()
    poll.start()
    seconds = {}
    try:
        for stage in STAGES:
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "supercorrect", stage, *sets], cwd=work)
            seconds[stage] = round(time.perf_counter() - started, 1)
            if proc.returncode != 0:
                print(json.dumps({"failed_stage": stage, "stage_s": seconds}))
                raise SystemExit(proc.returncode)
    finally:
        poll.stop.set()

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(work / "models" / "sft"))
    rollouts = [json.loads(line) for line in (work / "data" / "mine" / "rollouts.jsonl").read_text().splitlines()]
    rollout_tokens = sum(len(tokenizer(r["response"], add_special_tokens=False)["input_ids"]) for r in rollouts)
    evaluate = json.loads((work / "metrics" / "evaluate.json").read_text())
    import torch

    result = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "stage_s": seconds, "total_s": round(sum(seconds.values()), 1),
        "rollouts": len(rollouts), "rollout_tokens": rollout_tokens,
        "mine_rollout_tokens_per_s": round(rollout_tokens / seconds["mine"], 1),
        "peak_gpu_memory_mib": poll.peak,
        "accuracy": {name: {k: v for k, v in block.items() if k.endswith("accuracy")}
                     for name, block in evaluate.items()},
        "workdir": str(work) if args.keep else None,
    }
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
