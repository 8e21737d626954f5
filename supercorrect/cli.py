"""The `supercorrect` command: one subcommand per pipeline stage.

    supercorrect --help
    supercorrect sft --params params.yaml --set sft.epochs=1 --set student.model=Qwen/Qwen2.5-0.5B
    supercorrect annotate --dry-run      # teacher requests, tokens and cost before paying

DVC runs these commands (see dvc.yaml); you can too. Errors in params or inputs print one line
naming the file and key, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from supercorrect import STAGES

HELP = {
    "prepare": "build train, mining and test problem sets (synthetic, local JSONL or the HF hub)",
    "annotate": "teacher writes hierarchical thought templates; keep the ones whose answer checks out",
    "sft": "fine-tune the student on the templates (HSFT) with TRL SFTTrainer",
    "mine": "sample the student, find wrong solutions, build teacher-vs-student correction pairs",
    "dpo": "train the SFT student on the correction pairs with TRL DPOTrainer",
    "evaluate": "accuracy of the base, SFT and DPO checkpoints; writes metrics/evaluate.json",
    "register": "log the pipeline to MLflow and register the model (champion/challenger aliases)",
}


# Stages that pay a teacher: `--dry-run` estimates first (supercorrect.teacher_estimate).
DRY_RUN = {"annotate": "", "mine": " (the student's rollouts are sampled first: the requests depend on them)"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supercorrect",
        description="SuperCorrect pipeline stages. `dvc repro` runs them all in order; "
                    "each stage reads its section of params.yaml.",
        epilog="Example: supercorrect sft --set sft.epochs=1",
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES:
        cmd = sub.add_parser(stage, help=HELP[stage], description=f"Stage `{stage}`: {HELP[stage]}. "
                             f"Reads the `{stage}` section of the params file.")
        cmd.add_argument("--params", default="params.yaml", metavar="FILE",
                         help="params file (default: %(default)s)")
        cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                         help="override one param, e.g. --set sft.epochs=1 (repeatable; value parsed as YAML)")
        if stage in DRY_RUN:
            cmd.add_argument("--dry-run", action="store_true",
                             help=f"print the teacher requests (cached and new), estimated tokens and cost; "
                                  f"send nothing, write nothing{DRY_RUN[stage]}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from supercorrect.config import ConfigError, load_params
    from supercorrect.io import InputError
    from supercorrect.teacher_client import TeacherError

    try:
        params = load_params(args.params, args.overrides)
        module = importlib.import_module(f"supercorrect.{args.stage}")
        summary = module.run(params, dry_run=True) if getattr(args, "dry_run", False) else module.run(params)
    except (ConfigError, InputError, TeacherError) as exc:
        print(f"supercorrect {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, default=str))
    return 0
