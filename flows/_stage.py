"""Shared body of every stage flow: (dvc pull) → `dvc repro --single-item <stage>` → (dvc push), then report.

Going through DVC (not the library directly) means Prefect and `dvc repro` share one stage
definition and one cache: an unchanged stage is skipped in seconds.

When a DVC remote is configured (`SUPERCORRECT_DVC_REMOTE=<name>`, or DVC's default remote), a
worker first pulls the cached outputs of the stage and everything upstream of it, and pushes the
stage's outputs afterwards, so workers with their own DVC caches see each other's data.

Whether a stage ran is read from the record the CLI writes when it runs one
(metrics/timings.json), and whether anything changed from `dvc status --json`: never from DVC's
log lines. Every path and command is taken from the repo root `REPO`, not the working directory.

    python -m flows.sft      # one stage's flow (flows/<stage>.py); python -m flows.pipeline for all
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    # The venv's bin first, so DVC's `supercorrect <stage>` commands use this interpreter.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _dvc(args: list[str]) -> None:
    """Run `dvc <args>` in the repo, streaming its output to the run log; raise on failure."""
    logger = get_run_logger()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", *args], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.strip():
            logger.info(line.rstrip())
    if proc.wait() != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed (exit {proc.returncode}); see the log above")


def dvc_remote() -> str | None:
    """The DVC remote to sync with: $SUPERCORRECT_DVC_REMOTE, else DVC's default remote, else None."""
    if name := os.environ.get("SUPERCORRECT_DVC_REMOTE"):
        return name
    proc = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=REPO, env=_env(),
                          capture_output=True, text=True)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name and " " not in name else None


def last_run(stage: str) -> dict | None:
    """The CLI's record of the stage's last run in this checkout (start and end), or None."""
    from supercorrect.io import TIMINGS
    from supercorrect.tracking import read_timings

    return read_timings(REPO / TIMINGS).get(stage)


# All DVC tasks carry tag `dvc`: DVC holds a repo-wide lock, so the operator sets a tag concurrency
# limit of 1 (`prefect concurrency-limit create dvc 1`) and tasks on different workers sharing one
# repo queue instead of failing on the lock. Pull and push talk to S3 and get retries; repro does
# not, because its failures (bad params, bad data, a bug) are deterministic.
@task(name="dvc-pull", tags=["dvc"], retries=2, retry_delay_seconds=15)
def dvc_pull(stage: str, remote: str) -> None:
    # --with-deps: the outputs of every upstream stage (our inputs); --allow-missing: the stage's
    # own outputs are not in the remote before its first run.
    _dvc(["pull", "--with-deps", "--allow-missing", "-r", remote, stage])


@task(name="dvc-repro", tags=["dvc"])
def dvc_repro(stage: str) -> bool:
    """Run one DVC stage; return True if its command ran, False if DVC found it up to date.

    The CLI records every run of a pipeline stage it makes, so a new record means it ran.
    (`check` keeps no record: it returns False either way.)"""
    before = last_run(stage)
    _dvc(["repro", "--single-item", stage])
    return last_run(stage) != before


@task(name="dvc-status", tags=["dvc"])
def dvc_up_to_date(stage: str | None = None) -> bool:
    """True if DVC finds the stage's (default: every stage's) deps, params and outs in this
    workspace unchanged since its last run (`dvc status --json` reports nothing)."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "status", "--json", *filter(None, [stage])], cwd=REPO,
                          env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dvc status failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    changed = json.loads(proc.stdout or "{}")
    get_run_logger().info("dvc status: %s", f"changed: {', '.join(changed)}" if changed else "up to date")
    return not changed


@task(name="dvc-push", tags=["dvc"], retries=2, retry_delay_seconds=15)
def dvc_push(stage: str | None, remote: str) -> None:
    """Push the stage's (None: every stage's) outputs that the remote lacks."""
    _dvc(["push", "-r", remote, *filter(None, [stage])])


def run_name(prefix: str):
    """Flow-run names that say what ran: `<prefix>-<git sha>-<UTC date and time>`."""
    def name() -> str:
        from supercorrect.tracking import git_commit

        return f"{prefix}-{git_commit(REPO)[:7]}-{datetime.now(timezone.utc):%Y%m%d-%H%M}"
    return name


def _cell(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def metrics_markdown(stage: str, status: str, metrics: dict, where: Path) -> str:
    """A stage's artifact: a heading, the CLI's short summary, then every metric as a flat table row."""
    from supercorrect.cli import summary_body
    from supercorrect.io import flatten

    summary = summary_body(metrics) if metrics else [f"  (no metrics file {where})"]
    rows = "\n".join(f"| `{k}` | {_cell(v)} |" for k, v in flatten(metrics).items())
    return (f"## {stage}: {status}\n\n" + "\n".join(f"- {line.strip()}" for line in summary)
            + f"\n\n| metric | value |\n|---|---|\n{rows}\n")


def report(stage: str, ran: bool) -> dict:
    """Read the stage's metrics file and show it as a Prefect markdown artifact on the flow run."""
    from supercorrect.io import metrics_path
    from supercorrect.params_file import load_params

    where = metrics_path(load_params(REPO / "params.yaml"), stage)
    path = REPO / where
    metrics = json.loads(path.read_text()) if path.exists() else {}
    status = "ran" if ran else "up to date (skipped)"
    create_markdown_artifact(key=f"{stage}-metrics", markdown=metrics_markdown(stage, status, metrics, where),
                             description=str(where))
    get_run_logger().info("%s %s", stage, status)
    return {"stage": stage, "ran": ran, "metrics": metrics}


def run_stage(stage: str) -> dict:
    remote = dvc_remote()
    if remote:
        dvc_pull(stage, remote)
    ran = dvc_repro(stage)
    if remote:
        dvc_push(stage, remote)
    return report(stage, ran)
