"""The typed configuration: one pydantic model per params.yaml section (the section name is the stage name).

This is the one source of truth for every knob: its type, bounds, default and one-line
description. params.yaml is generated from it (supercorrect.params_file, `make params`), and
`supercorrect <stage> --help` prints the same descriptions.

    python -c "from supercorrect.config import Params; print(Params().sft)"
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator


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
    hidden_size: int = Field(128, gt=0, description="hidden width of the tiny Qwen2")
    num_layers: int = Field(4, gt=0, description="transformer layers of the tiny Qwen2")
    num_heads: int = Field(4, gt=0, description="attention heads of the tiny Qwen2")
    vocab_size: int = Field(600, ge=300, description="vocabulary of the tokenizer trained on the demo data")


class StudentConfig(_Section):
    model: str = Field("tiny",
        description="'tiny' builds a small Qwen2 + tokenizer locally; else a HF id or local path")
    revision: str | None = Field(None,
        description="hub students: the commit (or tag) to load; dvc.lock records it, so a new one reruns sft")
    dep: str = Field("supercorrect/student/build.py",
        description="the path DVC hashes as the student: name a local student folder here so retraining it reruns sft")
    tiny: TinyConfig = Field(default_factory=TinyConfig, description="only used when model == tiny")
    max_new_tokens: int = Field(160, gt=0, description="generation budget for mine/evaluate")
    batch_size: int = Field(64, gt=0, description="generation batch size (left padding)")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32",
        description="weights dtype for training and generation")
    engine: Literal["auto", "transformers", "vllm"] = Field("auto",
        description="generation in mine/evaluate; auto: vLLM when installed and a GPU is present")
    vllm_gpu_memory: float = Field(0.85, gt=0, le=1, description="vLLM only: share of GPU memory it may take")

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
    input: float = Field(ge=0, description="USD per 1M prompt tokens")
    output: float = Field(ge=0, description="USD per 1M completion tokens")


class TeacherConfig(_Section):
    backend: Literal["reference", "openai"] = Field("reference",
        description="reference: offline, deterministic; openai: any endpoint via OPENAI_BASE_URL / OPENAI_API_KEY")
    model: str = Field("gpt-4o", description="openai backend only")
    temperature: float = Field(0.0, ge=0, description="teacher sampling temperature (0: greedy)")
    max_tokens: int = Field(2048, gt=0, description="completion token cap per teacher request")
    timeout_s: float = Field(120, gt=0, description="seconds before a teacher request times out (then retried)")
    max_retries: int = Field(6, ge=0,
        description="per request, on 429/5xx/timeouts/connection errors; 401/403/404 stop at once, other 4xx fail the item")
    cache_dir: str = Field(".cache/teacher",
        description="teacher response cache; outside DVC outs, so a rerun never pays twice")
    mode: Literal["online", "batch"] = Field("online",
        description="batch: OpenAI Batch API (files + batches), about half price")
    max_concurrency: int = Field(16, gt=0, description="requests in flight at once")
    rpm: int | None = Field(None, gt=0,
        description="client-side requests/minute limit (your tier's limit); null = none")
    tpm: int | None = Field(None, gt=0, description="client-side tokens/minute limit; null = none")
    backoff_s: float = Field(1.0, gt=0,
        description="retry backoff: full jitter up to backoff_s * 2^attempt, Retry-After wins")
    backoff_max_s: float = Field(60.0, gt=0, description="longest wait between retries")
    max_rounds: int = Field(3, ge=1,
        description="teacher asks per item when its output fails validation (re-asks with the reason)")
    inspector: str | None = Field(None,
        description="model name that checks each accepted output (up to inspector_rounds); null = off")
    inspector_rounds: int = Field(3, ge=1, description="inspections per item (the paper: up to 3)")
    budget_usd: float | None = Field(None, ge=0,
        description="stop before the stage's teacher cost passes this; raise it and rerun to resume")
    prices: dict[str, PriceConfig] = Field({
        "gpt-4o": PriceConfig(input=2.5, output=10.0),
        "gpt-4o-mini": PriceConfig(input=0.15, output=0.6),
    }, description="USD per 1M tokens per model {input, output}; a budget needs the model's price")
    batch_discount: float = Field(0.5, gt=0, le=1, description="Batch API price factor")
    batch_poll_s: float = Field(30.0, gt=0, description="batch status poll interval")
    max_prompt_tokens: int | None = Field(32000, gt=0,
        description="estimated prompt size cap (chars / 4); a longer item fails unsent; null: no cap")
    rate_limit_wait_s: float = Field(600.0, ge=0,
        description="Retry-After waits per request that cost no retry, up to this many seconds in all")
    circuit_breaker: int = Field(8, ge=0,
        description="this many items in a row failing on the endpoint stop the stage; 0 = off")


class PromptsConfig(_Section):
    file: str | None = Field(None, description="YAML file replacing any prompt text; must set its own `version`")

    @field_validator("file")
    @classmethod
    def _exists(cls, v):
        return _existing(v)


class SyntheticConfig(_Section):
    n_train: int = Field(3000, gt=0, description="synthetic training problems")
    n_mine: int = Field(300, gt=0, description="synthetic mining problems (disjoint from train)")
    n_test: int = Field(200, gt=0, description="synthetic test problems")
    max_steps: int = Field(2, ge=1, le=3, description="arithmetic steps per synthetic problem (1 to this)")
    max_number: int = Field(12, ge=2, description="largest operand in synthetic problems")


class LocalSource(_Section):
    path: str
    limit: int | None = Field(None, gt=0, description="a seeded sample of this many problems from the file")
    seed: int | None = Field(None, description="the sample's seed; default prepare.seed")


class LocalConfig(_Section):
    # Each entry is a JSONL path or {path, limit, seed}; a plain path becomes {path: ...}.
    train: list[LocalSource] = Field([],
        description="feed train + mine; entries: a path, or {path, limit, seed} for a seeded sample")
    test: list[LocalSource] = Field([], description="feed test; entries as in train")

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
    dataset: str = Field("openai/gsm8k", description="Hugging Face dataset id (source: hub)")
    config: str | None = Field("main", description="dataset config name (null: none)")
    train_split: str = Field("train", description="split feeding train + mine")
    test_split: str = Field("test", description="split feeding test")


class PrepareConfig(_Section):
    source: Literal["synthetic", "local", "hub"] = Field("synthetic", description="synthetic | local | hub")
    seed: int = Field(0, description="seed for generation, sampling and the mine split")
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    local: LocalConfig = Field(default_factory=LocalConfig,
        description="GSM8K, MATH or MATH500 JSONL files (format detected per file)")
    hub: HubConfig = Field(default_factory=HubConfig)
    mine_fraction: float = Field(0.1, gt=0, lt=1,
        description="local/hub only: share of non-test problems used for mining")
    # disjoint: mine problems are kept out of train; train: mine is a sample of the train problems.
    # ("held out" in this project means only the mined errors `mine.heldout_fraction` keeps out of DPO.)
    mine_from: Literal["disjoint", "train"] = Field("disjoint",
        description="disjoint: mine problems are kept out of train; train: mine a sample of train")

    @field_validator("mine_from", mode="before")
    @classmethod
    def _renamed(cls, v):
        if v == "heldout":  # the value's name before it was renamed: say what it is now
            raise ValueError("'heldout' is now called 'disjoint' (mine problems kept out of train)")
        return v
    on_error: Literal["fail", "skip"] = Field("fail",
        description="fail: stop at the first bad record; skip: drop, count and report it")
    test_limit: int | None = Field(200, gt=0, description="local/hub only: cap on test problems")
    out_dir: str = Field("data/prepare", description="where train.jsonl, mine.jsonl and test.jsonl go")
    metrics: str = Field("metrics/prepare.json",
        description="data card: counts by split, source, subject and level, drops, contamination")


class AnnotateConfig(_Section):
    input: str = Field("data/prepare/train.jsonl", description="problems the teacher annotates")
    out_dir: str = Field("data/annotate", description="where hsft.jsonl (templates, verified flag) goes")
    limit: int | None = Field(None, gt=0, description="annotate only the first N problems")
    correction_share: float = Field(0.6, ge=0, le=1,
        description="share of templates that also give a correction-trace example (0: the paper's HSFT data)")
    correction_error_share: float = Field(0.5, ge=0, le=1,
        description="of those: share with an injected wrong step for the teacher to correct; the rest are right")
    seed: int = Field(0, description="which templates, and which injected errors")
    on_error: Literal["fail", "skip"] = Field("fail",
        description="fail | skip: drop defective input records (counted as skipped_input) instead")
    targets: Literal["hsft", "cot"] = Field("hsft",
        description="hsft: teacher templates (<Key>, <Generalized>); cot: the reference solution as plain "
                    "<StepN> steps and <Answer>, built without the teacher (the CoT SFT ablation)")


class SftConfig(_Section):
    epochs: float = Field(3, gt=0, description="passes over the verified templates (fractions allowed)")
    learning_rate: float = Field(5e-4, gt=0, description="tiny student from scratch; 1e-3 and up gave lower accuracy")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name")
    warmup_ratio: float = Field(0.02, ge=0, lt=1, description="share of steps spent warming up the learning rate")
    batch_size: int = Field(4, gt=0,
        description="rows per optimizer step per device; small batches give more updates per CPU second")
    gradient_accumulation_steps: int = Field(1, gt=0, description="micro-batches per optimizer step")
    max_length: int = Field(512, gt=0, description="token cap per training row (longer rows are truncated)")
    lora: bool = Field(False, description="train a LoRA adapter (merged on save) instead of every weight")
    seed: int = Field(0, description="training and data-order seed")
    out_dir: str = Field("models/sft", description="where the HSFT student is saved")
    base_dir: str = Field("models/base",
        description="the base student: the built tiny model, or pointer.json to a hub id")
    lora_r: int = Field(16, gt=0, description="LoRA rank (sft.lora only)")
    lora_alpha: int = Field(32, gt=0, description="LoRA scaling (sft.lora only)")
    gradient_checkpointing: bool = Field(False,
        description="recompute activations: less memory, more compute (for 7B on GPUs)")
    group_by_length: bool = Field(False,
        description="batch rows of similar length (faster, but cost demo accuracy: docs/training.md)")
    length_window: int = Field(8, gt=0, description="group_by_length: sort within windows of this many batches")
    shared_prefix: bool = Field(True,
        description="run the system prompt every row starts with once per batch (exact)")
    unpadded: bool = Field(True,
        description="with shared_prefix: run a batch's rows as one unpadded sequence, attention per row (exact)")
    torch_compile: bool | Literal["auto"] = Field(False,
        description="torch.compile the model; auto: only runs of at least 500 steps")
    packing: bool = Field(False, description="pack rows into full sequences (GPU with flash attention)")
    padding_free: bool = Field(False,
        description="one unpadded row per batch (GPU with flash attention); drops rows over max_length")
    save_steps: int = Field(200, ge=0,
        description="checkpoint every N steps; a killed run resumes from the last one (0: off)")
    checkpoint_dir: str = Field(".cache/checkpoints",
        description="outside DVC outs on purpose: `dvc repro` deletes outs before a rerun")


class MineConfig(_Section):
    samples_per_problem: int = Field(2, gt=0, description="student solutions sampled per mining problem")
    temperature: float = Field(0.8, ge=0, description="student sampling temperature in mining")
    max_pairs_per_problem: int = Field(2, gt=0, description="cap on DPO pairs kept per problem")
    out_dir: str = Field("data/mine", description="where rollouts, corrections and pairs.jsonl go")
    only_sometimes_solved: bool = Field(False,
        description="true: teacher sees only problems the student solves in some samples")
    max_wrong_per_problem: int | None = Field(None, gt=0,
        description="cap on wrong rollouts per problem sent to the teacher (null: all)")
    export: list[Literal["sharegpt"]] = Field(["sharegpt"],
        description="extra formats beside TRL's pairs.jsonl: LLaMA-Factory/ShareGPT")
    rejected: Literal["blind", "told_k"] = Field("blind",
        description="blind: the student answers the correction prompt without reference or k (paper) | told_k")
    context: Literal["correction", "solve"] = Field("correction",
        description="DPO prompt: correction (the correction-trace chat, paper App. A) | solve (the solve prompt)")
    keep_share: float = Field(0.0, ge=0, lt=1,
        description="beyond the paper: share of keep pairs among all pairs (a right solution kept as written vs "
                    "the student's false flag); 0: none, as in the paper")
    students: list[str] = Field([],
        description="more student checkpoints whose errors are pooled with the SFT student's (paper 4.2: three); "
                    "the SFT student writes the rejected side of every error")
    heldout_fraction: float = Field(0.3, ge=0, lt=1,
        description="mining problems whose errors evaluate keeps for locate/fix rates; never in DPO")
    seed: int = Field(0, description="rollout sampling and the held-out split")
    pairs: Literal["supercorrect", "step_dpo", "none"] = Field("supercorrect",
        description="supercorrect: teacher trace vs the student's correction (Eq. 8) | step_dpo: the student's "
                    "own right step k vs its wrong step k, after steps 1..k-1 (Step-DPO) | none: only the held-out "
                    "errors, for evaluate's check of the student before paying for pairs")
    continuations: int = Field(4, gt=0,
        description="step_dpo only: continuations the student samples from its correct steps 1..k-1 per error")
    continuation_temperature: float = Field(0.8, ge=0, description="step_dpo only: their sampling temperature")

    @model_validator(mode="after")
    def _keep_pairs_need_the_correction_context(self):
        # A keep pair is a correction trace (keep vs flag); mixed into solve-context pairs it
        # would train a context the student never checks its work in.
        if self.keep_share and (self.pairs != "supercorrect" or self.context != "correction"):
            raise ValueError("mine.keep_share: keep pairs are correction traces; they need mine.pairs: supercorrect "
                             f"and mine.context: correction (got {self.pairs}, {self.context})")
        if self.pairs == "none" and not self.heldout_fraction:
            raise ValueError("mine.pairs: none localizes only the held-out errors; set mine.heldout_fraction > 0")
        if len(set(self.students)) < len(self.students):
            raise ValueError(f"mine.students: a checkpoint is listed twice ({self.students})")
        return self


class DpoConfig(_Section):
    beta: float = Field(0.1, gt=0, description="DPO temperature: how far the policy may move from the SFT reference")
    epochs: float = Field(2, gt=0, description="passes over the pairs")
    learning_rate: float = Field(2e-5, gt=0,
        description="DPO learning rate (high rates over-optimize the demo pairs)")
    batch_size: int = Field(16, gt=0, description="pairs per optimizer step per device")
    gradient_accumulation_steps: int = Field(1, gt=0, description="micro-batches per optimizer step")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of steps spent warming up the learning rate")
    max_length: int = Field(512, gt=0, description="token cap per prompt + completion")
    lora: bool = Field(False, description="train a LoRA adapter (merged on save) instead of every weight")
    seed: int = Field(0, description="training and data-order seed")
    out_dir: str = Field("models/dpo", description="where the DPO student is saved")
    loss_type: Literal["sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero",
                       "apo_down", "exo_pair", "aot", "aot_unpaired"] = Field("sigmoid",
                           description="TRL DPO loss; sigmoid is the paper's")
    precompute_ref_log_probs: bool = Field(True,
        description="reference scored once up front; no reference model in memory")
    prefix_tree: bool = Field(True,
        description="each pair's prompt runs once for both sides; logits at completion tokens only (exact)")
    lora_r: int = Field(16, gt=0, description="LoRA rank (dpo.lora only)")
    lora_alpha: int = Field(32, gt=0, description="LoRA scaling (dpo.lora only)")
    gradient_checkpointing: bool = Field(False, description="recompute activations: less memory, more compute")
    save_steps: int = Field(200, ge=0,
        description="checkpoint every N steps; a killed run resumes from the last one (0: off)")
    checkpoint_dir: str = Field(".cache/checkpoints",
        description="outside DVC outs on purpose: `dvc repro` deletes outs before a rerun")


class EvaluateConfig(_Section):
    benchmarks: dict[str, str] = Field({"synthetic": "data/prepare/test.jsonl"},
        description="benchmark name -> problems JSONL")
    checkpoints: list[Literal["base", "sft", "dpo"]] = Field(["base", "sft", "dpo"],
        description="checkpoints to score, in order; the last is the final one")
    out: str = Field("metrics/evaluate.json", description="the metrics file (one object per benchmark)")
    predictions: str = Field("data/evaluate/predictions.jsonl",
        description="every graded answer, per checkpoint and pass")
    samples: int = Field(1, ge=1,
        description="> 1: sample at temperature, add pass@k and maj@k (accuracy = mean over samples)")
    temperature: float = Field(0.8, gt=0, description="only used when samples > 1")
    self_correct: list[Literal["base", "sft", "dpo"]] = Field(["sft", "dpo"],
        description="checkpoints that check their own answers (correction-trace prompt) and the held-out errors")
    bootstrap: int = Field(1000, ge=100, description="resamples for the seeded 95 % confidence intervals")
    seed: int = Field(0, description="sampling and bootstrap seed")
    grade_time_limit_s: float = Field(5.0, gt=0,
        description="hard limit per symbolic comparison (worker process killed past it)")
    grade_workers: int | None = Field(None, ge=1, description="grading threads; null = CPU count")
    plots_dir: str = Field("plots", description="evaluate_by_subject.csv, evaluate_by_level.csv")
    on_error: Literal["fail", "skip"] = Field("fail", description="skip: drop defective benchmark records (logged)")


class RegisterConfig(_Section):
    model_name: str = Field("supercorrect-student", description="MLflow registered model name")
    experiment: str = Field("supercorrect", description="MLflow experiment the runs go to")
    benchmark: str = Field("synthetic", description="the benchmark whose accuracy decides champion")
    tracking_uri: str = Field("sqlite:///mlflow.db", description="MLFLOW_TRACKING_URI in the environment wins")


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

        # The dotted keys a `--set` changed from the params file (load_params fills it in):
        # supercorrect.io.metrics_path tells a side run by hand from a pipeline run by them.
        _overridden: frozenset[str] = PrivateAttr(default_factory=frozenset)

        @property
        def overridden(self) -> frozenset[str]:
            return self._overridden

        @model_validator(mode="after")
        def _pooled_students_are_others(self):
            # The SFT student rolls out first anyway; listed again it would count its rollouts twice.
            if any(Path(s).resolve() == Path(self.sft.out_dir).resolve() for s in self.mine.students):
                raise ValueError(f"mine.students: {self.sft.out_dir!r} is the SFT student itself (sft.out_dir), which "
                                 "mine always rolls out; list only the other checkpoints")
            return self
