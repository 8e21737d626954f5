"""Prefect flow `supercorrect`: the whole pipeline, one subflow per stage, in order.

    python -m flows.pipeline                        # locally: every stage in this process
    prefect deployment run 'supercorrect/retrain'   # deployed (prefect.yaml): GPU stages on pool `gpu`

Run from a deployment, the stages prefect.yaml deploys on work pool `gpu` (sft, mine, dpo,
evaluate: `gpu_deployments` reads them there, the one list) are started with `run_deployment` on
those deployments and the parent waits for each (a GPU stage that DVC finds up to date is not
sent to the pool at all); the other stages run in the parent on pool `cpu`. Started locally,
everything runs in process. Each stage goes through DVC, so a stage whose inputs did not change
is skipped. The run first asks `dvc status` once for the whole pipeline: when nothing changed it
starts no stage at all and reports "up to date"; else DVC's `check` stage validates params.yaml
before any stage. Every run is recorded in MLflow with its lineage.
"""

from __future__ import annotations

import importlib

import yaml
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.deployments import run_deployment
from prefect.runtime import deployment, flow_run

from flows._stage import REPO, dvc_push, dvc_remote, dvc_repro, dvc_up_to_date, report, run_name
from supercorrect import STAGES
from supercorrect.cli import CHECK

# flows/<stage>.py defines flow <stage>, for every stage in order.
STAGE_FLOWS = [getattr(importlib.import_module(f"flows.{stage}"), stage) for stage in STAGES]
GPU_POOL = "gpu"


def gpu_deployments(spec: str = "prefect.yaml") -> dict[str, str]:
    """stage -> its deployment (`<flow>/<name>`) on work pool `gpu`, as prefect.yaml defines them."""
    deployments = yaml.safe_load((REPO / spec).read_text(encoding="utf-8"))["deployments"]
    found = {}
    for d in deployments:
        if d["work_pool"]["name"] == GPU_POOL:
            stage = d["entrypoint"].rpartition(":")[2]  # flows/<stage>.py:<stage>
            found[stage] = f"{stage}/{d['name']}"
    return found


def deployed() -> bool:
    """True when this flow run came from a deployment (a worker), not from `python -m flows.pipeline`."""
    return deployment.get_id() is not None


def run_on_gpu_pool(stage: str, name: str, poll_interval: float = 2.0) -> dict:
    """Run stage `stage` through its deployment `name` on the gpu pool, wait, and return its result."""
    run = run_deployment(name, timeout=None, poll_interval=poll_interval)
    if not run.state or not run.state.is_completed():
        raise RuntimeError(f"stage {stage}: deployment run {run.name} ended {run.state.name if run.state else 'unknown'}")
    return run.state.result()


def gpu_stage(stage: str, name: str) -> dict:
    """A GPU stage from the deployed parent: skip the GPU job when DVC already finds it up to date.

    The check runs in the parent's own workspace; a worker that lacks the data there simply gets
    the job, pulls, and finds it up to date itself. So a run where only a CPU stage changed (e.g.
    register's params) sends no GPU job.
    """
    if dvc_up_to_date(stage):
        return report(stage, False)
    return run_on_gpu_pool(stage, name)


def up_to_date_results() -> list[dict] | None:
    """Every stage's report when `dvc status` finds the whole pipeline unchanged, else None.

    One DVC process instead of a subflow with a pull, repro and push per stage: what keeps an
    unchanged weekly run short. Up to date here means this workspace
    holds every output dvc.lock names, so nothing needs pulling; one push still gives the remote
    anything it lacks (e.g. outputs built by hand with `dvc repro`).
    """
    if not dvc_up_to_date():
        return None
    if remote := dvc_remote():
        dvc_push(None, remote)
    return [report(f.name, False) for f in STAGE_FLOWS]


def summarize(results: list[dict]) -> dict:
    ran = [r["stage"] for r in results if r["ran"]]
    return {"ran": ran, "up_to_date": not ran,
            "evaluate": next(r["metrics"] for r in results if r["stage"] == "evaluate")}


def record(summary: dict) -> str:
    """The MLflow record of this run (lineage included), also when nothing had to be rebuilt;
    returns the run's MLflow UI address."""
    from supercorrect.params_file import load_params
    from supercorrect.tracking import record_retrain, run_url

    # dvc.lock, git and a relative SQLite store are the repo's, wherever the flow was started.
    p = load_params(REPO / "params.yaml")
    summary["mlflow_run_id"] = record_retrain(p, summary, flow_run.get_id(), flow_run.get_name() or "retrain", REPO)
    return run_url(p, summary["mlflow_run_id"], REPO)


def summary_markdown(summary: dict, mlflow_url: str) -> str:
    """The parent run's artifact: what was rebuilt, accuracy per benchmark and checkpoint, the MLflow link."""
    status = "up to date: nothing to rebuild" if summary["up_to_date"] else f"rebuilt {', '.join(summary['ran'])}"
    rows = []
    for bench, block in summary["evaluate"].items():
        if isinstance(block, dict):
            for ckpt, s in (block.get("checkpoints") or {}).items():
                ci = f"{s['ci95_low']:.3f}–{s['ci95_high']:.3f}" if "ci95_low" in s else ""
                rows.append(f"| {bench} | {ckpt} | {s['accuracy']:.3f} | {ci} |")
    table = "| benchmark | checkpoint | accuracy | 95 % CI |\n|---|---|---|---|\n" + "\n".join(rows) if rows else ""
    return (f"## SuperCorrect pipeline: {status}\n\n{table}\n\n"
            f"MLflow run (metrics, stage runs, lineage, model): [{summary['mlflow_run_id']}]({mlflow_url})\n")


@flow(name="supercorrect", flow_run_name=run_name("retrain"), persist_result=True)
def pipeline() -> dict:
    gpu = gpu_deployments() if deployed() else {}
    results = up_to_date_results()
    if results is None:
        dvc_repro(CHECK)  # the whole params file first, as in `dvc repro`: an unknown key stops here
        results = [gpu_stage(f.name, gpu[f.name]) if f.name in gpu else f() for f in STAGE_FLOWS]
    summary = summarize(results)
    url = record(summary)
    create_markdown_artifact(key="pipeline-summary", markdown=summary_markdown(summary, url),
                             description="what this run rebuilt, accuracy, and its MLflow run")
    get_run_logger().info("pipeline %s", "up to date: nothing to rebuild" if summary["up_to_date"]
                          else f"rebuilt {', '.join(summary['ran'])}")
    return summary


if __name__ == "__main__":
    print(pipeline())
