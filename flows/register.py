"""Prefect flow for stage `register`: runs `dvc repro --single-item register` and reports metrics/register.json.

    python -m flows.register
"""

from prefect import flow

from flows._stage import run_stage


@flow(name="register", persist_result=True)  # the parent reads the result of a deployed run
def register() -> dict:
    return run_stage("register")


if __name__ == "__main__":
    register()
