"""Prefect flow for stage `annotate`: runs `dvc repro --single-item annotate` and reports metrics/annotate.json.

    python -m flows.annotate
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="annotate", flow_run_name=run_name("annotate"), persist_result=True)
def annotate() -> dict:
    return run_stage("annotate")


if __name__ == "__main__":
    annotate()
