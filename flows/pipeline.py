"""Prefect flow `supercorrect`: the whole pipeline, one subflow per stage, in order.

    python -m flows.pipeline            # in process (a temporary Prefect server starts if none is set)

Each stage goes through DVC, so a stage whose inputs did not change is skipped and the run
reports it as up to date.
"""

from prefect import flow

from flows.annotate import annotate
from flows.dpo import dpo
from flows.evaluate import evaluate
from flows.mine import mine
from flows.prepare import prepare
from flows.register import register
from flows.sft import sft

STAGE_FLOWS = [prepare, annotate, sft, mine, dpo, evaluate, register]


@flow(name="supercorrect")
def pipeline() -> dict:
    results = [stage_flow() for stage_flow in STAGE_FLOWS]
    ran = [r["stage"] for r in results if r["ran"]]
    return {"ran": ran, "up_to_date": not ran,
            "evaluate": next(r["metrics"] for r in results if r["stage"] == "evaluate")}


if __name__ == "__main__":
    print(pipeline())
