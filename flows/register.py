"""Prefect flow for stage `register`: runs `dvc repro --single-item register` and reports metrics/register.json.

    python -m flows.register
"""

from prefect import flow

from flows._stage import run_name, run_stage


# persist_result: the parent reads the result of a deployed run.
@flow(name="register", flow_run_name=run_name("register"), persist_result=True)
def register() -> dict:
    return run_stage("register")


if __name__ == "__main__":
    register()
