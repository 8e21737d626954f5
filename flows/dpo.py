"""Prefect flow for stage `dpo`: runs `dvc repro --single-item dpo` and reports metrics/dpo.json.

    python -m flows.dpo
"""

from prefect import flow

from flows._stage import run_stage


@flow(name="dpo", persist_result=True)  # the parent reads the result of a deployed run
def dpo() -> dict:
    return run_stage("dpo")


if __name__ == "__main__":
    dpo()
