"""Prefect flow for stage `sft`: runs `dvc repro --single-item sft` and reports metrics/sft.json.

    python -m flows.sft
"""

from prefect import flow

from flows._stage import run_stage


@flow(name="sft", persist_result=True)  # the parent reads the result of a deployed run
def sft() -> dict:
    return run_stage("sft")


if __name__ == "__main__":
    sft()
