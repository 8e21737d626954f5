"""Prefect flow for stage `evaluate`: runs `dvc repro --single-item evaluate` and reports metrics/evaluate.json.

    python -m flows.evaluate
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="evaluate", flow_run_name=run_name("evaluate"), persist_result=True)
def evaluate() -> dict:
    return run_stage("evaluate")


if __name__ == "__main__":
    evaluate()
