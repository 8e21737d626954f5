"""Prefect flow for stage `mine`: runs `dvc repro --single-item mine` and reports metrics/mine.json.

    python -m flows.mine
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="mine", flow_run_name=run_name("mine"), persist_result=True)
def mine() -> dict:
    return run_stage("mine")


if __name__ == "__main__":
    mine()
