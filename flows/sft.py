"""Prefect flow for stage `sft`: runs `dvc repro --single-item sft` and reports metrics/sft.json.

    python -m flows.sft
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="sft", flow_run_name=run_name("sft"), persist_result=True)
def sft() -> dict:
    return run_stage("sft")


if __name__ == "__main__":
    sft()
