"""Training checkpoints that survive a killed run, for the `sft` and `dpo` stages.

DVC deletes a stage's outs before it reruns the stage, so checkpoints live outside them:
`{checkpoint_dir}/{stage}/{key}`, where the key hashes the stage's params sections and the
content of its inputs. A rerun with the same params and inputs finds the directory and resumes
from its newest complete checkpoint; any change gives a fresh directory (old runs are never
resumed with new settings). A finished run deletes its directory.

    from supercorrect.training.checkpoints import run_dir, last_checkpoint
    out = run_dir(".cache/checkpoints", "sft", {"sft": ..., "student": ...}, [hsft_path])
    trainer.train(resume_from_checkpoint=last_checkpoint(out))
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _fingerprint(path: Path, digest) -> None:
    """Content of small files; name, size and mtime of large ones (a 15 GB model is not re-read)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        stat = f.stat()
        if stat.st_size <= 64 << 20:
            digest.update(f.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())


def run_key(config: dict, inputs: list[str | Path]) -> str:
    """A short hash of the config and the inputs' content."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for path in inputs:
        path = Path(path)
        if path.exists():
            _fingerprint(path, digest)
    return digest.hexdigest()[:16]


def run_dir(root: str | Path, stage: str, config: dict, inputs: list[str | Path]) -> Path:
    return Path(root) / stage / run_key(config, inputs)


def last_checkpoint(out: str | Path) -> str | None:
    """The newest checkpoint the Trainer finished writing, or None.

    A run killed while saving leaves a partial `checkpoint-N`; the trainer state is written
    last, so a directory without `trainer_state.json` is skipped.
    """
    out = Path(out)
    if not out.is_dir():
        return None
    done = [(int(m.group(1)), p) for p in out.iterdir()
            if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()]
    return str(max(done)[1]) if done else None


def resumed_step(checkpoint: str | None) -> int:
    """The global step a checkpoint holds (0 when there is none)."""
    if checkpoint is None:
        return 0
    return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])


def clear(out: str | Path) -> None:
    """Remove a finished run's checkpoints."""
    shutil.rmtree(out, ignore_errors=True)
