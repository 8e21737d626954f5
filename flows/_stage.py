"""Shared body of every stage flow: run the stage through DVC, then report its metrics.

Going through `dvc repro --single-item <stage>` (not the library directly) means Prefect and
`dvc repro` share one stage definition and one cache: an unchanged stage is skipped in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    # The venv's bin first, so DVC's `supercorrect <stage>` commands use this interpreter.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# DVC takes a repo-wide lock, so stage tasks never overlap within a run; retries are pointless
# for deterministic failures (bad params, bad data), so there are none here.
@task(name="dvc-repro", tags=["dvc"])
def dvc_repro(stage: str) -> bool:
    """Run one DVC stage; return True if it ran, False if it was already up to date."""
    logger = get_run_logger()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--single-item", stage], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ran = True
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            logger.info(line)
        if "didn't change, skipping" in line or "is up to date" in line:
            ran = False
    if proc.wait() != 0:
        raise RuntimeError(f"dvc repro --single-item {stage} failed (exit {proc.returncode}); see the log above")
    return ran


def report(stage: str, ran: bool) -> dict:
    """Read metrics/<stage>.json and show it as a Prefect artifact on the flow run."""
    path = REPO / "metrics" / f"{stage}.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    status = "ran" if ran else "up to date (skipped)"
    create_markdown_artifact(key=f"{stage}-metrics", markdown=f"## {stage}: {status}\n\n| metric | value |\n|---|---|\n{rows}\n",
                             description=f"metrics/{stage}.json")
    get_run_logger().info("%s %s", stage, status)
    return {"stage": stage, "ran": ran, "metrics": metrics}


def run_stage(stage: str) -> dict:
    return report(stage, dvc_repro(stage))
