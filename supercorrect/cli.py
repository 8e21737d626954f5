"""The `supercorrect` command: one subcommand per pipeline stage.

    supercorrect --help
    supercorrect sft --help        # the params sections the stage reads, every key with type, default, meaning
    supercorrect sft --params params.yaml --set sft.epochs=1 --set student.model=Qwen/Qwen2.5-0.5B
    supercorrect annotate --dry-run      # the teacher's cost, requests and tokens before paying
    supercorrect compare [--quick]       # not a stage: the ablations as DVC experiments (supercorrect.compare)
    supercorrect check                   # not a stage: every key of params.yaml known and valid (DVC runs it first)

DVC runs these commands (see dvc.yaml); you can too. A stage prints a short summary (its full
metrics are in metrics/; `--json` prints them instead). Errors in params or inputs print one
line naming the file and key, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
import typing

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
# The params sections each stage reads: the same lists as the stage's `params:` in dvc.yaml
# (tests/test_config.py checks they agree).
SECTIONS = {
    "prepare": ["prepare"],
    "annotate": ["annotate", "teacher", "prompts"],
    "sft": ["sft", "student", "prompts"],
    "mine": ["mine", "teacher", "student", "prompts"],
    "dpo": ["dpo", "student", "prompts"],
    "evaluate": ["evaluate", "student", "prompts"],
    "register": ["register", "student", "sft", "mine", "prompts"],
}
EXAMPLES = {
    "prepare": "supercorrect prepare --set prepare.source=local "
               "--set 'prepare.local.train=[gsm8k/train.jsonl]' --set 'prepare.local.test=[gsm8k/test.jsonl]'",
    "annotate": "OPENAI_API_KEY=... supercorrect annotate --set teacher.backend=openai "
                "--set teacher.model=gpt-4o-mini --set annotate.limit=50",
    "sft": "supercorrect sft --set student.model=Qwen/Qwen2.5-0.5B-Instruct --set sft.lora=true --set sft.epochs=1",
    "mine": "supercorrect mine --set mine.samples_per_problem=4 --set mine.temperature=1.0",
    "dpo": "supercorrect dpo --set dpo.beta=0.5 --set dpo.epochs=1",
    "evaluate": "supercorrect evaluate --set evaluate.samples=8 --set 'evaluate.self_correct=[]'",
    "register": "MLFLOW_TRACKING_URI=http://127.0.0.1:5000 supercorrect register --set register.benchmark=gsm8k",
}
# Not a stage: the first DVC stage, which tracks the whole params.yaml and validates it (dvc.yaml).
CHECK = "check"
SUMMARY_LINES = 8  # body lines, after any diagnoses (printed whole); then the metrics path


def type_name(annotation) -> str:
    """A short readable type: `int`, `float | None`, `sigmoid | ipo | ...`, `list[str]`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a).lower() if isinstance(a, bool) else str(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def params_help(section: str) -> list[str]:
    """One line per key of a params section, generated from the typed config (supercorrect.config)."""
    from pydantic import BaseModel

    from supercorrect.config import Params

    lines = []

    def walk(model, prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump()
            elif isinstance(default, dict):
                default = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in default.items()}
            shown = json.dumps(default, default=str)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            lines.append(f"  {prefix}{name}  ({type_name(ann)}, default {shown})")
            if field.description:
                lines.append(f"      {field.description}")

    walk(Params.model_fields[section].annotation, f"{section}.")
    return lines


def stage_epilog(stage: str) -> str:
    body = []
    for section in SECTIONS[stage]:
        body += ["", f"params section `{section}`:"] + params_help(section)
    return "\n".join([f"example:\n  {EXAMPLES[stage]}"] + body)


# Stages that pay a teacher: `--dry-run` estimates first (supercorrect.teacher.estimate).
DRY_RUN = {"annotate": "", "mine": " (the student's rollouts are sampled first: the requests depend on them)"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supercorrect",
        description="SuperCorrect pipeline stages. `dvc repro` runs them all in order; "
                    "each stage reads its sections of params.yaml (`supercorrect <stage> --help` lists them).",
        epilog="Example: supercorrect sft --help",
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES:
        sections = ", ".join(f"`{s}`" for s in SECTIONS[stage])
        cmd = sub.add_parser(stage, help=HELP[stage], formatter_class=argparse.RawDescriptionHelpFormatter,
                             description=f"Stage `{stage}`: {HELP[stage]}.\nReads params sections {sections}.",
                             epilog=stage_epilog(stage))
        cmd.add_argument("--params", default="params.yaml", metavar="FILE",
                         help="params file (default: %(default)s)")
        cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                         help=f"override one param, e.g. --set {SECTIONS[stage][0]}.<key>=VALUE "
                              "(repeatable; value parsed as YAML)")
        cmd.add_argument("--json", action="store_true", help="print the full metrics as JSON instead of a summary")
        if stage in DRY_RUN:
            cmd.add_argument("--dry-run", action="store_true",
                             help=f"print the teacher's cost (expected and worst case), its requests (new and "
                                  f"cached) and tokens; send nothing, write only the figures to "
                                  f"metrics/{stage}.dry_run.json{DRY_RUN[stage]}")
    check = sub.add_parser(
        CHECK, help="not a stage: check every key of the params file (DVC runs it first)",
        description="Validate the whole params file as every stage does before it runs: an unknown key (with "
                    "\"did you mean\") or a bad value is one line and exit status 2. dvc.yaml runs it first, "
                    "whenever params.yaml changes, so such a key stops `dvc repro` before any stage runs.")
    check.add_argument("--params", default="params.yaml", metavar="FILE", help="params file (default: %(default)s)")
    from supercorrect.compare import add_arguments

    add_arguments(sub.add_parser(
        "compare", help="not a stage: HSFT/CoT SFT x SuperCorrect/Step-DPO ablations as DVC experiments",
        description="Run the ablation variants at several seeds as DVC experiments (dvc exp run --queue, then "
                    "the queue) and write metrics/ablations.json and plots/ablations.png (docs/ablations.md)."))
    return parser


def quiet() -> None:
    """Silence third-party output a user can do nothing about: per-file and per-shard progress bars
    (dataset maps, weight loading, shard writing), advisory warnings and MLflow's INFO chatter.
    Set before the libraries are imported; anything already set in the environment wins."""
    for var, value in (("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                       ("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                       ("TOKENIZERS_PARALLELISM", "false"), ("MLFLOW_LOGGING_LEVEL", "ERROR"),
                       ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")):
        os.environ.setdefault(var, value)
    logging.getLogger("mlflow").setLevel(logging.ERROR)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} {_short(v)}" for k, v in value.items() if not isinstance(v, (dict, list)))
        return inner or "by " + ", ".join(map(str, value))  # a dict of groups: name the groups
    if isinstance(value, list):
        return f"{len(value)} items"
    return str(value)


def diagnoses(summary: dict) -> list[str]:
    """Every `diagnosis` line in a stage's result, in order (evaluate writes one per checkpoint
    that checks its work: can it tell a right step from a wrong one?), each once; prefixed with
    its top-level key (the benchmark) when more than one key holds them."""
    def walk(value) -> list[str]:
        if isinstance(value, dict):
            own = [value["diagnosis"]] if isinstance(value.get("diagnosis"), str) else []
            return own + [t for k, v in value.items() if k != "diagnosis" for t in walk(v)]
        return []

    found = {key: list(dict.fromkeys(walk(value))) for key, value in summary.items()}
    found = {key: texts for key, texts in found.items() if texts}
    return [f"{key}: {t}" if len(found) > 1 else t for key, texts in found.items() for t in texts]


def summary_body(summary: dict) -> list[str]:
    """A stage's result: its diagnoses first, whole, then at most SUMMARY_LINES lines
    `  key: value`, each under 110 characters (the CLI prints them between a heading and the
    metrics file; flows publish them)."""
    lines = [f"  {key}: {_short(value)}" for key, value in summary.items() if value not in ({}, [], None)]
    lines = [line if len(line) <= 110 else line[:107] + "..." for line in lines]
    if len(lines) > SUMMARY_LINES:
        lines = lines[:SUMMARY_LINES - 1] + [f"  ... {len(lines) - SUMMARY_LINES + 1} more"]
    return [f"  {line}" for line in diagnoses(summary)] + lines


def summary_lines(stage: str, summary: dict, metrics_file: str) -> list[str]:
    """What a stage prints: a heading, `summary_body`, and the metrics file it wrote."""
    return [f"{stage}: done", *summary_body(summary), f"  full metrics: {metrics_file}"]


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value == 0 or value >= 1 else f"${value:.4f}"


def dry_run_lines(stage: str, estimate: dict, figures_file: str) -> list[str]:
    """A dry run's summary (supercorrect.teacher.estimate): the cost first, expected and worst case,
    then the requests, the tokens and what is cached, then the file holding every figure."""
    offline = estimate["teacher_backend"] != "openai"
    teacher = f"teacher.backend={estimate['teacher_backend']}" if offline else \
        f"teacher {estimate['teacher_model']}, {estimate['mode']}"
    cost = _usd(estimate["cost_usd"])
    if "cost_usd_worst_case" in estimate:
        cost += f" expected, {_usd(estimate['cost_usd_worst_case'])} worst case"
    lines = [f"{stage}: dry run, nothing sent ({teacher})",
             f"  cost: {cost}" + (f" ({estimate['note']})" if estimate.get("note") else "")]
    requests = f"  requests: {estimate['requests']:,}"
    if not offline:
        repeats = estimate["requests"] - estimate["unique_requests"]
        requests += f" ({estimate['new']:,} new, {estimate['cached']:,} cached" + \
            (f", {repeats:,} repeats sent once)" if repeats else ")")
    lines.append(requests)
    if "corrections" in estimate:
        part = estimate["corrections"]
        lines.append(f"  of which correction traces: {part['requests']:,}, {_usd(part['cost_usd'])} expected")
    if not offline:
        lines.append(f"  tokens: {estimate['input_tokens']:,} in; {estimate['output_tokens']:,} out expected "
                     f"(from the {estimate['output_estimate_from']}), {estimate['output_tokens_max']:,} at most")
        lines.append(f"  cached: {estimate['cached']:,} answers, {_usd(estimate['cached_cost_usd'])} when paid")
    if "rollouts" in estimate:
        lines.append(f"  student rollouts: {estimate['rollouts']:,}, {estimate['wrong']:,} wrong")
    return lines + [f"  figures: {figures_file}"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet()
    if args.stage == "compare":
        from supercorrect.compare import main as compare

        return compare(args)
    from supercorrect.config import ConfigError
    from supercorrect.params_file import load_params
    from supercorrect.io import InputError, metrics_path, record_timing, side_run
    from supercorrect.teacher.wire import TeacherError

    try:
        params = load_params(args.params, getattr(args, "overrides", []))
        if args.stage == CHECK:
            print(f"{args.params}: every key is known and valid")
            return 0
        module = importlib.import_module(f"supercorrect.{args.stage}")
        started, dry_run = time.time(), getattr(args, "dry_run", False)
        summary = module.run(params, dry_run=True) if dry_run else module.run(params)
        if not (dry_run or side_run(params, args.stage)):  # when the pipeline's own stage ran (MLflow spans)
            record_timing(args.stage, started, time.time())
    except (ConfigError, InputError, TeacherError) as exc:
        print(f"supercorrect {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    written = str(metrics_path(params, args.stage, dry_run))
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    elif dry_run:
        print("\n".join(dry_run_lines(args.stage, summary, written)))
    else:
        print("\n".join(summary_lines(args.stage, summary, written)))
    return 0
