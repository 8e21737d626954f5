"""Prefect flow for stage `dpo`: runs `dvc repro --single-item dpo` and reports metrics/dpo.json.

    python -m flows.dpo
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="dpo", flow_run_name=run_name("dpo"), persist_result=True)
def dpo() -> dict:
    return run_stage("dpo")


if __name__ == "__main__":
    dpo()
