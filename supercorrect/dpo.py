"""Stage `dpo`: cross-model collaborative DPO (stage 2 of the paper, Eq. 8).

Trains the HSFT student (`sft.out_dir`) with TRL's DPOTrainer on `{mine.out_dir}/pairs.jsonl`,
which is TRL's conversational preference format as it is (supercorrect.pairs.cross_model): the prompt is the
correction-trace chat (problem + the student's solution), chosen = the student's correct steps
1..k-1 then the teacher's cause/correction of step k and the rest, rejected = the same steps
then the student's own trace. TRL renders and splits each pair itself; the lineage columns stay
in pairs.jsonl and are not trained on. The shared steps 1..k-1 cancel in the DPO margin, so the
loss is Eq. 8's. The reference policy is the SFT model (the paper's pi_ref).

Writes the model to `dpo.out_dir` (system prompt as the chat template's default, model card:
supercorrect.student.saved_model), `metrics/dpo.json` and `plots/dpo_loss.csv`. Checkpoints and
resume work as in `sft` (`{dpo.checkpoint_dir}/dpo/<hash>`).

Speed: with `dpo.prefix_tree` (default) each pair is one row, its prompt run once for both
completions, and only completion tokens go through the output layer (supercorrect.training.dpo_fast:
exact; bench.dpo measures it against TRL's default).

Memory: with `dpo.precompute_ref_log_probs` (default) the reference log-probs are computed once
by the policy itself before training (it still holds the SFT weights), so no reference model is
ever loaded; with LoRA the reference is the policy with its adapter disabled. Only with
precompute off and full fine-tuning does TRL keep a second, frozen copy in memory.

    supercorrect dpo [--params params.yaml] [--set dpo.beta=0.2]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from supercorrect import validate
from supercorrect.io import InputError, metrics_path, write_json, write_jsonl
from supercorrect.training.wiring import (common_args, curve_metrics, loss_curve, lora_config, save_student,
                                          train_resuming, write_curve)


def load_pairs(path: Path) -> list[dict]:
    if path.is_file() and not path.read_bytes().strip():
        raise InputError(f"{path}: no preference pairs to train on (did `mine` find any wrong solutions?)")
    return validate.load(path, "pairs")


def dpo_args(cfg, out, n_pairs: int) -> dict:
    """DPOConfig keyword arguments of the stage (`cfg`: the dpo section); bench.dpo uses them too."""
    return dict(
        **common_args(cfg, out, n_pairs),
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
        lr_scheduler_type=cfg.lr_scheduler,
        # transformers 5 folded warmup_ratio into warmup_steps: a float < 1 is a ratio.
        warmup_steps=cfg.warmup_ratio,
        # The reference is the frozen SFT model: score every pair once up front instead of
        # running a second model on every step of every epoch.
        precompute_ref_log_probs=cfg.precompute_ref_log_probs,
    )


def check_prompts_fit(path, tokenizer, rows: list[dict], max_length: int) -> None:
    """TRL silently drops pairs whose prompt fills max_length; all of them dropped is an error."""
    texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
    if min(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]) >= max_length:
        raise InputError(f"{path}: every prompt is at least dpo.max_length={max_length} tokens long")


def shared_dataset(args, out: Path, rows: list[dict]):
    """The pairs as a dataset backed by a file in the run directory that every rank reads.

    TRL caches the precomputed reference scores next to the dataset's files. An in-memory
    dataset has none (each process would pick its own temp dir and the other ranks would not
    find rank 0's file)."""
    from datasets import Dataset

    rows_file = out / "pairs_text.jsonl"
    if args.process_index == 0:
        write_jsonl(rows_file, rows)
    args.distributed_state.wait_for_everyone()
    return Dataset.from_json(str(rows_file), cache_dir=str(out / "datasets"))


def run(p) -> dict:
    """Train the student with DPO; return the metrics also written to metrics/dpo.json."""
    from trl import DPOConfig

    from supercorrect.training.checkpoints import clear, run_dir
    from supercorrect.training.dpo_fast import trainer_class
    from supercorrect.student.load import load_student
    from supercorrect.training.progress import quiet_progress
    from supercorrect.formats.prompts import load_prompts
    from supercorrect.student.saved_model import model_card

    path = Path(p.mine.out_dir) / "pairs.jsonl"
    pairs = load_pairs(path)
    model, tokenizer = load_student(p.sft.out_dir, p.student.dtype)
    rows = [{side: pair[side] for side in ("prompt", "chosen", "rejected")} for pair in pairs]
    check_prompts_fit(path, tokenizer, rows, p.dpo.max_length)

    out = run_dir(p.dpo.checkpoint_dir, "dpo", {"dpo": p.dpo.model_dump(), "student": p.student.model_dump()},
                  [path, p.sft.out_dir])
    args = DPOConfig(**dpo_args(p.dpo, out, len(pairs)))
    trainer = trainer_class(p.dpo.prefix_tree)(model=model, args=args, train_dataset=shared_dataset(args, out, rows),
                                               processing_class=tokenizer,
                         peft_config=lora_config(p.dpo))
    reference_in_memory = trainer.ref_model is not None
    if args.world_size > 1:
        print(f"dpo: rank {args.process_index} of world size {args.world_size}; "
              f"reference model in memory: {reference_in_memory}", flush=True)
    quiet_progress(trainer, "dpo: train")
    result, runtime, start_step = train_resuming(trainer, out)
    history = trainer.state.log_history
    curve = loss_curve(history)

    rewards = [h for h in history if "rewards/margins" in h]
    metrics = {
        "n_pairs": len(pairs), "n_trained": len(trainer.train_dataset),
        "pairs_by_error_step": dict(sorted(Counter(str(pair["error_step"]) for pair in pairs).items())),
        "steps": trainer.state.global_step, "epochs": p.dpo.epochs, "beta": p.dpo.beta,
        **curve_metrics(curve), "train_loss": result.training_loss,
        "final_reward_accuracy": rewards[-1]["rewards/accuracies"] if rewards else None,
        "final_reward_margin": rewards[-1]["rewards/margins"] if rewards else None,
        "train_runtime_s": round(runtime, 2), "lora": p.dpo.lora, "loss_type": p.dpo.loss_type,
        "precompute_ref_log_probs": p.dpo.precompute_ref_log_probs,
        "reference_model_in_memory": reference_in_memory,
        "resumed_from_step": start_step, "world_size": args.world_size,
    }
    prompts = load_prompts(p.prompts.file)
    data = {"pairs": f"{path} ({len(pairs)} preference pairs)",
            "teacher": ", ".join(sorted({str(pair.get("teacher_model")) for pair in pairs})),
            "reference policy": p.sft.out_dir}
    save_student(trainer, tokenizer, p.dpo.out_dir, prompts.system, model_card("dpo", p, prompts, metrics, data))
    if trainer.is_world_process_zero():
        clear(out)
        write_json(metrics_path(p, "dpo"), metrics)
        write_curve("plots/dpo_loss.csv", curve)
    return metrics
