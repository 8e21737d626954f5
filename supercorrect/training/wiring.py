"""The TRL wiring the `sft` and `dpo` stages share: arguments, LoRA, resuming, saving, loss curves.

Both stages build their trainer from `common_args(cfg, ...)` (`cfg`: the sft or dpo params
section), train through `train_resuming` (resume from the newest complete checkpoint,
supercorrect.training.checkpoints), save with `save_student` and write their loss curve with
`write_curve`. Nothing here knows which stage calls it.

    python -c "from supercorrect.training.wiring import loss_curve; print(loss_curve([{'step': 1, 'loss': 2.0}]))"
"""

from __future__ import annotations

import time

from supercorrect.io import atomic_dir, write_text

LORA_DROPOUT = 0.05


def lora_config(cfg):
    """LoRA on every linear layer (`cfg`: the sft or dpo section), or None for full fine-tuning."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=LORA_DROPOUT,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def logging_steps(n_examples: int, batch_size: int, epochs: float) -> int:
    # About 50 points on the loss curve, and every step for short runs such as tests.
    steps = max(1, int(-(-n_examples // batch_size) * epochs))
    return max(1, steps // 50)


def common_args(cfg, out: str, n_examples: int) -> dict:
    """TrainingArguments shared by SFT and DPO: CPU-friendly, checkpoints every `save_steps`
    (at most two kept), no trackers (MLflow logging happens in `register`)."""
    import torch

    cuda = torch.cuda.is_available()
    saving = dict(save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=2) if cfg.save_steps \
        else dict(save_strategy="no")
    return dict(
        output_dir=str(out), num_train_epochs=cfg.epochs, learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        seed=cfg.seed, data_seed=cfg.seed, report_to="none", **saving,
        logging_steps=logging_steps(n_examples, cfg.batch_size, cfg.epochs),
        use_cpu=not cuda, bf16=cuda and torch.cuda.is_bf16_supported(),
        # TRL turns it on by default; a small model on CPU only pays the recomputation.
        gradient_checkpointing=cfg.gradient_checkpointing,
        dataloader_num_workers=0,
    )


def train_resuming(trainer, out) -> tuple[object, float, int]:
    """Train, resuming from the newest complete checkpoint in `out` (logged) when there is one;
    return (the Trainer's TrainOutput, wall seconds, the step resumed from or 0). sft and dpo."""
    from supercorrect.training.checkpoints import last_checkpoint, resumed_step

    checkpoint = last_checkpoint(out)
    start_step = resumed_step(checkpoint)  # read now: checkpoint rotation deletes it
    if checkpoint and trainer.is_world_process_zero():
        print(f"resuming from {checkpoint} (step {start_step})", flush=True)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    return result, time.perf_counter() - started, start_step


def save_student(trainer, tokenizer, out_dir, system: str | None = None, card: str | None = None) -> None:
    """Save the trained model atomically from the main process; a LoRA adapter is merged
    first so every checkpoint loads the same way (no peft needed downstream). `system` becomes
    the chat template's default system message and `card` the folder's README.md
    (supercorrect.student.saved_model), so the folder works on its own."""
    if trainer.is_world_process_zero():
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        if system is not None:
            from supercorrect.student.saved_model import with_default_system

            tokenizer.chat_template = with_default_system(tokenizer, system)
        with atomic_dir(out_dir) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if card is not None:
                (tmp / "README.md").write_text(card, encoding="utf-8")
    trainer.accelerator.wait_for_everyone()


def loss_curve(log_history: list[dict]) -> list[tuple[int, float]]:
    return [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]


def write_curve(path, curve: list[tuple[int, float]]) -> None:
    write_text(path, "step,loss\n" + "".join(f"{s},{loss:.6f}\n" for s, loss in curve))


def curve_metrics(curve: list[tuple[int, float]]) -> dict:
    losses = [loss for _, loss in curve]
    return {"first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
            "min_loss": min(losses) if losses else None}
