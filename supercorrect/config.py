"""Typed, validated configuration loaded from params.yaml.

One pydantic model per params.yaml section (the section name is the stage name).
`load_params("params.yaml", ["sft.epochs=1"])` returns a validated `Params`; any
problem raises `ConfigError` with a one-line message naming the file and the key.

    python -c "from supercorrect.config import load_params; print(load_params())"
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A bad params file or override; the message names the file and the key."""


def _existing(path: str | None) -> str | None:
    if path is not None and not Path(path).exists():
        raise ValueError(f"file not found: {path}")
    return path


class _Section(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TinyConfig(_Section):
    hidden_size: int = Field(128, gt=0)
    num_layers: int = Field(4, gt=0)
    num_heads: int = Field(4, gt=0)
    vocab_size: int = Field(600, ge=300)


class StudentConfig(_Section):
    model: str = "tiny"
    # Hub models only: the commit (or tag) to load. It is a param, so dvc.lock records it and a
    # new revision reruns sft; a branch name can move without DVC noticing, a commit cannot.
    revision: str | None = None
    # The path DVC hashes as the student (dvc.yaml sft deps): a local student folder must be
    # named here so that retraining it in place reruns sft. Tiny and hub students: model.py.
    dep: str = "supercorrect/model.py"
    tiny: TinyConfig = Field(default_factory=TinyConfig)
    max_new_tokens: int = Field(160, gt=0)
    batch_size: int = Field(64, gt=0)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    engine: Literal["auto", "transformers", "vllm"] = "auto"  # generation in mine/evaluate (supercorrect.engine)
    vllm_gpu_memory: float = Field(0.85, gt=0, le=1)          # share of GPU memory vLLM may take

    @model_validator(mode="after")
    def _local_student_is_a_dep(self):
        local = self.model != "tiny" and Path(self.model).is_dir()
        if local and Path(self.dep).resolve() != Path(self.model).resolve():
            raise ValueError(f"student.dep: set it to the local student folder {self.model!r} (it is "
                             f"{self.dep!r}), so DVC hashes the folder and reruns sft when it changes")
        if local and self.revision:
            raise ValueError("student.revision: only for hub models; a local folder is hashed by DVC")
        return self


class PriceConfig(_Section):
    input: float = Field(ge=0)   # USD per 1M prompt tokens
    output: float = Field(ge=0)  # USD per 1M completion tokens


class TeacherConfig(_Section):
    backend: Literal["reference", "openai"] = "reference"
    model: str = "gpt-4o"
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(2048, gt=0)
    timeout_s: float = Field(120, gt=0)
    max_retries: int = Field(6, ge=0)             # per request, on 429/5xx/timeouts/connection errors
    cache_dir: str = ".cache/teacher"
    mode: Literal["online", "batch"] = "online"   # batch: OpenAI Batch API (files + batches), ~half price
    max_concurrency: int = Field(16, gt=0)        # requests in flight at once
    rpm: int | None = Field(None, gt=0)           # client-side requests per minute; null = no limit
    tpm: int | None = Field(None, gt=0)           # client-side tokens per minute; null = no limit
    backoff_s: float = Field(1.0, gt=0)           # first retry waits up to this (full jitter), doubling
    backoff_max_s: float = Field(60.0, gt=0)
    max_rounds: int = Field(3, ge=1)              # teacher asks per item when its output fails validation
    inspector: str | None = None                  # model that checks accepted outputs; null = off
    inspector_rounds: int = Field(3, ge=1)        # inspections per item (the paper: up to 3)
    budget_usd: float | None = Field(None, ge=0)  # cap on the stage's teacher cost; null = no cap
    prices: dict[str, PriceConfig] = {
        "gpt-4o": PriceConfig(input=2.5, output=10.0),
        "gpt-4o-mini": PriceConfig(input=0.15, output=0.6),
    }
    batch_discount: float = Field(0.5, gt=0, le=1)  # Batch API price factor
    batch_poll_s: float = Field(30.0, gt=0)


class PromptsConfig(_Section):
    file: str | None = None

    @field_validator("file")
    @classmethod
    def _exists(cls, v):
        return _existing(v)


class SyntheticConfig(_Section):
    n_train: int = Field(3000, gt=0)
    n_mine: int = Field(300, gt=0)
    n_test: int = Field(200, gt=0)
    max_steps: int = Field(2, ge=1, le=3)
    max_number: int = Field(12, ge=2)


class LocalSource(_Section):
    path: str
    limit: int | None = Field(None, gt=0)  # a seeded sample of this many problems from the file
    seed: int | None = None                # the sample's seed; default prepare.seed


class LocalConfig(_Section):
    # Each entry is a JSONL path or {path, limit, seed}; a plain path becomes {path: ...}.
    train: list[LocalSource] = []  # feed train + mine
    test: list[LocalSource] = []   # feed test

    @field_validator("train", "test", mode="before")
    @classmethod
    def _paths(cls, v):
        return [{"path": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v

    @field_validator("train", "test")
    @classmethod
    def _exist(cls, v):
        # Checked here, not on LocalSource, so the error names `prepare.local.train`.
        for source in v:
            _existing(source.path)
        return v


class HubConfig(_Section):
    dataset: str = "openai/gsm8k"
    config: str | None = "main"
    train_split: str = "train"
    test_split: str = "test"


class PrepareConfig(_Section):
    source: Literal["synthetic", "local", "hub"] = "synthetic"
    seed: int = 0
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    mine_fraction: float = Field(0.1, gt=0, lt=1)
    # heldout: mine problems are disjoint from train; train: mine is a sample of the train problems.
    mine_from: Literal["heldout", "train"] = "heldout"
    on_error: Literal["fail", "skip"] = "fail"  # skip: drop defective records, count and report them
    test_limit: int | None = Field(200, gt=0)
    out_dir: str = "data/prepare"
    metrics: str = "metrics/prepare.json"  # counts per split and source, decontamination


class AnnotateConfig(_Section):
    input: str = "data/prepare/train.jsonl"
    out_dir: str = "data/annotate"
    limit: int | None = Field(None, gt=0)


class SftConfig(_Section):
    epochs: float = Field(3, gt=0)
    learning_rate: float = Field(5e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.02, ge=0, lt=1)
    batch_size: int = Field(4, gt=0)
    max_length: int = Field(320, gt=0)
    lora: bool = False
    seed: int = 0
    out_dir: str = "models/sft"
    base_dir: str = "models/base"
    lora_r: int = Field(16, gt=0)                 # only used when lora is true
    lora_alpha: int = Field(32, gt=0)
    gradient_checkpointing: bool = False         # recompute activations: less memory, ~1/3 more compute
    group_by_length: bool = False                # batches of similar length: faster, but cost demo accuracy (README)
    length_window: int = Field(8, gt=0)          # group_by_length: sort within windows of this many batches
    shared_prefix: bool = True                   # run the tokens a batch's rows share (system prompt) once
    torch_compile: bool | Literal["auto"] = False  # auto: compile runs of >= 500 steps
    packing: bool = False                        # GPU + flash attention: pack sequences (TRL bfd)
    padding_free: bool = False                   # GPU + flash attention: one unpadded row per batch
    save_steps: int = Field(200, ge=0)           # checkpoint every N optimizer steps (0: never)
    checkpoint_dir: str = ".cache/checkpoints"   # outside DVC outs: a killed run resumes from here


class MineConfig(_Section):
    samples_per_problem: int = Field(2, gt=0)
    temperature: float = Field(0.8, ge=0)
    max_pairs_per_problem: int = Field(2, gt=0)
    out_dir: str = "data/mine"
    only_sometimes_solved: bool = False          # send only problems the student solves in some samples
    max_wrong_per_problem: int | None = Field(None, gt=0)  # cap on wrong rollouts sent to the teacher
    export: list[Literal["sharegpt"]] = ["sharegpt"]  # extra formats besides TRL's pairs.jsonl


class DpoConfig(_Section):
    beta: float = Field(0.1, gt=0)
    epochs: float = Field(2, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    batch_size: int = Field(16, gt=0)
    max_length: int = Field(384, gt=0)
    lora: bool = False
    seed: int = 0
    out_dir: str = "models/dpo"
    loss_type: Literal["sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero",
                       "apo_down", "exo_pair", "aot", "aot_unpaired"] = "sigmoid"
    precompute_ref_log_probs: bool = True        # score the frozen reference once; it never stays in memory
    lora_r: int = Field(16, gt=0)
    lora_alpha: int = Field(32, gt=0)
    gradient_checkpointing: bool = False
    save_steps: int = Field(200, ge=0)
    checkpoint_dir: str = ".cache/checkpoints"


class EvaluateConfig(_Section):
    benchmarks: dict[str, str] = {"synthetic": "data/prepare/test.jsonl"}
    checkpoints: list[Literal["base", "sft", "dpo"]] = ["base", "sft", "dpo"]
    out: str = "metrics/evaluate.json"
    predictions: str = "data/evaluate/predictions.jsonl"
    samples: int = Field(1, ge=1)                # > 1: sampled at `temperature`, adds pass@k and maj@k
    temperature: float = Field(0.8, gt=0)        # only used when samples > 1 (one sample is greedy)
    self_correct: bool = False                   # second pass on the final checkpoint: check own steps
    localise_limit: int = Field(100, ge=1)       # mined errors with a teacher trace to test step-finding on
    bootstrap: int = Field(1000, ge=100)         # resamples for the 95 % confidence intervals
    seed: int = 0                                # sampling and bootstrap seed
    grade_time_limit_s: float = Field(5.0, gt=0)  # hard limit per symbolic comparison
    grade_workers: int | None = Field(None, ge=1)  # grading threads; None = CPU count
    plots_dir: str = "plots"                     # evaluate_by_subject.csv, evaluate_by_level.csv


class RegisterConfig(_Section):
    model_name: str = "supercorrect-student"
    experiment: str = "supercorrect"
    benchmark: str = "synthetic"
    tracking_uri: str = "sqlite:///mlflow.db"


# `register` is also the name of ABCMeta.register on the class; the field shadows it harmlessly
# (instances never call it), so pydantic's warning is silenced for this one definition.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class Params(_Section):
        student: StudentConfig = Field(default_factory=StudentConfig)
        teacher: TeacherConfig = Field(default_factory=TeacherConfig)
        prompts: PromptsConfig = Field(default_factory=PromptsConfig)
        prepare: PrepareConfig = Field(default_factory=PrepareConfig)
        annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
        sft: SftConfig = Field(default_factory=SftConfig)
        mine: MineConfig = Field(default_factory=MineConfig)
        dpo: DpoConfig = Field(default_factory=DpoConfig)
        evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
        register: RegisterConfig = Field(default_factory=RegisterConfig)


def apply_override(data: dict, assignment: str) -> None:
    """Apply one `dotted.key=value` override in place; the value is parsed as YAML."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {assignment!r}: expected dotted.key=value")
    *parents, leaf = key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: {'.'.join(parents[: i + 1])} is not a section")
        node = child
    node[leaf] = yaml.safe_load(raw)


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    else:
        msg = f"{msg} (got {first.get('input')!r})"
    more = len(err.errors()) - 1
    return f"{source}: {key}: {msg}" + (f" (+{more} more)" if more else "")


def load_params(path: str | Path = "params.yaml", overrides: list[str] | None = None) -> Params:
    """Read, override and validate the params file; raise ConfigError naming file and key."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, str(path))) from None
