"""Stage `sft`: hierarchical thought SFT (HSFT, stage 1 of the paper).

The student learns to write the teacher's whole XML template (steps, keys, generalized
strategy, answer) from the fixed system prompt and the problem, and, for annotate's correction
examples, the correction trace of a solution under the correction-trace prompt. Only verified
records from `{annotate.out_dir}/hsft.jsonl` are used; the loss covers the completion only.

* student.model == "tiny": a tokenizer and a small Qwen2 are built from this data into
  `sft.base_dir` (the untrained "base" checkpoint evaluate compares against);
* otherwise `sft.base_dir/pointer.json` names the model, so a 7B model is never copied.

Writes the model to `sft.out_dir` (with the system prompt as its chat template's default and a
model card: supercorrect.student.saved_model), `metrics/sft.json` and `plots/sft_loss.csv`. Checkpoints go
to `{sft.checkpoint_dir}/sft/<hash of params and inputs>` every `sft.save_steps` steps; a rerun
after a crash or SIGKILL resumes from the newest one (supercorrect.training.checkpoints). The TRL wiring
this stage shares with `dpo` (arguments, LoRA, resuming, saving, loss curves) is supercorrect.training.wiring.

Defaults (docs/training.md): full fine-tuning, no gradient checkpointing (TRL's
default recomputes activations), padded batches in random order, and the system prompt that
every row starts with run once per batch (`sft.shared_prefix`, supercorrect.student.shared_prefix:
exact, ~1.25x tokens/s on the CPU); bench.sft measures the speed. `sft.group_by_length` gives
local length buckets (less padding, but lower demo accuracy). On GPUs set `sft.packing=true`
(or `sft.padding_free=true`) with flash attention, and `sft.gradient_checkpointing=true` for 7B.

Multi-process: `accelerate launch --config_file supercorrect/accelerate/<cfg>.yaml -m supercorrect sft`.

    supercorrect sft [--params params.yaml] [--set sft.epochs=1]
"""

from __future__ import annotations

from pathlib import Path

from supercorrect import validate
from supercorrect.formats.prompts import Prompts, correction_messages, load_prompts, solve_messages
from supercorrect.io import InputError, atomic_dir, metrics_path, write_json
from supercorrect.training.wiring import (common_args, curve_metrics, loss_curve, lora_config, save_student,
                                          train_resuming, write_curve)

# sft.torch_compile: auto compiles only runs this long: compiling costs 20-50 s on CPU,
# which a 40-step test run never earns back.
COMPILE_MIN_STEPS = 500


def load_verified(path: Path) -> list[dict]:
    records = validate.load(path, "hsft")
    verified = [r for r in records if r.get("verified")]
    if not verified:
        raise InputError(f"{path}: no verified records to train on ({len(records)} records in the file)")
    return verified


def training_rows(prompts: Prompts, records: list[dict]) -> list[dict]:
    """Prompt/completion chats: a template under the solve prompt, a correction trace under the
    correction-trace prompt with the solution it checks (annotate's `kind: correction`)."""
    return [{"prompt": correction_messages(prompts, r["problem"], r["shown"]) if r.get("kind") == "correction"
             else solve_messages(prompts, r["problem"]),
             "completion": [{"role": "assistant", "content": r["template"]}]} for r in records]


def tiny_corpus(rows: list[dict], prompts: Prompts) -> list[str]:
    """Tokenizer corpus in the proportions training sees: every prompt and completion."""
    texts = [m["content"] for r in rows for m in r["prompt"] + r["completion"]]
    # The told_k hint reaches the student only in that ablation; once is enough for its words.
    return texts + [prompts.told_k]


def prepare_base(p, rows: list[dict], prompts: Prompts) -> str:
    """Build the tiny base model or write a pointer to the configured one; return its dir."""
    from supercorrect.student.build import build_tiny
    from supercorrect.student.saved_model import student_identity

    base = Path(p.sft.base_dir)
    if p.student.model == "tiny":
        build_tiny(tiny_corpus(rows, prompts), p.student.tiny, base, seed=p.sft.seed)
    else:
        with atomic_dir(base) as tmp:
            write_json(tmp / "pointer.json", student_identity(p.student))
    return str(base)


def sft_args(cfg, out, n_examples: int) -> dict:
    """SFTConfig keyword arguments of the stage (`cfg`: the sft section); bench.sft uses them too."""
    args = dict(
        **common_args(cfg, out, n_examples),
        lr_scheduler_type=cfg.lr_scheduler,
        # transformers 5 folded warmup_ratio into warmup_steps: a float < 1 is a ratio.
        warmup_steps=cfg.warmup_ratio,
        completion_only_loss=True,
        dataset_num_proc=None,
        packing=cfg.packing,
        padding_free=cfg.padding_free,
    )
    steps = -(-n_examples // cfg.batch_size) * cfg.epochs
    args["torch_compile"] = cfg.torch_compile is True or (cfg.torch_compile == "auto" and steps >= COMPILE_MIN_STEPS)
    if cfg.padding_free and not cfg.packing:
        args["max_length"] = None  # TRL cannot truncate unpacked padding-free rows; run() drops long ones
    return args


class LengthBuckets:
    """Sampler: batches of similar length, in random order.

    transformers' `group_by_length` sorts each window of 50 batches longest first, so training
    sweeps from long to short examples every 50 steps; on the demo (long = two-step problems)
    that cut test accuracy from 0.56 to 0.20. Here each window is sorted into batches, then all
    batches are shuffled, so every step sees a random kind of problem, with little padding.
    Windows of 50 batches still cost accuracy (0.38: most batches held one kind of problem);
    windows of 8 (the default) kept it at sft.seed 0 (0.585 vs 0.56 padded; seed 1: 0.465 vs 0.545)
    with padding at ~2 % instead of ~12 %.
    Seeded by seed + epoch (the Trainer calls `set_epoch`), so a resumed run sees the same order.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, window: int = 50):
        self.lengths, self.batch_size, self.seed, self.window, self.epoch = lengths, batch_size, seed, window, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        span = self.window * self.batch_size
        batches = []
        for start in range(0, len(order), span):
            chunk = sorted(order[start:start + span], key=lambda i: self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        return iter([i for b in torch.randperm(len(batches), generator=g).tolist() for i in batches[b]])


def trainer_class(group_by_length: bool, window: int = 8, shared_prefix: bool = False, unpadded: bool = False):
    """SFTTrainer, or a subclass whose training batches come from `LengthBuckets` (windows of
    `window` batches) and/or whose batches run their shared prefix once and, with `unpadded`,
    the rest without padding (supercorrect.student.shared_prefix)."""
    from trl import SFTTrainer

    if not group_by_length and not shared_prefix:
        return SFTTrainer

    class StageSFTTrainer(SFTTrainer):
        def _get_train_sampler(self, train_dataset=None):
            if not group_by_length:
                return super()._get_train_sampler(train_dataset)
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            return LengthBuckets([len(x) for x in dataset["input_ids"]],
                                 self.args.train_batch_size * self.args.gradient_accumulation_steps, self.args.seed,
                                 window=window)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # Checkpointed layers would append to the prefix cache twice; DDP wants one forward.
            if shared_prefix and not self.args.gradient_checkpointing and self.args.world_size == 1:
                from supercorrect.student.shared_prefix import packed_attention, split_shared_prefix, unpadded_supported

                inputs = split_shared_prefix(model, inputs, unpadded=unpadded and unpadded_supported(model))
                if "packed_lengths" in inputs:
                    with packed_attention(model):
                        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return StageSFTTrainer


def n_tokens(tokenizer, row: dict) -> int:
    text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def run(p) -> dict:
    """Train the HSFT student; return the metrics also written to metrics/sft.json."""
    from datasets import Dataset
    from trl import SFTConfig

    from supercorrect.training.checkpoints import clear, run_dir
    from supercorrect.student.load import load_student, resolve_model
    from supercorrect.training.progress import quiet_progress
    from supercorrect.student.saved_model import model_card, with_default_system

    path = Path(p.annotate.out_dir) / "hsft.jsonl"
    records = load_verified(path)
    prompts = load_prompts(p.prompts.file)
    rows = training_rows(prompts, records)
    out = run_dir(p.sft.checkpoint_dir, "sft", {"sft": p.sft.model_dump(), "student": p.student.model_dump(),
                                                "prompts": prompts.version}, [path])
    # Built first: it sets up the distributed state (torchrun / accelerate launch).
    args = SFTConfig(**sft_args(p.sft, out, len(records)))
    # With several processes, one builds the base model and the others wait for it.
    if args.process_index == 0:
        prepare_base(p, rows, prompts)
    args.distributed_state.wait_for_everyone()
    base = p.sft.base_dir
    model, tokenizer = load_student(base, p.student.dtype)
    try:  # the saved student carries the system prompt in its template: fail now, not after training
        with_default_system(tokenizer, prompts.system)
    except ValueError as exc:
        raise InputError(f"{resolve_model(base)}: chat template: {exc}") from None
    if p.sft.padding_free and not p.sft.packing:
        rows = [r for r in rows if n_tokens(tokenizer, r) <= p.sft.max_length]
    grouped = p.sft.group_by_length and not (p.sft.packing or p.sft.padding_free)
    trainer_cls = trainer_class(grouped, p.sft.length_window, p.sft.shared_prefix, p.sft.unpadded)
    trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          peft_config=lora_config(p.sft))
    if len(trainer.train_dataset) == 0:  # TRL drops examples whose prompt fills max_length
        raise InputError(f"{path}: every prompt is at least sft.max_length={p.sft.max_length} tokens long")
    world = args.world_size
    if world > 1:
        print(f"sft: rank {args.process_index} of world size {world}", flush=True)
    quiet_progress(trainer, "sft: train")
    result, runtime, start_step = train_resuming(trainer, out)
    curve = loss_curve(trainer.state.log_history)
    last = next((h for h in reversed(trainer.state.log_history) if "mean_token_accuracy" in h), {})

    metrics = {
        "n_train": len(records), "n_dropped_too_long": len(records) - len(trainer.train_dataset),
        "steps": trainer.state.global_step, "epochs": p.sft.epochs,
        **curve_metrics(curve), "train_loss": result.training_loss,
        "final_token_accuracy": last.get("mean_token_accuracy"),
        "train_runtime_s": round(runtime, 2), "base_model": base, "lora": p.sft.lora,
        "resumed_from_step": start_step, "world_size": world,
    }
    data = {"templates": f"{path} ({len(records)} verified)",
            "teacher": ", ".join(sorted({str(r.get("teacher_model")) for r in records}))}
    save_student(trainer, tokenizer, p.sft.out_dir, prompts.system, model_card("sft", p, prompts, metrics, data))
    if trainer.is_world_process_zero():
        clear(out)
        write_json(metrics_path(p, "sft"), metrics)
        write_curve("plots/sft_loss.csv", curve)
    return metrics
