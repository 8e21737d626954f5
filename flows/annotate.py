"""Prefect flow for stage `annotate`: runs `dvc repro --single-item annotate` and reports metrics/annotate.json.

    python -m flows.annotate
"""

from prefect import flow

from flows._stage import run_stage


@flow(name="annotate")
def annotate() -> dict:
    return run_stage("annotate")


if __name__ == "__main__":
    annotate()
