"""Shared body of every stage flow: (dvc pull) → `dvc repro --single-item <stage>` → (dvc push), then report.

Going through DVC (not the library directly) means Prefect and `dvc repro` share one stage
definition and one cache: an unchanged stage is skipped in seconds.

When a DVC remote is configured (`SUPERCORRECT_DVC_REMOTE=<name>`, or DVC's default remote), a
worker first pulls the cached outputs of the stage and everything upstream of it, and pushes the
stage's outputs afterwards, so workers with their own DVC caches see each other's data.
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
SKIPPED = ("didn't change, skipping", "is up to date")


def _env() -> dict:
    # The venv's bin first, so DVC's `supercorrect <stage>` commands use this interpreter.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _dvc(args: list[str]) -> list[str]:
    """Run `dvc <args>` in the repo, streaming its output to the run log; raise on failure."""
    logger = get_run_logger()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", *args], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            logger.info(line)
            lines.append(line)
    if proc.wait() != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed (exit {proc.returncode}); see the log above")
    return lines


def dvc_remote() -> str | None:
    """The DVC remote to sync with: $SUPERCORRECT_DVC_REMOTE, else DVC's default remote, else None."""
    if name := os.environ.get("SUPERCORRECT_DVC_REMOTE"):
        return name
    proc = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=REPO, env=_env(),
                          capture_output=True, text=True)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name and " " not in name else None


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
    """Run one DVC stage; return True if it ran, False if it was already up to date."""
    lines = _dvc(["repro", "--single-item", stage])
    return not any(marker in line for line in lines for marker in SKIPPED)


@task(name="dvc-status", tags=["dvc"])
def dvc_up_to_date(stage: str | None = None) -> bool:
    """True if DVC finds the stage's (default: every stage's) deps, params and outs in this
    workspace unchanged since its last run."""
    return any("Data and pipelines are up to date" in line for line in _dvc(["status", *filter(None, [stage])]))


@task(name="dvc-push", tags=["dvc"], retries=2, retry_delay_seconds=15)
def dvc_push(stage: str | None, remote: str) -> None:
    """Push the stage's (None: every stage's) outputs that the remote lacks."""
    _dvc(["push", "-r", remote, *filter(None, [stage])])


def run_name(prefix: str):
    """Flow-run names that say what ran: `<prefix>-<git sha>-<UTC date and time>`."""
    def name() -> str:
        from supercorrect.tracking import git_commit

        cwd = os.getcwd()
        os.chdir(REPO)
        try:
            sha = git_commit()[:7]
        finally:
            os.chdir(cwd)
        return f"{prefix}-{sha}-{datetime.now(timezone.utc):%Y%m%d-%H%M}"
    return name


def _cell(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def metrics_markdown(stage: str, status: str, metrics: dict, where: Path) -> str:
    """A stage's artifact: a heading, the CLI's short summary, then every metric as a flat table row."""
    from supercorrect.cli import summary_lines
    from supercorrect.tracking import flatten

    summary = summary_lines(stage, metrics, str(where))[1:-1] if metrics else [f"  (no metrics file {where})"]
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
