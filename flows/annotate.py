"""Prefect flow for stage `annotate`: runs `dvc repro --single-item annotate` and reports metrics/annotate.json.

    python -m flows.annotate
"""

from prefect import flow

from flows._stage import run_stage


@flow(name="annotate", persist_result=True)  # the parent reads the result of a deployed run
def annotate() -> dict:
    return run_stage("annotate")


if __name__ == "__main__":
    annotate()
