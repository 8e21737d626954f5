"""Prefect flow for stage `prepare`: runs `dvc repro --single-item prepare` and reports metrics/prepare.json.

    python -m flows.prepare
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="prepare", flow_run_name=run_name("prepare"), persist_result=True)
def prepare() -> dict:
    return run_stage("prepare")


if __name__ == "__main__":
    prepare()
